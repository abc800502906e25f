"""Accepting leads in bulk from the list (issue 17): through the status service,
lead by lead, with what happened to each."""
from __future__ import annotations

from apps.leads.models import Lead, StatusLog
from apps.leads.statuses import Status
from tests.conftest import make_lead


def accept(client, leads, follow=True):
    return client.post("/admin/leads/lead/", {"action": "accept_selected",
                                              "_selected_action": [lead.pk for lead in leads]}, follow=follow)


def test_it_accepts_each_lead_through_the_service_and_reports_the_others(client, alice, dealer_a):
    mine = make_lead(dealer_a, owner=alice, first_name="Mine")
    nobodys = make_lead(dealer_a, first_name="Nobodys")
    closed = make_lead(dealer_a, owner=alice, first_name="Closed", status=Status.REJECTED)
    client.force_login(alice)
    body = accept(client, [mine, nobodys, closed]).content.decode()
    assert Lead.objects.get(pk=mine.pk).status == Status.ACCEPTED
    assert Lead.objects.get(pk=nobodys.pk).owner == alice  # it had no owner: now the actor's
    assert Lead.objects.get(pk=closed.pk).status == Status.REJECTED
    assert "2 lead(s) accepted; 1 had no owner and are now yours." in body
    assert "1 not accepted: #" in body and "Closed" in body
    assert StatusLog.objects.filter(to_status=Status.ACCEPTED, source="admin").count() == 2


def test_it_never_reaches_another_dealers_lead(client, alice, dealer_b):
    theirs = make_lead(dealer_b)
    client.force_login(alice)
    accept(client, [theirs])
    assert Lead.objects.get(pk=theirs.pk).status == Status.NEW


def test_a_selection_too_large_for_one_request_changes_nothing(client, alice, dealer_a, monkeypatch):
    from apps.leads.admin import LeadAdmin

    monkeypatch.setattr(LeadAdmin, "BULK_LIMIT", 2)
    leads = [make_lead(dealer_a, owner=alice) for _ in range(3)]
    client.force_login(alice)
    body = accept(client, leads).content.decode()
    assert "More than 2 leads selected" in body
    assert not Lead.objects.filter(status=Status.ACCEPTED).exists()


def test_it_puts_selected_leads_on_hold_the_same_way(client, alice, dealer_a):
    new = make_lead(dealer_a, owner=alice, first_name="Waiting")
    closed = make_lead(dealer_a, owner=alice, first_name="Done", status=Status.CLOSED_WON, probability=100)
    client.force_login(alice)
    body = client.post("/admin/leads/lead/", {"action": "hold_selected", "_selected_action": [new.pk, closed.pk]},
                       follow=True).content.decode()
    assert Lead.objects.get(pk=new.pk).status == Status.ON_HOLD
    assert Lead.objects.get(pk=closed.pk).status == Status.CLOSED_WON  # final: refused, named
    assert "1 lead(s) put on hold." in body and "1 not put on hold: #" in body
    assert StatusLog.objects.filter(to_status=Status.ON_HOLD, source="admin").count() == 1


def test_a_bulk_accept_whose_vendor_update_is_held_says_so(client, alice, adam, dealer_a, monkeypatch):
    from apps.leads import held

    lead = make_lead(dealer_a, owner=alice, first_name="Held")
    monkeypatch.setattr(held, "notices_for_change", lambda lead, log, user: ["Not sent to Cat yet: ..."])
    client.force_login(alice)
    body = accept(client, [lead]).content.decode()
    assert "Not sent to the vendor yet for 1 of them" in body and str(lead) in body
