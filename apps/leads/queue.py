"""The "My leads" queue: what a salesperson should do next, by urgency.

Buckets (open leads that are the user's own, or also unassigned ones, at their
dealers: the page's "Only mine / Mine and unassigned" switch):
  new        not yet contacted, newest first, with its waiting time (the speed-to-lead clock)
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

    @property
    def more(self) -> bool:
        """Whether the list behind it holds more than the queue shows."""
        return self.count > len(self.leads)


# The buckets, in the order of what needs action first. One definition serves the
# queue and the lead list's "To do" filter, so "See all" shows the same leads.
BUCKETS = [
    ("new", "New, not yet contacted",
     "Newest first: a lead answered within minutes is the one most often won, so the freshest comes first; "
     "the waiting time next to each is its speed-to-lead clock."),
    ("overdue", "Follow-ups overdue", "Past their follow-up time, the longest overdue first."),
    ("today", "Follow-ups due today", "Later today, the soonest first."),
    ("vendor", "Outcome owed to a vendor",
     "A vendor has not had an update yet (held for a mapping or a missing value, or refused): each lead "
     "says what it waits for and who can fix it, under \"Not sent yet\". Any owner at your dealers."),
]
BUCKET_ORDER = {"new": ("-created_at", "-id"), "overdue": ("next_follow_up_at", "id"),
                "today": ("next_follow_up_at", "id"), "vendor": ("-updated_at", "-id")}
# Whose leads a bucket holds (the queue's switch and the list's "Whose" filter).
WHOSE = [("mine", "Only mine"), ("mine_and_unassigned", "Mine and unassigned"), ("unassigned", "Unassigned"),
         ("everyone", "Everyone's")]  # everyone's: a manager's view (the dashboard's links)

# Panels other apps add above the buckets (the reports app: the person's own
# numbers), as callables (user) -> {"template": ..., **context} or None. Filled
# in their AppConfig.ready; leads imports none of them.
PANELS: list = []


def whose_q(user, whose: str) -> Q:
    if whose == "everyone":
        return Q()
    if whose == "mine":
        return Q(owner=user)
    if whose == "unassigned":
        return Q(owner__isnull=True)
    return Q(owner=user) | Q(owner__isnull=True)


def bucket_filter(queryset, key: str, *, user, whose: str, now):
    """The leads of bucket `key` within `queryset` (already scoped to the user's
    dealers): open leads of `whose` for the first three, any lead with an update
    a vendor did not take for "vendor"."""
    if key == "vendor":
        return queryset.filter(Exists(outbound.undelivered(OuterRef("pk"))))
    queryset = queryset.filter(whose_q(user, whose), status__in=OPEN_STATUSES)
    if key == "new":
        return queryset.filter(status=Status.NEW, first_contacted_at__isnull=True)
    if key == "overdue":
        return queryset.filter(followups_due_q(now, overdue=True))
    if key == "today":
        return queryset.filter(followups_due_q(now, overdue=False))
    raise ValueError(f"unknown bucket {key!r}")


def my_queue(user, *, whose: str = "mine_and_unassigned", now=None) -> list[Bucket]:
    now = now or timezone.now()
    scoped = scope_queryset(Lead.objects.all(), user, "dealer").select_related("dealer", "owner", "vendor_account")
    buckets = []
    for key, title, help_text in BUCKETS:
        queryset = bucket_filter(scoped, key, user=user, whose=whose, now=now).order_by(*BUCKET_ORDER[key])
        leads = list(queryset[:SHOWN])
        for lead in leads:
            lead.age = now - lead.created_at
            lead.waiting = lead.first_contacted_at is None and lead.status == Status.NEW
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


