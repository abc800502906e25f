"""Aimbase (shared/vendor-docs/aimbase-lead-api.txt, aimbase-related-apis.md).

Submit: leads the dealer made go to the Lead API in batches (POST
/marketing/api/lead?manufacturer=CODE, JSON or XML); each lead's fate is its own
response record. Push: what the dealer then does with a lead Aimbase accepted
(status changes, follow-ups, a new owner) goes to the Disposition API as one
ProspectActivity each. Decisions: docs/vendors/aimbase.md.
"""
from __future__ import annotations

from django.utils import timezone

from apps.leads.models import StatusMapping
from apps.sync.models import OutboxItem, OutboxState
from apps.sync.outbox import submission_key
from apps.vendors.core.base import (LOOKUP, RESEND, SUBMIT_KIND, MappingList, OutboundMessage, SettingField,
                                    VendorAdapter, with_supplement)

from . import outbound, payloads, rules
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
    staff_name = "Aimbase"
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
            outcomes = outbound.submit_batch(client, items)
            return [outcomes[item.pk] for item in items]
        return [outbound.post_activity(client, item) for item in items]

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
                return self.build_outbox_payload(item.lead, with_supplement(item.status_log, item.supplement))
            return item.payload, rules.disposition_violations(item.payload)
        return super().rebuild_outbox_payload(item)
