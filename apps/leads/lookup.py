"""Leads by their vendor key (account, vendor lead id), for every vendor's pull."""
from __future__ import annotations

from django.db import connection

from .models import Lead


def lead_ids_by_vendor_id(account_id: int, vendor_ids) -> dict[str, int]:
    """{vendor lead id: lead id} for those of `vendor_ids` the account has.

    On PostgreSQL one probe of the unique (account, vendor lead id) index per
    key, whatever the table's statistics say. A plain IN list was planned from
    statistics, and while they were still those of a new table (autovacuum had
    not analysed it yet: the first big pull of a new installation) PostgreSQL
    read every lead of the account for every page, so a pull slowed down as it
    went (bench/README.md, session 4). SQLite's planner uses the index for the
    IN list as it is."""
    vendor_ids = list(vendor_ids)
    if not vendor_ids:
        return {}
    if connection.vendor != "postgresql":
        return dict(Lead.objects.filter(vendor_account_id=account_id, vendor_lead_id__in=vendor_ids)
                    .order_by().values_list("vendor_lead_id", "pk"))
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Quoted names from the model's metadata; the keys and the account are parameters.
        cursor.execute(
            f"SELECT wanted.vendor_lead_id, found.id FROM unnest(%s::text[]) AS wanted(vendor_lead_id) "  # nosec B608
            f"CROSS JOIN LATERAL (SELECT lead.{qn('id')} FROM {qn(Lead._meta.db_table)} AS lead "
            f"WHERE lead.{qn('vendor_account_id')} = %s AND lead.{qn('vendor_lead_id')} = wanted.vendor_lead_id "
            f"LIMIT 1) AS found", [vendor_ids, account_id])
        return dict(cursor.fetchall())


def leads_by_vendor_id(account_id: int, vendor_ids) -> dict[str, Lead]:
    """{vendor lead id: Lead} for those of `vendor_ids` the account has: keys
    first, whole rows only for those found (few: a pull is mostly new leads)."""
    found = lead_ids_by_vendor_id(account_id, vendor_ids)
    if not found:
        return {}
    return {lead.vendor_lead_id: lead for lead in Lead.objects.filter(pk__in=found.values()).order_by()}
