"""Caterpillar PP+ Lead API V2 (shared/vendor-docs/cat-pp-lead-api-v2.txt).

Pull: GET /leads until empty (a destructive read: each lead comes once, so the
engine stores every page before processing it), GET /leads/historic to
reconcile. Push: POST /leads with a JSON array of updates built by payloads.py
and checked by rules.py. Decisions: docs/vendors/cat.md.
"""
from __future__ import annotations

import copy

from django.utils import timezone

from apps.core.violations import Violation
from apps.vendors.core.base import (EndpointPreset, MappingList, PageUnreadable, ParsedPage, SettingField,
                                    VendorAdapter, VendorError)
from apps.vendors.core.staff_words import for_staff

from . import inbound, outbound, payloads, rules
from .client import MAX_LIMIT, CatClient

DOC = "cat-pp-lead-api-v2.txt"

# When Cat needs a payload key, in staff's words (rules._requirements says it in
# the document's: the opportunity fields from 02/2/2021, dealerCustomerNumber
# from 03/22/2021, primaryClosedReason from 04/08/2021).
_OPPORTUNITY = "once the lead has a sales stage (Cat then counts it as an opportunity)"
WHY_CAT_NEEDS = {
    "opportunityAmount": _OPPORTUNITY, "targetDate": _OPPORTUNITY, "probabilityOfClosurePercentage": _OPPORTUNITY,
    "dealerOpportunityId": _OPPORTUNITY,
    "dealerCustomerNumber": "to close a lead that has been an opportunity (won, lost or no deal)",
    "primaryClosedReason": "to close a lead as lost",
    "rejectedReasonWhy": "to reject a lead", "disqualifiedReasonWhy": "to disqualify a lead",
    "currencyIsoCode": "with every update",
    "dateContacted": "when the customer was contacted",
}


class CatAdapter(VendorAdapter):
    kind = "cat"
    verbose_name = "Caterpillar PP+ Lead API V2"
    staff_name = "Cat"
    feedback_target_business_hours = 9  # one business day (docs/reports.md)
    document = DOC
    uses_token_url = True
    supports_pull = supports_historic = supports_push = True
    settings_fields = (
        SettingField("client_id", "Client ID", help_text="PingFederate client id issued by Cat IAM."),
        SettingField("client_secret", "Client secret", secret=True),
        SettingField("scope", "OAuth scope", default="manage:all",
                     help_text="The document's token request sends scope=manage:all."),
        SettingField("dealer_codes", "Other dealer codes", required=False,
                     help_text="Comma-separated codes of other LeadHub dealers whose Cat leads this account "
                               "receives (a dealer group's shared client id). Leads go to the dealer named by "
                               "catDealerCode."),
    )
    # "Testing Procedures" and "Production Information" of the document. The QA
    # service host changed on 06/05/2023 (modification history) to services-stg.
    endpoint_presets = {
        "qa": EndpointPreset("Cat QA", "https://services-stg.cat.com", "https://fedloginqa.cat.com/as/token.oauth2"),
        "production": EndpointPreset("Cat production", "https://services.cat.com",
                                     "https://fedlogin.cat.com/as/token.oauth2"),
    }
    # "Dealer Mapping: Rejection Reason, Disqualification Reason, Closed Lost
    # Reason, Sales Stage" are required. primaryClosedReason is optional for
    # Closed Won (04/08/2021) and Closed No Deal, so those mappings are optional.
    reason_lists = {
        "rejection": MappingList("Cat rejectedReasonWhy", True, tuple(rules.REJECTION_REASONS), "rejectedReasonWhy"),
        "disqualification": MappingList("Cat disqualifiedReasonWhy", True, tuple(rules.DISQUALIFICATION_REASONS),
                                        "disqualifiedReasonWhy"),
        "closed_lost": MappingList("Cat primaryClosedReason", True, tuple(rules.CLOSED_REASONS), "primaryClosedReason"),
        "closed_won": MappingList("Cat primaryClosedReason", False, tuple(rules.CLOSED_REASONS), "primaryClosedReason"),
        "closed_no_deal": MappingList("Cat primaryClosedReason", False, tuple(rules.CLOSED_REASONS),
                                      "primaryClosedReason"),
    }
    # Open stages only: Closed Won / Lost / No Deal are lead outcomes in LeadHub.
    stage_list = MappingList(
        "Cat opportunity stage", True,
        tuple(s for s, (lo, hi) in rules.OPPORTUNITY_STAGES.items() if 0 < lo and hi < 100),
        "Caterpillar Opportunity Stages",
    )

    staff_why = WHY_CAT_NEEDS

    def form_field_for(self, key: str) -> str:
        return payloads.FORM_FIELD_FOR.get(key, key)

    def __init__(self, account):
        super().__init__(account)
        # Sales rep numbers by (user id, dealer id), for this adapter's lifetime:
        # one request, one push, or one bulk import (which shares its adapters).
        self._reps: dict = {}

    @staticmethod
    def probability_range(stage: str) -> tuple[int, int]:
        return rules.probability_range(stage)

    # --- rules on a status change ------------------------------------------------------
    def check_status_change(self, lead, change) -> list[Violation]:
        """Cat's rules for the update this change would send, named on the form's
        fields. An unmapped reason or stage does not stop the change: it blocks the
        push, visibly, until a dealer admin maps it."""
        future = copy.copy(lead)
        for name, value in (change.updates or {}).items():
            setattr(future, name, value)
        # The probability the change leaves (as the status service sets it), checked
        # against the stage's Cat range here, where staff can still fix it.
        if change.probability is not None:
            future.probability = change.probability
        elif change.stage is not None and change.stage.default_probability is not None:
            future.probability = change.stage.default_probability
        if future.first_contacted_at is None and lead.status == "new":
            future.first_contacted_at = timezone.now()
        _, problems = payloads.build_update(lead=future, to_status=change.to_status, reason=change.reason,
                                            stage=change.stage, comment=change.comment, actor=change.actor,
                                            rep_cache=self._reps)
        reason_label = change.reason.label if change.reason is not None else ""
        return [for_staff(self.staff_name, v, field=self.form_field_for(v.field),
                          why=self.staff_why.get(v.field, ""), reason_label=reason_label)
                for v in problems if v.code != "unmapped"]

    def required_form_fields(self, lead, to_status: str, *, actor=None, stage=None) -> set[str]:
        """The status form's fields Cat requires for `to_status` (rules.required_fields
        on the update this change would send; the acting user stands in for a
        missing owner as the dealerSalesRep, as on the real change). Picking a
        stage makes an accepted lead an opportunity, which needs its amount and
        target date (02/2/2021)."""
        payload, _ = payloads.build_update(lead=lead, to_status=to_status, stage=stage or lead.sales_stage,
                                           actor=actor, rep_cache=self._reps)
        if payload is None:
            return set()
        fields = rules.required_fields(payload)
        if to_status in ("rejected", "disqualified", "closed_lost"):
            fields.add({"rejected": "rejectedReasonWhy", "disqualified": "disqualifiedReasonWhy"}.get(
                to_status, "primaryClosedReason"))
        # LeadHub fills these in itself: the ids, the status, the sales rep (owner, else
        # the person saving), dateContacted (when the lead first left New), and the
        # probability of a closed lead.
        fields -= {"dealerOpportunityId", "dealerLeadId", "leadId", "leadStatus", "dealerSalesRep",
                   "dealerSalesRepNumber", "dateContacted"}
        if to_status != "accepted":
            fields.discard("probabilityOfClosurePercentage")
        return {payloads.FORM_FIELD_FOR[f] for f in fields if f in payloads.FORM_FIELD_FOR}

    def build_outbox_payload(self, lead, log):
        if log is None:
            return None, []
        return payloads.build_update(lead=lead, to_status=log.to_status, reason=log.reason, stage=log.to_stage,
                                     comment=log.comment, actor=log.actor, at=log.created_at, rep_cache=self._reps)

    def describe_outbox_item(self, item) -> str:
        return item.payload.get("leadStatus") or super().describe_outbox_item(item)

    @classmethod
    def validate_outbound(cls, items):
        return rules.validate_batch(items)

    # --- pull ---------------------------------------------------------------------------
    def fetch_pages(self, http, *, call, cursor=None):
        """GET /leads?limit=100 "until all PSEs are ingested and GET call returns 0
        leads"; "no further GET calls should be made after an empty response"."""
        client = CatClient(self.account, http)
        while True:
            raw = call(client.get_leads, MAX_LIMIT)
            if raw.status_code == 204 or inbound.is_empty_array(raw.body):
                return
            yield raw

    def fetch_historic_pages(self, http, start, end, *, call):
        client = CatClient(self.account, http)
        offset = 0
        while True:
            raw = call(client.get_historic, start.isoformat(), end.isoformat(), offset, MAX_LIMIT)
            if raw.status_code == 204 or inbound.is_empty_array(raw.body):
                return
            yield raw
            try:
                count = len(self.parse_page(raw.body))
            except PageUnreadable as exc:
                raise VendorError(f"historic page at offset {offset} unreadable: {exc}", permanent=False) from None
            if count < MAX_LIMIT:
                return
            offset += count

    def parse_page(self, body: bytes) -> list[dict]:
        return [item for item, _ in inbound.parse_items(body)]

    def item_lead_id(self, item):
        return (str(item.get("leadId") or "").strip() or None) if isinstance(item, dict) else None

    def prepare_page(self, body: bytes) -> ParsedPage:
        parsed = inbound.parse_items(body)
        return ParsedPage([item for item, _ in parsed], inbound.prepare(parsed, self.account.pk))

    def apply_page(self, page: ParsedPage, *, kind):
        return inbound.CatUpsert(self.account, kind).run(page.prepared)

    def apply_pending(self, lead, rows) -> int:
        return inbound.apply_pending(self.account, lead, rows)

    # --- push ---------------------------------------------------------------------------
    def requests(self, items):
        """Arrays that never name one leadId twice (docs/vendors/cat.md, "One update
        per lead per request"); the engine claims one item per lead, so usually one."""
        return outbound.requests_without_repeated_leads(items)

    def send(self, http, items):
        return outbound.send_request(self.account, http, items)
