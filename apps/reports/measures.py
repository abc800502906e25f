"""Every measure the dashboards and reports show, defined once.

The clock of a lead starts when LeadHub received it (`Lead.created_at`): the dealer
cannot act on a lead before it is here, and a vendor's own creation time
(`vendor_created_at`) is missing for most sources. It stops at:
- first contact: `Lead.first_contacted_at`, the first completed contact (a call,
  e-mail, meeting... logged as done) or the first move out of New, whichever came
  first (apps/leads/services.py);
- first outcome: `Lead.first_outcome_at`, the first move out of New, whoever made
  it (accepted, rejected, disqualified, on hold);
- reported: `Lead.first_reported_at`, when the vendor the lead came from first
  accepted a status report on it (apps/sync/engine.py stamps it as the vendor's
  answer is recorded).
The funnel's "accepted" is `Lead.first_accepted_at` (ever accepted), and an outcome's
reason is `Lead.outcome_reason` (the reason of the change that closed the lead).
These stamps are written in the transaction of the change (no report reads the
status log or the outbox of millions of leads to find them); migrations backfilled
them.

The feedback target of a vendor account (`VendorAccount.feedback_target_hours`, else
the adapter's `feedback_target_business_hours`) is counted in the dealer's business
hours (business_hours.BusinessHours): a lead breaches it when the vendor had no
accepted report by `received + target`, whether it is still waiting (breaching now)
or was reported late.
"""
from __future__ import annotations

import math
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import F, Q

from apps.leads.statuses import Status
from apps.vendors.core.registry import adapter_class

from .business_hours import BusinessHours


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    end: str  # the Lead field that stops the clock


RECEIVED = "created_at"
SPEED_MEASURES = (
    Measure("first_contact", "Received → first contact", "first_contacted_at"),
    Measure("first_outcome", "Received → first outcome", "first_outcome_at"),
    Measure("reported", "Received → outcome accepted by the vendor", "first_reported_at"),
)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """The `fraction` percentile (0.5: the median) of values sorted ascending, by
    linear interpolation between the closest ranks (as PostgreSQL's
    percentile_cont and numpy's default), or None when there are none."""
    if not sorted_values:
        return None
    rank = fraction * (len(sorted_values) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def minutes(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max((end - start).total_seconds(), 0.0) / 60


def feedback_target_hours(account) -> int | None:
    """The account's feedback target in business hours, or None when its vendor
    takes no outcome reports (nothing to breach)."""
    if account.feedback_target_hours is not None:
        return account.feedback_target_hours
    return adapter_class(account.vendor).feedback_target_business_hours


@dataclass(frozen=True)
class Feedback:
    deadline: datetime
    breached: bool
    business_hours_to_report: float | None  # None while unreported


def feedback(*, received: datetime, reported: datetime | None, target_hours: int, hours: BusinessHours,
             now: datetime) -> Feedback:
    """Whether a lead breaches its vendor's feedback target: not reported by the
    deadline (reported late, or still unreported after it)."""
    deadline = hours.after(received, target_hours)
    breached = (reported or now) > deadline
    taken = None if reported is None else hours.between(received, reported) / 3600
    return Feedback(deadline, breached, taken)


def breached_q(now: datetime) -> Q:
    """Leads past their stamped feedback deadline (`Lead.feedback_due_at`,
    apps/reports/deadlines.py) without a report in time: reported after it, or
    still unreported at `now`. The database's reading of `feedback()`."""
    return (Q(first_reported_at__isnull=False, first_reported_at__gt=F("feedback_due_at"))
            | Q(first_reported_at__isnull=True, feedback_due_at__lt=now))


def day_window(dealer, since: date, until: date) -> tuple[datetime, datetime]:
    """From `since` 00:00 to the end of `until`, in the dealer's time zone."""
    zone = zoneinfo.ZoneInfo(dealer.time_zone)
    return datetime.combine(since, time.min, zone), datetime.combine(until + timedelta(days=1), time.min, zone)


def received_q(dealers, since: date, until: date, prefix: str = "") -> Q:
    """Leads received from `since` to `until` (included), each dealer's in its own
    time zone. Dealers of one zone share one window: one range on `created_at` for
    all of them (a dealer group's year is one index range, not twenty)."""
    by_window = defaultdict(list)
    for dealer in dealers:
        by_window[day_window(dealer, since, until)].append(dealer.pk)
    q = Q(pk__in=[])
    for (start, end), dealer_ids in by_window.items():
        q |= Q(**{f"{prefix}dealer_id__in": dealer_ids, f"{prefix}created_at__gte": start,
                  f"{prefix}created_at__lt": end})
    return q


# The funnel's steps as conditions on a lead: the report counts them, and the lead
# list filters by them (a funnel number links to its leads). "Accepted" is ever
# accepted (`Lead.first_accepted_at`), so a lead accepted and closed since still counts.
FUNNEL_STEPS = [  # (step, label, the step it converts from, its condition)
    ("received", "Received", None, lambda: Q()),
    ("contacted", "Contacted", "received", lambda: Q(first_contacted_at__isnull=False)),
    ("accepted", "Accepted", "contacted", lambda: Q(first_accepted_at__isnull=False)),
    ("opportunity", "Opportunity (has a sales stage)", "accepted", lambda: Q(sales_stage__isnull=False)),
    ("won", "Closed won", "opportunity", lambda: Q(status=Status.CLOSED_WON)),
    ("lost", "Closed lost", "opportunity", lambda: Q(status=Status.CLOSED_LOST)),
    ("no_deal", "Closed no deal", "opportunity", lambda: Q(status=Status.CLOSED_NO_DEAL)),
    ("rejected", "Rejected", "received", lambda: Q(status=Status.REJECTED)),
    ("disqualified", "Disqualified", "received", lambda: Q(status=Status.DISQUALIFIED)),
]
STEP_Q = {step: condition for step, _, _, condition in FUNNEL_STEPS}
