"""Queueing what a vendor must be told (called inside the status change's transaction)."""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from .models import OutboxItem, OutboxState

log = logging.getLogger("leadhub.sync")


def queue_status_update(adapter, lead, status_log) -> OutboxItem | None:
    from apps.leads.models import EventKind, LeadEvent

    payload, problems = adapter.build_outbox_payload(lead, status_log)
    if payload is None and not problems:
        return None  # the vendor is not told about this status
    blocked = bool(problems)
    message = " ".join(p.message for p in problems)
    item = OutboxItem.objects.create(account=adapter.account, lead=lead, status_log=status_log,
                                     payload=payload or {}, last_error=message,
                                     state=OutboxState.BLOCKED if blocked else OutboxState.PENDING)
    if blocked:
        LeadEvent.objects.create(lead=lead, kind=EventKind.PUSH_BLOCKED, actor_label=adapter.account.name,
                                 summary=f"Not sent to {adapter.account.get_vendor_display()}: {message}"[:500],
                                 details={"outbox": item.pk, "violations": [p.as_dict() for p in problems]})
    elif settings.LEADHUB_PUSH_ON_COMMIT:
        account_id = adapter.account.pk
        transaction.on_commit(lambda: kick_push(account_id))
    return item


def kick_push(account_id: int) -> None:
    """Ask a worker to push now (the minute tick would, a little later)."""
    try:
        from django_q.tasks import async_task

        async_task("apps.sync.tasks.push_account", account_id, task_name=f"push-{account_id}", group="push")
    except Exception:  # noqa: BLE001 - the tick is the safety net; never fail a status change
        log.exception("could not queue the push task of account %s", account_id)
