"""Retention of the webhook delivery log: finished deliveries are deleted once
nothing has happened to them for LEADHUB_RETENTION_DAYS (the window of the
vendor pages' retention, apps/sync/retention.py), in batches, by a daily
django-q2 job of its own (tasks.RETENTION_SCHEDULE_NAME).

Finished is every state but queued and being sent: delivered, failed for good
(a "Retry now" of it queues it again, and a queued delivery is never pruned),
and any final state added later. Nothing happened to a delivery for the window
when it was created, last due and (if delivered) delivered before its start: a
delivery failed after twelve attempts is kept for the window after its last
attempt, not after its first.

Its own schedule rather than a hook in the sync's retention job: apps.sync may
not import apps.webhooks (a signal or registry would do it), but two jobs also
fail and take their time independently (a vendor page that fails to parse does
not keep the delivery log growing, nor a big first prune of the log hold the
vendor pages' job past Q_TIMEOUT), and each can be run and tested alone.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import DeliveryState, WebhookDelivery
from .services import webhook_forget_expired_secrets

log = logging.getLogger("leadhub.webhooks")
# Rows per DELETE: each batch is its own short transaction (autocommit), so the
# sender and the queueing of new events are never held up for long (on SQLite
# a long write would lock the database).
BATCH = 1000
OPEN_STATES = (DeliveryState.PENDING, DeliveryState.DELIVERING)


@dataclass
class PruneResult:
    deliveries_deleted: int = 0
    secrets_cleared: int = 0  # replaced signing secrets past their grace period

    def as_dict(self) -> dict:
        return asdict(self)


def prune(*, days: int | None = None, now=None, batch: int = BATCH) -> PruneResult:
    """Delete the finished deliveries nothing happened to for `days` (default
    LEADHUB_RETENTION_DAYS; 0 keeps them all), `batch` rows per DELETE, and
    clear replaced signing secrets past their grace period. Safe to run twice or
    on two workers at once (a row deleted by the other is simply not counted)."""
    days = settings.LEADHUB_RETENTION_DAYS if days is None else days
    now = now or timezone.now()
    result = PruneResult(secrets_cleared=webhook_forget_expired_secrets(now=now))
    if days > 0:
        result.deliveries_deleted = _delete_finished(now - timedelta(days=days), batch)
    log.info("webhook retention: %d days; %s", days, result.as_dict())
    return result


def finished_before(cutoff) -> QuerySet:
    """Finished deliveries nothing happened to since `cutoff`."""
    return (WebhookDelivery.objects.exclude(state__in=OPEN_STATES)
            .filter(created_at__lt=cutoff, next_attempt_at__lt=cutoff)
            .filter(Q(delivered_at__isnull=True) | Q(delivered_at__lt=cutoff)))


def _delete_finished(cutoff, batch: int) -> int:
    deleted, last_id = 0, 0
    while True:
        ids = list(finished_before(cutoff).filter(pk__gt=last_id).order_by("pk")
                   .values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        last_id = ids[-1]
        # The condition again in the DELETE: one "Retry now" queued meanwhile stays.
        deleted += finished_before(cutoff).filter(pk__in=ids).delete()[0]
