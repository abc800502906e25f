"""The sending policy the engine owns for every vendor (docs/architecture.md,
"Sending"): marked before sending, what an unconfirmed item gets (resend,
look up, hold), the first message the vendor cannot take ends the batch,
one alert per credentials outage. A scripted fake vendor answers."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.sync import engine
from apps.sync.models import AccountLock, AccountSyncState, OutboxItem, OutboxState
from apps.sync.outbox import queue_message
from apps.vendors.core.base import HOLD, LOOKUP, RESEND, SendOutcome, VendorAdapter
from apps.vendors.core.models import VendorAccount
from tests.conftest import make_lead

ANSWERS: list = []  # what the fake vendor answers, one per item sent, in order
SENT: list = []  # (lead id, unconfirmed) per item handed to send()
POLICY: list = [RESEND]


class ScriptedAdapter(VendorAdapter):
    kind = "fake"
    verbose_name = "Scripted vendor"
    staff_name = "Scripted"
    document = ""
    supports_push = True

    def send(self, http, items):
        outcomes = []
        for item in items:
            SENT.append((item.lead_id, item.unconfirmed))
            answer = ANSWERS.pop(0) if ANSWERS else SendOutcome.sent(status=200)
            if isinstance(answer, BaseException):
                raise answer
            outcomes.append(answer)
        return outcomes

    def unconfirmed_policy(self, item):
        return POLICY[0]


@pytest.fixture
def account(dealer_a, monkeypatch, settings):
    settings.LEADHUB_PUSH_ON_COMMIT = False
    monkeypatch.setattr(VendorAccount, "adapter_class", property(lambda self: ScriptedAdapter))
    ANSWERS.clear(), SENT.clear()
    POLICY[:] = [RESEND]
    return VendorAccount.objects.create(name="a100-scripted", vendor="aimbase", dealer=dealer_a,
                                        base_url="http://127.0.0.1:9/x", alert_emails="it@example.com")


def queue(account, lead, n=1):
    return [queue_message(account.adapter(), lead, kind="status_update", payload={"n": i}) for i in range(n)]


def leads(dealer, count):
    return [make_lead(dealer, first_name=f"L{i}", last_name="Policy") for i in range(count)]


def crash_while_sending(account, monkeypatch):
    """A worker dies after its request left: the claim stays, then expires."""
    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(engine, "_record_outcomes", die)
        with pytest.raises(SystemExit):
            engine.push(account)
    past = timezone.now() - timedelta(seconds=1)
    OutboxItem.objects.update(claimed_until=past)
    AccountLock.objects.update(expires_at=past)


def test_it_marks_an_item_before_sending_and_clears_the_mark_on_a_definite_answer(account, dealer_a, monkeypatch):
    [lead] = leads(dealer_a, 1)
    [item] = queue(account, lead)
    crash_while_sending(account, monkeypatch)
    item.refresh_from_db()
    assert item.state == OutboxState.SENDING and item.unconfirmed_since is not None
    engine.push(account)
    item.refresh_from_db()
    assert item.state == OutboxState.SENT and item.unconfirmed_since is None


@pytest.mark.parametrize("policy", [RESEND, LOOKUP])
def test_an_unconfirmed_item_is_resent_or_handed_over_to_look_up(account, dealer_a, monkeypatch, policy):
    POLICY[:] = [policy]
    [lead] = leads(dealer_a, 1)
    queue(account, lead)
    crash_while_sending(account, monkeypatch)
    SENT.clear()
    assert engine.push(account).pushed == 1
    assert SENT == [(lead.pk, policy == LOOKUP)]  # send() is told to look first only under LOOKUP


def test_a_held_item_is_never_resent_by_itself_and_retry_now_sends_it(account, dealer_a, monkeypatch, mailoutbox):
    POLICY[:] = [HOLD]
    [lead] = leads(dealer_a, 1)
    [item] = queue(account, lead)
    crash_while_sending(account, monkeypatch)
    SENT.clear()
    summary = engine.push(account)
    item.refresh_from_db()
    assert SENT == [] and summary.failed == 1
    assert item.state == OutboxState.FAILED and item.response["answer_lost"] is True
    assert "may have received this message" in item.last_error
    assert [m.subject for m in mailoutbox] == ["[LeadHub] a100-scripted: answer lost"]
    engine.retry_now(OutboxItem.objects.filter(pk=item.pk))
    engine.push(account)
    item.refresh_from_db()
    assert SENT == [(lead.pk, False)] and item.state == OutboxState.SENT


def test_a_lost_answer_of_a_held_vendor_is_held_at_once(account, dealer_a, mailoutbox):
    POLICY[:] = [HOLD]
    [lead] = leads(dealer_a, 1)
    [item] = queue(account, lead)
    ANSWERS.append(SendOutcome.retry_later("read timeout", may_have_reached=True))
    engine.push(account)
    item.refresh_from_db()
    assert item.state == OutboxState.FAILED and "read timeout" in item.last_error
    assert len(mailoutbox) == 1


def test_a_transient_failure_that_reached_nothing_clears_the_mark(account, dealer_a):
    [lead] = leads(dealer_a, 1)
    [item] = queue(account, lead)
    ANSWERS.append(SendOutcome.retry_later("connection refused"))
    engine.push(account)
    item.refresh_from_db()
    assert item.state == OutboxState.PENDING and item.unconfirmed_since is None and item.attempts == 1
    ANSWERS.append(SendOutcome.retry_later("read timeout", may_have_reached=True))
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    engine.push(account)
    item.refresh_from_db()
    assert item.unconfirmed_since is not None  # the vendor may have it: the policy decides next time


def test_the_first_message_the_vendor_cannot_take_ends_the_batch(account, dealer_a):
    first, second, third = leads(dealer_a, 3)
    items = [queue(account, lead)[0] for lead in (first, second, third)]
    ANSWERS.append(SendOutcome.sent(status=200))
    ANSWERS.append(SendOutcome.retry_later("503 busy", status=503, retry_after=60))
    summary = engine.push(account)
    assert [lead_id for lead_id, _ in SENT] == [first.pk, second.pk]  # the third was not tried
    for item in items:
        item.refresh_from_db()
    assert [i.state for i in items] == [OutboxState.SENT, OutboxState.PENDING, OutboxState.PENDING]
    assert items[2].attempts == 0 and items[2].unconfirmed_since is None  # untried: no attempt, no mark
    assert "could not take an earlier message now (503 busy)" in items[2].last_error
    assert items[2].next_attempt_at > timezone.now() + timedelta(seconds=50)  # the vendor's Retry-After
    assert (summary.pushed, summary.failed) == (1, 0)


def test_a_lead_waits_behind_its_own_earlier_message(account, dealer_a):
    [lead] = leads(dealer_a, 1)
    first, later = queue(account, lead, 2)
    ANSWERS.append(SendOutcome.retry_later("timeout"))
    engine.push(account)
    later.refresh_from_db()
    assert SENT == [(lead.pk, False)] and later.state == OutboxState.PENDING and later.attempts == 0
    assert f"waits behind outbox {first.pk}" in later.last_error


def test_refused_credentials_fail_the_batch_alike_and_alert_once_per_outage(account, dealer_a, mailoutbox):
    a, b = leads(dealer_a, 2)
    items = [queue(account, lead)[0] for lead in (a, b)]
    ANSWERS.append(SendOutcome.refused("401 bad key", status=401, credentials_refused=True))
    engine.push(account)
    for item in items:
        item.refresh_from_db()
    assert [i.state for i in items] == [OutboxState.FAILED, OutboxState.FAILED] and len(SENT) == 1
    assert "refused the account's credentials on an earlier message" in items[1].last_error
    assert [m.subject for m in mailoutbox] == [
        f"[LeadHub] a100-scripted: {account.get_vendor_display()} refused the credentials (401)"]
    [c] = leads(dealer_a, 1)
    queue(account, c)
    ANSWERS.append(SendOutcome.refused("401 bad key", status=401, credentials_refused=True))
    engine.push(account)
    assert len(mailoutbox) == 1  # the same outage: no second alert
    engine.retry_now(OutboxItem.objects.all())
    engine.push(account)  # fixed: everything goes, and the next outage alerts again
    assert AccountSyncState.objects.get(account=account).credentials_alerted_at is None
    assert set(OutboxItem.objects.values_list("state", flat=True)) == {OutboxState.SENT}


def test_only_the_items_whose_request_left_are_marked_when_a_worker_dies(account, dealer_a):
    POLICY[:] = [HOLD]
    first, second, third = leads(dealer_a, 3)
    items = [queue(account, lead)[0] for lead in (first, second, third)]
    ANSWERS[:] = [SendOutcome.sent(status=200), SystemExit("killed during the second request")]
    with pytest.raises(SystemExit):
        engine.push(account)
    for item in items:
        item.refresh_from_db()
    assert [i.state for i in items] == [OutboxState.SENT, OutboxState.SENDING, OutboxState.SENDING]
    assert items[1].unconfirmed_since is not None and items[2].unconfirmed_since is None
    past = timezone.now() - timedelta(seconds=1)
    OutboxItem.objects.update(claimed_until=past)
    AccountLock.objects.update(expires_at=past)
    SENT.clear()
    engine.push(account)
    for item in items:
        item.refresh_from_db()
    assert items[1].state == OutboxState.FAILED  # may have reached the vendor: held for a person
    assert items[2].state == OutboxState.SENT and SENT == [(third.pk, False)]  # never left: sent now
