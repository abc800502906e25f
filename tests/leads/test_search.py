"""Lead search by prefix (apps/leads/search.py) and the capped list count
(apps/leads/pagination.py): what keeps the lead list fast at a million leads."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.leads import pagination
from apps.leads.models import Lead
from apps.leads.search import search_leads
from tests.conftest import make_cat_account, make_lead


def found(term):
    return set(search_leads(Lead.objects.all(), term).values_list("pk", flat=True))


@pytest.fixture
def leads(dealer_a):
    account = make_cat_account(dealer_a)
    return {
        "zed": make_lead(dealer_a, first_name="Zed", last_name="Zimmer", email="Zed.Z@Quarry.test",
                         company="Quarry Co", phone="(309) 654-5555", country="US", vendor_account=account,
                         vendor_lead_id="00Q1W00001SmV5oUAF", external_ref="EXPO-17"),
        "amy": make_lead(dealer_a, first_name="Amy", last_name="Zedd", email="amy@paving.test", company="Doe Paving",
                         mobile_phone="+44 20 7946 0958", country="GB"),
    }


def test_it_matches_the_start_of_names_companies_emails_and_ids_ignoring_case(leads):
    zed, amy = leads["zed"].pk, leads["amy"].pk
    assert found("zed") == {zed, amy}  # first name Zed, last name Zedd
    assert found("ZIMM") == {zed}
    assert found("quarry") == {zed}  # company
    assert found("zed.z@quarry") == {zed}  # e-mail, any case
    assert found("00q1w00001smv5") == {zed}  # vendor lead id
    assert found("expo-17") == {zed}  # the dealer's own reference
    assert found("zed zimmer") == {zed}  # every word must match
    assert found("paving") == set()  # the middle of a company name: prefix search only (documented)


def test_it_finds_a_phone_in_any_format_by_its_e164_form(leads):
    for term in ["309-654-5555", "+1 309 654 5555", "(309) 6545555", "3096545555"]:
        assert found(term) == {leads["zed"].pk}, term
    assert found("+44 20 7946 0958") == {leads["amy"].pk}  # the mobile number


def test_it_escapes_like_wildcards(leads):
    assert found("%") == set() and found("_ed") == set()


def test_the_lead_list_searches_within_the_users_dealers_only(client, alice, leads, dealer_b):
    twin = make_lead(dealer_b, first_name="Zed", email="zed@quarry.test")
    client.force_login(alice)
    listed = set(client.get("/admin/leads/lead/", {"q": "zed"}).context["cl"].queryset.values_list("pk", flat=True))
    assert listed == {leads["zed"].pk, leads["amy"].pk} and twin.pk not in listed


def test_the_lead_list_never_counts_past_the_cap(client, alice, dealer_a, monkeypatch):
    monkeypatch.setattr(pagination.CappedPaginator, "cap", 3)
    for i in range(5):
        make_lead(dealer_a, email=f"l{i}@acme.test")
    client.force_login(alice)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/admin/leads/lead/")
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper() and "leads_lead" in q["sql"]]
    assert counts and all("LIMIT 4" in sql for sql in counts), counts  # cap + 1, never the whole table
    assert "3+ leads" in response.content.decode()
    assert response.context["cl"].paginator.capped
