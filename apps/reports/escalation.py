"""Escalation of leads breaching their vendor's feedback target (measures.feedback):
an e-mail to the dealer's admins when a lead passes its target without an outcome
the vendor accepted, and again at twice the target; once per lead and threshold
(FeedbackEscalation's unique constraint, so two overlapping runs of the schedule
never mail twice). A django-q2 schedule runs it every 15 minutes; the daily digest
carries a line with the count (digest_line).

Only leads received in the last LOOKBACK_DAYS are looked at: an older unreported
lead was escalated long ago, and the query stays on the (dealer, created_at) index.
Each run first stamps the deadlines of new arrivals (deadlines.stamp_deadlines).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from apps.accounts.models import Membership, Role
from apps.accounts.scoping import dealer_ids_for
from apps.leads.models import Lead

from . import measures
from .business_hours import BusinessHours
from .deadlines import stamp_deadlines
from .models import FeedbackEscalation

log = logging.getLogger("leadhub.reports")
SCHEDULE_NAME = "leadhub-feedback-escalation"
THRESHOLDS = (1, 2)  # multiples of the target
LOOKBACK_DAYS = 30


def breaching(now: datetime, *, dealer_ids=None) -> list[tuple]:
    """(lead, highest threshold passed, its deadline, account) for every unreported
    lead past its vendor's feedback target (its stamped deadline, deadlines.py)."""
    recent = Lead.objects.filter(vendor_account__isnull=False, created_at__gte=now - timedelta(days=LOOKBACK_DAYS))
    if dealer_ids is not None:
        recent = recent.filter(dealer_id__in=dealer_ids)
    stamp_deadlines(recent)
    found, hours, targets = [], {}, {}
    for lead in recent.filter(first_reported_at__isnull=True, feedback_due_at__lt=now).select_related(
            "dealer", "vendor_account").order_by("feedback_due_at", "pk").iterator(chunk_size=2000):
        account = lead.vendor_account
        if account.pk not in targets:
            targets[account.pk] = measures.feedback_target_hours(account)
        if targets[account.pk] is None:
            continue  # the vendor's target was removed since it was stamped
        if lead.dealer_id not in hours:
            hours[lead.dealer_id] = BusinessHours.of_dealer(lead.dealer)
        # The first threshold is the stamped deadline; the later ones are counted
        # the same way, in the dealer's business hours; all on the dealer's clock.
        zone = hours[lead.dealer_id].zone
        deadlines = [lead.feedback_due_at.astimezone(zone)] + [
            hours[lead.dealer_id].after(lead.created_at, targets[account.pk] * t) for t in THRESHOLDS[1:]]
        passed = [(t, due) for t, due in zip(THRESHOLDS, deadlines) if due < now]
        found.append((lead, *passed[-1], account))
    return found


def _admin_emails(dealer_id: int) -> list[str]:
    return sorted({m.user.email for m in Membership.objects.filter(dealer_id=dealer_id, role=Role.ADMIN,
                                                                  user__is_active=True).select_related("user")
                   if m.user.email})


def escalate_feedback_breaches(now: datetime | None = None) -> int:
    """Mail each dealer's admins about leads newly past a threshold; returns how
    many leads were escalated. Safe to run twice at once: the escalation row is
    written before the mail, and a second run's insert fails on the constraint."""
    now = now or timezone.now()
    by_dealer = defaultdict(list)
    for found in breaching(now):
        by_dealer[found[0].dealer_id].append(found)
    escalated = 0
    for dealer_id, candidates in by_dealer.items():
        try:
            # The rows and the mail together: a mail that cannot go rolls its rows
            # back, so the next run tries again rather than never telling anyone.
            with transaction.atomic():
                escalated += _escalate_dealer(dealer_id, candidates, now)
        except Exception:  # noqa: BLE001 - one dealer's mail server trouble must not stop the others
            log.exception("feedback escalation for dealer %s failed; the next run tries again", dealer_id)
    log.info("feedback escalation: %d lead(s) newly past a threshold", escalated)
    return escalated


def _escalate_dealer(dealer_id: int, candidates: list, now: datetime) -> int:
    recipients = _admin_emails(dealer_id)
    new = []
    for lead, threshold, deadline, account in candidates:
        try:
            with transaction.atomic():
                FeedbackEscalation.objects.create(lead=lead, threshold=threshold, deadline=deadline,
                                                  recipients=", ".join(recipients))
        except IntegrityError:
            continue  # escalated already at this threshold
        new.append((lead, threshold, deadline, account))
    if not new:
        return 0
    if not recipients:
        log.warning("dealer %s: %d lead(s) breach a feedback target and no dealer admin has an e-mail address",
                    dealer_id, len(new))
        return len(new)
    site = settings.LEADHUB_SITE_URL.rstrip("/")
    lines = [f"- {account.name} lead {lead.vendor_lead_id} ({lead}): "
             + ("past its feedback target" if threshold == 1 else f"past {threshold} times its feedback target")
             + f", due {deadline:%Y-%m-%d %H:%M} ({deadline.tzinfo})\n  "
             + site + reverse("admin:leads_lead_workbench", args=[lead.pk])
             for lead, threshold, deadline, account in new]
    send_mail(f"[LeadHub] {len(new)} lead(s) breaching a vendor's feedback target",
              "These leads have no outcome the vendor accepted within its feedback target (business hours, "
              "the dealer's time zone). Record an outcome on each; LeadHub reports it to the vendor.\n\n"
              + "\n".join(lines), settings.DEFAULT_FROM_EMAIL, recipients)
    return len(new)


def digest_line(user, now: datetime) -> str | None:
    """For the daily digest of a dealer admin (or IT): how many leads breach a
    feedback target now, with the report's link."""
    ids = dealer_ids_for(user, role=Role.ADMIN) if not user.is_superuser else None
    if ids is not None and not ids:
        return None
    count = len(breaching(now, dealer_ids=ids))
    if not count:
        return None
    url = settings.LEADHUB_SITE_URL.rstrip("/") + reverse("admin:reports_leadreport_report", args=["feedback"])
    return f"Feedback: {count} lead(s) breach their vendor's feedback target now.\n  {url}"


def digest_recipients():
    """Who may get the digest's feedback line: dealer admins and IT."""
    return get_user_model().objects.filter(is_active=True).exclude(email="").filter(
        Q(is_superuser=True) | Q(memberships__role=Role.ADMIN)).distinct()


def ensure_schedule(**kwargs) -> None:
    """The 15-minute schedule (post_migrate), once."""
    Schedule.objects.get_or_create(name=SCHEDULE_NAME, defaults={
        "func": "apps.reports.escalation.escalate_feedback_breaches", "schedule_type": Schedule.MINUTES,
        "minutes": 15, "repeats": -1})
