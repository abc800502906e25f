"""Lead search that an index answers, at a million leads.

The admin's `search_fields` turn every word into UPPER(col) LIKE '%word%' over
seven columns: no index serves a leading wildcard, so PostgreSQL reads the
whole table (measured by bench/leads_1m.py). Staff search for a lead by what
they have in hand, which they type from its start: an e-mail, a phone number,
a vendor's lead id, a name or a company. So search is by prefix:

- a term with "@": the e-mail starts with it;
- a term with 6+ digits that is a phone number: its E.164 form equals
  phone_normalized (phone or mobile), or the vendor lead id starts with it;
- otherwise each word must start the first name, last name, company, e-mail,
  vendor lead id or the dealer's own reference (all words must match).

Matching ignores case: LOWER(col) LIKE 'word%'. On PostgreSQL every such
expression has an index with text_pattern_ops (migration
0007_lead_search_indexes), which serves a prefix LIKE under any collation; the
benchmark asserts the plan. On SQLite the same migration adds plain LOWER(col)
indexes and the prefix is asked as a range (LOWER(col) >= 'word' AND < 'word'
followed by the highest code point), which those indexes serve.
"""
from __future__ import annotations

from functools import reduce
from operator import and_, or_

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from .phones import normalize_phone

# The columns searched by prefix; each has a LOWER(col) text_pattern_ops index on PostgreSQL.
PREFIX_COLUMNS = ("first_name", "last_name", "company", "email", "vendor_lead_id", "external_ref")
PHONE_CHARS = set("0123456789+-.() ")


def _lowered(queryset: QuerySet) -> QuerySet:
    return queryset.alias(**{f"{column}_lower": Lower(column) for column in PREFIX_COLUMNS})


def _starts(column: str, text: str) -> Q:
    text = text.lower()
    if connection.vendor == "sqlite":
        # SQLite uses an index for LIKE only on a bare column with NOCASE collation, never
        # on LOWER(col); the same prefix as a range does use the LOWER(col) index.
        return Q(**{f"{column}_lower__gte": text, f"{column}_lower__lt": text + "\U0010ffff"})
    return Q(**{f"{column}_lower__startswith": text})


def is_phone(term: str) -> bool:
    return sum(c.isdigit() for c in term) >= 6 and set(term) <= PHONE_CHARS


def search_leads(queryset: QuerySet, term: str, *, region: str = "US") -> QuerySet:
    """`queryset` narrowed to the leads matching `term` (see the module docstring)."""
    term = term.strip()
    if not term:
        return queryset
    queryset = _lowered(queryset)
    if "@" in term:
        return queryset.filter(_starts("email", term))
    if is_phone(term):
        condition = _starts("vendor_lead_id", term.strip())
        phone = normalize_phone(term, region)
        if phone:
            condition |= Q(phone_normalized=phone)
        return queryset.filter(condition)
    words = term.split()
    return queryset.filter(reduce(and_, (reduce(or_, (_starts(column, word) for column in PREFIX_COLUMNS))
                                         for word in words)))
