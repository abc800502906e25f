"""Capillary LMS Leads v2 (shared/vendor-docs/capillary-lms-leads-v2.md).

Pull: GET /leads sorted by lastUpdatedOn, resumed from a watermark with an
overlap (feed.py explains why offsets alone lose leads); leads, follow-ups and
status logs are upserted keyed on Capillary ids (CapillaryLink). Push: new
leads (POST /leads), status changes (PUT /leads/{id}/status), completed
follow-ups (POST /leads/{id}/followup) and owner / extended fields
(PUT /leads/{id}), in order per lead. Decisions: docs/vendors/capillary.md.
"""
from __future__ import annotations

from django.db import transaction

from apps.core.violations import Violation
from apps.leads.models import FollowUp, ReasonMapping, StageMapping, StatusMapping
from apps.vendors.core.base import (LOOKUP, ApplyResult, MappingList, OutboundMessage, ParsedPage, SettingField,
                                    VendorAdapter, VendorError)
from apps.vendors.core.http import VendorHTTP, call_with_retries
from apps.vendors.core.staff_words import for_staff

from . import client as api
from . import feed, payloads, rules
from .inbound import Upsert, store_lists
from .models import CapillaryLink, CapillaryReason, CapillarySubStatus, LinkKind
from .outbound import Pusher, record_answer
from .rules import KIND_FOLLOWUP, KIND_STATUS, KIND_UPDATE, STATUSES

DOC = "capillary-lms-leads-v2.md"
SUBMIT = rules.KIND_CREATE


def _int_option(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


class CapillaryAdapter(VendorAdapter):
    kind = "capillary"
    verbose_name = "Capillary LMS Leads v2"
    staff_name = "Capillary"
    feedback_target_business_hours = 9  # one business day (docs/reports.md)
    document = DOC
    supports_pull = supports_push = supports_submit = True
    resumable_feed = True
    hears_before_created = True  # changes made while the lead is being created queue behind it (push.py)
    # The document says only "Authentication: Yes"; LeadHub uses HTTP Basic with
    # the organisation's API user (docs/vendors/capillary.md).
    settings_fields = (
        SettingField("username", "API username"),
        SettingField("password", "API password", secret=True),
        SettingField("org_source_id", "Org source id", required=False, default="-1",
                     help_text="orgSourceId sent with new leads and used to search; -1 is InStore."),
        SettingField("created_by", "Till / staff entity id", required=False,
                     help_text="Capillary entity id LeadHub writes as (createdBy); mandatory for follow-ups."),
        SettingField("default_reason_id", "Default reason id", required=False,
                     help_text="Capillary reason id sent with a status change that has no reason of its own "
                               "(e.g. Accepted); reasonId is mandatory on every status update."),
        SettingField("status_filter", "Pull only this status", required=False,
                     help_text="Optional: one of OPEN, WON, LOST, ON_HOLD, DELETED (the search's status filter)."),
    )
    # Reason ids are the organisation's own (GET /leads/reasons), so mappings carry
    # the Capillary reason id in vendor_code rather than a fixed value.
    reason_lists = {
        kind: MappingList("Capillary reason id", required, (), "GET /leads/reasons")
        for kind, required in (
            ("rejection", True), ("disqualification", True), ("closed_lost", True),
            ("closed_won", False), ("closed_no_deal", False), ("on_hold", False),
        )
    }
    status_list = MappingList("Capillary lead status", True, STATUSES, "Enums for status")
    # An accepted lead's sales stage may name the sub-status sent with it.
    stage_list = MappingList("Capillary sub-status", False, (), "GET /leads/substatuses")

    def __init__(self, account):
        super().__init__(account)
        self.created_answers: dict[int, dict] = {}  # outbox id -> the lead Capillary created (push.py)

    # --- mappings -------------------------------------------------------------------------
    def mappings(self) -> payloads.Mappings:
        dealer_id = self.account.dealer_id
        options = self.account.options or {}
        reasons = {}
        for reason_id, code in ReasonMapping.objects.filter(reason__dealer_id=dealer_id, vendor=self.kind).values_list(
                "reason_id", "vendor_code"):
            if _int_option(code) is not None:
                reasons[reason_id] = _int_option(code)
        return payloads.Mappings(
            statuses={s: (v, sub) for s, v, sub in StatusMapping.objects.filter(
                dealer_id=dealer_id, vendor=self.kind).values_list("status", "vendor_value", "vendor_sub_status")},
            stages=dict(StageMapping.objects.filter(stage__dealer_id=dealer_id, vendor=self.kind).values_list(
                "stage_id", "vendor_value")),
            reasons=reasons,
            default_reason_id=_int_option(options.get("default_reason_id")),
            created_by=_int_option(options.get("created_by")),
            org_source_id=_int_option(options.get("org_source_id")) if _int_option(
                options.get("org_source_id")) is not None else -1,
        )

    @classmethod
    def mapping_values(cls, what: str, dealer_id: int | None) -> list[str]:
        """Sub-statuses fetched for the dealer's Capillary accounts (the stage list)."""
        if what != "stage" or dealer_id is None:
            return []
        subs = CapillarySubStatus.objects.filter(account__dealer_id=dealer_id, account__vendor=cls.kind)
        accepted = cls._accepted_status(dealer_id)
        if accepted:  # a stage names a sub-status of the status an accepted lead has
            subs = subs.filter(status=accepted)
        return sorted(set(subs.values_list("sub_status", flat=True)))

    @classmethod
    def _accepted_status(cls, dealer_id: int) -> str | None:
        return (StatusMapping.objects.filter(dealer_id=dealer_id, vendor=cls.kind, status="accepted")
                .values_list("vendor_value", flat=True).first())

    @classmethod
    def check_mapping(cls, dealer_id: int, what: str, vendor_value: str, vendor_code: str,
                      sub_status: str = "") -> list[Violation]:
        """A dealer admin's mapping checked against the organisation's fetched lists
        (the reasons and sub-statuses of the dealer's Capillary accounts)."""
        if what == "reason":
            known = set(CapillaryReason.objects.filter(account__dealer_id=dealer_id,
                                                       account__vendor=cls.kind).values_list("reason_id", flat=True))
            return rules.reason_id_violations(vendor_code, known)
        known_subs = set(CapillarySubStatus.objects.filter(account__dealer_id=dealer_id, account__vendor=cls.kind)
                         .values_list("status", "sub_status"))
        if what == "status":
            return rules.substatus_violations(vendor_value, sub_status, known_subs)
        if what == "stage":  # the sub-status of whatever status Accepted maps to
            # "Retrieves all the sub-statuses added (for each status)": a sub-status
            # belongs to one status, and Capillary refuses it with another.
            accepted = cls._accepted_status(dealer_id)
            if accepted:
                return rules.substatus_violations(accepted, vendor_value, known_subs, field="vendor_value")
            names = {name for _, name in known_subs}
            if names and vendor_value not in names:
                return [Violation("vendor_value", "unknown", f"{vendor_value!r} is not one of the organisation's "
                                                             f"sub-statuses ({', '.join(sorted(names)) or 'none'}).")]
        return []

    # --- rules on a status change ---------------------------------------------------------
    def check_status_change(self, lead, change) -> list[Violation]:
        """Refused before anything is queued: a change Capillary would need a
        reason id for and that has none (reasonId is mandatory). An unmapped
        status does not stop the change; it blocks the message, visibly."""
        _, problems = payloads.reason_id_for(self.mappings(), change.to_status, change.reason)
        return [self._for_staff(v, change.reason) for v in problems]

    def _for_staff(self, violation: Violation, reason) -> Violation:
        """Capillary's reason finding in staff's words: what they can do now, and
        what a dealer admin can do (the vendor's sentence as the detail)."""
        if violation.code == "unmapped_reason":
            message = (f"Choose another reason, or ask a dealer admin to map '{reason.label}' to a Capillary "
                       "reason id: Capillary needs one with every status change.")
        elif violation.code == "no_reason_id":
            message = ("Ask a dealer admin to set the Capillary account's default reason id (Vendor accounts): "
                       "Capillary needs a reason id with every status change, and this outcome has no reason.")
        else:
            return for_staff(self.staff_name, violation, field="reason", why="with this status change")
        return Violation("reason", violation.code, message, detail=f"{self.staff_name}: {violation.message}")

    def required_form_fields(self, lead, to_status: str, *, actor=None, stage=None) -> set[str]:
        _, problems = payloads.reason_id_for(self.mappings(), to_status, None)
        return {"reason"} if problems else set()

    # --- outbound messages ----------------------------------------------------------------
    def build_outbox_payload(self, lead, log):
        if log is None:
            return None, []
        return payloads.build_status(self.mappings(), to_status=log.to_status, stage_id=log.to_stage_id,
                                     reason=log.reason, at=log.created_at)

    def build_submission(self, lead):
        if lead.vendor_account_id == self.account.pk:
            return None, [Violation("lead", "from_capillary", "This lead came from this Capillary account.")]
        extras = (lead.submission_extras or {}).get(self.kind, {})
        logs = tuple((log.to_status, log.to_stage_id, log.reason, log.created_at)
                     for log in lead.status_logs.select_related("reason").order_by("created_at", "id"))
        followups = tuple((f.scheduled_at, f.done_at, f.outcome_notes or f.notes, f.next_follow_up_at)
                          for f in FollowUp.objects.filter(lead=lead, done_at__isnull=False).order_by("done_at", "id"))
        facts = payloads.LeadFacts(
            lead_for=str(extras.get("leadFor") or lead.product_interest or "").strip(),
            type=str(extras.get("type") or "SKU"), user_id=_int_option(extras.get("userId")),
            email=lead.email, mobile=lead.mobile_phone or lead.phone, status=lead.status,
            stage_id=lead.sales_stage_id, created_at=lead.created_at, next_follow_up_at=lead.next_follow_up_at,
            owner_username=lead.owner.get_username() if lead.owner_id else "",
            extended_fields=extras.get("extendedFields") or {}, status_logs=logs, followups=followups)
        return payloads.build_create(self.mappings(), facts)

    def messages_for_followup(self, lead, followup, *, event: str) -> list[OutboundMessage]:
        """Capillary records follow-ups that happened ("followedUpOn*"): a completed
        one is sent; a scheduled one is not (Capillary has no schedule call; its
        date goes out as nextFollowUp with the follow-up that precedes it)."""
        if event != "completed":
            return []
        payload, problems = self._followup_payload(lead, followup)
        return [OutboundMessage(kind=KIND_FOLLOWUP, payload=payload, problems=tuple(problems),
                                dedupe_key=f"{KIND_FOLLOWUP}:{followup.pk}")]

    def _followup_payload(self, lead, followup):
        return payloads.build_followup(self.mappings(), done_at=followup.done_at, scheduled_at=followup.scheduled_at,
                                       notes=followup.outcome_notes or followup.notes,
                                       next_at=followup.next_follow_up_at or lead.next_follow_up_at)

    def messages_for_owner_change(self, lead, actor=None) -> list[OutboundMessage]:
        """PUT /leads/{id} with the owner's username (and the extended fields).
        An unassigned lead has no owner to send: nothing is queued."""
        payload, problems = self._update_payload(lead)
        if payload is None and not problems:
            return []
        return [OutboundMessage(kind=KIND_UPDATE, payload=payload, problems=tuple(problems))]

    def _update_payload(self, lead):
        extras = (lead.submission_extras or {}).get(self.kind, {})
        return payloads.build_lead_update(owner_username=lead.owner.get_username() if lead.owner_id else None,
                                          extended_fields=extras.get("extendedFields"))

    def rebuild_outbox_payload(self, item):
        if item.kind == KIND_FOLLOWUP:
            followup = FollowUp.objects.filter(pk=int(item.dedupe_key.split(":")[1])).first()
            if followup is None:
                return None, [Violation("followup", "gone", "The follow-up was deleted.")]
            return self._followup_payload(item.lead, followup)
        if item.kind == KIND_UPDATE:
            return self._update_payload(item.lead)
        return super().rebuild_outbox_payload(item)

    def describe_outbox_item(self, item) -> str:
        payload = item.payload or {}
        if item.kind == KIND_STATUS:
            return f"status {payload.get('status')}" + (f" / {payload['subStatus']}" if payload.get("subStatus") else "")
        if item.kind == SUBMIT:
            return f"new lead for {payload.get('leadFor')}"
        if item.kind == KIND_FOLLOWUP:
            return f"follow-up of {payload.get('followedUpOn')}"
        return "owner / extended fields"

    @classmethod
    def validate_outbound(cls, items):
        return [rules.check_message(item) for item in items]

    # --- push -----------------------------------------------------------------------------
    def unconfirmed_policy(self, item) -> str:
        """A call whose answer was lost is looked up in Capillary before it is made
        again (a lead or follow-up created twice is not undone)."""
        return LOOKUP

    def send(self, http, items):
        return Pusher(self, http).send(items)

    def after_sent(self, item, outcome) -> None:
        record_answer(self, item, outcome)

    # --- pull -----------------------------------------------------------------------------
    def fetch_pages(self, http, *, call, cursor):
        """Refresh the organisation's lists, then read the search feed from the
        cursor (feed.Feed); every page is yielded (stored) before it is applied."""
        client = api.CapillaryClient(self.account, http)
        self._lists = (call(client.reasons), call(client.substatuses))
        self._cursors = {}
        for raw, next_cursor in feed.Feed(self.account, client, call, cursor or {}).pages():
            self._cursors[id(raw.body)] = next_cursor
            yield raw

    def prepare_page(self, body: bytes) -> ParsedPage:
        # The cursor a page leaves is known where it was fetched (its offset);
        # a stored page finished after a crash has none, so the cursor stays
        # where it was and the feed reads that page again (upserts are idempotent).
        cursor = getattr(self, "_cursors", {}).pop(id(body), None)
        return ParsedPage(payloads.parse_search_page(body), cursor=cursor)

    def parse_page(self, body: bytes) -> list[dict]:
        return payloads.parse_search_page(body)

    def item_lead_id(self, item):
        # parse_search_page keeps only items with an id; the lead (or, for a lead
        # LeadHub submitted, its CapillaryLink) holds the latest copy of the item.
        return str(item["id"]) if isinstance(item, dict) and item.get("id") is not None else None

    def linked_lead_ids(self, ids):
        linked = CapillaryLink.objects.filter(account=self.account, kind=LinkKind.LEAD, capillary_id__in=ids)
        return set(linked.values_list("capillary_id", flat=True))

    def apply_page(self, page: ParsedPage, *, kind: str) -> ApplyResult:
        lists = getattr(self, "_lists", None)
        if lists is not None:
            store_lists(self.account, *lists)
            self._lists = None
        return Upsert(self, self.mappings()).run(page.items)

    def apply_pending(self, lead, rows) -> int:
        # One Upsert (the mappings read once) for every lead of a run.
        if getattr(self, "_pending_upsert", None) is None:
            self._pending_upsert = Upsert(self, self.mappings())
        return self._pending_upsert.apply_pending(lead, rows)


# --- the organisation's lists from the admin and commands -------------------------------------

def refresh_lists(account) -> tuple[int, int]:
    """GET /leads/reasons and /leads/substatuses into LeadHub; (reasons, sub-statuses)."""
    http = VendorHTTP(vendor=account.vendor, account=account.name)
    try:
        client = api.CapillaryClient(account, http)
        reasons, subs = call_with_retries(client.reasons), call_with_retries(client.substatuses)
    finally:
        http.close()
    with transaction.atomic():
        return store_lists(account, reasons, subs)


def create_reason(account, text: str) -> list[Violation]:
    """POST /leads/reasons with one reason, then the lists refreshed."""
    problems = rules.check_reason({"reason": text})
    if problems:
        return problems
    return _create(account, lambda client: client.add_reasons([text.strip()]))


def create_substatus(account, status: str, sub_status: str) -> list[Violation]:
    problems = rules.check_substatus({"status": status, "subStatus": sub_status})
    if problems:
        return problems
    return _create(account, lambda client: client.add_substatus(status, sub_status.strip()))


def _create(account, fn) -> list[Violation]:
    http = VendorHTTP(vendor=account.vendor, account=account.name)
    try:
        fn(api.CapillaryClient(account, http))
    except VendorError as exc:
        return [Violation("capillary", "refused" if exc.permanent else "unavailable", exc.message)]
    finally:
        http.close()
    refresh_lists(account)
    return []

