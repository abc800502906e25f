"""PostgreSQL's planner statistics of a table, gathered now rather than whenever
autovacuum gets to it (apps/leads/table_stats.py, apps/vendors/core/apps.py)."""
from __future__ import annotations

from django.db import connection


def analyze_table(model) -> bool:
    """ANALYZE `model`'s table on PostgreSQL (inside the caller's transaction, if
    any: it then counts the transaction's own new rows); nothing elsewhere.
    Returns whether it ran. A database user that does not own the table gets a
    server warning and no statistics, never an error."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        # The table's name comes from the model's metadata, not from input.
        cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")  # nosec B608
    return True
