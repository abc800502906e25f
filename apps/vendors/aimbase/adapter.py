"""Aimbase (shared/vendor-docs/aimbase-lead-api.txt, aimbase-related-apis.md).

Submit: leads the dealer made go to the Lead API in batches (POST
/marketing/api/lead?manufacturer=CODE, JSON or XML); each lead's fate is its own
response record. Push: what the dealer then does with a lead Aimbase accepted
(status changes, follow-ups, a new owner) goes to the Disposition API as one
ProspectActivity each. Decisions: docs/vendors/aimbase.md.
"""
from __future__ import annotations

import uuid
from dataclasses import replace

from django.utils import timezone

from apps.leads.models import StatusMapping
from apps.sync.models import OutboxItem, OutboxState
from apps.sync.outbox import submission_key
from apps.vendors.core.base import (LOOKUP, RESEND, SUBMIT_KIND, MappingList, OutboundMessage, SendOutcome,
                                    SettingField, VendorAdapter, VendorError)

from . import payloads, rules
from .client import AimbaseClient

DOC = "aimbase-lead-api.txt"
DISPOSITION_STATUSES = rules.DISPOSITION_STATUSES
DISPOSITION_KIND = "disposition"
# Ids Aimbase may answer that name no lead: the document's own sample success
# record says "Id" : "0".
NO_ID = {"", "0", "None", "null"}


def aimbase_id(lead, account) -> str | None:
    """The lead's Id in Aimbase, once the account accepted its submission (kept
    on the sent submission's response); None when unknown."""
    response = (OutboxItem.objects.filter(account=account, dedupe_key=submission_key(lead), state=OutboxState.SENT)
                .values_list("response", flat=True).first())
    value = str((response or {}).get("Id") or "").strip()
    return None if value in NO_ID else value


def _user_label(user) -> str:
    if user is None:
        return ""
    return (user.get_full_name() or user.get_username()).strip()


class AimbaseAdapter(VendorAdapter):
    kind = "aimbase"
    verbose_name = "Aimbase Lead API"
    document = DOC
    supports_submit = True
    supports_push = True  # the Disposition API
    settings_fields = (
        SettingField("username", "API username"),
        SettingField("token", "API token", secret=True),
        SettingField("manufacturer", "Manufacturer code", help_text="Sent as ?manufacturer=CODE."),
        SettingField("format", "Payload format", required=False, default="json", help_text="json or xml."),
        SettingField("lead_source", "LeadSourceName", required=False,
                     help_text="A valid Lead Source's Name in Aimbase; every lead needs one (here or in "
                               "its submission extras)."),
        SettingField("lead_type", "LeadTypeName", required=False,
                     help_text="A valid Lead Type's Name in Aimbase; every lead needs one (here or in "
                               "its submission extras)."),
        SettingField("lead_category", "LeadCategoryName", required=False,
                     help_text="A valid Lead Category's Name in Aimbase; every lead needs one (here or in "
                               "its submission extras)."),
        SettingField("campaign", "LeadCampaignName", required=False),
        SettingField("brands", "Brands", required=False,
                     help_text="Comma-separated brand codes; empty: all of the manufacturer's brands."),
        SettingField("dealer_ids", "DealerIds", required=False, help_text="Comma-separated Aimbase dealer ids."),
        SettingField("dealer_number", "DealerNumber", required=False,
                     help_text="This dealer's number in Aimbase (sent as the lead's Dealers entry)."),
        SettingField("dealer_location", "DealerLocation", required=False),
        SettingField("dealer_name", "DealerName", required=False),
        SettingField("product_ids", "ProductIds", required=False),
        SettingField("list_codes", "ListCodes", required=False),
        SettingField("default_country", "Default CountryCode", required=False,
                     help_text="ISO code sent when a lead has no country."),
        SettingField("opt_in_source", "CommunicationOptInSource", required=False,
                     help_text="Sent for opted-in leads; default: the lead's source."),
        SettingField("external_id_prefix", "ExternalId prefix", required=False,
                     help_text="Put before LeadHub's lead id in ExternalId (empty: the id alone)."),
        SettingField("disposition_url", "Disposition API URL", required=False,
                     help_text="Root of the CRM integration host (crmintegration or crmintegrationqa)."),
        SettingField("crm_source", "Disposition source", required=False,
                     help_text="The CRM provider name Aimbase registered (?source=)."),
    )
    status_list = MappingList("Aimbase disposition status", False, DISPOSITION_STATUSES, "Lead Disposition API")

    # --- submission --------------------------------------------------------------------
    def build_submission(self, lead):
        return payloads.build_lead(lead, self.account.options or {})

    @classmethod
    def validate_outbound(cls, items):
        return rules.batch_violations(items)

    def describe_outbox_item(self, item) -> str:
        if item.kind == DISPOSITION_KIND:
            return f"{item.payload.get('EntryType')} {item.payload.get('EntryDetail')}"
        response = item.response or {}
        if response.get("Id") not in (None, *NO_ID):
            return f"lead submitted, Aimbase Id {response['Id']}"
        return "lead submitted (Aimbase gave no Id)"

    def after_sent(self, item, outcome) -> None:
        # The engine stores outcome.response on the row; keep it on this instance
        # too so the timeline line (describe_outbox_item) names Aimbase's Id.
        if outcome.response is not None:
            item.response = outcome.response

    def requests(self, items):
        """Submissions together as one Lead API batch, dispositions one by one."""
        submits = [item for item in items if item.kind == SUBMIT_KIND]
        return ([submits] if submits else []) + [[item] for item in items if item.kind != SUBMIT_KIND]

    def unconfirmed_policy(self, item) -> str:
        """A submission whose answer was lost is looked up by its ExternalId before
        it is sent again (the Lead OData API); an activity is sent again."""
        return LOOKUP if item.kind == SUBMIT_KIND else RESEND

    def send(self, http, items):
        client = AimbaseClient(self.account, http)
        if items[0].kind == SUBMIT_KIND:
            outcomes = self._submit(client, items)
            return [outcomes[item.pk] for item in items]
        return [self._post_activity(client, item) for item in items]

    def _post_activity(self, client: AimbaseClient, item) -> SendOutcome:
        try:
            return SendOutcome.sent(status=200, response=client.post_activity(item.payload))
        except VendorError as exc:
            outcome = SendOutcome.from_error(exc)
            if exc.status == 200:  # answered, with a failure message in the body
                return replace(outcome, response={"message": exc.message})
            return outcome

    def _submit(self, client: AimbaseClient, items) -> dict:
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
                uncertain.setdefault(_sent_external_id(item, client.options), []).append(item)
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
        records = _match_records(answer.records, identifiers)
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

    # --- dispositions (only for leads Aimbase accepted: adapters_for_lead) -----------
    def _activity(self, lead, *, entry_type: str, detail: str, user: str, at, dedupe_key: str = "",
                  status_log=None, detail_from: str = "") -> list[OutboundMessage]:
        known = aimbase_id(lead, self.account)
        if known is None:
            return []  # Aimbase gave no Id: the Disposition API cannot name the lead
        activity, problems = payloads.build_activity(at=at, entry_type=entry_type, detail=detail, user=user,
                                                     lead_id=lead.pk, aimbase_id=known, detail_from=detail_from)
        return [OutboundMessage(kind=DISPOSITION_KIND, payload=activity, problems=tuple(problems),
                                status_log=status_log, dedupe_key=dedupe_key)]

    def build_outbox_payload(self, lead, log):
        """The ProspectActivity for a status (or stage) change, or None when Aimbase
        is not told: the lead's Id in Aimbase is unknown, or the dealer mapped the
        status to no Aimbase status (a stage change goes as StageChanged)."""
        known = aimbase_id(lead, self.account)
        if log is None or known is None:
            return None, []
        user = log.actor_label or _user_label(log.actor)
        if log.from_status == log.to_status and log.from_stage_id != log.to_stage_id:
            old = log.from_stage.name if log.from_stage_id else "None"
            new = log.to_stage.name if log.to_stage_id else "None"
            return payloads.build_activity(at=log.created_at, entry_type="StageChanged", detail=f"{old}: {new}",
                                           user=user, lead_id=lead.pk, aimbase_id=known,
                                           detail_from='"Old Stage: New Stage" from the names of the sales stages')
        mapping = StatusMapping.objects.filter(dealer_id=lead.dealer_id, status=log.to_status,
                                               vendor=self.kind).first()
        if mapping is None:
            return None, []
        return payloads.build_activity(at=log.created_at, entry_type="StatusChanged", detail=mapping.vendor_value,
                                       user=user, lead_id=lead.pk, aimbase_id=known,
                                       detail_from="the dealer's status mapping to Aimbase")

    def messages_for_status_change(self, lead, log) -> list[OutboundMessage]:
        payload, problems = self.build_outbox_payload(lead, log)
        if payload is None and not problems:
            return []
        return [OutboundMessage(kind=DISPOSITION_KIND, payload=payload, problems=tuple(problems), status_log=log,
                                dedupe_key=f"status:{log.pk}")]

    def messages_for_followup(self, lead, followup, *, event: str) -> list[OutboundMessage]:
        """A scheduled follow-up is a FollowUp entry, a completed one an Activity;
        the detail is the activity type (payloads.FOLLOWUP_ACTIVITY). DealershipUser
        is "who did it": whoever completed it, or whoever scheduled it (its
        creator, not the salesperson it is assigned to)."""
        detail = payloads.FOLLOWUP_ACTIVITY.get(followup.kind, "Note")
        if event == "completed":
            return self._activity(lead, entry_type="Activity", detail=detail, user=_user_label(followup.done_by),
                                  at=followup.done_at or timezone.now(), dedupe_key=f"followup:{followup.pk}:done")
        return self._activity(lead, entry_type="FollowUp", detail=detail, user=_user_label(followup.created_by),
                              at=timezone.now(), dedupe_key=f"followup:{followup.pk}:scheduled")

    def messages_for_owner_change(self, lead, actor=None) -> list[OutboundMessage]:
        """A new owner: StatusChanged "Assigned" (a status change Aimbase lists and
        maps) with DealershipUser "who did it" (`actor`, the user who assigned;
        omitted when LeadHub assigned it itself). Unassigning is not reported."""
        if not lead.owner_id:
            return []
        return self._activity(lead, entry_type="StatusChanged", detail="Assigned", user=_user_label(actor),
                              at=timezone.now())

    def rebuild_outbox_payload(self, item):
        if item.kind == DISPOSITION_KIND:
            # A blocked activity breaks a length/format rule of its own content; it
            # is rebuilt only for status changes (the others keep their payload).
            if item.status_log_id:
                return self.build_outbox_payload(item.lead, item.status_log)
            return item.payload, rules.disposition_violations(item.payload)
        return super().rebuild_outbox_payload(item)


def _sent_external_id(item, options) -> str:
    """The ExternalId the item's last request carried (the account's prefix may
    have changed since)."""
    stamped = (item.response or {}).get("request") or {}
    return str(stamped.get("ExternalId") or item.payload.get("ExternalId") or payloads.external_id(item.lead, options))


def _match_records(records: list[dict], identifiers: list[str]) -> list[dict | None]:
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
