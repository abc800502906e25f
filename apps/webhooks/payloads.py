"""What a delivery says: plain functions from a lead to the event's JSON
(documented field by field in docs/webhooks.md)."""
from __future__ import annotations

import uuid

from django.utils import timezone

# Event ids derived from what the event is about (uuid5), so the same event is
# never queued twice (the database's unique endpoint + event id): a status change
# is its StatusLog row, a refused vendor report its outbox item, a lead's
# arrival the lead, a lead's move to another dealer the lead and the move.
# Other events (an assignment, a test) get a random id.
_NAMESPACE = uuid.UUID("5b0c6f2e-7d1a-4e55-9a43-1e2f1c0de0a1")


def event_uuid(key: str | None = None) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, key) if key else uuid.uuid4()


def lead_data(lead) -> dict:
    """The lead as every lead.* event shows it. Reads lead.dealer, lead.owner,
    lead.sales_stage and lead.vendor_account: load them with select_related."""
    owner = lead.owner if lead.owner_id else None
    account = lead.vendor_account if lead.vendor_account_id else None
    return {
        "id": lead.pk,
        "dealer": lead.dealer.code,
        "status": lead.status,
        "sales_stage": lead.sales_stage.name if lead.sales_stage_id else None,
        "owner": {"id": owner.pk, "username": owner.get_username()} if owner else None,
        "vendor": account.vendor if account else None,
        "vendor_account": account.name if account else None,
        "vendor_lead_id": lead.vendor_lead_id,
        "origin": lead.origin,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "email": lead.email,
        "phone": lead.phone,
        "product_interest": lead.product_interest,
        "source": lead.source,
        "created_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
    }


def lead_ref(lead, *, dealer_code: str) -> dict:
    """A lead that is no longer the receiver's dealer's (lead.moved_away): which
    lead it was (its id, the dealer it was with, its vendor reference), none of
    its contents, and not where it went. Reads lead.vendor_account."""
    account = lead.vendor_account if lead.vendor_account_id else None
    return {"id": lead.pk, "dealer": dealer_code, "vendor": account.vendor if account else None,
            "vendor_account": account.name if account else None, "vendor_lead_id": lead.vendor_lead_id}


def event_body(*, event_id: uuid.UUID, event_type: str, data: dict, created=None) -> dict:
    """The delivery's JSON: {"id": "evt_<uuid>", "type", "created" (unix seconds), "data"}."""
    created = created or timezone.now()
    return {"id": f"evt_{event_id.hex}", "type": event_type, "created": int(created.timestamp()), "data": data}


def _iso(value) -> str | None:
    return value.isoformat() if value else None
