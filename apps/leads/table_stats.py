"""PostgreSQL's statistics of the lead table, refreshed right after a bulk insert
that outgrew them.

Without statistics (a new installation's first pull) or with statistics from when
the table was a fraction of its size, the planner cannot tell the primary key from
any other index holding `id`: every candidate is estimated at one row, and the
newest index wins the tie. Measured (bench/cat_pull.py, PostgreSQL 15, 10,000
leads): the foreign-key checks of the job after a pull (`SELECT 1 FROM leads_lead
WHERE id = $1 FOR KEY SHARE`, one per timeline entry and notification) walked the
whole of an API list index (since merged into
`lead_api_list_idx`) instead of the primary key, 0.3-0.5 ms each, and
the job took 8-19 s instead of 3.4-4.3. Autovacuum would analyze the table within its
naptime (a minute); the job runs at once, so the pull does what autovacuum would.

A table with statistics that still describe it (the pull added less than a tenth of
its rows, autovacuum's own default scale factor) is left alone: at 5,000,000 leads
a 10,000-lead pull costs one catalogue read.
"""
from __future__ import annotations

import logging

from django.db import connection

from apps.core.pgstats import analyze_table

from .models import Lead

log = logging.getLogger("leadhub.leads")
# Autovacuum's default autovacuum_analyze_scale_factor: the growth after which the
# server itself would analyze again.
GROWTH = 0.1


def lead_statistics_refresh(*, created: int) -> bool:
    """After `created` leads were inserted (and committed or not: ANALYZE sees the
    caller's transaction), ANALYZE the lead table on PostgreSQL when it has never
    been analyzed or grew by more than GROWTH since. Returns whether it ran. Other
    databases: nothing (on SQLite the same job was not slowed: 2.0-2.3 s for
    10,000 leads, bench/README.md)."""
    if connection.vendor != "postgresql" or created <= 0:
        return False
    table = Lead._meta.db_table
    with connection.cursor() as cursor:
        # reltuples is -1 until the first VACUUM or ANALYZE (PostgreSQL 14 and later).
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
        known = row[0] if row else -1
    if known >= 0 and created <= GROWTH * known:
        return False
    analyze_table(Lead)
    log.info("leads: table analyzed after %d new lead(s) (it held about %d)", created, max(known, 0))
    return True


def lead_statistics_refresh_for_arrivals() -> bool:
    """lead_statistics_refresh for the leads whose arrival is not processed yet
    (a pull's, for the job right after it), counted on their own partial index."""
    if connection.vendor != "postgresql":
        return False
    return lead_statistics_refresh(created=Lead.objects.filter(arrival_processed_at__isnull=True).count())
