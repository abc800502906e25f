"""The feedback deadline of each vendor lead, stamped on it (`Lead.feedback_due_at`):
received + its account's feedback target in its dealer's business hours
(measures.feedback). With the stamp, the feedback report and the escalation
count breaches in the database instead of running the business-hours arithmetic
over a million leads in Python on every request. This module is its only writer.

- `stamp_deadlines(leads)` fills the missing stamps: the 15-minute escalation
  schedule stamps every new arrival before it looks, and the feedback report stamps
  its own scope before it counts, so it never waits for the schedule.
- What a deadline depends on can change: the account's target
  (`VendorAccount.feedback_target_hours`), the dealer's time zone and business
  hours. `forget_deadlines_when_*` (pre/post_save receivers, ReportsConfig.ready)
  clear the stamps of that account or dealer, and the next stamp_deadlines
  recomputes them under the new settings: history is judged by today's settings,
  as it was before there was a stamp (docs/reports.md).
"""
from __future__ import annotations

from django.db import connections, transaction
from django.db.models import QuerySet

from apps.accounts.models import Dealer
from apps.leads.models import Lead
from apps.vendors.core.models import VendorAccount

from . import measures
from .business_hours import BusinessHours

BATCH = 5000
DEALER_FIELDS = ("time_zone", "business_day_starts", "business_day_ends", "business_days")


def stamp_deadlines(leads: QuerySet | None = None) -> int:
    """Stamp `feedback_due_at` on the leads (default: every lead) that lack it and
    come from an account with a feedback target, in the business hours of each
    lead's own dealer; returns how many were stamped. Each batch is written under
    a lock on its account and dealers' rows, with their settings read under it: a
    target or hours saved meanwhile waits, and its receiver then clears what was
    stamped (never a stamp left from the settings before)."""
    unstamped = (Lead.objects.all() if leads is None else leads).filter(
        feedback_due_at__isnull=True, vendor_account__isnull=False)
    account_ids = sorted(set(unstamped.order_by().values_list("vendor_account_id", flat=True).distinct()))
    stamped = 0
    for account_id in account_ids:
        last_id = 0
        while True:
            with transaction.atomic():
                account = VendorAccount.objects.select_for_update(no_key=True).filter(pk=account_id).first()
                target = measures.feedback_target_hours(account) if account else None
                if target is None:
                    break  # the vendor takes no outcome reports: nothing to be late for
                batch = list(unstamped.filter(vendor_account_id=account_id, pk__gt=last_id).order_by("pk")
                             .values_list("pk", "created_at", "dealer_id")[:BATCH])
                if not batch:
                    break
                last_id = batch[-1][0]
                dealers = Dealer.objects.select_for_update(no_key=True).filter(
                    pk__in={dealer_id for _, _, dealer_id in batch}).order_by("pk")
                hours = {dealer.pk: BusinessHours.of_dealer(dealer) for dealer in dealers}
                _write(unstamped.db, [(pk, hours[dealer_id].after(received, target))
                                      for pk, received, dealer_id in batch])
            stamped += len(batch)
    return stamped


def stamp_missing(leads: QuerySet, account_ids: list[int]) -> int:
    """stamp_deadlines(leads) (leads of these accounts) when any lead of the accounts
    lacks its stamp: asked of the unstamped leads' own small index first, so a
    report over a year of leads, usually all stamped, does not read them twice."""
    if not Lead.objects.filter(feedback_due_at__isnull=True, vendor_account_id__in=account_ids).exists():
        return 0
    return stamp_deadlines(leads)


def _write(using: str, deadlines: list[tuple]) -> None:
    if connections[using].vendor == "postgresql":
        # One statement per batch: Django's bulk_update writes a CASE with a branch
        # per row, which PostgreSQL evaluates row by row (quadratic in the batch).
        with connections[using].cursor() as cursor:
            cursor.execute("UPDATE leads_lead SET feedback_due_at = stamp.due "
                           "FROM unnest(%s::bigint[], %s::timestamptz[]) AS stamp (id, due) "
                           "WHERE leads_lead.id = stamp.id",
                           [[pk for pk, _ in deadlines], [due for _, due in deadlines]])
        return
    Lead.objects.using(using).bulk_update([Lead(pk=pk, feedback_due_at=due) for pk, due in deadlines],
                                          ["feedback_due_at"], batch_size=500)


def forget_account_deadlines(account: VendorAccount) -> None:
    Lead.objects.filter(vendor_account=account).exclude(feedback_due_at=None).update(feedback_due_at=None)


def forget_dealer_deadlines(dealer: Dealer) -> None:
    """The dealer's leads (counted in its hours, whichever account they came from)."""
    Lead.objects.filter(dealer=dealer, vendor_account__isnull=False).exclude(
        feedback_due_at=None).update(feedback_due_at=None)


def _changed(instance, fields) -> bool:
    if instance.pk is None:
        return False
    before = type(instance).objects.filter(pk=instance.pk).values(*fields).first()
    return before is not None and any(before[name] != getattr(instance, name) for name in fields)


def note_account_change(sender, instance, raw=False, **kwargs) -> None:
    """pre_save: remember whether the account's target changes (its own, or its
    vendor's default when the vendor kind changes)."""
    instance._deadlines_stale = not raw and _changed(instance, ["feedback_target_hours", "vendor"])


def forget_when_account_changed(sender, instance, created, raw=False, **kwargs) -> None:
    if getattr(instance, "_deadlines_stale", False):
        forget_account_deadlines(instance)
        instance._deadlines_stale = False


def note_dealer_change(sender, instance, raw=False, **kwargs) -> None:
    """pre_save: remember whether the dealer's time zone or business hours change."""
    instance._deadlines_stale = not raw and _changed(instance, DEALER_FIELDS)


def forget_when_dealer_changed(sender, instance, created, raw=False, **kwargs) -> None:
    if getattr(instance, "_deadlines_stale", False):
        forget_dealer_deadlines(instance)
        instance._deadlines_stale = False
