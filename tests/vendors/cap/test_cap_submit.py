"""CAP Gateway submissions over real HTTP against the sandbox: answers, faults, a killed worker."""
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.leads.models import EventKind
from apps.sync import engine
from apps.sync.models import OutboxItem, OutboxState
from apps.sync.outbox import queue_submission

pytestmark = pytest.mark.django_db(transaction=True)


def _submit(account, lead):
    item, problems = queue_submission(account.adapter(), lead)
    assert problems == []
    return item


def _state(item):
    item.refresh_from_db()
    return item.state


def test_it_submits_the_documents_payload_and_keeps_caps_references(cap_account, cap_sandbox, uk_lead):
    item = _submit(cap_account, uk_lead)
    summary = engine.push(cap_account)
    assert summary.pushed == 1 and _state(item) == OutboxState.SENT
    [enquiry] = cap_sandbox.enquiries()
    sent = enquiry["payload"]
    assert sent["metadata"]["externalReferenceId"] == str(uk_lead.pk)
    assert sent["metadata"]["enquiryType"] == "Retailer Contact"
    assert sent["metadata"]["enquiryDateTime"] == uk_lead.created_at.astimezone(
        timezone.get_fixed_timezone(0)).strftime("%Y-%m-%dT%H:%M:%S")
    assert sent["metadata"]["enquirySource"] == {"acquisitionChannel": "Walk-in"}
    assert sent["contactDetail"]["phoneNumber"] == "02087599036"
    assert sent["contactDetail"]["address"] == {"postcode": "L3 9AG"}
    assert sent["optInConsents"] == {"PhoneCall": False, "Post": None, "Email": True, "Sms": None}
    assert sent["vehicle"] == {"name": "Audi Q6 e-tron"}
    uk_lead.refresh_from_db()
    kept = uk_lead.submission_extras["cap"]["submissions"]["a100-cap"]
    assert kept["enquiryReferenceCode"] == enquiry["enquiryReferenceCode"]
    assert kept["requestReferenceId"] == enquiry["requestReferenceId"]
    event = uk_lead.events.get(kind=EventKind.PUSH_SENT)
    assert enquiry["enquiryReferenceCode"] in event.summary
    assert item.response["result"]["enquiryReferenceCode"] == enquiry["enquiryReferenceCode"]


def test_it_never_submits_an_accepted_lead_twice(cap_account, cap_sandbox, uk_lead):
    _submit(cap_account, uk_lead)
    engine.push(cap_account)
    item, problems = queue_submission(cap_account.adapter(), uk_lead)
    assert [p.code for p in problems] == ["already_submitted"]
    engine.push(cap_account)
    assert cap_sandbox.submissions_for(uk_lead.pk) == 1


def test_it_shows_caps_400_messages_on_the_lead_and_keeps_the_answer(cap_account, cap_sandbox, uk_lead):
    cap_sandbox.add_campaign(cap_account.options["campaign_id"], "ipAddress")  # CAP's campaign wants more
    item = _submit(cap_account, uk_lead)
    summary = engine.push(cap_account)
    assert summary.failed == 1 and _state(item) == OutboxState.FAILED
    assert item.last_status_code == 400
    assert "metadata.ipAddress is required" in item.last_error
    assert item.response["messages"] and item.response["result"]["enquiryReferenceCode"] is None
    event = uk_lead.events.get(kind=EventKind.PUSH_FAILED)
    assert "metadata.ipAddress is required" in event.summary
    assert cap_sandbox.enquiries() == []


def test_a_401_alerts_keeps_the_leads_and_retry_now_submits_them(cap_account, cap_sandbox, uk_lead, dealer_a):
    from tests.conftest import make_lead

    other = make_lead(dealer_a, first_name="Bo", last_name="Brown", email="bo@example.co.uk",
                      product_interest="Q4 e-tron", brand="Audi", source="Website")
    cap_account.set_settings({"api_key": "wrong-key"})
    cap_account.save()
    items = [_submit(cap_account, uk_lead), _submit(cap_account, other)]
    engine.push(cap_account)
    assert [_state(i) for i in items] == [OutboxState.FAILED, OutboxState.FAILED]
    assert "fix the account's API key" in items[0].last_error
    assert len(cap_sandbox.requests) == 1  # the second lead was not sent once the key was refused
    assert len(mail.outbox) == 1 and "401" in mail.outbox[0].subject
    engine.push(cap_account)
    assert len(mail.outbox) == 1  # one alert until someone acts
    cap_account.set_settings({"api_key": "lh-key"})
    cap_account.save()
    assert engine.retry_now(OutboxItem.objects.filter(account=cap_account)) == 2
    engine.push(cap_account)
    assert [_state(i) for i in items] == [OutboxState.SENT, OutboxState.SENT]
    assert cap_sandbox.submissions_for(uk_lead.pk) == cap_sandbox.submissions_for(other.pk) == 1


@pytest.mark.parametrize("fault", ["500", "503", "429"])
def test_it_retries_5xx_and_429_later_and_submits_once(cap_account, cap_sandbox, uk_lead, fault):
    cap_sandbox.inject(fault, retry_after=120) if fault == "429" else cap_sandbox.inject(fault)
    item = _submit(cap_account, uk_lead)
    engine.push(cap_account)
    assert _state(item) == OutboxState.PENDING and item.attempts == 1
    assert item.next_attempt_at > timezone.now() + timedelta(seconds=(100 if fault == "429" else 1))
    OutboxItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())
    engine.push(cap_account)
    assert _state(item) == OutboxState.SENT
    assert cap_sandbox.submissions_for(uk_lead.pk) == 1


def test_it_alerts_when_5xx_outlasts_the_retries_and_keeps_the_lead(cap_account, cap_sandbox, uk_lead, settings):
    cap_sandbox.inject("500", times=settings.LEADHUB_RETRY_ATTEMPTS)
    item = _submit(cap_account, uk_lead)
    for _ in range(settings.LEADHUB_RETRY_ATTEMPTS):
        OutboxItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())
        engine.push(cap_account)
    assert _state(item) == OutboxState.PENDING and item.alerted_at is not None
    assert len(mail.outbox) == 1
    OutboxItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())
    engine.push(cap_account)
    assert _state(item) == OutboxState.SENT and cap_sandbox.submissions_for(uk_lead.pk) == 1


def test_a_connection_refused_is_retried_because_cap_never_saw_it(cap_account, cap_sandbox, uk_lead):
    cap_sandbox.stop()
    item = _submit(cap_account, uk_lead)
    engine.push(cap_account)
    assert _state(item) == OutboxState.PENDING and item.response == {"not_sent": item.last_error}
    cap_sandbox.port = int(cap_account.base_url.split(":")[2].split("/")[0])
    cap_sandbox.start()
    OutboxItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())
    engine.push(cap_account)
    assert _state(item) == OutboxState.SENT and cap_sandbox.submissions_for(uk_lead.pk) == 1


@pytest.mark.parametrize("fault,params", [("timeout", {"seconds": 2}), ("reset", {"deliver": True}),
                                          ("truncated", {"deliver": False})])
def test_an_answer_lost_after_sending_is_held_not_resent(cap_account, cap_sandbox, uk_lead, fault, params):
    """CAP may have the lead: LeadHub does not resend it by itself (no second
    enquiry), shows it on the lead, alerts, and Retry now resends it on purpose."""
    cap_sandbox.inject(fault, **params)
    item = _submit(cap_account, uk_lead)
    engine.push(cap_account)
    if fault == "truncated":  # a cut 500 answer: CAP said it failed, so a retry is right
        assert _state(item) == OutboxState.PENDING
        return
    assert _state(item) == OutboxState.FAILED and item.response["answer_lost"] is True
    assert "ask CAP about externalReferenceId" in uk_lead.events.get(kind=EventKind.PUSH_FAILED).summary
    assert any("answer lost" in m.subject for m in mail.outbox)
    OutboxItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())
    engine.push(cap_account)
    assert cap_sandbox.submissions_for(uk_lead.pk) == 1  # still once
    engine.retry_now(OutboxItem.objects.filter(pk=item.pk))
    engine.push(cap_account)
    assert _state(item) == OutboxState.SENT


@pytest.mark.parametrize("fault,params", [("malformed", {}), ("truncated", {}),
                                          ("truncated", {"mid_body_reset": True})])
def test_a_202_with_an_unreadable_body_counts_as_accepted(cap_account, cap_sandbox, uk_lead, fault, params):
    cap_sandbox.inject(fault, **params)
    item = _submit(cap_account, uk_lead)
    engine.push(cap_account)
    assert _state(item) == OutboxState.SENT and item.last_status_code == 202
    engine.push(cap_account)
    assert cap_sandbox.submissions_for(uk_lead.pk) == 1
    uk_lead.refresh_from_db()
    assert uk_lead.submission_extras["cap"]["submissions"]["a100-cap"]["enquiryReferenceCode"] is None


def test_a_malformed_5xx_is_retried(cap_account, cap_sandbox, uk_lead):
    cap_sandbox.inject("malformed", deliver=False)
    item = _submit(cap_account, uk_lead)
    engine.push(cap_account)
    assert _state(item) == OutboxState.PENDING and item.response["unreadable_body"].startswith("<html>")


def test_the_account_may_say_cap_deduplicates_and_then_a_lost_answer_is_resent(cap_account, cap_sandbox, uk_lead):
    cap_account.set_settings({"resend_when_answer_lost": "yes"})
    cap_account.save()
    cap_sandbox.inject("timeout", seconds=2)
    item = _submit(cap_account, uk_lead)
    engine.push(cap_account)
    assert _state(item) == OutboxState.PENDING


def test_a_worker_killed_after_sending_leaves_the_lead_held_not_forgotten(cap_account, cap_sandbox, uk_lead,
                                                                          monkeypatch):
    item = _submit(cap_account, uk_lead)

    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(engine, "_record_outcomes", die)
        with pytest.raises(SystemExit):
            engine.push(cap_account)
    assert cap_sandbox.submissions_for(uk_lead.pk) == 1  # CAP has it; LeadHub never heard
    # Marked before the request left (committed by the claim): the engine knows it may have reached CAP.
    assert _state(item) == OutboxState.SENDING and item.unconfirmed_since is not None
    OutboxItem.objects.filter(pk=item.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    from apps.sync.models import AccountLock

    AccountLock.objects.filter(account=cap_account).update(expires_at=timezone.now() - timedelta(seconds=1))
    engine.push(cap_account)
    assert _state(item) == OutboxState.FAILED and item.response["answer_lost"] is True
    assert "worker sending it stopped" in item.last_error
    assert cap_sandbox.submissions_for(uk_lead.pk) == 1


def test_a_worker_killed_before_sending_resends_safely(cap_account, cap_sandbox, uk_lead):
    item = _submit(cap_account, uk_lead)
    OutboxItem.objects.filter(pk=item.pk).update(state=OutboxState.SENDING, claimed_by="dead",
                                                 claimed_until=timezone.now() - timedelta(seconds=1))
    engine.push(cap_account)
    assert _state(item) == OutboxState.SENT and cap_sandbox.submissions_for(uk_lead.pk) == 1


def test_a_lead_breaking_caps_rules_is_blocked_before_sending_and_sent_once_fixed(cap_account, cap_sandbox, dealer_a):
    from tests.conftest import make_lead

    lead = make_lead(dealer_a, first_name="Cy", last_name="Cole", email="cy@example.co.uk", phone="+1 309 555 0101",
                     product_interest="Audi Q6 e-tron", source="Website")
    item, problems = queue_submission(cap_account.adapter(), lead)
    assert [(p.field, p.code) for p in problems] == [("phone", "invalid_phone")]
    assert _state(item) == OutboxState.BLOCKED
    engine.push(cap_account)
    assert cap_sandbox.requests == []
    lead.phone = "+44 20 7946 0958"
    lead.save()
    engine.push(cap_account)
    assert _state(item) == OutboxState.SENT


def test_the_lead_page_shows_caps_reference_and_caps_refusal(client, alice, cap_account, cap_sandbox, uk_lead,
                                                             dealer_a):
    from django.urls import reverse

    from tests.conftest import make_lead

    refused = make_lead(dealer_a, first_name="Bo", last_name="Brown", email="bo@example.co.uk",
                      product_interest="Q4 e-tron", brand="Audi", source="Website")
    _submit(cap_account, uk_lead)
    engine.push(cap_account)
    cap_sandbox.add_campaign(cap_account.options["campaign_id"], "phoneNumber")
    _submit(cap_account, refused)
    engine.push(cap_account)
    client.force_login(alice)
    page = client.get(reverse("admin:leads_lead_change", args=[uk_lead.pk])).content.decode()
    assert cap_sandbox.enquiries()[0]["enquiryReferenceCode"] in page
    page = client.get(reverse("admin:leads_lead_change", args=[refused.pk])).content.decode()
    assert "contactDetail.phoneNumber is required by this account&#x27;s campaign" in page


def test_a_lead_without_a_vehicle_or_channel_is_blocked_naming_the_lead_fields(cap_account, cap_sandbox, dealer_a):
    """CAP's table marks vehicle.name and acquisitionChannel like campaignId (docs/vendors/cap.md)."""
    from tests.conftest import make_lead

    lead = make_lead(dealer_a, first_name="Di", last_name="Dunn", email="di@example.co.uk")
    item, problems = queue_submission(cap_account.adapter(), lead)
    assert {(p.field, p.code) for p in problems} == {("product_interest", "required"), ("source", "required")}
    assert _state(item) == OutboxState.BLOCKED and cap_sandbox.requests == []
    cap_account.set_settings({"acquisition_channel": "Walk-in"})  # the account's default channel
    cap_account.save()
    lead.product_interest = "Audi Q6 e-tron"
    lead.save()
    engine.push(cap_account)
    assert _state(item) == OutboxState.SENT
