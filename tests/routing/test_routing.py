"""Routing rules: which new LeadHub leads go to which vendor account, the preview,
and submitting by hand from the lead page; never twice to a vendor that accepted."""
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.leads.models import EventKind, Lead, Origin
from apps.routing import services
from apps.routing.models import RoutingRule
from apps.sync import engine
from apps.sync.models import OutboxItem, OutboxState
from sandboxes.cap import DEMO_CAMPAIGN
from apps.vendors.core.models import VendorAccount
from tests.conftest import LEAD_INLINES, make_cat_account, make_lead
from tests.leads.test_lead_import import confirm, upload
from tests.vendors.cat.conftest import fast_retries  # noqa: F401 - shared fixture

UK = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.co.uk", "phone": "020 8759 9036"}


def _cap(dealer, name, base_url="http://127.0.0.1:9/cap"):
    account = VendorAccount(name=name, vendor="cap", dealer=dealer, base_url=base_url)
    # CAP needs an acquisition channel (docs/vendors/cap.md): the account's default
    # when a lead has no source.
    account.set_settings({"api_key": "lh-key", "campaign_id": DEMO_CAMPAIGN, "acquisition_channel": "Showroom"})
    account.save()
    return account


def _queued(lead):
    return sorted(OutboxItem.objects.filter(lead=lead, kind="submit").values_list("account__name", flat=True))


@pytest.fixture
def two_caps(dealer_a):
    return _cap(dealer_a, "a100-cap-audi"), _cap(dealer_a, "a100-cap-vw")


def test_the_first_matching_rule_decides_where_a_new_lead_goes(dealer_a, two_caps):
    audi, vw = two_caps
    RoutingRule.objects.create(dealer=dealer_a, name="Audi walk-ins", position=1, account=audi, brands="audi",
                               sources="Walk-in, Event")
    RoutingRule.objects.create(dealer=dealer_a, name="Everything else", position=2, account=vw)
    walk_in = make_lead(dealer_a, brand="Audi", source="walk-in", **UK)
    website = make_lead(dealer_a, brand="Audi", source="Dealer website", **UK)
    assert _queued(walk_in) == ["a100-cap-audi"]  # matched both rules: the first wins
    assert _queued(website) == ["a100-cap-vw"]
    assert "Routed by rule 'Audi walk-ins'" in walk_in.events.get(kind=EventKind.NOTE).summary


def test_every_given_criterion_must_match_and_blank_matches_anything(dealer_a, two_caps):
    audi, _ = two_caps
    RoutingRule.objects.create(dealer=dealer_a, name="e-tron", account=audi, product_keywords="e-tron, RS")
    RoutingRule.objects.create(dealer=dealer_a, name="off", account=_cap(dealer_a, "a100-off"), active=False)
    assert _queued(make_lead(dealer_a, product_interest="Q6 E-TRON quattro", **UK)) == ["a100-cap-audi"]
    assert _queued(make_lead(dealer_a, product_interest="A3 Sportback", **UK)) == []


def test_leads_from_vendors_and_edited_leads_are_not_routed(dealer_a, two_caps):
    audi, _ = two_caps
    RoutingRule.objects.create(dealer=dealer_a, name="all", account=audi)
    cat = make_cat_account(dealer_a)
    pulled = make_lead(dealer_a, vendor_account=cat, vendor_lead_id="X-1", origin=Origin.VENDOR, **UK)
    assert _queued(pulled) == []
    lead = make_lead(dealer_a, **UK)
    OutboxItem.objects.filter(lead=lead).delete()
    lead.first_name = "Adah"
    lead.save()
    assert _queued(lead) == []  # rules run when a lead is created, not on every edit


def test_a_lead_entered_in_the_admin_is_routed(client, alice, dealer_a, two_caps):
    audi, _ = two_caps
    RoutingRule.objects.create(dealer=dealer_a, name="Audi", account=audi, brands="Audi")
    client.force_login(alice)
    response = client.post("/admin/leads/lead/add/", {
        "dealer": dealer_a.pk, "origin": "manual", "owner": alice.pk, "brand": "Audi", "source": "Walk-in",
        "country": "GB", **UK, **LEAD_INLINES})
    assert response.status_code == 302
    assert _queued(Lead.objects.get(first_name="Ada")) == ["a100-cap-audi"]


def test_a_csv_import_routes_its_new_leads_and_its_preview_queues_nothing(client, alice, dealer_a, two_caps):
    audi, _ = two_caps
    RoutingRule.objects.create(dealer=dealer_a, name="Audi", account=audi, brands="Audi")
    client.force_login(alice)
    preview = upload(client, "dealer,external_ref,first_name,last_name,email,phone,brand\n"
                             "A100,EV-1,Ada,Lovelace,ada@example.co.uk,020 8759 9036,Audi\n"
                             "A100,EV-2,Bo,Brown,bo@example.co.uk,,Seat\n")
    assert preview.status_code == 200 and not OutboxItem.objects.exists()
    confirm(client, preview)
    assert _queued(Lead.objects.get(external_ref="EV-1")) == ["a100-cap-audi"]
    assert _queued(Lead.objects.get(external_ref="EV-2")) == []


def test_a_lead_breaking_the_vendors_rules_is_blocked_with_the_reason_on_it(dealer_a, two_caps):
    audi, _ = two_caps
    RoutingRule.objects.create(dealer=dealer_a, name="all", account=audi)
    lead = make_lead(dealer_a, first_name="Cy", last_name="", email="cy@example.co.uk")
    item = OutboxItem.objects.get(lead=lead)
    assert item.state == OutboxState.BLOCKED
    assert "contactDetail.lastName is required" in lead.events.get(kind=EventKind.PUSH_BLOCKED).summary


def test_a_routing_failure_keeps_the_lead_and_says_so(dealer_a, two_caps, monkeypatch):
    RoutingRule.objects.create(dealer=dealer_a, name="all", account=two_caps[0])

    def broken(lead):
        raise RuntimeError("boom")

    monkeypatch.setattr("apps.routing.signals.route_lead", broken)
    lead = make_lead(dealer_a, **UK)
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert "Routing failed" in lead.events.get(kind=EventKind.NOTE).summary


def test_a_rule_names_a_submitting_account_of_its_own_dealer(dealer_a, dealer_b):
    theirs = _cap(dealer_b, "b200-cap")
    with pytest.raises(ValidationError, match="same dealer"):
        RoutingRule(dealer=dealer_a, name="x", account=theirs).full_clean()
    with pytest.raises(ValidationError, match="takes no lead submissions"):
        RoutingRule(dealer=dealer_a, name="x", account=make_cat_account(dealer_a)).full_clean()


def test_the_preview_counts_matches_and_what_earlier_rules_take(client, adam, dealer_a, two_caps):
    audi, vw = two_caps
    first = RoutingRule.objects.create(dealer=dealer_a, name="walk-ins", position=1, account=vw, sources="Walk-in")
    rule = RoutingRule.objects.create(dealer=dealer_a, name="Audi", position=2, account=audi, brands="Audi")
    for source in ("Walk-in", "Website", "Website"):
        make_lead(dealer_a, brand="Audi", source=source, **UK)
    make_lead(dealer_a, brand="Seat", source="Website", **UK)
    shown = services.preview(rule)
    assert (shown.matches, shown.decided, len(shown.sample)) == (3, 2, 3)
    assert services.preview(first).decided == 1
    client.force_login(adam)
    page = client.get(reverse("admin:routing_routingrule_change", args=[rule.pk])).content.decode()
    assert "<strong>3</strong> lead(s) match; <strong>2</strong>" in page


def test_the_rule_form_offers_only_submitting_accounts_of_own_dealers(client, adam, dealer_a, dealer_b, two_caps):
    make_cat_account(dealer_a)
    _cap(dealer_b, "b200-cap")
    client.force_login(adam)
    form = client.get(reverse("admin:routing_routingrule_add")).context["adminform"].form
    assert sorted(a.name for a in form.fields["account"].queryset) == ["a100-cap-audi", "a100-cap-vw"]


# --- by hand ----------------------------------------------------------------------------

def _submit_url(*leads):
    return reverse("admin:routing_submit") + "?ids=" + ",".join(str(lead.pk) for lead in leads)


def test_the_lead_page_links_to_submitting_it_by_hand(client, alice, dealer_a, two_caps):
    lead = make_lead(dealer_a, **UK)
    client.force_login(alice)
    page = client.get(reverse("admin:leads_lead_change", args=[lead.pk])).content.decode()
    assert _submit_url(lead) in page
    response = client.post(reverse("admin:leads_lead_changelist"),
                           {"action": "submit_to_vendor", "_selected_action": [lead.pk]})
    assert response.status_code == 302 and response.url == _submit_url(lead)


def test_a_lead_is_submitted_by_hand_and_shows_the_vendors_rules(client, alice, dealer_a, two_caps):
    audi, _ = two_caps
    good, bad = make_lead(dealer_a, product_interest="Audi Q6 e-tron", **UK), make_lead(dealer_a, first_name="Cy", last_name="", email="cy@x.co.uk")
    client.force_login(alice)
    page = client.get(_submit_url(good, bad)).content.decode()
    assert "contactDetail.lastName is required" in page and "Not submitted" in page
    response = client.post(_submit_url(good, bad), {"account": audi.pk})
    assert response.status_code == 302
    assert OutboxItem.objects.get(lead=good, account=audi).state == OutboxState.PENDING
    assert OutboxItem.objects.get(lead=bad, account=audi).state == OutboxState.BLOCKED
    assert "Submitted by hand to a100-cap-audi" in good.events.get(kind=EventKind.NOTE).summary


def test_submitting_by_hand_is_dealer_scoped(client, alice, dealer_a, dealer_b, two_caps):
    theirs = make_lead(dealer_b, **UK)
    their_cap = _cap(dealer_b, "b200-cap")
    mine = make_lead(dealer_a, **UK)
    client.force_login(alice)
    assert client.get(_submit_url(theirs)).status_code == 404
    client.post(_submit_url(theirs), {"account": their_cap.pk})
    client.post(_submit_url(mine), {"account": their_cap.pk})  # not an account of the lead's dealer
    assert not OutboxItem.objects.filter(kind="submit").exists()


@pytest.mark.django_db(transaction=True)
def test_a_lead_accepted_through_routing_is_never_submitted_again_by_hand(client, alice, dealer_a, fast_retries):
    from sandboxes.cap import CapSandbox

    with CapSandbox(api_key="lh-key") as sandbox:
        account = _cap(dealer_a, "a100-cap", base_url=sandbox.base_url)
        RoutingRule.objects.create(dealer=dealer_a, name="all", account=account)
        lead = make_lead(dealer_a, product_interest="Audi Q6 e-tron", **UK)
        engine.push(account)
        client.force_login(alice)
        response = client.post(_submit_url(lead), {"account": account.pk}, follow=True)
        assert "already accepted this lead" in response.content.decode()
        item, problems = services.submit_by_hand(lead, account)
        assert [p.code for p in problems] == ["already_submitted"]
        engine.push(account)
        assert sandbox.submissions_for(lead.pk) == 1
        page = client.get(_submit_url(lead)).content.decode()
        assert sandbox.enquiries()[0]["enquiryReferenceCode"] in page


def test_the_demo_has_a_cap_account_and_a_rule_routing_audi_leads_to_it(db):
    from django.core.management import call_command

    call_command("seed_demo", "--leads", "0", stdout=open("/dev/null", "w"))
    account = VendorAccount.objects.get(name="demo-cap")
    assert account.vendor == "cap" and account.base_url == "http://127.0.0.1:8003/cap"
    lead = make_lead(account.dealer, brand="Audi", **UK)
    assert _queued(lead) == ["demo-cap"]
