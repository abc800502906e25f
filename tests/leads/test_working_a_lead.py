"""Working a lead as a salesperson expects (issue 17, first part): landing on
"My leads" after logging in, an unassigned lead becoming yours when you accept
or close it, a completed call counting as contact, plain notes."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from apps.leads import services
from apps.leads.models import EventKind, FollowUp, Lead
from apps.leads.queue import my_queue
from apps.leads.statuses import Status
from apps.sync.models import OutboxItem
from tests.conftest import PASSWORD, make_cat_account, make_lead

QUEUE = "/admin/leads/lead/queue/"


def work(lead):
    return reverse("admin:leads_lead_workbench", args=[lead.pk])


def test_dealer_staff_land_on_my_leads_after_logging_in(client, alice):
    response = client.post("/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD, "next": "/admin/"},
                           follow=True)
    assert response.redirect_chain[-1][0] == QUEUE and b"My leads" in response.content
    assert client.get("/admin/").status_code == 200  # afterwards the index is still the index


def test_dealer_admins_land_on_the_dealers_dashboard(client, adam):
    response = client.post("/admin/login/?next=/admin/", {"username": "adam", "password": PASSWORD, "next": "/admin/"},
                           follow=True)
    assert response.redirect_chain[-1][0] == "/admin/reports/leadreport/"
    assert "New leads waiting" in response.content.decode()


def test_a_login_on_its_way_to_a_page_goes_there(client, alice, dealer_a):
    lead = make_lead(dealer_a, owner=alice)
    target = work(lead)
    response = client.post(f"/admin/login/?next={target}", {"username": "alice", "password": PASSWORD,
                                                              "next": target}, follow=True)
    assert response.redirect_chain[-1][0] == target


def test_it_keeps_the_index_for_it_staff(client, root):
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD, "next": "/admin/"},
                           follow=True)
    assert response.redirect_chain[-1][0] == "/admin/" and b"Leads, follow-ups and vendor sync" in response.content


def test_accepting_an_unassigned_lead_makes_it_yours_and_says_so(client, alice, dealer_a):
    lead = make_lead(dealer_a)
    client.force_login(alice)
    response = client.post(work(lead), {"action": "status", "to_status": Status.ACCEPTED}, follow=True)
    assert Lead.objects.get(pk=lead.pk).owner == alice
    assert "It had no owner, so it is now yours." in response.content.decode()
    assert Lead.history.filter(id=lead.pk).first().history_change_reason.endswith("assigned to alice")


def test_a_vendor_hears_of_the_new_owner_and_an_owned_lead_keeps_its_owner(client, alice, adam, dealer_a):
    """Cat reports the salesperson with the outcome itself; the owner service runs for every vendor."""
    owned = make_lead(dealer_a, owner=adam)
    client.force_login(alice)
    client.post(work(owned), {"action": "status", "to_status": Status.ACCEPTED})
    assert Lead.objects.get(pk=owned.pk).owner == adam
    result = services.lead_change_status(lead=make_lead(dealer_a), to_status=Status.ACCEPTED, actor=alice)
    assert result.ok and not result.taken_by_actor  # jobs, imports and syncs never assign


def test_someone_of_another_dealer_does_not_take_the_lead(dealer_a, bob):
    lead = make_lead(dealer_a)
    change = services.StatusChange(to_status=Status.REJECTED, actor=bob)
    result = services.lead_apply_status_change(lead=lead, change=change, source="admin", take_if_unassigned=True)
    assert not result.taken_by_actor and Lead.objects.get(pk=lead.pk).owner is None


def test_a_completed_call_counts_as_contact_and_leaves_not_yet_contacted(dealer_a, alice):
    lead = make_lead(dealer_a, owner=alice)
    assert [b.count for b in my_queue(alice) if b.key == "new"] == [1]
    call = services.followup_schedule(lead=lead, scheduled_at=timezone.now(), kind="call", actor=alice).followup
    services.followup_complete(followup=call, actor=alice, outcome_notes="Spoke to the buyer")
    lead.refresh_from_db()
    assert lead.first_contacted_at is not None and lead.status == Status.NEW
    assert [b.count for b in my_queue(alice) if b.key == "new"] == [0]


def test_a_completed_note_is_not_contact(dealer_a, alice):
    lead = make_lead(dealer_a, owner=alice)
    note = services.followup_schedule(lead=lead, scheduled_at=timezone.now(), kind="note", actor=alice).followup
    services.followup_complete(followup=note, actor=alice)
    assert Lead.objects.get(pk=lead.pk).first_contacted_at is None


def test_a_plain_note_goes_on_the_timeline_and_to_no_vendor(client, alice, dealer_a):
    lead = make_lead(dealer_a, vendor_account=make_cat_account(dealer_a), vendor_lead_id="C-9", owner=alice)
    client.force_login(alice)
    response = client.post(work(lead), {"action": "note", "note-text": "Prefers calls after 4 pm"}, follow=True)
    assert "Note added." in response.content.decode() and "Prefers calls after 4 pm" in response.content.decode()
    event = lead.events.get(kind=EventKind.NOTE)
    assert event.details["text"] == "Prefers calls after 4 pm" and event.actor_label
    assert not OutboxItem.objects.filter(lead=lead).exists() and not FollowUp.objects.filter(lead=lead).exists()


def test_an_empty_note_is_refused_on_its_field(client, alice, dealer_a):
    lead = make_lead(dealer_a, owner=alice)
    client.force_login(alice)
    response = client.post(work(lead), {"action": "note", "note-text": "   "})
    assert response.status_code == 200 and not lead.events.filter(kind=EventKind.NOTE).exists()
    assert "This field is required." in response.content.decode() or "Write the note first." in response.content.decode()
