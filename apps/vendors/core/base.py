"""The vendor contract: what every vendor integration implements, the results it
hands back, and its one error type.

A vendor is a Django app apps/vendors/<kind>/ whose adapter subclasses
VendorAdapter. The adapter never writes a sync row: it returns messages
(OutboundMessage) and outcomes (SendOutcome, ApplyResult); the lead services,
the outbox and the engine write the rows and own the policy around them
(ordering, retries, holding back, marking before sending, alerts). So this
module imports nothing of apps.leads or apps.sync.

The contract has five parts, in this order below:
- declarations: who the vendor is, what an account needs, what it supports;
- rules: what the vendor adds to a dealer's change (violations as data);
- inbound: fetching, parsing and applying pages of leads;
- outbound: the messages a change produces, building payloads and sending;
- retention: how retention reads a stored page.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import ClassVar

from apps.core.violations import Violation

from .staff_words import held_for_staff

# The kind of message that submits a dealer's lead to a vendor (one per lead and
# account); the other kinds are the vendor's own ("status_update" by default).
SUBMIT_KIND = "submit"
STATUS_KIND = "status_update"


class VendorError(Exception):
    """A vendor call failed.

    permanent=True: repeating the same request cannot help (400, bad credentials
    after a refresh, a rule violation); the item is marked failed with `message`
    shown to the dealer. permanent=False: a retry may help (5xx, 429, timeout,
    connection reset); `retry_after` (seconds) is honoured when the vendor sent it.

    For a transport failure, `reached` says whether the request may have reached
    the vendor (False: the connection was never made, so nothing was received;
    True: sent, then the answer was lost or cut; None: not a transport failure or
    unknown) and `received_status` is the status line read before the body was
    lost, if any.
    """

    def __init__(self, message: str, *, permanent: bool, status: int | None = None,
                 retry_after: float | None = None, reached: bool | None = None,
                 received_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.reached = reached
        self.received_status = received_status

    @property
    def credentials_refused(self) -> bool:
        return self.permanent and self.status in (401, 403)


class PageUnreadable(Exception):
    """A vendor page that cannot be parsed (malformed or truncated body). The page
    stays stored as received; its leads are recovered by reconciliation."""


@dataclass
class ApplyResult:
    """What applying one page of vendor items did. `notes`: items flagged for a
    person's review (reported on the run, they do not fail it)."""

    created: int = 0
    updated: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class ParsedPage:
    """A page's items, plus whatever the adapter precomputed from them without
    the database (prepare_page may run in the prefetch thread).

    cursor: for an incremental feed (a search sorted by last update), the
    position to resume from once this page is applied; the engine stores it in
    AccountSyncState.cursor in the same transaction as the page's leads, so a
    crash resumes exactly after the last applied page. None: no position.
    """

    items: list
    prepared: object = None
    cursor: dict | None = None


@dataclass(frozen=True, kw_only=True)
class OutboundMessage:
    """One message a vendor must be told, as an adapter builds it; the outbox
    queues it (pending, or blocked by `problems`, shown on the lead).

    dedupe_key: unique per account when set (the database refuses a second one:
    a follow-up reported once). status_log: the StatusLog it reports, if any."""

    kind: str
    payload: dict | None
    problems: tuple[Violation, ...] = ()
    status_log: object = None
    dedupe_key: str = ""


@dataclass(frozen=True, kw_only=True)
class SendOutcome:
    """What the vendor answered to one sent message. Build it with the named
    constructors: SendOutcome.sent(), .refused(), .retry_later().

    may_have_reached (a failure to retry): the vendor may have acted on the
    request although LeadHub read no answer (a timeout after sending, a cut
    answer); the engine then keeps the item marked unconfirmed and applies the
    adapter's unconfirmed_policy before sending it again.
    credentials_refused (a refusal): the account's credentials were refused; the
    engine alerts the account's IT once until a message goes through again."""

    ok: bool
    permanent: bool = False
    message: str = ""
    status: int | None = None
    retry_after: float | None = None
    response: dict | None = None  # what the vendor answered for this item (stored on the item)
    may_have_reached: bool = False
    credentials_refused: bool = False

    @classmethod
    def sent(cls, *, status: int | None = None, response: dict | None = None) -> "SendOutcome":
        return cls(ok=True, status=status, response=response)

    @classmethod
    def refused(cls, message: str, *, status: int | None = None, response: dict | None = None,
                credentials_refused: bool = False) -> "SendOutcome":
        return cls(ok=False, permanent=True, message=message, status=status, response=response,
                   credentials_refused=credentials_refused)

    @classmethod
    def retry_later(cls, message: str, *, status: int | None = None, retry_after: float | None = None,
                    response: dict | None = None, may_have_reached: bool = False) -> "SendOutcome":
        return cls(ok=False, message=message, status=status, retry_after=retry_after, response=response,
                   may_have_reached=may_have_reached)

    @classmethod
    def from_error(cls, exc: VendorError) -> "SendOutcome":
        if exc.permanent:
            return cls.refused(exc.message, status=exc.status, credentials_refused=exc.credentials_refused)
        return cls.retry_later(exc.message, status=exc.status, retry_after=exc.retry_after,
                               may_have_reached=exc.reached is not False)


@dataclass(frozen=True)
class SettingField:
    """One setting a vendor account needs. Secret ones are encrypted at rest,
    write-only in the admin and never logged."""

    key: str
    label: str
    secret: bool = False
    required: bool = True
    help_text: str = ""
    default: str = ""


@dataclass(frozen=True)
class MappingList:
    """A dealer list that must (or may) be mapped to this vendor's values.

    choices: the vendor's fixed values; empty when the values are the vendor
    organisation's own (e.g. Capillary reason ids fetched per account), in which
    case the mapping's vendor_code carries the vendor's id.
    """

    label: str
    required: bool
    choices: tuple[str, ...] = ()
    source: str = ""  # where in the vendor's document the list comes from


@dataclass(frozen=True)
class EndpointPreset:
    label: str
    base_url: str
    token_url: str = ""


# What the engine does with a message whose earlier attempt may have reached the
# vendor without LeadHub reading the answer (SendOutcome.may_have_reached, or a
# worker that died while sending): see VendorAdapter.unconfirmed_policy.
RESEND = "resend"
LOOKUP = "lookup"
HOLD = "hold"


class VendorAdapter:
    # --- declarations -------------------------------------------------------------------
    kind: ClassVar[str]
    verbose_name: ClassVar[str]
    # What staff call the vendor in a sentence ("Cat needs a comment..."); the
    # verbose name names the API, for admins and IT.
    staff_name: ClassVar[str]
    # The default feedback target: business hours within which the vendor should
    # have the first outcome of a lead it sent (a VendorAccount may set its own).
    # None: the vendor takes no outcome reports, so it has no feedback target.
    # No vendor document sets one; LeadHub's default is one business day
    # (docs/reports.md).
    feedback_target_business_hours: ClassVar[int | None] = None
    document: ClassVar[str]  # file name in shared/vendor-docs
    settings_fields: ClassVar[tuple[SettingField, ...]] = ()
    endpoint_presets: ClassVar[dict[str, EndpointPreset]] = {}
    uses_token_url: ClassVar[bool] = False
    # reason kind (apps.leads.statuses.ReasonKind value) -> MappingList
    reason_lists: ClassVar[dict[str, MappingList]] = {}
    # sales stages -> vendor stage values (None: the vendor has no stages)
    stage_list: ClassVar[MappingList | None] = None
    # dealer lead status (apps.leads.statuses.Status value) -> vendor status values
    status_list: ClassVar[MappingList | None] = None
    supports_pull: ClassVar[bool] = False
    supports_historic: ClassVar[bool] = False
    # Takes status updates: messages_for_status_change queues build_outbox_payload.
    supports_push: ClassVar[bool] = False
    # Takes leads made by the dealer (CAP, Aimbase, Capillary's POST /leads):
    # build_submission, sent as a message of kind SUBMIT_KIND.
    supports_submit: ClassVar[bool] = False
    # True when fetch_pages resumes from a cursor (an incremental, re-readable
    # feed): the pull then stops at a page it cannot read instead of moving past
    # it, and the next run asks for that page again. A destructive feed (Cat)
    # moves on and reconciles instead.
    resumable_feed: ClassVar[bool] = False
    # True: hears of a lead's changes (messages_for_*) as soon as its submission
    # is queued, not only once the vendor accepted it; the engine holds those
    # messages behind the submission (they are later items of the same lead).
    hears_before_created: ClassVar[bool] = False

    def __init__(self, account):
        self.account = account

    @property
    def hears_owner_changes(self) -> bool:
        """Whether the vendor is told of a new owner (the adapter overrides
        messages_for_owner_change): a batch of assignments reads its leads whole
        only for these."""
        return type(self).messages_for_owner_change is not VendorAdapter.messages_for_owner_change

    @classmethod
    def secret_keys(cls) -> set[str]:
        return {f.key for f in cls.settings_fields if f.secret}

    @classmethod
    def option_keys(cls) -> set[str]:
        return {f.key for f in cls.settings_fields if not f.secret}

    @classmethod
    def missing_settings(cls, options: dict, secrets) -> list[str]:
        """Keys of required settings that have no value."""
        missing = []
        for f in cls.settings_fields:
            value = (secrets.get(f.key) if f.secret else options.get(f.key)) or f.default
            if f.required and not str(value).strip():
                missing.append(f.key)
        return missing

    @classmethod
    def mapping_values(cls, what: str, dealer_id: int | None) -> list[str]:
        """Values of a list whose choices are the vendor organisation's own
        (MappingList.choices empty), offered to the dealer's admin. None by default."""
        return []

    # --- rules (violations as data; nothing here writes) ----------------------------------
    @classmethod
    def check_mapping(cls, dealer_id: int, what: str, vendor_value: str, vendor_code: str,
                      sub_status: str = "") -> list[Violation]:
        """A dealer's mapping ("reason", "status" or "stage") checked against the
        vendor organisation's own lists where the vendor has them (Capillary's
        fetched reason ids and sub-statuses). None by default."""
        return []

    def check_status_change(self, lead, change) -> list[Violation]:
        """Vendor rules a status change (apps.leads.services.StatusChange) of
        `lead` must satisfy before it is recorded. The base adds none."""
        return []

    def required_form_fields(self, lead, to_status: str, *, actor=None, stage=None) -> set[str]:
        """The status form's fields the vendor requires for `to_status`, when the
        change picks `stage` (a SalesStage; None: the lead keeps its own). None by
        default."""
        return set()

    # validate_outbound(items) -> list[list[Violation]] (a classmethod): the vendor's
    # rules over a list of outbound messages, for `validate_payload`. Every vendor
    # defines it; the command refuses a vendor that does not.

    # --- inbound (the engine calls these only when supports_pull / _historic) -------------
    def fetch_pages(self, http, *, call, cursor: dict):
        """Yield RawResponses of new leads until the vendor has none; `call(fn, ...)`
        wraps each vendor call with LeadHub's retries. `cursor` is the position the
        last applied page left (AccountSyncState.cursor; {} at first): an
        incremental feed resumes from it and reports the next one in
        ParsedPage.cursor. A destructive feed (Cat) ignores it."""
        raise NotImplementedError

    def fetch_historic_pages(self, http, start, end, *, call):
        raise NotImplementedError

    def parse_page(self, body: bytes) -> list[dict]:
        """The items of a stored page; raises PageUnreadable."""
        raise NotImplementedError

    def prepare_page(self, body: bytes) -> ParsedPage:
        """Parse (and precompute from) a page body with no database access, so it
        can run while the previous page is written; raises PageUnreadable."""
        return ParsedPage(self.parse_page(body))

    def apply_page(self, page: ParsedPage, *, kind: str) -> ApplyResult:
        """Upsert the page's items into leads, through the lead services, inside
        the engine's transaction (which also marks the page processed)."""
        raise NotImplementedError

    def apply_pending(self, lead, rows: list) -> int:
        """Apply what this account sent for `lead` that LeadHub could not apply
        when it came (`rows`: the lead's PendingVendorValues of this account),
        with the dealer's mappings as they are now, through the same services
        a pull uses; settle (pending_resolve) what is applied and leave the
        rest. Runs inside a transaction of its own per lead, under the
        account's pull lock (apps.sync.engine.apply_pending); must be safe to
        run twice and must not report the applied change back to this account.
        Returns how many rows it settled. A vendor with no inbound leads has
        none to apply."""
        return 0

    # --- outbound --------------------------------------------------------------------------
    # Messages: called by the lead services inside the transaction of the change,
    # so the change and its messages commit together or not at all.
    def messages_for_status_change(self, lead, log) -> list[OutboundMessage]:
        """What the vendor must be told of `log` (a StatusLog): a status update
        when the vendor takes them (build_outbox_payload), else nothing."""
        if not self.supports_push:
            return []
        payload, problems = self.build_outbox_payload(lead, log)
        if payload is None and not problems:
            return []  # the vendor is not told about this status
        return [OutboundMessage(kind=STATUS_KIND, payload=payload, problems=tuple(problems), status_log=log)]

    def messages_for_followup(self, lead, followup, *, event: str) -> list[OutboundMessage]:
        """What the vendor must hear of a follow-up; `event` is "scheduled" or
        "completed". Nothing by default."""
        return []

    def messages_for_owner_change(self, lead, actor=None) -> list[OutboundMessage]:
        """What the vendor must hear of a new owner; actor: the user who assigned
        it (None: LeadHub itself). Nothing by default."""
        return []

    # Payloads: pure builders (the payload and the vendor rules it breaks).
    def build_outbox_payload(self, lead, log) -> tuple[dict | None, list[Violation]]:
        """The message reporting `log` (a StatusLog) to the vendor, or None when the
        vendor is not told about that status; violations block it."""
        return None, []

    def build_submission(self, lead) -> tuple[dict | None, list[Violation]]:
        """The message submitting `lead` to the vendor as a new lead, and the
        vendor's field rules it breaks (which block it, shown on the lead)."""
        raise NotImplementedError(f"{self.verbose_name} takes no lead submissions")

    def rebuild_outbox_payload(self, item) -> tuple[dict | None, list[Violation]]:
        """A blocked OutboxItem's message rebuilt from the lead as it is now (the
        dealer may have fixed a mapping or a field); the engine retries blocked
        items with it. Status updates and submissions by default; adapters with
        other kinds of message (item.kind) override."""
        if item.kind == SUBMIT_KIND:
            return self.build_submission(item.lead)
        return self.build_outbox_payload(item.lead, with_supplement(item.status_log, item.supplement))

    def form_field_for(self, key: str) -> str:
        """The status form's field (services.StatusChange's vocabulary) a finding
        on payload key `key` is about; adapters whose payload keys differ map them."""
        return key

    # Why staff wait for a held update, in their words (WHY: the vendor's reasons,
    # by payload key, for staff_words.for_staff).
    staff_why: ClassVar[dict[str, str]] = {}

    def held_for_staff(self, item, problems: list[Violation]) -> list[Violation]:
        """A blocked OutboxItem's problems said for staff: on the form field staff
        can fill to fix it, or on "" with who must (a dealer admin)."""
        log = item.status_log
        stage = (log.to_stage if log is not None and log.to_stage_id else None) or item.lead.sales_stage
        said = []
        for violation in problems:
            said.append(held_for_staff(
                self.staff_name, violation, field=self.form_field_for(violation.field),
                reason_label=log.reason_label if log is not None else "",
                stage_name=stage.name if stage is not None else "",
                status_label=log.get_to_status_display() if log is not None else "",
                why=self.staff_why.get(violation.field, "")))
        return said

    # Sending: the engine claims due items (one unfinished item per lead, oldest
    # first), marks them before sending, groups them with requests(), calls send()
    # per group and stops at a group the vendor could not take now.
    def requests(self, items: list) -> list[list]:
        """The claimed items grouped as the vendor takes them, in order: one
        request per item by default; a vendor taking arrays groups them."""
        return [[item] for item in items]

    def send(self, http, items: list) -> list[SendOutcome]:
        """Send one group of claimed OutboxItems (a request); one SendOutcome per
        item, in order. `item.unconfirmed` is True when an earlier attempt may have
        reached the vendor and the policy is LOOKUP: look for its effect first."""
        raise NotImplementedError

    def unconfirmed_policy(self, item) -> str:
        """For an item whose earlier attempt may have reached the vendor: RESEND
        (the vendor takes a repeat as the same message: an idempotent update),
        LOOKUP (send() looks the effect up before sending again), or HOLD (never
        resent automatically: failed, shown on the lead and alerted; "Retry now"
        resends). RESEND by default."""
        return RESEND

    def hold_advice(self, item) -> str:
        """What a person should check before resending a held item (HOLD)."""
        return f"ask {self.verbose_name} whether it has it; if not, use Retry now to send it again."

    def after_sent(self, item, outcome: SendOutcome) -> None:
        """Record what the vendor answered to a sent item (its id for a created
        lead, warnings...) on the lead; runs in the transaction that marks the
        item sent. Nothing by default."""

    def describe_outbox_item(self, item) -> str:
        """One line for the lead's timeline when the item was sent."""
        return item.kind.replace("_", " ")

    # --- retention ---------------------------------------------------------------------------
    def item_lead_id(self, item) -> str | None:
        """The vendor's lead id of one stored page item (None: it has none).

        Retention (apps/sync/retention.py) prunes a processed page only when every
        item's lead is held by LeadHub; a vendor that does not say how to read
        the id keeps its pages forever (NotImplementedError)."""
        raise NotImplementedError

    def linked_lead_ids(self, ids: list[str]) -> set[str]:
        """Which of these vendor lead ids name a lead LeadHub holds under another
        id (Capillary: a lead LeadHub submitted, by its link). Retention adds
        them to the account's leads found by vendor lead id. None by default."""
        return set()


def with_supplement(log, supplement: dict | None):
    """The status log an update is built from, with what staff added later for a
    held update (OutboxItem.supplement: the comment a reason mapped afterwards
    needs). The log itself is history and never changes; the copy is not saved."""
    if log is None or not (supplement or {}).get("comment"):
        return log
    completed = copy.copy(log)
    completed.comment = supplement["comment"]
    return completed
