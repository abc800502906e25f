"""Lead.raw_payload (apps.core.fields.RawJSONField): PostgreSQL `json`, lz4, the
vendor's text kept, and never used where `json` has no operator."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.db import connection

from apps.leads.bulk import JSONText, LeadRows, insert_lead_rows
from apps.leads.models import Lead
from tests.conftest import make_cat_account, make_lead

ROOT = Path(__file__).resolve().parents[2]
postgresql_only = pytest.mark.skipif("connection.vendor != 'postgresql'",
                                     reason="PostgreSQL storage (make test runs this again on PostgreSQL)")


@pytest.mark.django_db
def test_a_payload_round_trips(dealer_a):
    payload = {"leadId": "00Q1", "nested": {"list": [1, 2.5, None, True]}, "name": "Zoë Ødegård", "empty": {}}
    lead = make_lead(dealer_a, raw_payload=payload)
    lead.refresh_from_db()
    assert lead.raw_payload == payload
    assert Lead.objects.filter(pk=lead.pk).values_list("raw_payload", flat=True).get() == payload
    lead.raw_payload = {**payload, "leadState": "UPDATED"}
    lead.save(update_fields=["raw_payload"])
    lead.refresh_from_db()
    assert lead.raw_payload["leadState"] == "UPDATED"


@postgresql_only
@pytest.mark.django_db
def test_postgresql_stores_json_compressed_with_lz4():
    with connection.cursor() as cursor:
        cursor.execute("SELECT format_type(atttypid, atttypmod), attcompression FROM pg_attribute "
                       "WHERE attrelid = 'leads_lead'::regclass AND attname = 'raw_payload'")
        assert cursor.fetchone() == ("json", "l")
        cursor.execute("SELECT attcompression FROM pg_attribute "
                       "WHERE attrelid = 'sync_inboxpage'::regclass AND attname = 'body'")
        assert cursor.fetchone() == ("l",)


@pytest.mark.django_db
def test_a_pulled_lead_keeps_the_vendors_own_text(dealer_a):
    """The bulk insert stores the item's JSON text as the page held it (key order,
    spacing, number format), which `json` keeps and `jsonb` would not."""
    account = make_cat_account(dealer_a)
    text = '{"leadId": "00Q7",  "zeta": 1.50, "alpha": [1,2], "leadId2": "x"}'
    builder = LeadRows()
    row = builder.row({"dealer_id": dealer_a.pk, "vendor_account_id": account.pk, "vendor_lead_id": "00Q7",
                       "origin": "vendor", "raw_payload": JSONText(text)})
    assert insert_lead_rows(builder, [row]) == 1
    lead = Lead.objects.get(vendor_lead_id="00Q7")
    assert lead.raw_payload == json.loads(text)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT raw_payload::text FROM leads_lead WHERE id = %s", [lead.pk])
            assert cursor.fetchone()[0] == text


def test_no_code_queries_inside_the_raw_payload():
    """`json` has no equality and no key operators: a key lookup, or a DISTINCT /
    GROUP BY over the column, would fail on PostgreSQL only. This keeps the code
    from growing one unnoticed."""
    offenders = []
    for path in (ROOT / "apps").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"raw_payload__|values\([^)]*raw_payload|distinct\([^)]*raw_payload|"
                         r"order_by\([^)]*raw_payload", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
