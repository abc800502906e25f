"""Sending LeadHub's messages to Capillary, one call per message, in order per lead.

- A lead's messages go in order, each after the one before it was answered
  (the engine claims one unfinished message per lead), so a message for a lead
  LeadHub submitted goes once Capillary created it and knows its id.
- A repeat of a call whose outcome LeadHub does not know (a timeout, a reset,
  an unreadable answer, a worker that died: the engine hands it over as
  unconfirmed, the LOOKUP policy) first looks in Capillary for the effect: a
  new lead or a follow-up already there is taken as the answer instead of being
  created twice.
- Capillary's warnings and errors arrays are kept in OutboxItem.response and
  shown on the lead.
"""
from __future__ import annotations

import json

from apps.leads.models import EventKind, FollowUp, LeadEvent
from apps.sync.models import OutboxItem, OutboxState
from apps.vendors.core.base import SendOutcome, VendorError

from . import client as api
from . import payloads
from .inbound import find_lead
from .models import CapillaryLink, LinkKind
from .rules import KIND_CREATE, KIND_FOLLOWUP, KIND_STATUS, KIND_UPDATE

ROUTES = {
    KIND_CREATE: ("POST", ""),
    KIND_STATUS: ("PUT", "/status"),
    KIND_FOLLOWUP: ("POST", "/followup"),
    KIND_UPDATE: ("PUT", ""),
}
RECENT = 50  # leads searched (latest updated first) for a submission whose outcome is unknown


def capillary_id_of(account, lead) -> str | None:
    if lead.vendor_account_id == account.pk and lead.vendor_lead_id:
        return lead.vendor_lead_id
    link = CapillaryLink.objects.filter(account=account, kind=LinkKind.LEAD, lead=lead).first()
    return link.capillary_id if link else None


class Pusher:
    def __init__(self, adapter, http):
        self.adapter = adapter
        self.account = adapter.account
        self.client = api.CapillaryClient(self.account, http)

    def send(self, items) -> list:
        outcomes = []
        for item in items:
            try:
                outcomes.append(self._one(item))
            except VendorError as exc:
                outcomes.append(SendOutcome.from_error(exc))
        return outcomes

    def _one(self, item):
        if item.kind == KIND_CREATE:
            cap_id = None
        else:
            cap_id = capillary_id_of(self.account, item.lead)
            if cap_id is None:
                submitted = OutboxItem.objects.filter(account=self.account, lead_id=item.lead_id,
                                                      kind=KIND_CREATE).exclude(state=OutboxState.SENT).first()
                if submitted is None:
                    return SendOutcome.refused("The lead is not in Capillary: it was neither received from nor "
                                               "submitted to it.")
                # Not created (the engine sends a lead's messages in order, so a
                # submission still queued would have held this one back).
                # A resubmission is built from the lead as it is then, this change included.
                return SendOutcome.refused(f"Capillary did not create the lead (outbox {submitted.pk}); "
                                           "submitting it again sends the lead as it is then")
        if getattr(item, "unconfirmed", False):
            found = self._already_done(item, cap_id)
            if found is not None:
                return self._ok(item, found, 200, note="found in Capillary after an unanswered attempt")
        method, suffix = ROUTES[item.kind]
        path = api.LEADS + (f"/{cap_id}" if cap_id else "") + suffix
        raw = self.client.send(method, path, item.payload)
        code = raw.status_code
        if code == 429 or code >= 500:
            return SendOutcome.retry_later(f"{raw.request}: {code} {api.message_of(raw)}", status=code,
                                           retry_after=raw.retry_after())
        try:
            data = json.loads(raw.body)
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            if 400 <= code < 500 and code != 408:  # 408: a proxy's timeout, nothing refused
                # A refusal whatever its body says (an HTML error page from a proxy,
                # say): nothing was done, and the same request would be refused again.
                return SendOutcome.refused(f"Capillary refused it ({code}): {api.message_of(raw)}", status=code,
                                           credentials_refused=code in (401, 403))
            # A 2xx (or another answer) we cannot read may have worked: retried, with
            # a look in Capillary first.
            return SendOutcome.retry_later(f"{raw.request}: {code} with an unreadable answer ({raw.body[:60]!r})",
                                           may_have_reached=True)
        errors, warnings = api.problems_of(data)
        if code in (200, 201) and not errors:
            return self._ok(item, data, code)
        message = "; ".join(errors) or api.message_of(raw)
        return SendOutcome.refused(f"Capillary refused it ({code}): {message}", status=code,
                                   response={"errors": errors, "warnings": warnings},
                                   credentials_refused=code in (401, 403))

    def _ok(self, item, data: dict, code: int, note: str = ""):
        errors, warnings = api.problems_of(data)
        response = {"id": data.get("id"), "userId": data.get("userId"), "status": data.get("status"),
                    "lastUpdatedOn": data.get("lastUpdatedOn"), "warnings": warnings, "errors": errors,
                    "statusLogIds": [e.get("id") for e in data.get("statusLogDetails") or [] if isinstance(e, dict)],
                    "followUpIds": [e.get("id") for e in data.get("followUpDetails") or [] if isinstance(e, dict)]}
        if note:
            response["note"] = note
        if item.kind == KIND_CREATE and data.get("id") is not None:
            # The whole lead as Capillary answered, for record_answer (the engine
            # calls after_sent on this same adapter): the next pull compares with it.
            self.adapter.created_answers[item.pk] = {k: v for k, v in data.items() if k not in ("warnings", "errors")}
        return SendOutcome.sent(status=code, response=response)

    def _already_done(self, item, cap_id) -> dict | None:
        """The lead as Capillary has it when the earlier attempt's effect is there."""
        payload = item.payload or {}
        if item.kind == KIND_CREATE:
            # Newest updates first, not newest createdOn: createdOn is ours (the
            # LeadHub lead's creation, possibly days ago), so a lead Capillary
            # stored a minute ago can sort far below the 50 latest creations.
            raw = self.client.search({"sortBy": "lastUpdatedOn", "sortOrder": "DESC", "limit": RECENT})
            for lead in payloads.parse_search_page(raw.body) if raw.status_code == 200 else []:
                if (lead.get("leadFor") == payload.get("leadFor")
                        and payloads.parse_dt(lead.get("createdOn")) == payloads.parse_dt(payload.get("createdOn"))
                        and not find_lead(self.account, str(lead.get("id")))[0]):
                    return lead
            return None
        if item.kind != KIND_FOLLOWUP:
            return None  # a status or lead update repeated sets the same values again
        user_id = self._user_id(item.lead)
        if user_id is None:
            return None
        raw = self.client.search({"userId": user_id, "limit": RECENT})
        for lead in payloads.parse_search_page(raw.body) if raw.status_code == 200 else []:
            if str(lead.get("id")) != str(cap_id):
                continue
            linked = set(CapillaryLink.objects.filter(account=self.account, kind=LinkKind.FOLLOWUP, lead=item.lead)
                         .values_list("capillary_id", flat=True))
            for entry in lead.get("followUpDetails") or []:
                if (str(entry.get("id")) not in linked
                        and payloads.parse_dt(entry.get("followedUpOn")) == payloads.parse_dt(payload.get("followedUpOn"))
                        and (entry.get("notes") or "") == (payload.get("notes") or "")):
                    return lead
        return None

    def _user_id(self, lead):
        if lead.vendor_account_id == self.account.pk:
            return (lead.raw_payload or {}).get("userId")
        link = CapillaryLink.objects.filter(account=self.account, kind=LinkKind.LEAD, lead=lead).first()
        return (link.payload or {}).get("userId") if link else None


def record_answer(adapter, item, outcome) -> None:
    """Link the ids Capillary answered with to LeadHub's rows (so the next pull does
    not import LeadHub's own work back), and show its warnings on the lead."""
    account = adapter.account
    response = outcome.response or {}
    lead = item.lead
    if item.kind == KIND_CREATE and response.get("id") is not None:
        answered = adapter.created_answers.pop(item.pk, None) or {"userId": response.get("userId")}
        CapillaryLink.objects.get_or_create(account=account, kind=LinkKind.LEAD, capillary_id=str(response["id"]),
                                            defaults={"lead": lead, "payload": answered})
        # Capillary answers with the status log and follow-ups LeadHub sent, in order.
        logs = list(lead.status_logs.order_by("created_at", "id"))
        log_ids = response.get("statusLogIds") or []
        # A lead with no status change yet went with one entry for its first status
        # (payloads.build_create): no LeadHub row (None), but LeadHub's own, so it is
        # linked too and never imported back as Capillary's change.
        logs += [None] * (len(log_ids) - len(logs))
        _link_many(account, lead, LinkKind.STATUS_LOG, log_ids, logs, "status_log")
        done = list(FollowUp.objects.filter(lead=lead, done_at__isnull=False).order_by("done_at", "id"))
        _link_many(account, lead, LinkKind.FOLLOWUP, response.get("followUpIds"), done, "followup")
    elif item.kind == KIND_STATUS:
        _link_newest(account, lead, LinkKind.STATUS_LOG, response.get("statusLogIds"), status_log=item.status_log)
    elif item.kind == KIND_FOLLOWUP:
        followup = FollowUp.objects.filter(pk=int(item.dedupe_key.split(":")[1])).first()
        _link_newest(account, lead, LinkKind.FOLLOWUP, response.get("followUpIds"), followup=followup)
    if response.get("warnings"):
        LeadEvent.objects.create(lead=lead, kind=EventKind.NOTE, actor_label=account.name,
                                 summary=("Capillary warnings: " + "; ".join(response["warnings"]))[:500],
                                 details={"outbox": item.pk, "warnings": response["warnings"]})


def _link_many(account, lead, kind, ids, rows, field) -> None:
    for cap_id, row in zip(ids or [], rows):
        if cap_id is not None:
            CapillaryLink.objects.get_or_create(account=account, kind=kind, capillary_id=str(cap_id),
                                                defaults={"lead": lead, field: row})


def _link_newest(account, lead, kind, ids, **row) -> None:
    """The newest id Capillary answered with that is not linked yet is LeadHub's."""
    ids = [str(i) for i in ids or [] if i is not None]
    known = set(CapillaryLink.objects.filter(account=account, kind=kind, capillary_id__in=ids)
                .values_list("capillary_id", flat=True))
    fresh = [i for i in ids if i not in known]
    if fresh:
        newest = max(fresh, key=lambda i: (len(i), i))  # numeric ids: longer is larger
        CapillaryLink.objects.create(account=account, kind=kind, capillary_id=newest, lead=lead, **row)
