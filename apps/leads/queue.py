"""The "My leads" queue: what a salesperson should do next, by urgency.

Buckets (open leads that are the user's own or unassigned at their dealers):
  new        not yet worked, oldest first, with its age (the speed-to-lead clock)
  overdue    a follow-up is past due
  today      a follow-up is due later today
  vendor     the vendor still waits for an outcome LeadHub could not deliver
             (an update blocked by an unmapped value, or refused)
Counts are capped (COUNT over at most CAP+1 rows), so a dealer with a million
leads never pays for a full count.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.accounts.scoping import scope_queryset

from . import outbound
from .models import Lead
from .selectors import followups_due_q
from .statuses import OPEN_STATUSES, Status

CAP = 999
SHOWN = 25


@dataclass
class Bucket:
    key: str
    title: str
    help: str
    leads: list
    count: int

    @property
    def count_label(self) -> str:
        return f"{CAP}+" if self.count > CAP else str(self.count)


def my_queue(user, *, now=None) -> list[Bucket]:
    now = now or timezone.now()
    mine = scope_queryset(Lead.objects.all(), user, "dealer").filter(
        Q(owner=user) | Q(owner__isnull=True), status__in=OPEN_STATUSES
    ).select_related("dealer", "owner", "vendor_account")
    undelivered = outbound.undelivered(OuterRef("pk"))
    specs = [
        ("new", "New, not yet contacted", "Oldest first: the speed-to-lead clock is running.",
         mine.filter(status=Status.NEW, first_contacted_at__isnull=True).order_by("created_at", "id")),
        ("overdue", "Follow-ups overdue", "Past their follow-up time.",
         mine.filter(followups_due_q(now, overdue=True)).order_by("next_follow_up_at", "id")),
        ("today", "Follow-ups due today", "Later today.",
         mine.filter(followups_due_q(now, overdue=False)).order_by("next_follow_up_at")),
        ("vendor", "Outcome owed to a vendor", "An update is blocked (unmapped value) or was refused: fix and resend.",
         scope_queryset(Lead.objects.all(), user, "dealer").filter(Exists(undelivered))
         .select_related("dealer", "owner", "vendor_account").order_by("-updated_at")),
    ]
    buckets = []
    for key, title, help_text, queryset in specs:
        leads = list(queryset[:SHOWN])
        for lead in leads:
            lead.age = now - lead.created_at
        count = queryset.order_by()[:CAP + 1].count() if len(leads) == SHOWN else len(leads)  # any index
        buckets.append(Bucket(key, title, help_text, leads, count))
    return buckets


def humane_age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} days"


