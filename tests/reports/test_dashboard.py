"""Dashboards (apps/reports/dashboard.py): the manager's tiles on the reports index,
IT's across dealers with sync health, staff's own numbers on My leads; every number
links to the list behind it."""
from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from apps.leads import services
from apps.leads.models import FollowUp, Lead
from tests.conftest import make_lead

DASHBOARD = "/admin/reports/leadreport/"


def tiles(response) -> dict:
    return {tile.title: tile for tile in response.context["tiles"]}


def test_the_managers_tiles_count_their_dealer_and_link_to_the_leads(client, adam, alice, dealer_a, dealer_b,
                                                                     reasons_a):
    now = timezone.now()
    waiting = make_lead(dealer_a, created_at=now - timedelta(hours=5))
    make_lead(dealer_b)  # another dealer's: never counted
    contacted = make_lead(dealer_a, owner=alice)
    assert services.lead_change_status(lead=contacted, to_status="accepted", actor=alice).ok
    assert services.followup_schedule(lead=contacted, scheduled_at=now - timedelta(days=1), assigned_to=alice,
                                      actor=alice).ok
    client.force_login(adam)
    shown = tiles(client.get(DASHBOARD))
    assert shown["New leads waiting"].value == "1" and "5.0 h" in shown["New leads waiting"].detail
    listed = client.get(shown["New leads waiting"].url).context["cl"].result_list
    assert [lead.pk for lead in listed] == [waiting.pk]  # the number and the list behind it agree
    overdue = shown["Follow-ups overdue"]
    assert overdue.value == "1" and overdue.rows[0][1] == "1"
    assert [lead.pk for lead in client.get(overdue.rows[0][2]).context["cl"].result_list] == [contacted.pk]
    assert "Sync health" not in shown  # IT's


def test_it_sees_every_dealer_and_sync_health(client, root, dealer_a, dealer_b):
    make_lead(dealer_a)
    make_lead(dealer_b)
    client.force_login(root)
    shown = tiles(client.get(DASHBOARD))
    assert shown["New leads waiting"].value == "2" and "Sync health" in shown
    assert client.get(shown["Sync health"].url).status_code == 200


def test_staff_see_their_own_numbers_on_my_leads(client, alice, bob, dealer_a):
    mine = make_lead(dealer_a, owner=alice)
    Lead.objects.filter(pk=mine.pk).update(first_contacted_at=mine.created_at + timedelta(minutes=30))
    make_lead(dealer_a)  # not alice's
    FollowUp.objects.create(lead=mine, scheduled_at=timezone.now() - timedelta(hours=2), assigned_to=alice)
    client.force_login(alice)
    response = client.get(reverse("admin:leads_lead_queue"))
    [panel] = response.context["panels"]
    numbers = {tile.title: tile.value for tile in panel["tiles"]}
    assert numbers == {"My speed to first contact": "30 min", "My overdue follow-ups": "1", "My wins this month": "0"}
    assert "My speed to first contact" in response.content.decode()
