"""Queueing what a vendor must be told (called inside the transaction of the
change it reports, so the change and its message commit together or not at all)."""
from __future__ import annotations

import contextlib
import contextvars
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from django_q import tasks as django_q_tasks  # looked up per call: tests swap async_task

from apps.core.violations import Violation
from apps.leads.models import EventKind, LeadEvent
from apps.vendors.core.base import SUBMIT_KIND, OutboundMessage
from apps.vendors.core.models import VendorAccount

from .models import OutboxItem, OutboxState

log = logging.getLogger("leadhub.sync")

__all__ = ["SUBMIT_KIND", "queue_messages", "queue_message", "collect_messages", "queue_submission",
           "adapters_for_lead", "adapters_for_leads", "kick_push", "record_outbox_history"]

# Set by collect_messages(): queue_message adds to this list instead of inserting.
_collected: contextvars.ContextVar[list | None] = contextvars.ContextVar("leadhub_outbox_collected", default=None)


def queue_messages(adapter, lead, messages: list[OutboundMessage]) -> list[OutboxItem]:
    """Queue what an adapter's messages_for_* returned, for adapter.account."""
    return [queue_message(adapter, lead, kind=m.kind, payload=m.payload, problems=m.problems,
                          status_log=m.status_log, dedupe_key=m.dedupe_key) for m in messages]


def queue_message(adapter, lead, *, kind: str, payload: dict | None, problems=(), status_log=None,
                  dedupe_key: str = "") -> OutboxItem:
    """Queue one message for adapter.account: pending, or blocked (with the
    problems shown on the lead's timeline) when the payload breaks a rule or
    lacks a mapping. A `dedupe_key` makes the message unique per account (the
    database refuses a second one; the caller decides what a repeat means)."""
    blocked = bool(problems)
    message = " ".join(p.message for p in problems)
    item = OutboxItem(account=adapter.account, lead=lead, status_log=status_log, kind=kind,
                      dedupe_key=dedupe_key, payload=payload or {}, last_error=message,
                      state=OutboxState.BLOCKED if blocked else OutboxState.PENDING)
    item._change_reason = "Queued"  # its history row's reason, single or bulk
    if status_log is not None and status_log.actor_id:
        # Who made the change that queued it, also outside a request (jobs,
        # commands); bulk_history_create reads the same attribute.
        item._history_user = status_log.actor
    collected = _collected.get()
    if collected is not None:
        collected.append((item, adapter, list(problems)))  # inserted when the collection ends
        return item
    item.save(force_insert=True)
    _after_queued([(item, adapter, list(problems))])
    return item


@contextlib.contextmanager
def collect_messages():
    """Within this block queue_message inserts nothing at once: the messages are
    inserted with one multi-row INSERT when the block ends (inside the caller's
    transaction), with their blocked-events and push wake-ups. For bulk writers
    (lead_change_status_many); a block left by an exception inserts nothing.
    Until the block ends the queued items have no primary key."""
    if _collected.get() is not None:  # already collecting: the outer block inserts
        yield
        return
    collected: list = []
    token = _collected.set(collected)
    try:
        yield
    finally:
        _collected.reset(token)
    if collected:
        items = OutboxItem.objects.bulk_create([item for item, _, _ in collected], batch_size=500)
        # bulk_create skips the audit receiver; one INSERT writes the rows it would have.
        OutboxItem.history.bulk_history_create(items, batch_size=500, default_change_reason="Queued")
        _after_queued(collected)


def _after_queued(queued) -> None:
    """For newly inserted items: a blocked one is shown on its lead's timeline;
    a pending one wakes its account's push once the transaction commits."""
    events, kick = [], set()
    for item, adapter, problems in queued:
        if problems:
            events.append(LeadEvent(
                lead=item.lead, kind=EventKind.PUSH_BLOCKED, actor_label=adapter.account.name,
                summary=f"Not sent to {adapter.account.get_vendor_display()}: {item.last_error}"[:500],
                details={"outbox": item.pk, "violations": [p.as_dict() for p in problems]}))
        elif settings.LEADHUB_PUSH_ON_COMMIT:
            kick.add(adapter.account.pk)
    if events:
        LeadEvent.objects.bulk_create(events)
    for account_id in sorted(kick):
        transaction.on_commit(lambda account_id=account_id: kick_push(account_id))


def submission_key(lead) -> str:
    return f"{SUBMIT_KIND}:{lead.pk}"


def queue_submission(adapter, lead) -> tuple[OutboxItem | None, list]:
    """Queue `lead` for submission to adapter.account as a new lead, at most once.

    Returns (item, violations). One submission per lead and account (a unique
    dedupe key), so:
    - never queued before: queued, or blocked by the vendor's field rules;
    - queued or being sent: that item, unchanged (a double click adds nothing);
    - refused by the vendor or blocked: rebuilt from the lead as it is now and
      queued again (the dealer fixed it);
    - accepted by the vendor: refused with a violation; it is never sent twice.
    """
    with transaction.atomic():
        existing = (OutboxItem.objects.select_for_update()
                    .filter(account=adapter.account, dedupe_key=submission_key(lead)).first())
        if existing is None:
            payload, problems = adapter.build_submission(lead)
            item = queue_message(adapter, lead, kind=SUBMIT_KIND, payload=payload, problems=problems,
                                 dedupe_key=submission_key(lead))
            return item, list(problems)
        if existing.state == OutboxState.SENT:
            return existing, [Violation("lead", "already_submitted",
                                        f"{adapter.account.get_vendor_display()} already accepted this lead "
                                        f"({adapter.account.name}); it is never submitted twice.")]
        if existing.state in (OutboxState.PENDING, OutboxState.SENDING):
            return existing, []
        payload, problems = adapter.build_submission(lead)
        existing.payload = payload or existing.payload
        existing.last_error = " ".join(p.message for p in problems)
        existing.state = OutboxState.BLOCKED if problems else OutboxState.PENDING
        existing.attempts = 0
        existing.alerted_at = None
        existing.next_attempt_at = timezone.now()
        existing.save()
        if not problems and settings.LEADHUB_PUSH_ON_COMMIT:
            account_id = adapter.account.pk
            transaction.on_commit(lambda: kick_push(account_id))
        return existing, list(problems)


def adapters_for_lead(lead) -> list:
    """The adapters of every vendor account that knows this lead: the account it
    came from, and every account it was submitted to (a sent "submit" message).
    Each is told about the lead's changes through its record_* hooks.

    An adapter that sets `hears_before_created` (Capillary) also hears of a lead
    whose submission is queued or being sent: it holds those messages until the
    vendor created the lead, so no change made meanwhile is lost."""
    return adapters_for_leads([lead])[lead.pk]


def adapters_for_leads(leads) -> dict:
    """adapters_for_lead for many leads with one query; leads sharing an account
    share its adapter instance (a bulk import asks once, not per row)."""
    leads = list(leads)
    accounts: dict[int, VendorAccount] = {}
    for lead in leads:
        if lead.vendor_account_id and lead.vendor_account_id not in accounts:
            accounts[lead.vendor_account_id] = lead.vendor_account
    submitted: dict[int, list[int]] = {}
    saved = [lead.pk for lead in leads if lead.pk]
    if saved:
        rows = (OutboxItem.objects.filter(lead_id__in=saved, kind=SUBMIT_KIND,
                                          state__in=[OutboxState.PENDING, OutboxState.SENDING, OutboxState.SENT])
                .values_list("lead_id", "account_id", "state").order_by("account_id"))
        pending_only: dict[tuple, bool] = {}
        for lead_id, account_id, state in rows:
            key = (lead_id, account_id)
            pending_only[key] = pending_only.get(key, True) and state != OutboxState.SENT
        wanted = {account_id for _, account_id in pending_only} - set(accounts)
        accounts.update(VendorAccount.objects.in_bulk(wanted))
        for (lead_id, account_id), pending in pending_only.items():
            if not pending or accounts[account_id].adapter_class.hears_before_created:
                submitted.setdefault(lead_id, []).append(account_id)
    adapters = {pk: account.adapter() for pk, account in accounts.items()}
    result = {}
    for lead in leads:
        ids = [lead.vendor_account_id] if lead.vendor_account_id else []
        ids += sorted(pk for pk in submitted.get(lead.pk, []) if pk != lead.vendor_account_id)
        result[lead.pk] = [adapters[pk] for pk in ids]
    return result


def kick_push(account_id: int) -> None:
    """Ask a worker to push now (the minute tick would, a little later)."""
    try:
        django_q_tasks.async_task("apps.sync.tasks.push_account", account_id, task_name=f"push-{account_id}",
                                  group="push")
    except Exception:  # noqa: BLE001 - the tick is the safety net; never fail a status change
        log.exception("could not queue the push task of account %s", account_id)


def record_outbox_history(item_ids, *, reason: str, user=None) -> None:
    """Audit rows for items changed by UPDATE (which skips the audit receiver):
    their state as stored now, with who and why. One SELECT and one INSERT."""
    items = list(OutboxItem.objects.filter(pk__in=list(item_ids)).defer("payload", "response"))
    if items:
        OutboxItem.history.bulk_history_create(items, update=True, default_user=user,
                                               default_change_reason=reason[:100])
