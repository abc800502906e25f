"""Audit history rows for lead writes that bypass Model.save().

django-simple-history records every save() and delete() of the audited models
(Lead, FollowUp, Reason, SalesStage, the mappings, VendorAccount) with the
user (from the request, or `_history_user`), the time and the values. Two
paths write leads without save(), for speed or to avoid overwriting a
concurrent change: the raw multi-row INSERT of vendor pulls (bulk.py) and
single-column UPDATEs. They call record_lead_history() in the same
transaction, which copies the rows as stored into the history table with one
INSERT ... SELECT per chunk: no per-row ORM work (measured on the Cat pull
bench, see bench/README.md).
"""
from __future__ import annotations

import psycopg
from django.db import connection
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .models import Lead

CHUNK = 500
CREATED, CHANGED = "+", "~"


def record_lead_history(lead_ids, *, history_type: str = CHANGED, reason: str = "", user=None) -> int:
    """Write one history row per lead id, holding the lead as it is stored now.

    `history_type`: "+" created, "~" changed. `user`: who did it; by default
    the user of the request being served, as simple-history does (none for a
    vendor sync, which `reason` then names). Returns the number of rows written.
    Call it inside the transaction that changed the leads.
    """
    ids = list(lead_ids)
    if not ids:
        return 0
    user = user or _request_user()
    history = Lead.history.model
    qn = connection.ops.quote_name
    kept = {f.column for f in history._meta.concrete_fields}
    copied = [f.column for f in Lead._meta.concrete_fields if f.column in kept]
    target = ", ".join(qn(c) for c in copied + ["history_date", "history_change_reason", "history_type",
                                                 "history_user_id"])
    source = ", ".join(qn(c) for c in copied)
    date = history._meta.get_field("history_date").get_db_prep_save(timezone.now(), connection)
    written = 0
    insert = (f"INSERT INTO {qn(history._meta.db_table)} ({target}) "  # nosec B608
              f"SELECT {source}, %s, %s, %s, %s FROM {qn(Lead._meta.db_table)} ")
    fixed = [date, reason or None, history_type, getattr(user, "pk", None)]
    if connection.vendor == "postgresql":
        # One array parameter, bound on the server: Django's cursor binds on the
        # client, which wrote (and the server parsed) every id as a literal.

        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            for start in range(0, len(ids), CHUNK):
                cursor.execute(insert + f"WHERE {qn('id')} = ANY(%s)", [*fixed, ids[start:start + CHUNK]])
                written += cursor.rowcount
        return written
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            # Names come from the models' metadata; every value is a parameter.
            cursor.execute(insert + f"WHERE {qn('id')} IN ({', '.join(['%s'] * len(chunk))})", [*fixed, *chunk])
            written += cursor.rowcount
    return written


def _request_user():
    """The user of the current request (simple-history's HistoryRequestMiddleware
    keeps the request for the thread), or None outside a request."""
    user = getattr(getattr(HistoricalRecords.context, "request", None), "user", None)
    return user if getattr(user, "is_authenticated", False) else None
