"""Capillary's lists and links move out of the shared vendors app into the
Capillary app, keeping every row: the models are created here in the state only
(on the tables vendors_* that hold the data), then the tables are renamed to
this app's names, and the content types (so the permissions granted on them)
move with them. vendors 0004 removes them from the vendors app's state."""
import django.db.models.deletion
from django.db import migrations, models

MODELS = ("capillarylink", "capillaryreason", "capillarysubstatus")


def move_content_types(apps, schema_editor, old="vendors", new="capillary"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if ContentType.objects.filter(app_label=new, model=model).exists():
            # Made by an earlier migrate that ran post_migrate: the old one has
            # the permissions and admin log entries; keep it, drop the empty one.
            ContentType.objects.filter(app_label=new, model=model).delete()
        ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, old="capillary", new="vendors")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('leads', '0012_import_job'),
        ('vendors', '0003_audit_history'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='CapillaryLink',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('lead', 'Lead'), ('status_log', 'Status log entry'), ('followup', 'Follow-up')], max_length=16)),
                        ('capillary_id', models.CharField(max_length=64)),
                        ('payload', models.JSONField(blank=True, default=dict, help_text='What Capillary sent for this id, as sent.')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='capillary_links', to='vendors.vendoraccount')),
                        ('followup', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='leads.followup')),
                        ('lead', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='capillary_links', to='leads.lead')),
                        ('status_log', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='leads.statuslog')),
                    ],
                    options={
                        'db_table': 'vendors_capillarylink',
                        'indexes': [models.Index(fields=['lead', 'kind'], name='capillary_link_lead_idx')],
                        'constraints': [models.UniqueConstraint(fields=('account', 'kind', 'capillary_id'), name='capillary_link_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='CapillaryReason',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('reason_id', models.BigIntegerField(verbose_name='Capillary reason id')),
                        ('reason', models.CharField(max_length=255)),
                        ('fetched_at', models.DateTimeField(auto_now=True)),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='capillary_reasons', to='vendors.vendoraccount')),
                    ],
                    options={
                        'db_table': 'vendors_capillaryreason',
                        'ordering': ['account', 'reason_id'],
                        'constraints': [models.UniqueConstraint(fields=('account', 'reason_id'), name='capillary_reason_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='CapillarySubStatus',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(max_length=16)),
                        ('sub_status', models.CharField(max_length=100)),
                        ('fetched_at', models.DateTimeField(auto_now=True)),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='capillary_substatuses', to='vendors.vendoraccount')),
                    ],
                    options={
                        'db_table': 'vendors_capillarysubstatus',
                        'verbose_name_plural': 'capillary sub-statuses',
                        'ordering': ['account', 'status', 'sub_status'],
                        'constraints': [models.UniqueConstraint(fields=('account', 'status', 'sub_status'), name='capillary_substatus_unique')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='capillarylink', table=None),
        migrations.AlterModelTable(name='capillaryreason', table=None),
        migrations.AlterModelTable(name='capillarysubstatus', table=None),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
