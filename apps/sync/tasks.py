"""django-q2 tasks. They only wake the engine up: every one is safe to run twice
(locks and conditional claims in the database), so a broker redelivery, an
overlapping schedule or a second worker never pulls twice at once or sends an
update twice."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q import tasks as django_q_tasks  # looked up per call: tests swap async_task

from apps.leads.models import PendingVendorValue
from apps.vendors.core.models import VendorAccount

from . import engine
from .models import AccountSyncState, OutboxItem, OutboxState
from .retention import prune

log = logging.getLogger("leadhub.sync")
TICK_SCHEDULE_NAME = "leadhub-sync-tick"
RETENTION_SCHEDULE_NAME = "leadhub-retention"


def _account(account_id: int) -> VendorAccount | None:
    account = VendorAccount.objects.select_related("dealer").filter(pk=account_id, enabled=True).first()
    if account is None:
        log.info("account %s is gone or disabled; nothing to do", account_id)
    return account


def pull_account(account_id: int) -> dict | None:
    account = _account(account_id)
    return engine.pull(account).as_dict() if account and account.adapter_class.supports_pull else None


def push_account(account_id: int) -> dict | None:
    account = _account(account_id)
    return engine.push(account).as_dict() if account and (account.adapter_class.supports_push or account.adapter_class.supports_submit) else None


def reconcile_account(account_id: int) -> dict | None:
    account = _account(account_id)
    if not account or not account.adapter_class.supports_historic:
        return None
    today = timezone.localdate()
    return engine.reconcile(account, today - timedelta(days=settings.LEADHUB_HISTORIC_DAYS), today).as_dict()


def apply_pending_values(account_id: int) -> dict | None:
    """Apply what the account's leads wait for (a dealer admin saved a mapping):
    engine.apply_pending, safe to run twice."""
    account = _account(account_id)
    return engine.apply_pending(account).as_dict() if account else None


def queue_apply_pending(account_ids) -> None:
    """Queue apply_pending_values for those accounts that have leads waiting for
    a mapping, once the current transaction commits (never inside the request
    that saved the mapping, and never for a save that was rolled back)."""
    ids = sorted(set(account_ids))
    if ids:
        transaction.on_commit(lambda: _enqueue_apply_pending(ids))


def _enqueue_apply_pending(account_ids) -> None:
    waiting = set(PendingVendorValue.objects.filter(account_id__in=account_ids).values_list("account_id", flat=True))
    for account_id in sorted(waiting):
        try:
            django_q_tasks.async_task("apps.sync.tasks.apply_pending_values", account_id,
                                      task_name=f"mapping-{account_id}", group="mapping")
        except Exception:  # noqa: BLE001 - the account's next pull applies them too; never fail the save
            log.exception("could not queue apply_pending_values of account %s", account_id)


def tick() -> list[str]:
    """Every minute: queue what is due per enabled account — a pull when its
    interval has passed, a push when updates are due, the daily reconciliation."""
    now = timezone.now()
    queued = []
    for account in VendorAccount.objects.filter(enabled=True):
        cls = account.adapter_class
        state, _ = AccountSyncState.objects.get_or_create(account=account)
        if cls.supports_pull and state.pull_due(now, account.pull_interval_minutes):
            django_q_tasks.async_task(pull_account, account.pk, task_name=f"pull-{account.name}", group="pull")
            queued.append(f"pull {account.name}")
        if (cls.supports_push or cls.supports_submit) and OutboxItem.objects.filter(account=account, state=OutboxState.PENDING,
                                                           next_attempt_at__lte=now).exists():
            django_q_tasks.async_task(push_account, account.pk, task_name=f"push-{account.name}", group="push")
            queued.append(f"push {account.name}")
        if cls.supports_historic and (state.last_historic_ok_at is None
                                      or now - state.last_historic_ok_at >= timedelta(days=1)):
            django_q_tasks.async_task(reconcile_account, account.pk, task_name=f"historic-{account.name}",
                                      group="historic")
            queued.append(f"historic {account.name}")
    return queued


def prune_retention() -> dict:
    """Daily: prune stored vendor pages and sent payloads past LEADHUB_RETENTION_DAYS."""
    return prune().as_dict()


def ensure_schedule(**kwargs) -> None:
    """Create the one-minute tick and the daily retention schedules (post_migrate), once."""
    Schedule.objects.get_or_create(name=TICK_SCHEDULE_NAME, defaults={
        "func": "apps.sync.tasks.tick", "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1})
    Schedule.objects.get_or_create(name=RETENTION_SCHEDULE_NAME, defaults={
        "func": "apps.sync.tasks.prune_retention", "schedule_type": Schedule.DAILY, "repeats": -1})
