"""PostgreSQL column storage settings used by migrations."""
from __future__ import annotations


def set_lz4(table: str, column: str, *, method: str = "lz4"):
    """A RunPython function setting `table.column`'s TOAST compression to `method`.

    lz4 needs PostgreSQL 14+ built with it (Debian's and the official images are);
    elsewhere the column keeps pglz, which only costs speed. The DO block catches
    the server's refusal so the migration's transaction stays usable."""
    def forwards(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            # Identifiers come from the migration's own constants, quoted.
            cursor.execute(
                "DO $$ BEGIN "
                f"ALTER TABLE {qn(table)} ALTER COLUMN {qn(column)} SET COMPRESSION {method}; "  # nosec B608
                "EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN "
                f"RAISE NOTICE 'compression {method} not available here; default kept'; "
                "END $$")
    return forwards
