"""Pushing to a sandbox Capillary over HTTP: new leads, status changes,
follow-ups, owner; ordering behind a creation; faults; no duplicates."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from apps.leads.models import FollowUp, Lead, LeadEvent, Origin
from apps.leads.services import followup_complete, followup_schedule, lead_assign_owner, lead_change_status
from apps.sync.engine import pull, push
from apps.sync.models import InboxPage, OutboxItem, OutboxState, PageState
from apps.sync.outbox import queue_submission
from apps.vendors.capillary.models import CapillaryLink

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def local_lead(dealer_a):
    return Lead.objects.create(dealer=dealer_a, origin=Origin.MANUAL, first_name="Tom", last_name="Sawyer",
                               email="tom.sawyer@example.com", product_interest="item001",
                               submission_extras={"capillary": {"type": "SKU", "extendedFields": {
                                   "trial_status": "Not Done"}}})


@pytest.fixture
def pulled(account, mapped, sandbox):
    made = sandbox.add_lead(lead_for="sku_1")
    pull(account)
    return Lead.objects.get(vendor_account=account, vendor_lead_id=str(made["id"])), made


def test_it_creates_a_leadhub_lead_in_capillary_and_never_imports_it_back(account, mapped, sandbox, local_lead, alice):
    assert lead_change_status(lead=local_lead, to_status="accepted", actor=alice).ok
    item, problems = queue_submission(account.adapter(), local_lead)
    assert problems == [] and item.state == OutboxState.PENDING
    summary = push(account)
    assert summary.pushed == 1, summary.errors
    method, path, body = sandbox.received[-1]
    assert (method, path) == ("POST", "/v2/leads")
    assert body["idType"] == "EMAIL" and body["identifier"] == "tom.sawyer@example.com"
    assert body["statusLogDetails"] == [{"status": "OPEN", "reasonId": 4, "createdBy": 28812689}]
    assert body["extendedFields"] == {"trial_status": "Not Done"} and body["orgSourceId"] == -1
    item.refresh_from_db()
    cap_id = str(item.response["id"])
    assert CapillaryLink.objects.get(kind="lead", capillary_id=cap_id).lead == local_lead
    summary = pull(account)
    assert (summary.created, summary.updated) == (0, 0) and Lead.objects.count() == 1
    assert not LeadEvent.objects.filter(lead=local_lead, summary__startswith="Capillary").exists()


def test_a_status_change_goes_out_with_status_substatus_and_reason(pulled, account, sandbox, alice, mapped):
    lead, made = pulled
    assert lead_change_status(lead=lead, to_status="on_hold", actor=alice).ok
    assert push(account).pushed == 1
    method, path, body = sandbox.received[-1]
    assert (method, path) == ("PUT", f"/v2/leads/{made['id']}/status")
    assert body["status"] == "ON_HOLD" and body["subStatus"] == "YetToDecide" and body["reasonId"] == 4
    assert sandbox.lead(made["id"])["status"] == "ON_HOLD"
    # Pulled back: LeadHub's own change is recognised, not recorded as Capillary's.
    summary = pull(account)
    assert summary.errors == [] and lead.status_logs.count() == 1


def test_a_change_without_a_mapped_reason_is_refused_before_it_is_queued(pulled, account, alice, mapped):
    from apps.leads.models import Reason

    lead, _ = pulled
    unmapped = Reason.objects.create(dealer=lead.dealer, kind="closed_no_deal", label="Budget cut")
    assert lead_change_status(lead=lead, to_status="accepted", actor=alice).ok
    lead.refresh_from_db()
    result = lead_change_status(lead=lead, to_status="closed_no_deal", reason=unmapped, actor=alice)
    assert not result.ok and [v.field for v in result.errors] == ["reason"]
    assert result.errors[0].message.startswith("Choose another reason, or ask a dealer admin to map 'Budget cut'")
    assert "no Capillary reason id" in result.errors[0].detail
    assert OutboxItem.objects.filter(lead=lead).count() == 1  # only the accepted change
    account.options["default_reason_id"] = ""
    account.save()
    assert account.adapter().required_form_fields(lead, "closed_no_deal") == {"reason"}


def test_a_completed_followup_is_posted_and_linked(pulled, account, sandbox, alice):
    lead, made = pulled
    due = timezone.now() - timedelta(hours=1)
    followup = followup_schedule(lead=lead, scheduled_at=due, notes="call", actor=alice).followup
    assert not OutboxItem.objects.filter(lead=lead).exists()  # scheduling alone is not sent
    followup_complete(followup=followup, actor=alice, outcome_notes="customer will visit")
    assert push(account).pushed == 1
    method, path, body = sandbox.received[-1]
    assert (method, path) == ("POST", f"/v2/leads/{made['id']}/followup")
    assert body["notes"] == "customer will visit" and body["createdBy"] == 28812689
    assert CapillaryLink.objects.get(kind="followup", followup=followup)
    pull(account)
    assert FollowUp.objects.filter(lead=lead).count() == 1


def test_an_owner_change_puts_the_owners_username(pulled, account, sandbox, alice):
    lead, made = pulled
    assert lead_assign_owner(lead=lead, owner=alice, actor=alice).ok
    assert push(account).pushed == 1
    method, path, body = sandbox.received[-1]
    assert (method, path, body) == ("PUT", f"/v2/leads/{made['id']}", {"owner": "alice"})
    assert sandbox.lead(made["id"])["owner"] == "alice"


def test_a_new_lead_without_status_changes_goes_with_a_reason_id(account, mapped, sandbox, local_lead):
    """"These reason ids are required to create or update leads": a lead still New is
    created with one status log entry carrying the account's default reason id."""
    queue_submission(account.adapter(), local_lead)
    assert push(account).pushed == 1
    method, path, body = sandbox.received[-1]
    assert (method, path) == ("POST", "/v2/leads")
    assert body["status"] == "OPEN"
    assert body["statusLogDetails"] == [{"status": "OPEN", "reasonId": 4, "createdBy": 28812689}]


def test_the_first_status_entry_of_a_new_lead_is_not_imported_back(account, mapped, sandbox, local_lead, alice):
    queue_submission(account.adapter(), local_lead)
    assert push(account).pushed == 1
    assert lead_change_status(lead=local_lead, to_status="on_hold", actor=alice).ok
    assert push(account).pushed == 1
    summary = pull(account)  # the lead changed in Capillary: the pull reads it
    assert summary.errors == []
    assert not LeadEvent.objects.filter(lead=local_lead, summary__startswith="Capillary status log").exists()


def test_a_stage_substatus_goes_with_accepted_only(pulled, account, sandbox, alice, mapped):
    lead, made = pulled
    stage = mapped["stages"][1]  # mapped to Quoted, a sub-status of OPEN
    assert lead_change_status(lead=lead, to_status="accepted", actor=alice, stage=stage).ok
    assert lead_change_status(lead=lead, to_status="on_hold", actor=alice).ok
    assert push(account).pushed == 2
    accepted, on_hold = [body for method, path, body in sandbox.received if path.endswith("/status")]
    assert (accepted["status"], accepted["subStatus"]) == ("OPEN", "Quoted")
    assert (on_hold["status"], on_hold["subStatus"]) == ("ON_HOLD", "YetToDecide")


def test_messages_for_a_lead_wait_until_capillary_created_it(account, mapped, sandbox, local_lead, alice):
    queue_submission(account.adapter(), local_lead)
    sandbox.inject("503", path="write")
    assert lead_change_status(lead=local_lead, to_status="accepted", actor=alice).ok  # queued behind the creation
    first = push(account)
    assert first.pushed == 0 and len(sandbox.received) == 0
    waiting = OutboxItem.objects.get(lead=local_lead, kind="status_update")
    assert waiting.state == OutboxState.PENDING and "waits" in waiting.last_error
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    second = push(account)
    assert second.pushed == 2, second.errors
    assert [r[1].rsplit("/", 1)[-1] for r in sandbox.received] == ["leads", "status"]


def test_capillary_warnings_and_errors_are_shown_on_the_lead(pulled, account, sandbox, alice, mapped):
    lead, made = pulled
    # A reason id the organisation no longer has: Capillary answers 400 with its errors array.
    from apps.leads.models import ReasonMapping

    ReasonMapping.objects.filter(vendor="capillary", reason=mapped["reasons"]["closed_won"]).update(vendor_code="99")
    assert lead_change_status(lead=lead, to_status="accepted", actor=alice).ok
    lead.refresh_from_db()
    assert lead_change_status(lead=lead, to_status="closed_won", reason=mapped["reasons"]["closed_won"],
                              actor=alice).ok
    summary = push(account)
    assert summary.pushed == 1 and summary.failed == 1
    failed = OutboxItem.objects.get(lead=lead, state=OutboxState.FAILED)
    assert failed.response["errors"] == ["reasonId: Invalid reason id 99"]
    event = LeadEvent.objects.filter(lead=lead, kind="push_failed").get()
    assert "Invalid reason id 99" in event.summary


@pytest.mark.parametrize("fault", ["500", "429", "reset"])
def test_a_transient_fault_on_a_write_is_retried_without_duplicates(pulled, account, sandbox, alice, fault):
    lead, made = pulled
    assert lead_change_status(lead=lead, to_status="on_hold", actor=alice).ok
    sandbox.inject(fault, path="write", retry_after=0)
    assert push(account).pushed == 0
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert push(account).pushed == 1
    assert len([r for r in sandbox.received if r[1].endswith("/status")]) == 1


@pytest.mark.parametrize("fault", ["timeout", "malformed", "truncated"])
def test_a_creation_whose_answer_was_lost_is_found_not_made_twice(account, mapped, sandbox, local_lead, fault,
                                                                  settings):
    settings.LEADHUB_HTTP_READ_TIMEOUT = 0.3
    queue_submission(account.adapter(), local_lead)
    sandbox.inject(fault, path="write", seconds=1, deliver=True)
    assert push(account).pushed == 0
    assert len(sandbox.leads()) == 1  # Capillary made it, LeadHub did not hear
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert push(account).pushed == 1
    assert len(sandbox.leads()) == 1
    item = OutboxItem.objects.get(lead=local_lead)
    assert item.response["note"].startswith("found in Capillary")
    assert CapillaryLink.objects.filter(kind="lead", lead=local_lead).count() == 1


def test_a_lost_creation_of_an_old_lead_is_found_behind_newer_leads(account, mapped, sandbox, local_lead, settings):
    """createdOn is the LeadHub lead's own ("Date and time of lead creation"): a lead
    created days ago sorts below Capillary's 50 newest creations, so the look after a
    lost answer goes by lastUpdatedOn."""
    settings.LEADHUB_HTTP_READ_TIMEOUT = 0.3
    Lead.objects.filter(pk=local_lead.pk).update(created_at=datetime(2020, 1, 2, tzinfo=dt_timezone.utc))  # before them
    local_lead.refresh_from_db()
    for index in range(55):
        sandbox.add_lead(lead_for=f"sku_{index}")
    queue_submission(account.adapter(), local_lead)
    sandbox.inject("timeout", path="write", seconds=1, deliver=True)
    assert push(account).pushed == 0
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert push(account).pushed == 1
    assert len([lead for lead in sandbox.leads() if lead["leadFor"] == "item001"]) == 1  # not created twice


def test_a_408_page_from_a_proxy_is_retried(account, mapped, sandbox, local_lead):
    queue_submission(account.adapter(), local_lead)
    sandbox.inject("malformed", path="write", status=408)
    assert push(account).pushed == 0
    assert OutboxItem.objects.get(lead=local_lead).state == OutboxState.PENDING
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert push(account).pushed == 1 and len(sandbox.leads()) == 1


def test_a_4xx_with_an_unreadable_body_is_a_refusal_not_a_maybe(account, mapped, sandbox, local_lead):
    queue_submission(account.adapter(), local_lead)
    sandbox.inject("malformed", path="write", status=403)
    assert push(account).failed == 1
    item = OutboxItem.objects.get(lead=local_lead)
    assert (item.state, item.last_status_code) == (OutboxState.FAILED, 403)
    assert sandbox.leads() == []
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    push(account)  # no blind retry of a refusal
    assert OutboxItem.objects.get(lead=local_lead).attempts == 1 and sandbox.leads() == []


def test_a_followup_whose_answer_was_lost_is_not_posted_twice(pulled, account, sandbox, alice, settings):
    settings.LEADHUB_HTTP_READ_TIMEOUT = 0.3
    lead, made = pulled
    followup = followup_schedule(lead=lead, scheduled_at=timezone.now(), actor=alice).followup
    followup_complete(followup=followup, actor=alice, outcome_notes="done")
    sandbox.inject("reset", path="write", deliver=True)
    assert push(account).pushed == 0
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert push(account).pushed == 1
    assert len(sandbox.lead(made["id"])["followUpDetails"]) == 1


def test_an_unmapped_status_blocks_the_message_until_it_is_mapped(pulled, account, sandbox, alice):
    from apps.leads.models import StatusMapping

    lead, made = pulled
    StatusMapping.objects.filter(vendor="capillary", status="on_hold").delete()
    assert lead_change_status(lead=lead, to_status="on_hold", actor=alice).ok
    item = OutboxItem.objects.get(lead=lead)
    assert item.state == OutboxState.BLOCKED and "not mapped" in item.last_error
    StatusMapping.objects.create(dealer=lead.dealer, status="on_hold", vendor="capillary", vendor_value="ON_HOLD")
    assert push(account).pushed == 1
    assert sandbox.lead(made["id"])["status"] == "ON_HOLD"


def test_the_lead_admin_action_queues_a_lead_for_capillary_once(client, adam, account, mapped, sandbox, local_lead):
    from django.urls import reverse

    client.force_login(adam)
    url = reverse("admin:leads_lead_changelist")
    for _ in range(2):  # a double submit adds nothing
        client.post(url, {"action": "submit_to_capillary", "_selected_action": [local_lead.pk]}, follow=True)
    assert OutboxItem.objects.filter(lead=local_lead, kind="submit").count() == 1
    assert push(account).pushed == 1 and len(sandbox.leads()) == 1


def test_changes_queued_behind_a_refused_creation_are_not_sent_twice(account, mapped, sandbox, local_lead, alice):
    queue_submission(account.adapter(), local_lead)
    assert lead_change_status(lead=local_lead, to_status="accepted", actor=alice).ok  # waits behind the creation
    OutboxItem.objects.filter(kind="submit").update(state=OutboxState.FAILED)  # say Capillary refused it
    push(account)
    waiting = OutboxItem.objects.get(lead=local_lead, kind="status_update")
    assert waiting.state == OutboxState.FAILED and "submitting it again" in waiting.last_error
    local_lead.refresh_from_db()
    item, problems = queue_submission(account.adapter(), local_lead)  # the dealer submits again
    assert problems == [] and item.payload["statusLogDetails"][0]["status"] == "OPEN"
    assert push(account).pushed == 1
    assert [path for _, path, _ in sandbox.received] == ["/v2/leads"]


def test_capillarys_extended_fields_are_not_overwritten_by_an_owner_change(pulled, account, sandbox, alice):
    lead, made = pulled
    sandbox.update_lead(made["id"], extended={"trial_status": "Done"})
    pull(account)
    lead.refresh_from_db()
    assert lead_assign_owner(lead=lead, owner=alice, actor=alice).ok
    push(account)
    assert sandbox.received[-1][2] == {"owner": "alice", "extendedFields": {"trial_status": "Done"}}


def test_retention_prunes_old_capillary_pages_only_when_their_leads_are_held(account, mapped, sandbox, local_lead,
                                                                            alice):
    # A pulled lead, and a LeadHub lead submitted to Capillary (held through its link,
    # not by vendor lead id): once both are in LeadHub, old pages of them may go.
    import json

    from apps.sync.retention import prune

    sandbox.add_lead(lead_for="sku_9")
    assert lead_change_status(lead=local_lead, to_status="accepted", actor=alice).ok
    queue_submission(account.adapter(), local_lead)
    assert push(account).pushed == 1
    pull(account)
    pages = list(InboxPage.objects.filter(account=account))
    assert pages and all(p.state == PageState.PROCESSED for p in pages)
    assert {str(i["id"]) for p in pages for i in json.loads(bytes(p.body))["data"]} >= {
        str(CapillaryLink.objects.get(kind="lead", lead=local_lead).capillary_id)}
    # A page naming a lead LeadHub never stored is the only copy of it: kept.
    only_copy = InboxPage.objects.create(account=account, kind="pull", request="GET /v2/leads", status_code=200,
                                         state=PageState.PROCESSED,
                                         body=json.dumps({"data": [{"id": 999999, "leadFor": "x"}]}).encode())
    InboxPage.objects.update(received_at=timezone.now() - timedelta(days=40))
    result = prune(days=30)
    assert list(InboxPage.objects.all()) == [only_copy] and result.pages_deleted == len(pages)
    assert Lead.objects.count() == 2
