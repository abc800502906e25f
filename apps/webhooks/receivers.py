"""Where the four lead events come from: signals the lower layers send inside
the transaction of the change (apps.leads.signals, apps.sync.events), so the
event and the change commit together or not at all. Each receiver queues with a
bounded number of queries, whatever the size of the batch."""
from __future__ import annotations

from apps.leads.models import StatusLog

from .models import Event
from .services import Occurrence, webhook_lead_moved, webhook_queue_lead_events


def lead_arrivals_processed(sender, lead_ids, **kwargs) -> None:
    """arrivals_processed: lead.created, once per lead (its id is the event's key),
    after assignment, so the payload names the owner the rules gave it."""
    webhook_queue_lead_events(event_type=Event.LEAD_CREATED,
                              occurrences=[Occurrence(pk, key=str(pk)) for pk in lead_ids])


def lead_owner_assigned(sender, lead_ids, owner, actor=None, by="", **kwargs) -> None:
    """owner_assigned: lead.assigned, with who assigned it and how (`owner` null:
    the lead was unassigned); not for a lead whose arrival is still being
    processed (the assignment rules on arrival, or anyone before that): its
    lead.created, queued after, names the owner, and nothing about a lead goes
    before its lead.created (docs/webhooks.md)."""
    extra = {"owner": {"id": owner.pk, "username": owner.get_username()} if owner is not None else None, "by": by,
             "actor": actor.get_username() if getattr(actor, "pk", None) else None}
    webhook_queue_lead_events(event_type=Event.LEAD_ASSIGNED, announced_only=True,
                              occurrences=[Occurrence(pk, extra=extra) for pk in lead_ids])


def lead_status_changed(sender, logs, **kwargs) -> None:
    """status_changed: lead.status_changed, one per StatusLog row (its key). The
    status services send each log with the lead they saved: it is used as it is
    when it has what the payload reads (no second read of a lead per change)."""
    webhook_queue_lead_events(event_type=Event.LEAD_STATUS_CHANGED, occurrences=[Occurrence(
        log.lead_id, lead=log.lead if _LOG_LEAD.is_cached(log) else None,
        key=str(log.pk) if log.pk else None, extra={
            "from_status": log.from_status, "to_status": log.to_status,
            "from_stage_id": log.from_stage_id, "to_stage_id": log.to_stage_id,
            "reason": log.reason_label or None, "actor": log.actor_label, "source": log.source,
            "changed_at": log.created_at.isoformat() if log.created_at else None}) for log in logs])


_LOG_LEAD = StatusLog._meta.get_field("lead")


def lead_moved(sender, lead_ids, from_dealer_id, key, **kwargs) -> None:
    """lead_moved: the old dealer's queued deliveries about the leads are
    cancelled, its endpoints that heard of them get lead.moved_away, the new
    dealer's get lead.created (services.webhook_lead_moved; the new dealer is
    the one each lead is with, read with the lead)."""
    webhook_lead_moved(lead_ids=list(lead_ids), from_dealer_id=from_dealer_id, key=key)


def outbox_items_failed(sender, account, items, **kwargs) -> None:
    """outbox_items_failed: lead.vendor_report_failed, one per refused message;
    its key (the outbox item and the attempt refused) gives it a stable id, so
    the same refusal is never queued twice."""
    webhook_queue_lead_events(event_type=Event.LEAD_VENDOR_REPORT_FAILED, occurrences=[Occurrence(
        item.lead_id, key=f"{item.pk}:{item.attempts}", extra={"vendor_report": {
            "outbox_id": item.pk, "kind": item.kind, "vendor": account.vendor, "account": account.name,
            "status_code": item.last_status_code, "error": item.last_error}}) for item in items])
