"""Retention: raw vendor pages and sent payloads are kept LEADHUB_RETENTION_DAYS
days, then pruned by a daily django-q2 job (tasks.prune_retention).

A stored page may be the only copy of a lead (a vendor such as Cat hands each
lead out once), so a page is pruned only when it is old, processed, and every
item in it has a vendor lead id that LeadHub holds a lead for
(`stored_lead_ids`: the account's leads by vendor lead id, plus `adapter.linked_lead_ids`: Capillary adds the
leads LeadHub submitted, linked to their Capillary id).
Pending and unreadable pages, pages with an item without an id, and pages of a
vendor whose adapter cannot name an item's lead id are never pruned.

Sent outbox items keep their row (state, times, counts for /metrics) but lose
their payload; the "reported to the vendor" timeline entries lose the payload
copy in their details.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.leads.lookup import lead_ids_by_vendor_id
from apps.leads.models import EventKind, LeadEvent
from apps.vendors.core.base import PageUnreadable

from .models import InboxPage, OutboxItem, OutboxState, PageState

log = logging.getLogger("leadhub.sync")
BATCH = 200


@dataclass
class PruneResult:
    pages_deleted: int = 0
    pages_kept: int = 0  # old and processed, but a lead of theirs is not (or cannot be shown to be) stored
    payloads_cleared: int = 0
    events_cleared: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def prune(*, days: int | None = None, now=None) -> PruneResult:
    """Prune what is older than `days` (default LEADHUB_RETENTION_DAYS; 0 keeps
    everything). Safe to run twice or on two workers at once."""
    days = settings.LEADHUB_RETENTION_DAYS if days is None else days
    result = PruneResult()
    if days <= 0:
        return result
    cutoff = (now or timezone.now()) - timedelta(days=days)
    _prune_pages(cutoff, result)
    _clear_sent_payloads(cutoff, result)
    log.info("retention: %d days; %s", days, result.as_dict())
    return result


def _prune_pages(cutoff, result: PruneResult) -> None:
    old = (InboxPage.objects.filter(state=PageState.PROCESSED, received_at__lt=cutoff)
           .select_related("account").order_by("id"))
    last_id = 0
    adapters = {}  # account id -> its adapter, built once per run
    while True:
        pages = list(old.filter(id__gt=last_id)[:BATCH])
        if not pages:
            return
        last_id = pages[-1].id
        deletable = []
        for page in pages:
            if page.account_id not in adapters:
                adapters[page.account_id] = page.account.adapter()
            adapter = adapters[page.account_id]
            ids = _lead_ids(page, adapter)
            if ids is not None:
                if stored_lead_ids(adapter, ids) >= set(ids):
                    deletable.append(page.pk)
                    continue
            result.pages_kept += 1
        if deletable:
            # Only pages still processed: a page being reprocessed right now stays.
            result.pages_deleted += InboxPage.objects.filter(pk__in=deletable, state=PageState.PROCESSED).delete()[0]


def _lead_ids(page: InboxPage, adapter) -> list[str] | None:
    """Every item's vendor lead id, or None when any item has none or the page
    cannot be read: then the page is the only copy of something."""
    try:
        items = adapter.parse_page(bytes(page.body))
        ids = [adapter.item_lead_id(item) for item in items]
    except (PageUnreadable, NotImplementedError):
        return None
    return None if any(i is None for i in ids) else ids


def _clear_sent_payloads(cutoff, result: PruneResult) -> None:
    with transaction.atomic():
        result.payloads_cleared = (OutboxItem.objects.filter(state=OutboxState.SENT, sent_at__lt=cutoff)
                                   .exclude(payload={}).update(payload={}))
    events = LeadEvent.objects.filter(kind=EventKind.PUSH_SENT, created_at__lt=cutoff, details__has_key="payload")
    while True:
        batch = list(events.only("id", "details")[:BATCH])
        if not batch:
            return
        for event in batch:
            event.details = {k: v for k, v in event.details.items() if k != "payload"}
        LeadEvent.objects.bulk_update(batch, ["details"])
        result.events_cleared += len(batch)


def stored_lead_ids(adapter, ids: list[str]) -> set[str]:
    """Which of these vendor lead ids LeadHub holds a lead for (a page is never
    the only copy of a lead it prunes): the account's leads by vendor lead id,
    and the ids the vendor links to leads LeadHub created (linked_lead_ids)."""
    return set(lead_ids_by_vendor_id(adapter.account.pk, ids)) | adapter.linked_lead_ids(ids)
