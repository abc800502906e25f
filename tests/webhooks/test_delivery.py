"""Deliveries to a local receiver with injected faults: at least once, and once
in effect for a receiver that drops repeats by LeadHub-Delivery (see also
test_deadline.py: accept-then-stall, concurrent runs)."""
import json

import pytest
from django.db import connection


from apps.notifications.models import Kind, Notification
from apps.webhooks import sender
from apps.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import webhook_endpoint_disable, webhook_send_test

from .conftest import make_due
from .receiver import Receiver


def _run_until_settled(rounds=10):
    for _ in range(rounds):
        sender.deliver_due()
        if not make_due():
            return


def test_it_delivers_exactly_once_after_two_server_errors(endpoint_a, receiver):
    receiver.faults = ["500", "500"]
    delivery = webhook_send_test(endpoint=endpoint_a)
    assert sender.deliver_due() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.PENDING, 1, 500)
    assert delivery.response_excerpt == "fault 500"
    assert delivery.next_attempt_at > delivery.created_at  # the backoff
    assert sender.deliver_due() == 0  # not due yet
    _run_until_settled()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        DeliveryState.DELIVERED, 3, 200, "")
    assert delivery.delivered_at is not None
    assert len(receiver.requests) == 3
    assert receiver.accepted == {f"evt_{delivery.event_id.hex}": 1}
    assert receiver.processed == {f"evt_{delivery.event_id.hex}": 1}
    make_due()
    sender.deliver_due()
    assert len(receiver.requests) == 3  # a delivered event is never sent again


def test_it_sends_the_documented_headers_and_body(endpoint_a, receiver):
    delivery = webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due()
    request = receiver.requests[0]
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "LeadHub-Webhooks/1"
    assert headers["LeadHub-Event"] == "webhook.test"
    assert headers["LeadHub-Delivery"] == f"evt_{delivery.event_id.hex}"
    assert headers["LeadHub-Signature"].startswith("t=")
    body = json.loads(request["body"])
    assert body["id"] == f"evt_{delivery.event_id.hex}" and body["type"] == "webhook.test"
    assert body["data"]["endpoint"] == {"id": endpoint_a.pk, "url": endpoint_a.url, "dealer": "A100"}
    assert receiver.rejected == []


def test_it_retries_after_a_timeout(endpoint_a, receiver):
    receiver.faults = ["timeout"]
    delivery = webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert "no answer within" in delivery.last_error and delivery.last_status_code is None
    _run_until_settled()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert receiver.accepted == {f"evt_{delivery.event_id.hex}": 1}


def test_it_retries_when_the_connection_is_refused(endpoint_a, receiver):
    closed = Receiver()
    url = closed.url
    closed.server.server_close()  # nothing listens there any more
    WebhookEndpoint.objects.filter(pk=endpoint_a.pk).update(url=url)
    delivery = webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and "connection failed" in delivery.last_error
    WebhookEndpoint.objects.filter(pk=endpoint_a.pk).update(url=receiver.url)  # the receiver is back
    _run_until_settled()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 2
    assert receiver.accepted == {f"evt_{delivery.event_id.hex}": 1}


def test_it_never_sends_a_delivery_claimed_by_another_worker(endpoint_a, receiver):
    delivery = webhook_send_test(endpoint=endpoint_a)
    ids = sender.due_ids(10)
    assert [d.pk for d in sender.claim(ids, "worker-1")] == [delivery.pk]
    assert sender.claim(ids, "worker-2") == []  # read the same ids, lost the conditional UPDATE
    assert sender.deliver_due() == 0  # a redelivered task while worker-1 sends
    assert receiver.requests == []


def test_it_sends_once_when_the_task_is_redelivered_during_a_send(endpoint_a, receiver, monkeypatch):
    real_send = sender.send
    nested = []

    def send_while_a_second_run_starts(http, delivery):
        nested.append(sender.deliver_due(holder="redelivered"))  # the broker hands the task out again
        return real_send(http, delivery)

    monkeypatch.setattr(sender, "send", send_while_a_second_run_starts)
    delivery = webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due(holder="first")
    assert nested == [0]
    assert receiver.accepted == {f"evt_{delivery.event_id.hex}": 1} and len(receiver.requests) == 1


def test_it_skips_a_delivery_of_its_batch_another_worker_took_meanwhile(endpoint_a, receiver, monkeypatch):
    first, second = webhook_send_test(endpoint=endpoint_a), webhook_send_test(endpoint=endpoint_a)
    real_send = sender.send

    def slow_send(http, delivery):
        if delivery.pk == first.pk:  # a slow send: the second's lease ran out and another worker took it
            WebhookDelivery.objects.filter(pk=second.pk).update(claimed_by="other")
        return real_send(http, delivery)

    monkeypatch.setattr(sender, "send", slow_send)
    sender.deliver_due(holder="slow")
    assert receiver.accepted == {f"evt_{first.event_id.hex}": 1}
    second.refresh_from_db()
    assert (second.state, second.claimed_by, second.attempts) == (DeliveryState.DELIVERING, "other", 0)


def test_it_sends_again_a_delivery_whose_worker_died(endpoint_a, receiver):
    delivery = webhook_send_test(endpoint=endpoint_a)
    sender.claim(sender.due_ids(10), "dead-worker")
    assert sender.deliver_due() == 0  # its lease still holds
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until="2000-01-01T00:00:00Z")
    assert sender.deliver_due() == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert receiver.accepted == {f"evt_{delivery.event_id.hex}": 1}


def test_it_disables_the_endpoint_at_once_on_410_and_alerts_its_admins_once(endpoint_a, receiver, adam, bella,
                                                                           alice):
    receiver.faults = ["410"]
    delivery = webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due()
    delivery.refresh_from_db()
    endpoint_a.refresh_from_db()
    assert (delivery.state, delivery.last_status_code) == (DeliveryState.FAILED, 410)
    assert not endpoint_a.is_active and endpoint_a.disabled_at is not None and "410" in endpoint_a.disabled_reason
    alerts = Notification.objects.filter(kind=Kind.WEBHOOK_DISABLED)
    assert [n.user.username for n in alerts] == ["adam"]  # its dealer's admins only
    assert endpoint_a.url in alerts[0].text
    assert webhook_endpoint_disable(endpoint_id=endpoint_a.pk, reason="again") is False
    assert alerts.count() == 1
    assert endpoint_a.history.filter(history_change_reason="Disabled by LeadHub").exists()


def test_it_holds_real_events_of_a_disabled_endpoint(endpoint_a, receiver):
    WebhookEndpoint.objects.filter(pk=endpoint_a.pk).update(is_active=False)
    WebhookDelivery.objects.create(endpoint=endpoint_a, event_id="0" * 32, event_type="lead.created", payload={})
    assert sender.deliver_due() == 0
    test = webhook_send_test(endpoint=endpoint_a)  # a test event still goes: to check a fixed receiver
    assert sender.deliver_due() == 1
    test.refresh_from_db()
    assert test.state == DeliveryState.DELIVERED


def test_it_disables_after_repeated_failed_deliveries_and_alerts_once(endpoint_a, receiver, adam, settings):
    settings.LEADHUB_WEBHOOK_ATTEMPTS = 2
    settings.LEADHUB_WEBHOOK_DISABLE_AFTER = 2
    receiver.faults = ["500"] * 20
    first, second = webhook_send_test(endpoint=endpoint_a), webhook_send_test(endpoint=endpoint_a)
    for _ in range(4):  # one attempt per run: after a 5xx the endpoint's other delivery waits for the next run
        sender.deliver_due()
        make_due()
    first.refresh_from_db()
    second.refresh_from_db()
    endpoint_a.refresh_from_db()
    assert (first.state, first.attempts, second.state) == (DeliveryState.FAILED, 2, DeliveryState.FAILED)
    assert endpoint_a.consecutive_failures == 2
    assert not endpoint_a.is_active and "2 deliveries in a row failed" in endpoint_a.disabled_reason
    assert Notification.objects.filter(kind=Kind.WEBHOOK_DISABLED, user=adam).count() == 1
    assert len(receiver.requests) == 4


def test_it_resets_the_failure_count_on_a_success(endpoint_a, receiver, settings):
    settings.LEADHUB_WEBHOOK_ATTEMPTS = 1
    settings.LEADHUB_WEBHOOK_DISABLE_AFTER = 2
    receiver.faults = ["500"]
    webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due()
    endpoint_a.refresh_from_db()
    assert endpoint_a.consecutive_failures == 1 and endpoint_a.is_active
    webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due()
    endpoint_a.refresh_from_db()
    assert endpoint_a.consecutive_failures == 0 and endpoint_a.is_active


def test_it_does_not_follow_a_redirect(endpoint_a, receiver):
    receiver.faults = ["302"]
    delivery = webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.last_status_code == 302
    assert "redirected to https://elsewhere.example.com/hooks" in delivery.last_error
    assert len(receiver.requests) == 1


def test_it_records_a_delivery_it_cannot_sign_and_goes_on_with_the_others(endpoint_a, receiver, dealer_a):
    broken = WebhookEndpoint.objects.create(dealer=dealer_a, url=receiver.url, events=[])
    with connection.cursor() as cursor:  # encrypted with a key since removed: it no longer decrypts
        cursor.execute(f"UPDATE {WebhookEndpoint._meta.db_table} SET secrets = %s WHERE id = %s",
                       ["not-a-fernet-token", broken.pk])
    unsignable = webhook_send_test(endpoint=broken)
    fine = webhook_send_test(endpoint=endpoint_a)
    assert sender.deliver_due() == 2
    unsignable.refresh_from_db()
    fine.refresh_from_db()
    assert (unsignable.state, unsignable.attempts, unsignable.last_status_code) == (DeliveryState.PENDING, 1, None)
    assert unsignable.last_error.startswith("LeadHub could not send it: CredentialsUnreadable")
    assert unsignable.claimed_by == ""
    assert fine.state == DeliveryState.DELIVERED
    assert [r["headers"]["LeadHub-Delivery"] for r in receiver.requests] == [f"evt_{fine.event_id.hex}"]


@pytest.mark.parametrize("fault", ["timeout", "500"])
def test_it_skips_an_endpoint_for_the_rest_of_the_run_once_it_failed_to_answer(endpoint_a, receiver, dealer_a,
                                                                              fault):
    slow = Receiver(stall=1.5).start()
    try:
        slow_endpoint = WebhookEndpoint.objects.create(dealer=dealer_a, url=slow.url, events=[])
        slow.secret = slow_endpoint.secret
        slow.faults = [fault] * 3
        waiting = [webhook_send_test(endpoint=slow_endpoint) for _ in range(3)]
        fine = webhook_send_test(endpoint=endpoint_a)
        assert sender.deliver_due() == 2  # one of the slow endpoint's, then the other endpoint's
        assert len(slow.requests) == 1
        assert list(WebhookDelivery.objects.filter(pk__in=[w.pk for w in waiting[1:]]).values_list(
            "state", "attempts", "claimed_by")) == [(DeliveryState.PENDING, 0, "")] * 2
        fine.refresh_from_db()
        assert fine.state == DeliveryState.DELIVERED
    finally:
        slow.stop()


def test_it_checks_the_url_again_before_each_post(endpoint_a, receiver, settings):
    delivery = webhook_send_test(endpoint=endpoint_a)  # saved while loopback was allowed
    settings.LEADHUB_WEBHOOK_ALLOW_LOOPBACK = False
    assert sender.deliver_due() == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert delivery.last_error.startswith("not sent: the endpoint's URL is not allowed")
    assert receiver.requests == []


def test_it_ignores_proxies_from_the_environment(endpoint_a, receiver, monkeypatch):
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    delivery = webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and len(receiver.requests) == 1
