"""Capillary's models now belong to the Capillary app (capillary 0001 took over
their tables, renamed them and moved their content types); here they leave
this app's state. Nothing changes in the database."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('vendors', '0003_audit_history'),
        ('capillary', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='CapillaryLink'),
                migrations.DeleteModel(name='CapillaryReason'),
                migrations.DeleteModel(name='CapillarySubStatus'),
            ],
            database_operations=[],
        ),
    ]
