"""A POST ends by its deadline however slowly the receiver answers; a run stops
within its time budget; and (with a receiver that de-duplicates by the
LeadHub-Delivery header, as the docs tell receivers to) every event takes effect
exactly once, while no delivery is ever being POSTed twice at the same time."""
import threading
import time

import pytest
from django.core import checks
from django.db import connection
from django.utils import timezone

from apps.core.checks import check_webhook_timing
from apps.leads import services
from apps.webhooks import sender
from apps.webhooks.models import DeliveryState, Event, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import webhook_send_test

from .conftest import make_due


def _overlapping(spans):
    """Pairs of requests for the same delivery that were in flight at the same time."""
    spans = sorted(spans)
    return [(a, b) for a, b in zip(spans, spans[1:]) if a[0] == b[0] and b[1] < a[2]]


def _run_until_settled(rounds=10):
    for _ in range(rounds):
        sender.deliver_due()
        if not make_due():
            return


def test_it_ends_an_attempt_whose_answer_trickles_at_the_deadline(endpoint_a, receiver):
    receiver.faults = ["trickle"]  # 200 bytes, one every 0.3 s: a minute without a deadline
    delivery = webhook_send_test(endpoint=endpoint_a)
    started = time.monotonic()
    assert sender.deliver_due() == 1
    # The deadline is 0.5 s; without it the trickle lasts a minute (slack for a busy machine).
    assert time.monotonic() - started < 5
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert "no answer within 0.5s" in delivery.last_error


def test_it_ends_an_attempt_whose_status_line_and_headers_trickle_at_the_deadline_and_retries_it(
        endpoint_a, receiver, settings):
    settings.LEADHUB_WEBHOOK_TIMEOUT = 1
    receiver.trickle_every = 0.2  # ~100 bytes of status line and headers: 20 s without the deadline
    receiver.faults = ["trickle-head"]
    delivery = webhook_send_test(endpoint=endpoint_a)
    started = time.monotonic()
    assert sender.deliver_due() == 1
    assert time.monotonic() - started < 1.8  # the deadline, and a margin for recording it on a busy machine
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.PENDING, 1, None)
    assert "no answer within 1s" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()  # retried later, with the backoff
    assert sender.deliver_due() == 0
    make_due()
    assert sender.deliver_due() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 2)


@pytest.mark.django_db(transaction=True)
def test_it_never_sends_a_trickled_delivery_twice_at_once(endpoint_a, receiver, settings):
    settings.LEADHUB_WEBHOOK_CLAIM_SECONDS = 5  # the lease outlives the 0.5 s deadline (slack for a busy machine)
    receiver.faults = ["trickle"]
    delivery = webhook_send_test(endpoint=endpoint_a)
    took = []

    def first_worker():
        started = time.monotonic()
        sender.deliver_due(holder="first")
        took.append(time.monotonic() - started)
        connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    time.sleep(5.3)  # past the lease: had the first POST still been running, this worker would take it too
    sender.deliver_due(holder="second")
    thread.join(timeout=10)
    assert took and took[0] < 5
    assert _overlapping(receiver.spans) == []
    assert receiver.processed[f"evt_{delivery.event_id.hex}"] <= 1


def test_it_stops_starting_posts_when_its_time_is_spent(endpoint_a, receiver, settings):
    settings.LEADHUB_WEBHOOK_RUN_SECONDS = 0.2
    receiver.faults = ["timeout"]
    first, *others = [webhook_send_test(endpoint=endpoint_a) for _ in range(3)]
    assert sender.deliver_due() == 1  # the first POST took its whole 0.5 s deadline
    assert len(receiver.requests) == 1
    assert list(WebhookDelivery.objects.filter(pk__in=[o.pk for o in others]).values_list(
        "state", "claimed_by", "attempts")) == [(DeliveryState.PENDING, "", 0)] * 2  # back in the queue at once
    assert sender.deliver_due() == 2


def test_it_checks_the_claim_lease_outlives_a_post_and_a_run_ends_before_django_q_kills_it(settings):
    settings.LEADHUB_HTTP_CONNECT_TIMEOUT = 5
    settings.LEADHUB_WEBHOOK_TIMEOUT = 10
    settings.LEADHUB_WEBHOOK_CLAIM_SECONDS = 300
    settings.LEADHUB_WEBHOOK_RUN_SECONDS = 120
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 300}
    assert check_webhook_timing(None) == []
    settings.LEADHUB_WEBHOOK_CLAIM_SECONDS = 40  # 5 + 10 + a 30 s margin = 45
    settings.LEADHUB_WEBHOOK_RUN_SECONDS = 270
    errors = check_webhook_timing(None)
    assert [(e.id, e.level) for e in errors] == [("leadhub.E003", checks.ERROR), ("leadhub.E004", checks.ERROR)]


def test_it_processes_an_accepted_then_stalled_event_once_though_it_is_posted_again(endpoint_a, receiver):
    receiver.faults = ["accept-stall"]  # processed, then no answer within the deadline
    delivery = webhook_send_test(endpoint=endpoint_a)
    sender.deliver_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and "no answer within" in delivery.last_error
    _run_until_settled()
    delivery.refresh_from_db()
    event_id = f"evt_{delivery.event_id.hex}"
    assert delivery.state == DeliveryState.DELIVERED
    assert len(receiver.requests) >= 2 and {r["headers"]["LeadHub-Delivery"] for r in receiver.requests} == {
        event_id}
    assert receiver.processed == {event_id: 1}


def test_it_delivers_a_real_status_change_once_through_faults(endpoint_a, receiver, lead_a, alice):
    WebhookDelivery.objects.all().delete()  # the lead's lead.created: only the status change here
    receiver.faults = ["500", "accept-stall", "timeout"]
    assert services.lead_change_status(lead=lead_a, to_status="accepted", actor=alice).ok
    delivery = WebhookDelivery.objects.get(event_type=Event.LEAD_STATUS_CHANGED)
    _run_until_settled()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 4
    event_id = f"evt_{delivery.event_id.hex}"
    assert len(receiver.requests) == 4 and receiver.processed == {event_id: 1}
    body = receiver.requests[-1]["body"]
    assert b'"to_status":"accepted"' in body and f'"id":{lead_a.pk}'.encode() in body


@pytest.mark.django_db(transaction=True)
def test_it_posts_each_delivery_at_most_once_while_claimed_by_two_concurrent_runs(endpoint_a, receiver):
    if connection.vendor != "postgresql":
        # The test database of the SQLite pass is one shared in-memory file whose
        # table locks make the second run fail instead of wait: nothing concurrent.
        pytest.skip("two concurrent runs need PostgreSQL (make test runs this again on PostgreSQL)")
    receiver.faults = ["timeout"] * 4  # every POST stalls past the deadline
    endpoints = [endpoint_a] + [WebhookEndpoint.objects.create(dealer=endpoint_a.dealer, url=receiver.url, events=[])
                                for _ in range(3)]  # one each: a run skips an endpoint after its first failure
    deliveries = [webhook_send_test(endpoint=endpoint) for endpoint in endpoints]
    attempted = []

    def worker(name):
        attempted.append(sender.deliver_due(holder=name))
        connection.close()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(attempted) and sum(attempted) == 4
    ids = sorted(r["headers"]["LeadHub-Delivery"] for r in receiver.requests)
    assert ids == sorted(f"evt_{d.event_id.hex}" for d in deliveries)  # each POSTed once
    assert _overlapping(receiver.spans) == []
    assert WebhookDelivery.objects.filter(state=DeliveryState.PENDING, attempts=1).count() == 4
