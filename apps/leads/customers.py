"""The same customer arriving from several vendors (or typed in): recognised by
e-mail (any case) or normalised phone among the dealer's open leads, and linked
through a shared `Customer`. Each lead keeps its vendor, its vendor id and its own
reporting duty; the link only shows staff "also from ..." and offers an outcome
recorded on one for the others (each vendor then receives it in its own form).

`recognise_customers(lead_ids)` runs on arriving leads (apps/routing/arrivals.py:
in the transaction that makes a lead by hand or import, and in the job right after
a vendor's pull): the leads that share an e-mail or a phone, directly or through
one another, become one customer (the oldest existing one when some already have
one). Lookups go through the lead's LOWER(email) and phone_normalized indexes
(the search's: migration 0007 and the field's own), a thousand values per query
on SQLite, a whole batch's on PostgreSQL. A lead a person linked or unlinked
(`customer_set_by_hand`) is left alone.
"""
from __future__ import annotations

import sqlite3
from collections import defaultdict

from django.db import connection, transaction

from apps.core.violations import Violation

from .history import record_lead_history
from .models import Customer, Lead
from .statuses import FINAL_STATUSES

# Values per lookup: SQLite's parameter limit is 32,766 (999 before 3.32); PostgreSQL
# takes 65,535 and hashes a long IN list: one lookup per kind and batch on both.
CHUNK = {"postgresql": 20_000}


def _chunk() -> int:
    if connection.vendor == "sqlite":
        return 10_000 if sqlite3.sqlite_version_info >= (3, 32) else 900
    return CHUNK.get(connection.vendor, 1000)


def _keys(email: str, phone: str) -> list[tuple[str, str]]:
    keys = []
    if email and email.strip():
        keys.append(("email", email.strip().lower()))
    if phone:
        keys.append(("phone", phone))
    return keys


ARRIVING = ("pk", "dealer_id", "email", "phone_normalized", "customer_id", "customer_set_by_hand")


def recognise_customers(lead_ids: list[int], *, read: list[tuple] | None = None) -> int:
    """Link the arriving leads with the dealer's open leads of the same customer;
    returns how many leads got (or changed) a customer. `read`: the leads'
    ARRIVING columns, when the caller read them already (the arrivals job's claim)."""
    if read is None:
        read = _read_arriving(lead_ids)
    arriving = [row[:5] for row in read if not row[5]]
    wanted = defaultdict(lambda: {"email": set(), "phone": set()})  # dealer -> kind -> values
    for _, dealer_id, email, phone, _ in arriving:
        for kind, value in _keys(email, phone):
            wanted[dealer_id][kind].add(value)
    if not wanted:
        return 0
    rows = {pk: (dealer_id, email, phone, customer_id) for pk, dealer_id, email, phone, customer_id in arriving}
    with transaction.atomic():
        # One recognition per dealer at a time, to its transaction's end: a lead
        # typed in while the job links a pull's batch waits, then sees the batch
        # committed (else each would miss the other, or split one customer in two).
        _lock_dealers(sorted(wanted))
        for dealer_id, values in wanted.items():
            for kind in ("email", "phone"):
                found = sorted(values[kind])
                size = _chunk()
                for start in range(0, len(found), size):
                    # Only leads already processed: the others are arriving in this
                    # call (their keys are in `rows`) or will find these when they are.
                    for pk, owner_dealer, email, phone, customer_id in open_leads_with(
                            kind, found[start:start + size], processed_only=True):
                        if owner_dealer == dealer_id:
                            rows.setdefault(pk, (dealer_id, email, phone, customer_id))
        return _link_groups(rows)


LOCK_NAMESPACE = 0x4C48  # "LH": the first key of PostgreSQL's two-key advisory locks


def _lock_dealers(dealer_ids: list[int]) -> None:
    """PostgreSQL: hold each dealer's recognition lock to the end of the
    transaction, in id order (never crosswise). SQLite writes one at a time anyway."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for dealer_id in dealer_ids:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, dealer_id])


def open_leads_with(kind: str, values: list[str], *, processed_only: bool = False) -> list[tuple]:
    """(pk, dealer, email, phone, customer) of open leads with one of these e-mails
    (lower case) or phones; the caller keeps its dealer's."""
    sql, params = lookup_sql(kind, values, processed_only=processed_only)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _read_arriving(lead_ids: list[int]) -> list[tuple]:
    """The ARRIVING columns of these leads, as written SQL (see lookup_sql)."""
    columns = "id, dealer_id, email, phone_normalized, customer_id, customer_set_by_hand"
    found = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # bigint[] like the column: a list of small ints is sent as smallint[],
            # and PostgreSQL compares across types by a linear search of the array
            # for every row (a fresh table without statistics is scanned: 10,000
            # ids took 160 ms); same-type, the array is hashed (2 ms).
            cursor.execute(f"SELECT {columns} FROM leads_lead WHERE id = ANY(%s::bigint[])",  # nosec B608
                           [list(lead_ids)])
            return cursor.fetchall()
        size = _chunk()
        for start in range(0, len(lead_ids), size):
            chunk = lead_ids[start:start + size]
            cursor.execute(f"SELECT {columns} FROM leads_lead "  # nosec B608 - constants and placeholders
                           f"WHERE id IN ({', '.join(['%s'] * len(chunk))})", chunk)
            found += cursor.fetchall()
    return found


def lookup_sql(kind: str, values: list[str], *, processed_only: bool = False) -> tuple[str, list]:
    """The lookup as SQL: LOWER(email) or phone_normalized against the values,
    served by the lead's index on that expression (migration 0007, the field's
    own). Written out rather than through the ORM, which spent more time building
    a thousand-value IN list than the database spent answering it. The dealer is
    checked on the rows found, not here: with it in the query, SQLite (without
    statistics) reads the dealer's index instead, every lead of the dealer for
    every lookup. `processed_only`: leads whose arrival was processed."""
    column = "LOWER(email)" if kind == "email" else "phone_normalized"
    final = ", ".join(f"'{status}'" for status in sorted(FINAL_STATUSES))  # the lifecycle's own constants
    if connection.vendor == "postgresql":
        match, params = f"{column} = ANY(%s::text[])", [list(values)]  # hashed: see _read_arriving
    else:
        match, params = f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)
    sql = ("SELECT id, dealer_id, email, phone_normalized, customer_id FROM leads_lead "  # nosec B608 - constants only
           f"WHERE {match} AND status NOT IN ({final}) AND NOT customer_set_by_hand"
           + (" AND arrival_processed_at IS NOT NULL" if processed_only else ""))
    return sql, params


def _link_groups(rows: dict[int, tuple]) -> int:
    """Union the leads sharing a (dealer, e-mail) or (dealer, phone) key; give each
    group of two or more one customer."""
    parent = {pk: pk for pk in rows}

    def root(pk):
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    first_with = {}
    for pk, (dealer_id, email, phone, _) in rows.items():
        for key in _keys(email, phone):
            other = first_with.setdefault((dealer_id, *key), pk)
            if other != pk:
                parent[root(pk)] = root(other)
    groups = defaultdict(list)
    for pk in rows:
        groups[root(pk)].append(pk)
    linked = [members for members in groups.values() if len(members) > 1]
    with transaction.atomic():
        # New customers in one statement (a pull whose every lead matches an older
        # one makes thousands), then every lead's customer in a few.
        fresh = [members for members in linked if all(rows[pk][3] is None for pk in members)]
        made = Customer.objects.bulk_create([Customer(dealer_id=rows[members[0]][0]) for members in fresh])
        chosen = {id(members): customer.pk for members, customer in zip(fresh, made)}
        moves, merged = [], 0
        for members in linked:
            existing = sorted({rows[pk][3] for pk in members if rows[pk][3] is not None})
            customer_id = chosen.get(id(members)) or existing[0]
            moves += [(pk, customer_id) for pk in members if rows[pk][3] != customer_id]
            if len(existing) > 1:  # two customers were one person: every lead of the others joins
                merged += Lead.objects.filter(customer_id__in=existing[1:]).update(customer_id=customer_id)
        _set_customers(moves)
    return len(moves) + merged


def _set_customers(moves: list[tuple[int, int]]) -> None:
    """Each (lead id, customer id), in one statement per batch."""
    if not moves:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(moves), 5000):
            batch = moves[start:start + 5000]
            if connection.vendor == "postgresql":
                cursor.execute("UPDATE leads_lead SET customer_id = moved.customer FROM unnest(%s::bigint[], "
                               "%s::bigint[]) AS moved (id, customer) WHERE leads_lead.id = moved.id",
                               [[pk for pk, _ in batch], [customer for _, customer in batch]])
            else:  # SQLite (3.33+: UPDATE ... FROM); two integers per lead, all parameters
                values = ", ".join(["(%s, %s)"] * len(batch))
                sql = ("UPDATE leads_lead SET customer_id = moved.column2 "  # nosec B608 - placeholders only
                       f"FROM (VALUES {values}) AS moved WHERE leads_lead.id = moved.column1")
                cursor.execute(sql, [n for pair in batch for n in pair])


def same_customer(lead) -> list[Lead]:
    """The other leads of the lead's customer, newest first."""
    if lead.customer_id is None:
        return []
    return list(Lead.objects.filter(customer_id=lead.customer_id).exclude(pk=lead.pk)
                .select_related("vendor_account").order_by("-created_at", "-id"))


def link_customers(*, lead: Lead, other: Lead, actor) -> list[Violation]:
    """A person says two leads are the same customer."""
    if other.pk == lead.pk:
        return [Violation("other", "same", "Choose another lead than this one.")]
    if other.dealer_id != lead.dealer_id:
        return [Violation("other", "other_dealer", "That lead belongs to another dealer.")]
    with transaction.atomic():
        locked = {row.pk: row for row in Lead.objects.select_for_update().filter(pk__in=[lead.pk, other.pk])}
        customer_id = (locked[lead.pk].customer_id or locked[other.pk].customer_id
                       or Customer.objects.create(dealer_id=lead.dealer_id).pk)
        ids = {lead.pk, other.pk}
        for row in locked.values():  # the whole customer of each joins (it is one person)
            if row.customer_id and row.customer_id != customer_id:
                ids |= set(Lead.objects.filter(customer_id=row.customer_id).values_list("pk", flat=True))
        Lead.objects.filter(pk__in=ids).update(customer_id=customer_id)
        Lead.objects.filter(pk__in=[lead.pk, other.pk]).update(customer_set_by_hand=True)
        record_lead_history([lead.pk, other.pk], reason=f"Linked as the same customer (#{lead.pk}, #{other.pk})",
                            user=actor)
    lead.customer_id, lead.customer_set_by_hand = customer_id, True
    return []


def unlink_customer(*, lead: Lead, actor) -> None:
    """A person says this lead is not the customer of the others (a lead linked
    with none is left as it is)."""
    if lead.customer_id is None:
        return
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(customer=None, customer_set_by_hand=True)
        record_lead_history([lead.pk], reason="Not the same customer as the leads it was linked with", user=actor)
        # A customer left with one lead links nothing.
        if lead.customer_id and Lead.objects.filter(customer_id=lead.customer_id).count() == 1:
            Lead.objects.filter(customer_id=lead.customer_id).update(customer=None)
    lead.customer_id, lead.customer_set_by_hand = None, True
