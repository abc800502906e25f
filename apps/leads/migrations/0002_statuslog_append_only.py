"""The database itself refuses to rewrite history: UPDATE on the status log fails.

DELETE stays possible because deleting a lead (a dealer admin removing a test
lead) cascades to its log; the admin offers no delete for log rows.
"""
from django.db import migrations

MESSAGE = "leads_statuslog is append-only"

SQLITE_UP = f"""
CREATE TRIGGER leads_statuslog_no_update BEFORE UPDATE ON leads_statuslog
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS leads_statuslog_no_update;"

POSTGRES_UP = f"""
CREATE FUNCTION leads_statuslog_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '{MESSAGE}'; END; $$;
CREATE TRIGGER leads_statuslog_no_update BEFORE UPDATE ON leads_statuslog
FOR EACH ROW EXECUTE FUNCTION leads_statuslog_refuse_update();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS leads_statuslog_no_update ON leads_statuslog;
DROP FUNCTION IF EXISTS leads_statuslog_refuse_update();
"""


def _run(sql_by_vendor):
    def apply(apps, schema_editor):
        sql = sql_by_vendor.get(schema_editor.connection.vendor)
        if sql:
            schema_editor.execute(sql)
    return apply


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]
    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        )
    ]
