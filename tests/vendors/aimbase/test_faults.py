"""Faults over real HTTP: whatever Aimbase or the network does, no lead is created
twice in Aimbase where LeadHub can prevent it, and none is forgotten."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.sync import engine
from apps.sync.models import OutboxItem, OutboxState
from apps.vendors.aimbase.adapter import aimbase_id

from .conftest import boat_lead, submit


@pytest.fixture
def three(sandbox, aimbase_account, dealer_a):
    leads = [boat_lead(dealer_a, last_name=f"Fault{i}") for i in range(3)]
    submit(aimbase_account, *leads)
    return leads


def push_until_done(account, rounds=4):
    """Push, then make backed-off items due again, until nothing is left."""
    for _ in range(rounds):
        engine.push(account)
        if not OutboxItem.objects.filter(state__in=[OutboxState.PENDING, OutboxState.SENDING]).exists():
            return
        OutboxItem.objects.update(next_attempt_at=timezone.now())
    raise AssertionError("items still queued")


def created_once(sandbox, account, leads):
    states = set(OutboxItem.objects.filter(lead__in=leads).values_list("state", flat=True))
    return (states == {OutboxState.SENT}
            and all(sandbox.created_count(lead.pk) == 1 for lead in leads)
            and all(aimbase_id(lead, account) for lead in leads))


def lookups(sandbox):
    return [r for r in sandbox.requests if r[0] == "GET" and "/odata/V2/Leads" in r[1]]


@pytest.mark.parametrize("fault, params", [
    ("500", {}), ("503", {}), ("429", {"retry_after": 0}),
    ("timeout", {"seconds": 1.5, "deliver": True}),  # Aimbase created them; LeadHub never heard
    ("timeout", {"seconds": 1.5, "deliver": False}),
    ("reset", {"deliver": True}), ("reset", {"deliver": False}),
    ("malformed", {}), ("truncated", {}), ("truncated", {"mid_body_reset": True}), ("xml_bomb", {}),
])
def test_a_faulty_answer_is_retried_and_each_lead_is_created_once(sandbox, aimbase_account, three, fault, params):
    sandbox.inject(fault, **params)
    summary = engine.push(aimbase_account)
    assert summary.pushed == 0 and summary.failed == 0 and summary.errors  # transient: kept, not failed
    item = OutboxItem.objects.filter(lead=three[0]).get()
    assert item.state == OutboxState.PENDING and item.next_attempt_at > timezone.now()  # backoff
    assert item.unconfirmed_since is not None  # marked before sending, kept: the answer was not definite
    push_until_done(aimbase_account)
    assert created_once(sandbox, aimbase_account, three)
    assert len(lookups(sandbox)) == 1  # asked Aimbase by ExternalId before sending again


def test_leads_aimbase_created_during_a_lost_answer_are_not_sent_again(sandbox, aimbase_account, three):
    sandbox.inject("malformed")  # created, answer unreadable
    engine.push(aimbase_account)
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    posts_before = len([r for r in sandbox.requests if r[0] == "POST"])
    summary = engine.push(aimbase_account)
    assert summary.pushed == 3
    assert len([r for r in sandbox.requests if r[0] == "POST"]) == posts_before  # found, not re-posted
    assert "Found in Aimbase by ExternalId" in OutboxItem.objects.get(lead=three[0]).response["StatusMessage"]
    assert created_once(sandbox, aimbase_account, three)


def test_a_partial_response_keeps_the_answered_leads_and_looks_up_the_rest(sandbox, aimbase_account, three):
    sandbox.inject("short", keep=1)  # all three created, one record answered
    summary = engine.push(aimbase_account)
    assert summary.pushed == 1
    assert [OutboxItem.objects.get(lead=lead).state for lead in three] == [
        OutboxState.SENT, OutboxState.PENDING, OutboxState.PENDING]
    assert "no record for this lead" in OutboxItem.objects.get(lead=three[1]).last_error
    push_until_done(aimbase_account)
    assert created_once(sandbox, aimbase_account, three)


def test_a_failing_lookup_keeps_the_leads_queued(sandbox, aimbase_account, three):
    sandbox.inject("reset", deliver=True)
    engine.push(aimbase_account)
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    sandbox.inject("503", path="odata")
    summary = engine.push(aimbase_account)
    assert summary.pushed == 0 and set(OutboxItem.objects.values_list("state", flat=True)) == {OutboxState.PENDING}
    push_until_done(aimbase_account)
    assert created_once(sandbox, aimbase_account, three)


def test_a_worker_killed_after_posting_leaves_nothing_sent_twice_or_forgotten(sandbox, aimbase_account, three,
                                                                             monkeypatch):
    def killed(*args, **kwargs):
        raise SystemExit("worker killed")  # after the POST, before any outcome is recorded

    with monkeypatch.context() as patch:
        patch.setattr(engine, "_record_outcomes", killed)
        with pytest.raises(SystemExit):
            engine.push(aimbase_account)
    assert set(OutboxItem.objects.values_list("state", flat=True)) == {OutboxState.SENDING}
    assert len(sandbox.leads()) == 3
    # The lease of the dead worker runs out; the next push takes the items back.
    OutboxItem.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    from apps.sync.models import AccountLock

    AccountLock.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    summary = engine.push(aimbase_account)
    assert summary.pushed == 3
    assert created_once(sandbox, aimbase_account, three)


def test_retries_run_out_into_one_alert_and_the_leads_stay_queued(sandbox, aimbase_account, three, settings,
                                                                 mailoutbox):
    settings.LEADHUB_RETRY_ATTEMPTS = 2
    sandbox.inject("500", times=2)
    for _ in range(2):
        engine.push(aimbase_account)
        OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert len(mailoutbox) == 1 and "could not be delivered" in mailoutbox[0].subject
    push_until_done(aimbase_account)
    assert created_once(sandbox, aimbase_account, three)


def test_an_xml_bomb_in_aimbases_answer_is_refused_not_expanded(sandbox, xml_account, dealer_a):
    lead = boat_lead(dealer_a)
    submit(xml_account, lead)
    sandbox.inject("xml_bomb")
    summary = engine.push(xml_account)
    assert summary.pushed == 0 and "unsafe XML refused (DTDForbidden)" in summary.errors[0]
    assert "unsafe XML refused" in OutboxItem.objects.get(lead=lead).last_error
    push_until_done(xml_account)
    assert created_once(sandbox, xml_account, [lead])


def test_the_lookup_uses_the_external_id_that_was_sent(sandbox, aimbase_account, three):
    sandbox.inject("timeout", seconds=1.5, deliver=True)
    engine.push(aimbase_account)
    aimbase_account.set_settings({"external_id_prefix": "LH-"})  # changed while the answer was lost
    aimbase_account.save()
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert engine.push(aimbase_account).pushed == 3
    assert created_once(sandbox, aimbase_account, three)


def test_leads_found_by_the_lookup_are_kept_even_when_the_rest_of_the_batch_fails(sandbox, aimbase_account,
                                                                                 three, dealer_a):
    sandbox.inject("short", keep=1)
    engine.push(aimbase_account)
    late = boat_lead(dealer_a, last_name="Late")
    submit(aimbase_account, late)
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    sandbox.inject("503")
    summary = engine.push(aimbase_account)
    assert summary.pushed == 2  # the two found by ExternalId
    assert [OutboxItem.objects.get(lead=lead).state for lead in [*three, late]] == [
        OutboxState.SENT, OutboxState.SENT, OutboxState.SENT, OutboxState.PENDING]
    push_until_done(aimbase_account)
    assert created_once(sandbox, aimbase_account, [*three, late])


@pytest.mark.parametrize("fault, shown", [
    ("403", "the account's user cannot read the Lead OData API"),
    ("401", "the account's user cannot read the Lead OData API"),
    ("400", "400 The request is invalid."),
    ("503", "503 An unknown error occurred during the import"),
    ("reset", "connection failed or was reset"),
])
def test_a_failing_lookup_keeps_the_unanswered_lead_queued_and_still_sends_the_new_one(sandbox, aimbase_account,
                                                                                      dealer_a, fault, shown):
    unanswered = boat_lead(dealer_a, last_name="Unanswered")
    submit(aimbase_account, unanswered)
    sandbox.inject("reset", deliver=True)  # Aimbase created it; LeadHub never heard
    engine.push(aimbase_account)
    new = boat_lead(dealer_a, last_name="New")
    submit(aimbase_account, new)
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    sandbox.inject(fault, path="odata")
    summary = engine.push(aimbase_account)
    assert (summary.pushed, summary.failed) == (1, 0)  # the new lead went; nothing failed
    assert OutboxItem.objects.get(lead=new).state == OutboxState.SENT and aimbase_id(new, aimbase_account)
    item = OutboxItem.objects.get(lead=unanswered)
    assert item.state == OutboxState.PENDING and item.next_attempt_at > timezone.now()  # transient: backoff
    assert "lookup by ExternalId failed (GET /aimbase/odata/V2/Leads: " in item.last_error
    assert shown in item.last_error and "filter" not in item.last_error  # not the batch's $filter
    assert item.unconfirmed_since is not None  # still marked: the next attempt looks it up again
    assert sandbox.created_count(unanswered.pk) == 1  # not posted again blind
    push_until_done(aimbase_account)
    assert "Found in Aimbase by ExternalId" in OutboxItem.objects.get(lead=unanswered).response["StatusMessage"]
    assert created_once(sandbox, aimbase_account, [unanswered, new])


def test_a_lookup_the_user_may_not_read_alerts_after_the_retry_limit_and_never_fails_the_lead(
        sandbox, aimbase_account, dealer_a, settings, mailoutbox):
    settings.LEADHUB_RETRY_ATTEMPTS = 3
    lead = boat_lead(dealer_a)
    submit(aimbase_account, lead)
    sandbox.inject("reset", deliver=True)
    engine.push(aimbase_account)  # attempt 1: no answer
    sandbox.inject("403", path="odata", times=2)
    for _ in range(2):  # attempts 2 and 3: the lookup is refused
        OutboxItem.objects.update(next_attempt_at=timezone.now())
        assert engine.push(aimbase_account).failed == 0
    assert OutboxItem.objects.get(lead=lead).state == OutboxState.PENDING
    assert len(mailoutbox) == 1 and "could not be delivered" in mailoutbox[0].subject
    assert "cannot read the Lead OData API" in mailoutbox[0].body and "lh-token" not in mailoutbox[0].body
    push_until_done(aimbase_account)
    assert created_once(sandbox, aimbase_account, [lead])
