"""Retention of the delivery log: finished deliveries nothing happened to for
LEADHUB_RETENTION_DAYS are deleted in batches by a daily job; queued and
being-sent ones never are."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from apps.webhooks import tasks
from apps.webhooks.models import DeliveryState, WebhookDelivery
from apps.webhooks.retention import prune
from apps.webhooks.services import webhook_endpoint_rotate_secret, webhook_send_test

DAYS = 30


def delivery(endpoint, state, *, days=DAYS + 1, delivered_days=None, due_days=None):
    """A delivery created `days` ago, last due `due_days` ago (default: when
    created) and, when delivered, delivered `delivered_days` ago (default: when
    created)."""
    now = timezone.now()
    made = webhook_send_test(endpoint=endpoint)
    WebhookDelivery.objects.filter(pk=made.pk).update(
        state=state, created_at=now - timedelta(days=days),
        next_attempt_at=now - timedelta(days=days if due_days is None else due_days),
        delivered_at=(now - timedelta(days=days if delivered_days is None else delivered_days)
                      if state == DeliveryState.DELIVERED else None),
        claimed_by="worker" if state == DeliveryState.DELIVERING else "")
    return made


def remaining() -> set[int]:
    return set(WebhookDelivery.objects.values_list("pk", flat=True))


def test_it_deletes_old_finished_deliveries_and_keeps_queued_and_recent_ones(endpoint_a):
    old_delivered = delivery(endpoint_a, DeliveryState.DELIVERED)
    old_failed = delivery(endpoint_a, DeliveryState.FAILED)
    old_pending = delivery(endpoint_a, DeliveryState.PENDING)
    old_delivering = delivery(endpoint_a, DeliveryState.DELIVERING)
    recent_delivered = delivery(endpoint_a, DeliveryState.DELIVERED, days=DAYS - 1)
    recent_failed = delivery(endpoint_a, DeliveryState.FAILED, days=1)
    result = prune(days=DAYS)
    assert result.deliveries_deleted == 2
    assert remaining() == {old_pending.pk, old_delivering.pk, recent_delivered.pk, recent_failed.pk}
    assert not WebhookDelivery.objects.filter(pk__in=[old_delivered.pk, old_failed.pk]).exists()


def test_it_counts_the_window_from_the_last_thing_that_happened_to_a_delivery(endpoint_a):
    # Created before the window, but failed for good (its last attempt) or
    # delivered within it: kept until the window has passed since then.
    failed_lately = delivery(endpoint_a, DeliveryState.FAILED, due_days=DAYS - 2)
    delivered_lately = delivery(endpoint_a, DeliveryState.DELIVERED, delivered_days=DAYS - 2, due_days=DAYS - 2)
    assert prune(days=DAYS).deliveries_deleted == 0
    assert remaining() == {failed_lately.pk, delivered_lately.pk}


def test_it_deletes_in_batches(endpoint_a):
    old = [delivery(endpoint_a, DeliveryState.DELIVERED) for _ in range(5)]
    kept = delivery(endpoint_a, DeliveryState.PENDING)
    with CaptureQueriesContext(connection) as queries:
        assert prune(days=DAYS, batch=2).deliveries_deleted == 5
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 2 + 2 + 1 rows
    assert remaining() == {kept.pk} and not WebhookDelivery.objects.filter(pk__in=[d.pk for d in old]).exists()


def test_it_keeps_everything_when_retention_is_off(endpoint_a):
    old = delivery(endpoint_a, DeliveryState.DELIVERED, days=400)
    assert prune(days=0).deliveries_deleted == 0
    assert remaining() == {old.pk}


def test_it_clears_replaced_secrets_past_their_grace_period(endpoint_a, settings):
    settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = 24
    webhook_endpoint_rotate_secret(endpoint=endpoint_a, now=timezone.now() - timedelta(hours=25))
    assert prune(days=DAYS).secrets_cleared == 1
    endpoint_a.refresh_from_db()
    assert not endpoint_a.previous_secrets and endpoint_a.previous_secret_expires_at is None


@pytest.mark.parametrize("runs", [1, 2])
def test_the_daily_job_is_scheduled_once_and_uses_the_retention_setting(endpoint_a, settings, runs):
    for _ in range(runs):
        tasks.ensure_schedule()  # post_migrate, every migrate
    schedule = Schedule.objects.get(name=tasks.RETENTION_SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "apps.webhooks.tasks.prune_retention", Schedule.DAILY, -1)
    settings.LEADHUB_RETENTION_DAYS = 10
    old = delivery(endpoint_a, DeliveryState.DELIVERED, days=11)
    recent = delivery(endpoint_a, DeliveryState.DELIVERED, days=9)
    assert tasks.prune_retention() == {"deliveries_deleted": 1, "secrets_cleared": 0}
    assert remaining() == {recent.pk} and old.pk not in remaining()
