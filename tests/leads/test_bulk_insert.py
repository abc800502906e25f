"""apps.leads.bulk.insert_lead_rows: new rows inserted once, rows already stored
skipped (PostgreSQL: the straight COPY is undone and the staged path taken)."""
from __future__ import annotations

import pytest

from apps.leads.bulk import JSONText, LeadRows, insert_lead_rows
from apps.leads.models import Lead
from tests.conftest import make_cat_account

pytestmark = pytest.mark.django_db


def rows(builder, dealer, account, lead_ids):
    return [builder.row({"dealer_id": dealer.pk, "vendor_account_id": account.pk, "vendor_lead_id": lead_id,
                         "origin": "vendor", "first_name": f"First {lead_id}",
                         "raw_payload": JSONText(f'{{"leadId": "{lead_id}"}}')})
            for lead_id in lead_ids]


def test_new_rows_are_inserted_with_their_created_history(dealer_a):
    account = make_cat_account(dealer_a)
    builder = LeadRows()
    assert insert_lead_rows(builder, rows(builder, dealer_a, account, ["L1", "L2", "L3"])) == 3
    leads = Lead.objects.filter(vendor_account=account)
    assert sorted(leads.values_list("vendor_lead_id", flat=True)) == ["L1", "L2", "L3"]
    history = Lead.history.filter(vendor_account_id=account.pk)
    assert sorted(history.values_list("vendor_lead_id", "history_type")) == [("L1", "+"), ("L2", "+"), ("L3", "+")]
    # The ids are the leads' own (drawn from the table's sequence on PostgreSQL).
    assert set(history.values_list("id", flat=True)) == set(leads.values_list("id", flat=True))


def test_rows_already_stored_are_skipped_and_the_rest_inserted(dealer_a):
    """What a reconciliation inserting the same lead at the same moment looks like."""
    account = make_cat_account(dealer_a)
    builder = LeadRows()
    assert insert_lead_rows(builder, rows(builder, dealer_a, account, ["L2"])) == 1
    first = Lead.objects.get(vendor_lead_id="L2")
    assert insert_lead_rows(builder, rows(builder, dealer_a, account, ["L1", "L2", "L3"])) == 2
    assert sorted(Lead.objects.values_list("vendor_lead_id", flat=True)) == ["L1", "L2", "L3"]
    assert Lead.objects.get(vendor_lead_id="L2").pk == first.pk
    assert Lead.history.filter(vendor_lead_id="L2").count() == 1  # no second "created" row
    # New leads inserted after the undone COPY still get working ids.
    extra = Lead.objects.create(dealer=dealer_a, first_name="Walk-in")
    assert extra.pk not in set(Lead.objects.filter(vendor_account=account).values_list("id", flat=True))


def test_a_raw_row_is_the_same_lead_as_the_orm_would_store(dealer_a):
    """The fast path (LeadRows + insert_lead_rows) against the plain one
    (Lead.objects.create): every column equal, defaults included, but the id,
    the vendor lead id and the timestamps each path takes at its own moment."""
    from datetime import date, datetime, timezone
    from decimal import Decimal

    account = make_cat_account(dealer_a)
    columns = {"dealer_id": dealer_a.pk, "vendor_account_id": account.pk, "origin": "vendor",
               "first_name": "Zoë", "last_name": "O'Brien", "company": "Summit Paving", "email": "zoe@example.com",
               "phone": "+1 (309) 555-0100", "phone_normalized": "+13095550100", "country": "US",
               "opportunity_amount": Decimal("1250.50"), "currency": "USD", "target_date": date(2027, 1, 31),
               "vendor_created_at": datetime(2026, 11, 30, 8, 15, tzinfo=timezone.utc), "needs_review": True,
               "review_note": "flagged", "raw_payload": {"leadId": "X", "nested": {"a": [1, 2]}}}
    builder = LeadRows()
    raw = dict(columns, vendor_lead_id="RAW", raw_payload=JSONText('{"leadId": "X", "nested": {"a": [1, 2]}}'))
    assert insert_lead_rows(builder, [builder.row(raw)]) == 1
    orm = Lead.objects.create(**{k.removesuffix("_id") if k in ("dealer_id", "vendor_account_id") else k: v
                                 for k, v in dict(columns, vendor_lead_id="ORM").items()
                                 if k not in ("dealer_id", "vendor_account_id")},
                              dealer=dealer_a, vendor_account=account)
    skip = {"id", "vendor_lead_id", "created_at", "updated_at"}
    fields = [f.attname for f in Lead._meta.concrete_fields if f.attname not in skip]
    fast = Lead.objects.filter(vendor_lead_id="RAW").values(*fields).get()
    plain = Lead.objects.filter(pk=orm.pk).values(*fields).get()
    assert {k: v for k, v in fast.items() if v != plain[k]} == {}
