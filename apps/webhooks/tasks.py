"""django-q2 wiring: the sender runs on commit of a queued event (services.
wake_sender) and every minute as a safety net; both call sender.deliver_due,
which is safe to run twice at once. The delivery log's retention runs daily
(retention.prune, also safe to run twice)."""
from __future__ import annotations

from django_q.models import Schedule

from . import retention

SCHEDULE_NAME = "leadhub-webhooks"
RETENTION_SCHEDULE_NAME = "leadhub-webhooks-retention"


def prune_retention() -> dict:
    """Daily: delete finished deliveries past LEADHUB_RETENTION_DAYS; clear
    replaced signing secrets past their grace period."""
    return retention.prune().as_dict()


def ensure_schedule(**kwargs) -> None:
    """The one-minute sender and the daily retention schedules (post_migrate), once."""
    Schedule.objects.get_or_create(name=SCHEDULE_NAME, defaults={
        "func": "apps.webhooks.sender.deliver_due", "schedule_type": Schedule.MINUTES, "minutes": 1,
        "repeats": -1})
    Schedule.objects.get_or_create(name=RETENTION_SCHEDULE_NAME, defaults={
        "func": "apps.webhooks.tasks.prune_retention", "schedule_type": Schedule.DAILY, "repeats": -1})
