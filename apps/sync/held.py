"""Held updates: what LeadHub has not sent to a vendor because it would be refused
or cannot be built yet (an outbox item in state BLOCKED), and how it gets going.

A change is always recorded; its vendor message waits, visibly, for its cause:
- a mapping (the reason, stage or status has no vendor value): a dealer admin maps
  it, and saving the mapping re-checks at once the updates held for that value
  (recheck_for_mapping, from the mapping's post_save via apps.leads.outbound);
- a value staff must add (the comment the reason mapped afterwards needs, the
  customer number...): the workbench shows it on the lead and its form completes
  the update (complete_held); the comment is kept with the update (supplement),
  the status log being history that never changes.
Every push also re-checks the account's held updates first (engine.push), so a
cause fixed any other way (an account setting, a lead edited in the admin) is
picked up within a minute.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.violations import Violation
from apps.leads.models import EventKind, LeadEvent
from apps.leads.outbound import HeldUpdate

from .models import OutboxItem, OutboxState
from .outbox import kick_push, record_outbox_history

QUEUED_REASON = "Rebuilt: the cause was fixed, queued"  # as history rows have always said


@dataclass
class Recheck:
    queued: list[OutboxItem]
    still: list[tuple[OutboxItem, list[Violation]]]


def recheck(items) -> Recheck:
    """Rebuild each blocked item from the lead as it is now (with what staff added)
    and queue those the vendor would take; for the others, keep the current
    problems as the item's last error, and when they changed (a mapping fixed,
    and now the mapped value needs a comment) tell the lead's timeline in staff's
    words. Conditional UPDATEs: an item a concurrent push re-checked is left alone."""
    result = Recheck([], [])
    adapters: dict[int, object] = {}
    events = []
    for item in items:
        adapter = adapters.get(item.account_id) or adapters.setdefault(item.account_id, item.account.adapter())
        payload, problems = adapter.rebuild_outbox_payload(item)
        if payload is not None and not problems:
            if OutboxItem.objects.filter(pk=item.pk, state=OutboxState.BLOCKED).update(
                    state=OutboxState.PENDING, payload=payload, last_error="", next_attempt_at=timezone.now()):
                item.state = OutboxState.PENDING
                result.queued.append(item)
            continue
        result.still.append((item, problems))
        message = " ".join(p.message for p in problems)
        if problems and message != item.last_error and OutboxItem.objects.filter(
                pk=item.pk, state=OutboxState.BLOCKED).update(last_error=message):
            said = adapter.held_for_staff(item, problems)
            events.append(LeadEvent(
                lead_id=item.lead_id, kind=EventKind.PUSH_BLOCKED, actor_label=item.account.name,
                summary=f"Still not sent to {adapter.staff_name}: {' '.join(v.message for v in said)}"[:500],
                details={"outbox": item.pk, "violations": [p.as_dict() for p in problems]}))
    if events:
        LeadEvent.objects.bulk_create(events)
    if result.queued:
        record_outbox_history([item.pk for item in result.queued], reason=QUEUED_REASON)
        if settings.LEADHUB_PUSH_ON_COMMIT:
            for account_id in sorted({item.account_id for item in result.queued}):
                transaction.on_commit(lambda account_id=account_id: kick_push(account_id))
    return result


def _blocked():
    return OutboxItem.objects.filter(state=OutboxState.BLOCKED).select_related(
        "account", "lead", "lead__dealer", "lead__sales_stage", "status_log", "status_log__reason",
        "status_log__to_stage").order_by("id")


def recheck_account(account) -> Recheck:
    """Every held update of `account` (the push does this first)."""
    return recheck(_blocked().filter(account=account))


def recheck_for_mapping(*, dealer_id: int, vendor: str, reason_id: int | None = None, stage_id: int | None = None,
                        status: str | None = None) -> Recheck:
    """After a dealer admin mapped a reason, a stage or a status for `vendor`: the
    dealer's held updates that carry that value, re-checked now."""
    which = Q()
    if reason_id is not None:
        which |= Q(status_log__reason_id=reason_id)
    if stage_id is not None:
        which |= Q(status_log__to_stage_id=stage_id) | Q(status_log__to_stage__isnull=True, lead__sales_stage_id=stage_id)
    if status is not None:
        which |= Q(status_log__to_status=status)
    if not which:
        return Recheck([], [])
    return recheck(_blocked().filter(which, lead__dealer_id=dealer_id, account__vendor=vendor))


def held_updates(lead) -> list[HeldUpdate]:
    """The lead's held updates, each re-checked now (writing nothing) and said for
    staff: what is missing, on the field staff can fill, or who must act."""
    held = []
    for item in _blocked().filter(lead=lead):
        adapter = item.account.adapter()
        payload, problems = adapter.rebuild_outbox_payload(item)
        said = adapter.held_for_staff(item, problems) if problems else []
        held.append(HeldUpdate(
            item_id=item.pk, vendor=adapter.staff_name, account_name=item.account.name,
            what=adapter.describe_outbox_item(item), since=item.created_at, problems=said,
            ready=payload is not None and not problems,
            comment=(item.supplement or {}).get("comment", "")))
    return held


def complete_held(lead, item_id: int, *, comment: str, actor) -> tuple[HeldUpdate | None, bool]:
    """Keep `comment` with the lead's held update `item_id` (what the vendor's
    value for its reason needs) and re-check it: (the update as it now stands, or
    None when it is not held any more; whether it was queued)."""
    item = _blocked().filter(lead=lead, pk=item_id).first()
    if item is None:
        return None, False
    if comment:
        item.supplement = {**(item.supplement or {}), "comment": comment}
        OutboxItem.objects.filter(pk=item.pk).update(supplement=item.supplement)
        record_outbox_history([item.pk], reason="Comment added by staff", user=actor)
    result = recheck([item])
    if result.queued:
        return None, True
    return next((h for h in held_updates(lead) if h.item_id == item.pk), None), False
