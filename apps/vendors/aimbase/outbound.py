"""Aimbase messages going out: lead submissions as one Lead API batch (records
matched back to the leads sent), and Disposition API activities one by one. The
engine marks, orders, retries and holds; this sends and reads the answers
(docs/vendors/aimbase.md)."""
from __future__ import annotations

import uuid
from dataclasses import replace

from apps.vendors.core.base import SendOutcome, VendorError

from . import payloads
from .client import AimbaseClient


def post_activity(client: AimbaseClient, item) -> SendOutcome:
    try:
        return SendOutcome.sent(status=200, response=client.post_activity(item.payload))
    except VendorError as exc:
        outcome = SendOutcome.from_error(exc)
        if exc.status == 200:  # answered, with a failure message in the body
            return replace(outcome, response={"message": exc.message})
        return outcome

def submit_batch(client: AimbaseClient, items) -> dict:
    """Send a batch of submissions; {item pk: SendOutcome}.

    Nothing is accepted twice where LeadHub can prevent it: an item the engine
    hands over as unconfirmed (an earlier request had no definite answer: a
    timeout, a reset, a 5xx, an unreadable or short 201, a killed worker) is
    first looked up by its ExternalId (Lead OData API): found, it is accepted
    with the Id found; not found, it is sent again. When the lookup fails
    (any status, any transport error) those items stay queued (a transient
    outcome naming the lookup failure) and the other items still go.
    """
    outcomes = {}
    uncertain: dict[str, list] = {}
    for item in items:
        if getattr(item, "unconfirmed", False):
            uncertain.setdefault(sent_external_id(item, client.options), []).append(item)
    try:
        found = client.find_by_external_ids(list(uncertain)) if uncertain else {}
    except VendorError as exc:  # always transient (client.find_by_external_ids)
        found = {}
        for waiting in uncertain.values():
            for item in waiting:
                outcomes[item.pk] = SendOutcome.retry_later(
                    f"not sent again: {exc.message}; it stays queued until Aimbase can say whether it already "
                    "has this lead", status=exc.status, retry_after=exc.retry_after, may_have_reached=True)
    for ext_id, aimbase_lead_id in found.items():
        for item in uncertain.get(ext_id, ()):
            outcomes[item.pk] = SendOutcome.sent(status=200, response={
                "Id": aimbase_lead_id, "Status": "Success", "ExternalId": ext_id,
                "StatusMessage": "Found in Aimbase by ExternalId after an unanswered request; not sent again"})
    batch = [item for item in items if item.pk not in outcomes]
    if not batch:
        return outcomes
    leads, identifiers = [], []
    for item in batch:
        identifier = str(uuid.uuid4())
        identifiers.append(identifier)
        leads.append({"LeadApiIdentifier": identifier, **{k: v for k, v in item.payload.items()
                                                              if k != "LeadApiIdentifier"}})
    try:
        answer = client.post_leads(leads)
    except VendorError as exc:
        if exc.permanent:  # a 400/401: nothing was created; say so on every lead of the batch
            return outcomes | {item.pk: SendOutcome.refused(
                f"Aimbase refused the batch: {exc.message}", status=exc.status, response={"error": exc.message},
                credentials_refused=exc.credentials_refused) for item in batch}
        # Transient: still marked unconfirmed, so the next attempt looks these up first.
        return outcomes | {item.pk: SendOutcome.from_error(exc) for item in batch}
    top = answer.top_level_error
    if top and not answer.records:
        # Only a TopLevelError: the batch was refused as a whole (docs/vendors/aimbase.md).
        return outcomes | {item.pk: SendOutcome.refused(f"Aimbase refused the batch (TopLevelError): {top}",
                                                        status=201, response={"TopLevelError": top})
                           for item in batch}
    # Records (with or without a TopLevelError beside them) decide each lead
    # alone: a Success record is a lead Aimbase created, never to be sent again.
    beside = f" (TopLevelError: {top})" if top else ""
    records = match_records(answer.records, identifiers)
    for item, record in zip(batch, records, strict=True):
        if record is None:
            # "The response record details for each lead will be returned in the
            # order that they were submitted": a record missing means the answer
            # was cut short. It stays marked; the next attempt looks it up first.
            outcomes[item.pk] = SendOutcome.retry_later(
                f"Aimbase's answer had no record for this lead{beside}; it is looked up by ExternalId before it "
                "is sent again", status=201, may_have_reached=True)
            continue
        stored = {**record, "TopLevelError": top} if top else record
        if str(record.get("Status") or "").lower() == "success":
            outcomes[item.pk] = SendOutcome.sent(status=201, response=stored)
        else:
            outcomes[item.pk] = SendOutcome.refused(payloads.record_message(record) + beside, status=201,
                                                    response=stored)
    return outcomes


def sent_external_id(item, options) -> str:
    """The ExternalId the item's last request carried (the account's prefix may
    have changed since)."""
    stamped = (item.response or {}).get("request") or {}
    return str(stamped.get("ExternalId") or item.payload.get("ExternalId") or payloads.external_id(item.lead, options))


def match_records(records: list[dict], identifiers: list[str]) -> list[dict | None]:
    """Each sent lead's record, None when it has none.

    By LeadApiIdentifier where the record carries one ("Unique value ... to
    relate a request with a response"; compared without case, it is a GUID);
    a record without one is taken by its position ("returned in the order that
    they were submitted") only when the answer has exactly one record per lead
    sent (a record naming another identifier is that lead's, never taken by
    position). With fewer or more records a position proves nothing: the lead
    is left unmatched (looked up by ExternalId before it is sent again)."""
    def key(value) -> str:
        return str(value or "").strip().lower()

    by_id: dict[str, dict] = {}
    for record in records:
        if key(record.get("LeadApiIdentifier")):
            by_id.setdefault(key(record.get("LeadApiIdentifier")), record)
    same_count = len(records) == len(identifiers)
    matched = []
    for index, identifier in enumerate(identifiers):
        record = by_id.get(key(identifier))
        if record is None and same_count and not key(records[index].get("LeadApiIdentifier")):
            record = records[index]
        matched.append(record)
    return matched
