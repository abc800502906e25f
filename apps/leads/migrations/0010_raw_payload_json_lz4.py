"""Lead.raw_payload: PostgreSQL `json` instead of `jsonb`, compressed with lz4.

Why (bench/README.md, "Where PostgreSQL's time goes"): converting each ~3 KB Cat
payload to jsonb and compressing it with pglz was most of the database server's
work in a pull; `json` only validates the text and keeps the vendor's exact
bytes, lz4 compresses at about a fifth of pglz's CPU. The type change rewrites
the table once (about a minute per million leads; docs/deployment.md,
"Upgrading"); the compression applies to values written afterwards. SQLite
stores JSON as text already: nothing changes there.
"""
from django.db import migrations

import apps.core.fields
from apps.core.pgstorage import set_lz4


class Migration(migrations.Migration):

    dependencies = [
        ("leads", "0009_history_without_raw_payload"),
    ]

    operations = [
        migrations.AlterField(
            model_name="lead",
            name="raw_payload",
            field=apps.core.fields.RawJSONField(blank=True, default=dict, editable=False),
        ),
        migrations.RunPython(set_lz4("leads_lead", "raw_payload"),
                             set_lz4("leads_lead", "raw_payload", method="pglz")),
    ]
