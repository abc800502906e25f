"""The lead list and page: search, filters, raw vendor payload, follow-up inline."""
from datetime import timedelta

from django.utils import timezone

from apps.leads.models import Lead
from tests.conftest import LEAD_INLINES, make_cat_account, make_lead, without_csrf


def search(client, term):
    response = client.get("/admin/leads/lead/", {"q": term})
    assert response.status_code == 200
    return set(response.context["cl"].queryset.values_list("pk", flat=True))


def test_it_finds_leads_by_name_email_phone_company_and_vendor_id(client, alice, dealer_a, dealer_b):
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, first_name="Zed", email="zed@quarry.test", phone="(309) 654-5555", country="US",
                     company="Quarry Co", vendor_account=account, vendor_lead_id="00Q1W00001SmV5oUAF")
    other = make_lead(dealer_b, first_name="Zed", email="zed@quarry.test", phone="(309) 654-5555", country="US")
    client.force_login(alice)
    for term in ["Zed", "zed@quarry.test", "Quarry", "00Q1W00001SmV5oUAF", "309-654-5555", "+1 309 654 5555",
                 "3096545555"]:
        assert search(client, term) == {lead.pk}, term  # never dealer B's twin
    assert other.pk not in search(client, "")


def test_it_filters_by_follow_up_due_and_overdue(client, alice, dealer_a):
    now = timezone.now()
    overdue = make_lead(dealer_a, next_follow_up_at=now - timedelta(hours=3))
    later = make_lead(dealer_a, next_follow_up_at=now + timedelta(days=3))
    none = make_lead(dealer_a)
    client.force_login(alice)
    ids = lambda value: set(client.get("/admin/leads/lead/", {"followup": value}).context["cl"].queryset.values_list("pk", flat=True))  # noqa: E731
    assert ids("overdue") == {overdue.pk}
    assert ids("later") == {later.pk}
    assert ids("none") == {none.pk}
    assert "overdue" in client.get("/admin/leads/lead/").content.decode()


def test_it_filters_by_vendor(client, alice, dealer_a):
    cat_lead = make_lead(dealer_a, vendor_account=make_cat_account(dealer_a), vendor_lead_id="C1")
    manual = make_lead(dealer_a)
    client.force_login(alice)
    assert set(client.get("/admin/leads/lead/", {"vendor": "cat"}).context["cl"].queryset.values_list("pk", flat=True)) == {cat_lead.pk}
    assert set(client.get("/admin/leads/lead/", {"vendor": "none"}).context["cl"].queryset.values_list("pk", flat=True)) == {manual.pk}


def test_it_shows_vendor_html_escaped_never_executed(client, alice, dealer_a):
    payload = {"leadId": "X1", "partShoppingCart": '<tr><td style="font:12px">376-1410</td></tr><script>alert(1)</script>'}
    lead = make_lead(dealer_a, vendor_account=make_cat_account(dealer_a), vendor_lead_id="X1", raw_payload=payload)
    client.force_login(alice)
    body = client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_vendor_leads_key_cannot_be_edited(client, alice, dealer_a):
    lead = make_lead(dealer_a, vendor_account=make_cat_account(dealer_a), vendor_lead_id="KEY-1")
    client.force_login(alice)
    response = client.post(f"/admin/leads/lead/{lead.pk}/change/", {
        "vendor_lead_id": "CHANGED", "first_name": "Ann", "owner": "", "country": "",
        **LEAD_INLINES})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.vendor_lead_id == "KEY-1" and lead.first_name == "Ann"


def test_a_follow_up_added_inline_updates_the_leads_next_follow_up(client, alice, dealer_a):
    lead = make_lead(dealer_a)
    when = (timezone.localtime() + timedelta(days=1)).replace(microsecond=0, second=0)
    client.force_login(alice)
    response = client.post(f"/admin/leads/lead/{lead.pk}/change/", {
        "dealer": dealer_a.pk, "origin": "manual", "first_name": "Jane", "owner": "", "country": "",
        **LEAD_INLINES, "followups-TOTAL_FORMS": 1, "followups-0-kind": "call",
        "followups-0-scheduled_at_0": when.strftime("%Y-%m-%d"), "followups-0-scheduled_at_1": when.strftime("%H:%M:%S"),
        })
    assert response.status_code == 302, response.content.decode()[:3000]
    lead.refresh_from_db()
    assert lead.next_follow_up_at == when
    assert lead.followups.get().created_by == alice


def test_status_cannot_be_set_through_the_lead_form(client, alice, dealer_a):
    lead = make_lead(dealer_a)
    client.force_login(alice)
    response = client.post(f"/admin/leads/lead/{lead.pk}/change/", {
        "dealer": dealer_a.pk, "origin": "manual", "status": "closed_won", "probability": 100, "first_name": "x",
        "owner": "", "country": "", **LEAD_INLINES})
    assert response.status_code == 302  # saved...
    lead.refresh_from_db()
    assert lead.first_name == "x"
    assert (lead.status, lead.probability) == ("new", None)  # ...but not the status


def test_exports_neutralise_spreadsheet_formulas(client, alice, dealer_a):
    from tests.accounts.test_admin_scoping import _all_export_fields

    make_lead(dealer_a, first_name="=HYPERLINK(\"http://evil\")", last_name="+1", company="@SUM(A1)",
              email="plain@acme.test")
    client.force_login(alice)
    body = client.post("/admin/leads/lead/export/", {"format": "0", "resource": "0", **_all_export_fields()}).content.decode()
    assert "'=HYPERLINK" in body and "'+1" in body and "'@SUM(A1)" in body
    assert "plain@acme.test" in body


def test_staff_enter_a_lead_by_hand_for_their_dealer(client, alice, dealer_a, dealer_b):
    client.force_login(alice)
    form = client.get("/admin/leads/lead/add/").context["adminform"].form
    assert form.initial["dealer"] == dealer_a.pk and form.initial["owner"] == alice.pk
    response = client.post("/admin/leads/lead/add/", {
        "dealer": dealer_a.pk, "origin": "manual", "owner": alice.pk, "first_name": "Walk", "last_name": "In",
        "phone": "0207 946 0958", "country": "GB", **LEAD_INLINES})
    assert response.status_code == 302
    lead = Lead.objects.get(first_name="Walk")
    assert (lead.dealer, lead.status, lead.vendor_account, lead.phone_normalized) == (dealer_a, "new", None,
                                                                                      "+442079460958")
    response = client.post("/admin/leads/lead/add/", {
        "dealer": dealer_b.pk, "origin": "manual", "first_name": "Sneaky", **LEAD_INLINES})
    assert response.status_code == 200 and not Lead.objects.filter(first_name="Sneaky").exists()


def test_a_walk_in_lead_carries_consent_per_channel_ip_and_utm(client, alice, dealer_a):
    # CAP's optInConsents and Aimbase's opt-in and UTM fields are built from these:
    # a lead typed in by staff must be able to carry them, "not asked" included.
    client.force_login(alice)
    body = client.get("/admin/leads/lead/add/").content.decode()
    for name in ("opt_in_email", "opt_in_sms", "ip_address", "utm_campaign", "comments"):
        assert f'name="{name}"' in body, name
    response = client.post("/admin/leads/lead/add/", {
        "dealer": dealer_a.pk, "origin": "manual", "first_name": "Expo", "last_name": "Visitor",
        "opt_in_email": "true", "opt_in_phone": "false", "opt_in_sms": "unknown", "ip_address": "203.0.113.7",
        "utm_source": "boatshow", "utm_campaign": "spring", "comments": "Wants a test drive", **LEAD_INLINES})
    assert response.status_code == 302, response.context["adminform"].form.errors
    lead = Lead.objects.get(first_name="Expo")
    assert (lead.opt_in_email, lead.opt_in_phone, lead.opt_in_sms, lead.opt_in_post) == (True, False, None, None)
    assert (lead.ip_address, lead.utm_source, lead.utm_campaign, lead.comments) == (
        "203.0.113.7", "boatshow", "spring", "Wants a test drive")


def test_the_lead_page_has_one_timeline_of_everything(client, alice, dealer_a):
    from datetime import timedelta

    from django.utils import timezone

    from apps.leads import services
    from apps.leads.models import EventKind, LeadEvent
    from apps.leads.selectors import lead_timeline

    lead = make_lead(dealer_a, owner=alice)
    followup = services.followup_schedule(lead=lead, scheduled_at=timezone.now() + timedelta(days=1), actor=alice,
                                          notes="Bring the brochure").followup
    services.lead_change_status(lead=lead, to_status="accepted", actor=alice, comment="Called, interested")
    services.followup_complete(followup=followup, actor=alice, outcome_notes="Demo booked")
    LeadEvent.objects.create(lead=lead, kind=EventKind.PUSH_SENT, summary="Reported to Cat: Accepted")
    LeadEvent.objects.create(lead=lead, kind=EventKind.VENDOR_UPDATE, summary="<script>alert(1)</script>")
    kinds = [entry.kind for entry in lead_timeline(lead)]
    assert sorted(kinds) == ["followup", "followup", "received", "status", "vendor", "vendor"]
    assert kinds[-1] == "received"  # newest first, arrival last
    client.force_login(alice)
    body = client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    for text in ("New → Accepted", "Called, interested", "Bring the brochure", "Demo booked",
                 "Reported to Cat: Accepted", "&lt;script&gt;alert(1)&lt;/script&gt;"):
        assert text in body
    assert "<script>alert(1)</script>" not in body  # vendor text is shown, never run


def test_bulk_assignment_from_the_list(client, alice, adam, bob, dealer_a, dealer_b):
    from django.contrib.auth import get_user_model

    from apps.accounts.models import Membership

    leads = [make_lead(dealer_a) for _ in range(3)]
    client.force_login(alice)
    ids = [lead.pk for lead in leads]
    client.post("/admin/leads/lead/", {"action": "assign_to_me", "_selected_action": ids[:2]})
    assert [Lead.objects.get(pk=pk).owner for pk in ids] == [alice, alice, None]
    page = client.post("/admin/leads/lead/", {"action": "assign_to", "_selected_action": ids})
    body = without_csrf(page.content.decode())
    assert page.status_code == 200 and "adam" in body and "bob" not in body
    client.post("/admin/leads/lead/", {"action": "assign_to", "_selected_action": ids, "owner": adam.pk})
    assert {Lead.objects.get(pk=pk).owner for pk in ids} == {adam}
    # A person of two dealers cannot be given a lead of the dealer they do not work for.
    both = get_user_model().objects.get(username="bob")
    Membership.objects.create(user=alice, dealer=dealer_b, role="staff")
    client.post("/admin/leads/lead/", {"action": "assign_to", "_selected_action": ids[:1], "owner": both.pk})
    assert Lead.objects.get(pk=ids[0]).owner == adam
    client.post("/admin/leads/lead/", {"action": "unassign", "_selected_action": ids})
    assert {Lead.objects.get(pk=pk).owner for pk in ids} == {None}
