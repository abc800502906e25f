"""Indexes for the lead list and search at a million leads (bench/leads_1m.py).

- (dealer, created_at DESC, id DESC): the list's default order within a dealer.
- LOWER(col) for each column apps.leads.search matches by prefix: on PostgreSQL
  with text_pattern_ops (a prefix LIKE under any collation), on SQLite plain
  (search.py asks SQLite for a range, which it can serve). Not in the model's
  Meta: the operator class is PostgreSQL's.
"""
from django.db import migrations, models

PREFIX_COLUMNS = ("first_name", "last_name", "company", "email", "vendor_lead_id", "external_ref")


def _name(column):
    return f"lead_{column}_prefix_idx"


def create_prefix_indexes(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        return
    # SQLite has no operator classes: a plain LOWER(col) index serves search.py's range form.
    opclass = " text_pattern_ops" if vendor == "postgresql" else ""
    for column in PREFIX_COLUMNS:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS {_name(column)} ON leads_lead '
                              f'(LOWER("{column}"){opclass})')


def drop_prefix_indexes(apps, schema_editor):
    if schema_editor.connection.vendor not in ("postgresql", "sqlite"):
        return
    for column in PREFIX_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_name(column)}")


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0006_lead_submission_fields'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(fields=['dealer', '-created_at', '-id'], name='lead_dealer_created_idx'),
        ),
        migrations.RunPython(create_prefix_indexes, drop_prefix_indexes, elidable=False),
    ]
