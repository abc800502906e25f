"""PostgreSQL: compress stored vendor pages with lz4 instead of pglz.

A Cat page of 100 leads is about 300 KB of JSON; pglz compressed it at a cost of
~11 ms of server CPU per page, lz4 at ~3 ms (bench/README.md, "Where PostgreSQL's
time goes"). SET COMPRESSION changes how new values are stored; existing rows
stay as they are (no table rewrite). A server built without lz4 keeps pglz.
Nothing to do on SQLite.
"""
from django.db import migrations

from apps.core.pgstorage import set_lz4


class Migration(migrations.Migration):

    dependencies = [
        ("sync", "0002_outbox_dedupe_response_cursor"),
    ]

    operations = [
        migrations.RunPython(set_lz4("sync_inboxpage", "body"), set_lz4("sync_inboxpage", "body", method="pglz")),
    ]
