"""Cat updates going out: POST /leads with JSON arrays of updates (payloads.py
builds them, rules.py checks them). The engine claims, marks, orders and retries;
this groups the claimed items into requests and reads Cat's answer."""
from __future__ import annotations

from apps.vendors.core.base import SendOutcome, VendorError

from .client import CatClient, message_of


def requests_without_repeated_leads(items) -> list[list]:
    """Split outbox items, kept in order, into consecutive requests in which no
    leadId appears twice: an item whose leadId the current request already names
    starts the next one. A lead's updates therefore reach Cat in the order given."""
    requests, current, named = [], [], set()
    for item in items:
        lead_id = (item.payload or {}).get("leadId") if isinstance(item.payload, dict) else None
        if lead_id is not None and lead_id in named:
            requests.append(current)
            current, named = [], set()
        current.append(item)
        if lead_id is not None:
            named.add(lead_id)
    if current:
        requests.append(current)
    return requests


def send_request(account, http, items) -> list[SendOutcome]:
    """POST one JSON array. 200 accepts them all. A 400 for a batch says nothing
    about which item Cat refused, so each is then sent alone once: only the
    refused ones fail, with Cat's message."""
    client = CatClient(account, http)
    raw = client.post_updates([item.payload for item in items])
    if raw.status_code in (200, 201, 204):
        return [SendOutcome.sent(status=raw.status_code)] * len(items)
    if len(items) == 1:
        return [SendOutcome.refused(f"Cat refused the update (400): {message_of(raw)}", status=400)]
    outcomes = []
    for item in items:
        try:
            outcomes += send_request(account, http, [item])
        except VendorError as exc:
            outcomes.append(SendOutcome.from_error(exc))
    return outcomes
