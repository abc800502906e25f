"""The daily follow-up digest: each person's overdue and due-today follow-ups by
e-mail, with a link to each lead. Runs as a django-q2 daily schedule
(LEADHUB_DIGEST_HOUR, server time zone); nobody with nothing due is mailed."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from apps.accounts.scoping import dealer_ids_for, forget_memberships

from .models import FollowUp
from .selectors import end_of_local_day

log = logging.getLogger("leadhub.digest")
SCHEDULE_NAME = "leadhub-followup-digest"


def due_followups(user, now: datetime) -> tuple[list[FollowUp], list[FollowUp]]:
    """(overdue, due later today) open follow-ups assigned to the user, at dealers
    the user still works for."""
    followups = FollowUp.objects.filter(assigned_to=user, done_at__isnull=True,
                                        scheduled_at__lte=end_of_local_day(now)).select_related("lead").order_by("scheduled_at")
    ids = dealer_ids_for(user)
    if ids is not None:
        followups = followups.filter(lead__dealer_id__in=ids)
    overdue = [f for f in followups if f.scheduled_at < now]
    today = [f for f in followups if f.scheduled_at >= now]
    return overdue, today


def _line(followup) -> str:
    url = settings.LEADHUB_SITE_URL.rstrip("/") + reverse("admin:leads_lead_change", args=[followup.lead_id])
    when = timezone.localtime(followup.scheduled_at).strftime("%Y-%m-%d %H:%M")
    return f"- {when} {followup.get_kind_display()}: {followup.lead} — {followup.notes[:80]}\n  {url}"


# Lines other apps add to the digest (the reports app: leads breaching a vendor's
# feedback target, for dealer admins), as (recipients, line): recipients() is a
# queryset of users who may get a line, line(user, now) the text or None. Filled
# in their AppConfig.ready; leads imports none of them.
SECTIONS: list = []


def send_followup_digests(now: datetime | None = None) -> int:
    """Mail every active person with something due or a line of another section;
    returns how many were mailed."""
    now = now or timezone.now()
    sent = 0
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    ids = set(users.filter(assigned_followups__done_at__isnull=True).values_list("pk", flat=True))
    for recipients, _ in SECTIONS:
        ids |= set(recipients().values_list("pk", flat=True))
    for user in users.filter(pk__in=ids).order_by("pk"):
        forget_memberships(user)
        overdue, today = due_followups(user, now)
        extra = [line for line in (make(user, now) for _, make in SECTIONS) if line]
        if not overdue and not today and not extra:
            continue
        parts = []
        if overdue:
            parts.append(f"Overdue ({len(overdue)}):\n" + "\n".join(_line(f) for f in overdue))
        if today:
            parts.append(f"Due today ({len(today)}):\n" + "\n".join(_line(f) for f in today))
        parts += extra
        subject = f"{len(overdue)} overdue, {len(today)} due today" if overdue or today else "Daily digest"
        send_mail(f"[LeadHub] {subject}", "\n\n".join(parts),
                  settings.DEFAULT_FROM_EMAIL, [user.email])
        sent += 1
    log.info("follow-up digests sent to %d people", sent)
    return sent


def ensure_schedule(**kwargs) -> None:
    """The daily schedule (post_migrate), once, at the next LEADHUB_DIGEST_HOUR."""

    local = timezone.localtime()
    first = local.replace(hour=settings.LEADHUB_DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if first <= local:
        first += timedelta(days=1)
    Schedule.objects.get_or_create(name=SCHEDULE_NAME, defaults={
        "func": "apps.leads.digest.send_followup_digests", "schedule_type": Schedule.DAILY, "repeats": -1,
        "next_run": first})
