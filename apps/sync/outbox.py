"""Queueing what a vendor must be told (called inside the transaction of the
change it reports, so the change and its message commit together or not at all)."""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from .models import OutboxItem, OutboxState

log = logging.getLogger("leadhub.sync")

SUBMIT_KIND = "submit"


def queue_status_update(adapter, lead, status_log) -> OutboxItem | None:
    payload, problems = adapter.build_outbox_payload(lead, status_log)
    if payload is None and not problems:
        return None  # the vendor is not told about this status
    return queue_message(adapter, lead, kind="status_update", payload=payload, problems=problems,
                         status_log=status_log)


def queue_message(adapter, lead, *, kind: str, payload: dict | None, problems=(), status_log=None,
                  dedupe_key: str = "") -> OutboxItem:
    """Queue one message for adapter.account: pending, or blocked (with the
    problems shown on the lead's timeline) when the payload breaks a rule or
    lacks a mapping. A `dedupe_key` makes the message unique per account (the
    database refuses a second one; the caller decides what a repeat means)."""
    from apps.leads.models import EventKind, LeadEvent

    blocked = bool(problems)
    message = " ".join(p.message for p in problems)
    item = OutboxItem.objects.create(account=adapter.account, lead=lead, status_log=status_log, kind=kind,
                                     dedupe_key=dedupe_key, payload=payload or {}, last_error=message,
                                     state=OutboxState.BLOCKED if blocked else OutboxState.PENDING)
    if blocked:
        LeadEvent.objects.create(lead=lead, kind=EventKind.PUSH_BLOCKED, actor_label=adapter.account.name,
                                 summary=f"Not sent to {adapter.account.get_vendor_display()}: {message}"[:500],
                                 details={"outbox": item.pk, "violations": [p.as_dict() for p in problems]})
    elif settings.LEADHUB_PUSH_ON_COMMIT:
        account_id = adapter.account.pk
        transaction.on_commit(lambda: kick_push(account_id))
    return item


def adapters_for_lead(lead) -> list:
    """The adapters of every vendor account that knows this lead: the account it
    came from, and every account it was submitted to (a sent "submit" message).
    Each is told about the lead's changes through its record_* hooks."""
    from apps.vendors.models import VendorAccount

    accounts = []
    if lead.vendor_account_id:
        accounts.append(lead.vendor_account)
    if lead.pk:
        submitted = (VendorAccount.objects.filter(outbox__lead_id=lead.pk, outbox__kind=SUBMIT_KIND,
                                                  outbox__state=OutboxState.SENT)
                     .exclude(pk=lead.vendor_account_id or 0).distinct().order_by("pk"))
        accounts += list(submitted)
    return [account.adapter() for account in accounts]


def kick_push(account_id: int) -> None:
    """Ask a worker to push now (the minute tick would, a little later)."""
    try:
        from django_q.tasks import async_task

        async_task("apps.sync.tasks.push_account", account_id, task_name=f"push-{account_id}", group="push")
    except Exception:  # noqa: BLE001 - the tick is the safety net; never fail a status change
        log.exception("could not queue the push task of account %s", account_id)
