"""The same customer across vendors (apps/leads/customers.py): recognised by e-mail
(any case) or normalised phone among the dealer's open leads, shown on each lead,
linked and unlinked by staff, its outcome offered for the others, and exported."""
from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.urls import reverse

from apps.leads import customers, services
from apps.leads.models import Lead
from apps.routing import arrivals
from apps.vendors.core.models import VendorAccount
from tests.conftest import make_cat_account, make_lead
from tests.leads.test_lead_import import HEADER, confirm, upload


@pytest.fixture
def capillary(dealer_a):
    account = VendorAccount(name="a100-capillary", vendor="capillary", dealer=dealer_a, base_url="http://127.0.0.1:9/")
    account.set_settings({"username": "u", "password": "p", "created_by": "1", "default_reason_id": "4"})
    account.save()
    return account


def work(lead):
    return reverse("admin:leads_lead_workbench", args=[lead.pk])


def test_a_lead_from_another_vendor_with_the_same_email_is_the_same_customer(dealer_a, dealer_b, capillary):
    cat = make_cat_account(dealer_a)
    first = make_lead(dealer_a, vendor_account=cat, vendor_lead_id="C1", email="Jane@Doe.test", phone="")
    arrivals.process_arrivals()
    second = make_lead(dealer_a, vendor_account=capillary, vendor_lead_id="K1", email="jane@doe.TEST", phone="")
    theirs = make_lead(dealer_b, email="jane@doe.test", phone="")  # another dealer's: never linked
    arrivals.process_arrivals()
    first.refresh_from_db(), second.refresh_from_db(), theirs.refresh_from_db()
    assert first.customer_id is not None and first.customer_id == second.customer_id
    assert theirs.customer_id is None
    # Each keeps its vendor and vendor id.
    assert (first.vendor_account, first.vendor_lead_id, second.vendor_account, second.vendor_lead_id) == (
        cat, "C1", capillary, "K1")


def test_a_hand_made_lead_with_the_same_phone_joins_the_customer_at_once(dealer_a, capillary):
    vendor = make_lead(dealer_a, vendor_account=capillary, vendor_lead_id="K2", email="", phone="(309) 555-0101",
                       country="US")
    arrivals.process_arrivals()
    walk_in = make_lead(dealer_a, email="", phone="+1 309 555 0101", country="US")  # processed in its transaction
    assert Lead.objects.get(pk=walk_in.pk).customer_id == Lead.objects.get(pk=vendor.pk).customer_id is not None


def test_only_open_leads_are_matched_and_a_chain_is_one_customer(dealer_a, alice, reasons_a):
    closed = make_lead(dealer_a, email="old@x.test", phone="")
    assert services.lead_change_status(lead=closed, to_status="rejected", actor=alice, reason=reasons_a["rejection"],
                                       comment="test").ok
    newer = make_lead(dealer_a, email="old@x.test", phone="")
    assert Lead.objects.get(pk=newer.pk).customer_id is None  # the only match is closed
    by_mail = make_lead(dealer_a, email="chain@x.test", phone="")
    by_phone = make_lead(dealer_a, email="other@x.test", phone="+13095550199")
    both = make_lead(dealer_a, email="chain@x.test", phone="+13095550199")  # bridges the two
    ids = {Lead.objects.get(pk=lead.pk).customer_id for lead in (by_mail, by_phone, both)}
    assert len(ids) == 1 and None not in ids


def test_staff_link_and_unlink_and_matching_leaves_their_choice_alone(client, alice, dealer_a, dealer_b):
    one = make_lead(dealer_a, email="a@x.test", phone="")
    two = make_lead(dealer_a, email="b@x.test", phone="")
    theirs = make_lead(dealer_b, email="c@x.test", phone="")
    client.force_login(alice)
    refused = client.post(work(one), {"action": "link_customer", "link-other": theirs.pk})
    assert "There is no lead #" in refused.content.decode()  # another dealer's lead is not there for alice
    client.post(work(one), {"action": "link_customer", "link-other": two.pk})
    assert Lead.objects.get(pk=one.pk).customer_id == Lead.objects.get(pk=two.pk).customer_id is not None
    page = client.get(work(one)).content.decode()
    assert f"#{two.pk}" in page and "Also from the dealer" in page
    client.post(work(two), {"action": "unlink_customer"})
    assert Lead.objects.get(pk=two.pk).customer_id is None
    assert Lead.objects.get(pk=one.pk).customer_id is None  # a customer of one lead links nothing
    customers.recognise_customers([two.pk])
    assert Lead.objects.get(pk=two.pk).customer_id is None
    assert Lead.history.filter(id=two.pk).first().history_change_reason.startswith("Not the same customer")


def test_an_outcome_on_one_is_offered_for_the_others(client, alice, dealer_a, capillary, reasons_a):
    cat = make_cat_account(dealer_a)
    mine = make_lead(dealer_a, vendor_account=cat, vendor_lead_id="C9", email="sam@x.test", phone="", owner=alice)
    other = make_lead(dealer_a, vendor_account=capillary, vendor_lead_id="K9", email="sam@x.test", phone="")
    arrivals.process_arrivals()
    client.force_login(alice)
    response = client.post(work(mine), {"action": "status", "to_status": "accepted"}, follow=True)
    body = response.content.decode()
    assert f"lead #{other.pk} from Capillary" in body and f"{work(other)}?outcome=accepted" in body
    offered = client.get(f"{work(other)}?outcome=accepted")
    assert offered.context["status_form"].initial["to_status"] == "accepted"
    assert Lead.objects.get(pk=other.pk).status == "new"  # offered, not done behind anyone's back


def test_the_export_carries_the_customer_id(client, alice, dealer_a):
    one = make_lead(dealer_a, email="x@x.test", phone="")
    two = make_lead(dealer_a, email="X@x.test", phone="")
    alone = make_lead(dealer_a, email="y@x.test", phone="")
    client.force_login(alice)
    response = client.get("/admin/leads/lead/download-csv/")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = {row["id"]: row["customer_id"] for row in csv.DictReader(io.StringIO(text))}
    assert rows[str(one.pk)] == rows[str(two.pk)] != "" and rows[str(alone.pk)] == ""


@pytest.mark.parametrize("kind, values", [("email", ["jane@doe.test"]), ("phone", ["+13095550101"])])
def test_the_lookups_are_served_by_indexes(dealer_a, kind, values):
    if connection.vendor != "postgresql":
        pytest.skip("the plans are PostgreSQL's (make test runs this again on PostgreSQL)")
    # A dealer with thousands of leads (analysed), where only an index on the
    # e-mail or the phone finds one customer without reading the dealer's leads.
    Lead.objects.bulk_create([Lead(dealer=dealer_a, email=f"person{i}@x.test", phone_normalized=f"+1309555{i:04d}")
                              for i in range(3000)], batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead")
        sql, params = customers.lookup_sql(kind, values)
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    index = "lead_email_prefix_idx" if kind == "email" else "leads_lead_phone_normalized"
    assert index in plan and "Seq Scan on leads_lead" not in plan, plan


def test_an_imported_lead_joins_the_customer_of_a_vendor_lead(client, alice, dealer_a, capillary):
    vendor = make_lead(dealer_a, vendor_account=capillary, vendor_lead_id="K7", email="ivy@import.test", phone="")
    arrivals.process_arrivals()
    client.force_login(alice)
    confirm(client, upload(client, f"{HEADER}\nA100,EV-7,Ivy,Import,IVY@import.test,,US,\n"))
    imported = Lead.objects.get(external_ref="EV-7")
    assert imported.customer_id == Lead.objects.get(pk=vendor.pk).customer_id is not None


def test_a_lead_typed_in_before_the_job_processed_an_earlier_vendor_lead_is_still_found(dealer_a, capillary):
    vendor = make_lead(dealer_a, vendor_account=capillary, vendor_lead_id="K5", email="early@x.test", phone="")
    typed = make_lead(dealer_a, email="early@x.test", phone="")  # processed at once; the vendor lead is not yet
    assert Lead.objects.get(pk=typed.pk).customer_id is None
    arrivals.process_arrivals()  # the job, after it: finds the lead typed in meanwhile
    assert Lead.objects.get(pk=vendor.pk).customer_id == Lead.objects.get(pk=typed.pk).customer_id is not None


def test_a_lead_matching_two_customers_merges_them_whole(dealer_a):
    a1, a2 = make_lead(dealer_a, email="a@x.test", phone=""), make_lead(dealer_a, email="a@x.test", phone="+13095550101")
    b1, b2 = make_lead(dealer_a, email="b@x.test", phone=""), make_lead(dealer_a, email="b@x.test", phone="")
    assert Lead.objects.get(pk=a1.pk).customer_id != Lead.objects.get(pk=b1.pk).customer_id
    bridge = make_lead(dealer_a, email="b@x.test", phone="+13095550101")  # a's phone, b's e-mail
    customers_of = {Lead.objects.get(pk=lead.pk).customer_id for lead in (a1, a2, b1, b2, bridge)}
    assert len(customers_of) == 1 and None not in customers_of


@pytest.mark.parametrize("kind", ["arriving", "email", "phone"])
def test_the_arrays_compared_have_the_columns_own_type(dealer_a, kind):
    """A list of small ints goes to PostgreSQL as smallint[]: compared with the bigint
    id across types, the array is searched linearly for every row of a fresh table
    (10,000 arriving leads: 160 ms instead of 2). Same-type arrays are hashed."""
    if connection.vendor != "postgresql":
        pytest.skip("the plans are PostgreSQL's (make test runs this again on PostgreSQL)")
    lead = make_lead(dealer_a, email="jane@doe.test", phone="+13095550101")
    ran = []

    def keep(execute, sql, params, many, context):
        ran.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        if kind == "arriving":
            customers._read_arriving([lead.pk, lead.pk + 1])
        else:
            customers.open_leads_with(kind, ["jane@doe.test" if kind == "email" else "+13095550101"])
    sql, params = next((sql, params) for sql, params in ran if "ANY" in sql)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN VERBOSE " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    wanted = "::bigint[]" if kind == "arriving" else "::text[]"
    assert wanted in plan and "smallint" not in plan and "character varying[]" not in plan, plan
