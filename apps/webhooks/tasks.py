"""django-q2 wiring: the sender runs on commit of a queued event (services.
wake_sender) and every minute as a safety net; both call sender.deliver_due,
which is safe to run twice at once."""
from __future__ import annotations

from django_q.models import Schedule

SCHEDULE_NAME = "leadhub-webhooks"


def ensure_schedule(**kwargs) -> None:
    """The one-minute schedule (post_migrate), once."""
    Schedule.objects.get_or_create(name=SCHEDULE_NAME, defaults={
        "func": "apps.webhooks.sender.deliver_due", "schedule_type": Schedule.MINUTES, "minutes": 1,
        "repeats": -1})
