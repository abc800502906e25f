"""What the dealer does with a lead Aimbase accepted goes to the Disposition API:
status changes by the dealer's StatusMapping, follow-ups as FollowUp/Activity
entries, a new owner as Assigned; "no corresponding mapping" answers are shown
on the lead and counted."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.leads import services
from apps.leads.models import EventKind, LeadEvent, StatusMapping
from apps.sync import engine
from apps.sync.models import AccountSyncState, OutboxItem, OutboxState, SyncRun
from apps.vendors.aimbase.adapter import aimbase_id

from .conftest import boat_lead, submit


@pytest.fixture
def accepted_lead(sandbox, aimbase_account, dealer_a, alice):
    lead = boat_lead(dealer_a, owner=alice)
    submit(aimbase_account, lead)
    assert engine.push(aimbase_account).pushed == 1
    return lead


@pytest.fixture
def mapped(dealer_a):
    for status, value in (("accepted", "Working"), ("closed_won", "Sold"), ("closed_lost", "Lost"),
                          ("disqualified", "Abandoned")):
        StatusMapping.objects.create(dealer=dealer_a, status=status, vendor="aimbase", vendor_value=value)


def dispositions():
    return OutboxItem.objects.filter(kind="disposition").order_by("id")


def test_a_mapped_status_change_is_reported_with_aimbase_ids(sandbox, aimbase_account, accepted_lead, alice, mapped):
    result = services.lead_change_status(lead=accepted_lead, to_status="accepted", actor=alice)
    assert result.ok, result.errors
    assert engine.push(aimbase_account).pushed == 1
    activity, = sandbox.activities()
    assert activity["EntryType"] == "StatusChanged" and activity["EntryDetail"] == "Working"
    assert activity["PCHProspectId"] == str(accepted_lead.pk)
    assert activity["SourceProspectId"] == aimbase_id(accepted_lead, aimbase_account)
    assert activity["DealershipUser"] == "alice" and activity["EntryDate"].endswith("Z")
    assert ("POST", "/aimbase/api/Disposition?source=LeadHub", 200) in sandbox.requests
    assert "StatusChanged Working" in LeadEvent.objects.filter(kind=EventKind.PUSH_SENT).first().summary


def test_an_unmapped_status_is_not_reported(aimbase_account, accepted_lead, alice):
    assert services.lead_change_status(lead=accepted_lead, to_status="on_hold", actor=alice).ok
    assert not dispositions().exists()


def test_nothing_is_reported_for_a_lead_aimbase_has_not_accepted(sandbox, aimbase_account, dealer_a, alice, mapped):
    lead = boat_lead(dealer_a)
    submit(aimbase_account, lead)  # queued, not yet accepted
    assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice).ok
    services.followup_schedule(lead=lead, scheduled_at=timezone.now() + timedelta(days=1), kind="call")
    assert not dispositions().exists()


def test_follow_ups_are_reported_as_follow_up_and_activity_entries(sandbox, aimbase_account, accepted_lead, alice):
    followup = services.followup_schedule(lead=accepted_lead, scheduled_at=timezone.now() + timedelta(days=1),
                                          kind="visit", actor=alice).followup
    services.followup_complete(followup=followup, actor=alice, outcome_notes="Came to the showroom",
                               next_at=timezone.now() + timedelta(days=3), next_kind="quote")
    assert engine.push(aimbase_account).pushed == 3
    assert [(a["EntryType"], a["EntryDetail"]) for a in sandbox.activities()] == [
        ("FollowUp", "Appointment"), ("Activity", "Appointment"), ("FollowUp", "Quote")]


def test_a_new_owner_is_reported_as_assigned_by_the_user_who_assigned_it(
        sandbox, aimbase_account, accepted_lead, adam, alice):
    # status changes "(Viewed, Assigned, Working, Sold, Lost, Abandoned)"; "DealershipUser (≤50, who did it)"
    assert services.lead_assign_owner(lead=accepted_lead, owner=adam, actor=alice).ok
    assert services.lead_assign_owner(lead=accepted_lead, owner=alice).ok  # no actor: LeadHub itself
    assert engine.push(aimbase_account).pushed == 2
    by_alice, by_leadhub = sandbox.activities()
    assert (by_alice["EntryType"], by_alice["EntryDetail"], by_alice["DealershipUser"]) == (
        "StatusChanged", "Assigned", "alice")  # alice did it, not adam who got the lead
    assert by_leadhub["EntryDetail"] == "Assigned" and "DealershipUser" not in by_leadhub


def test_a_follow_up_is_reported_as_done_by_whoever_scheduled_or_completed_it(sandbox, aimbase_account,
                                                                              accepted_lead, alice, adam):
    followup = services.followup_schedule(lead=accepted_lead, scheduled_at=timezone.now() + timedelta(days=1),
                                          kind="call", assigned_to=adam, actor=alice).followup
    services.followup_complete(followup=followup, actor=adam, outcome_notes="Called back")
    assert engine.push(aimbase_account).pushed == 2
    assert [(a["EntryType"], a["DealershipUser"]) for a in sandbox.activities()] == [
        ("FollowUp", "alice"),  # scheduled by alice for adam: alice did it
        ("Activity", "adam")]


def test_a_no_mapping_answer_is_shown_on_the_lead_and_counted(sandbox, aimbase_account, accepted_lead, alice,
                                                              mapped):
    sandbox.unmap("Working")
    assert services.lead_change_status(lead=accepted_lead, to_status="accepted", actor=alice).ok
    summary = engine.push(aimbase_account)
    assert (summary.pushed, summary.failed) == (0, 1)
    item = dispositions().get()
    assert item.state == OutboxState.FAILED
    assert "No corresponding Aimbase status mapping for EntryType: StatusChanged, EntryDetail: Working" in \
        item.last_error
    assert "no mapping in Aimbase" in LeadEvent.objects.get(kind=EventKind.PUSH_FAILED).summary
    assert SyncRun.objects.filter(kind="push").latest("id").failed == 1
    assert AccountSyncState.objects.get(account=aimbase_account).consecutive_failures == 1
    assert sandbox.activities() == []


def test_a_disposition_fault_is_retried(sandbox, aimbase_account, accepted_lead, alice, mapped):
    sandbox.inject("503", path="disposition")
    assert services.lead_change_status(lead=accepted_lead, to_status="accepted", actor=alice).ok
    assert engine.push(aimbase_account).pushed == 0
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert engine.push(aimbase_account).pushed == 1
    assert len(sandbox.activities()) == 1


def test_a_failed_report_holds_back_the_later_ones_so_history_stays_in_order(sandbox, aimbase_account,
                                                                            accepted_lead, alice, mapped):
    assert services.lead_change_status(lead=accepted_lead, to_status="accepted", actor=alice).ok
    services.followup_schedule(lead=accepted_lead, scheduled_at=timezone.now() + timedelta(days=1), kind="call")
    sandbox.inject("reset", path="disposition")
    summary = engine.push(aimbase_account)
    assert summary.pushed == 0
    assert "held back" in dispositions().last().last_error
    assert [r for r in sandbox.requests if "Disposition" in r[1]] == [
        ("POST", "/aimbase/api/Disposition?source=LeadHub", 0)]  # the second was not sent
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert engine.push(aimbase_account).pushed == 2
    assert [a["EntryType"] for a in sandbox.activities()] == ["StatusChanged", "FollowUp"]


def test_a_stage_change_is_reported_as_stage_changed(sandbox, aimbase_account, accepted_lead, alice, mapped,
                                                     dealer_a):
    from tests.conftest import make_stages

    discovery, quote = make_stages(dealer_a)
    assert services.lead_change_status(lead=accepted_lead, to_status="accepted", stage=discovery, actor=alice).ok
    accepted_lead.refresh_from_db()
    assert services.lead_change_status(lead=accepted_lead, to_status="accepted", stage=quote, actor=alice).ok
    assert engine.push(aimbase_account).pushed == 2
    assert [(a["EntryType"], a["EntryDetail"]) for a in sandbox.activities()] == [
        ("StatusChanged", "Working"), ("StageChanged", "Discovery: Quote")]


def test_an_entry_detail_over_50_characters_is_blocked_and_shown_not_cut(sandbox, aimbase_account, accepted_lead,
                                                                         alice, mapped, dealer_a):
    from tests.conftest import make_stages

    discovery, quote = make_stages(dealer_a)
    quote.name = "Quote sent, waiting for the signed order form"
    quote.save()
    assert services.lead_change_status(lead=accepted_lead, to_status="accepted", stage=discovery, actor=alice).ok
    accepted_lead.refresh_from_db()
    assert services.lead_change_status(lead=accepted_lead, to_status="accepted", stage=quote, actor=alice).ok
    assert engine.push(aimbase_account).pushed == 1  # the status change; the stage change is blocked
    blocked = dispositions().get(state=OutboxState.BLOCKED)
    expected = ('EntryDetail is 56 characters long; Aimbase takes at most 50. (LeadHub: "Old Stage: New Stage" '
                "from the names of the sales stages.)")
    assert expected in blocked.last_error
    assert expected in LeadEvent.objects.get(lead=accepted_lead, kind=EventKind.PUSH_BLOCKED).summary
    assert [a["EntryDetail"] for a in sandbox.activities()] == ["Working"]  # nothing cut was sent
    quote.name = "Quote sent"  # the dealer shortens the stage's name: rebuilt and sent
    quote.save()
    assert engine.push(aimbase_account).pushed == 1
    assert sandbox.activities()[-1]["EntryDetail"] == "Discovery: Quote sent"


def test_follow_ups_added_and_completed_in_the_admin_reach_aimbase_like_the_workbenchs(
        client, sandbox, aimbase_account, accepted_lead, alice):
    # The admin's follow-up page and the lead form's inline go through the
    # follow-up services: Aimbase hears of both (they used to save the model only).
    client.force_login(alice)
    when = timezone.localtime(timezone.now() + timedelta(days=1))
    response = client.post("/admin/leads/followup/add/", {
        "lead": accepted_lead.pk, "kind": "call", "scheduled_at_0": when.strftime("%Y-%m-%d"),
        "scheduled_at_1": when.strftime("%H:%M:%S"), "assigned_to": alice.pk, "notes": "Call about the quote",
        "outcome_notes": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    followup = accepted_lead.followups.get()
    assert followup.created_by == alice
    done = timezone.localtime(timezone.now())
    response = client.post(f"/admin/leads/followup/{followup.pk}/change/", {
        "lead": accepted_lead.pk, "kind": "call", "scheduled_at_0": when.strftime("%Y-%m-%d"),
        "scheduled_at_1": when.strftime("%H:%M:%S"), "assigned_to": alice.pk, "notes": "Call about the quote",
        "done_at_0": done.strftime("%Y-%m-%d"), "done_at_1": done.strftime("%H:%M:%S"),
        "outcome_notes": "Reached him"})
    assert response.status_code == 302, response.content.decode()[:2000]
    followup.refresh_from_db()
    assert (followup.done_by, followup.outcome_notes) == (alice, "Reached him")
    assert [item.payload.get("EntryType") for item in dispositions()] == ["FollowUp", "Activity"]
    assert engine.push(aimbase_account).pushed == 2
    assert [a["EntryType"] for a in sandbox.activities()] == ["FollowUp", "Activity"]
