"""The interface every vendor integration implements, and its one error type.

A vendor is a package apps/vendors/<kind>/ whose adapter class declares:
- what an account of that vendor needs (settings_fields: which are secret, which
  required), and the endpoint presets from the vendor's document;
- which of the dealer's lists must be mapped to which vendor values
  (mapping_lists), so the admin can offer the vendor's values and show what is
  unmapped;
- the rules it adds to a status change (check_status_change), called by the one
  status service.
Transport and sync methods (pull, push, submit) are added per vendor by the
integration issues; the sync layer calls them through this interface only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from apps.core.violations import Violation

if TYPE_CHECKING:  # pragma: no cover
    from apps.leads.models import Lead


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
    lost, if any. A vendor that creates something per request (a lead
    submission) uses them to never resend what the vendor may already have.
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


class PageUnreadable(Exception):
    """A vendor page that cannot be parsed (malformed or truncated body). The page
    stays stored as received; its leads are recovered by reconciliation."""


@dataclass
class ApplyResult:
    """What applying one page of vendor items did."""

    created: int = 0
    updated: int = 0
    notes: list[str] = field(default_factory=list)  # anything flagged for review


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


class VendorAdapter:
    kind: ClassVar[str]
    verbose_name: ClassVar[str]
    document: ClassVar[str]  # file name in shared/vendor-docs
    settings_fields: ClassVar[tuple[SettingField, ...]] = ()
    endpoint_presets: ClassVar[dict[str, EndpointPreset]] = {}
    # reason kind (apps.leads.models.ReasonKind value) -> MappingList
    reason_lists: ClassVar[dict[str, MappingList]] = {}
    # sales stages -> vendor stage values (None: the vendor has no stages)
    stage_list: ClassVar[MappingList | None] = None
    # dealer lead status (apps.leads.statuses.Status value) -> vendor status values
    status_list: ClassVar[MappingList | None] = None
    uses_token_url: ClassVar[bool] = False
    supports_pull: ClassVar[bool] = False
    supports_historic: ClassVar[bool] = False
    supports_push: ClassVar[bool] = False
    # Takes leads made by the dealer (CAP, Aimbase, Capillary's POST /leads):
    # build_submission, then send() with items of kind "submit".
    supports_submit: ClassVar[bool] = False
    # True when fetch_pages resumes from a cursor (an incremental, re-readable
    # feed): the pull then stops at a page it cannot read instead of moving past
    # it, and the next run asks for that page again. A destructive feed (Cat)
    # moves on and reconciles instead.
    resumable_feed: ClassVar[bool] = False
    # True: hear of a lead's changes (record_* hooks) as soon as its submission is
    # queued, not only once the vendor accepted it; send() then holds those
    # messages until the vendor created the lead (apps.sync.outbox.adapters_for_lead).
    hears_before_created: ClassVar[bool] = False

    def __init__(self, account):
        self.account = account

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
    def check_mapping(cls, dealer_id: int, what: str, vendor_value: str, vendor_code: str,
                      sub_status: str = "") -> list[Violation]:
        """A dealer's mapping ("reason", "status" or "stage") checked against the
        vendor organisation's own lists where the vendor has them (Capillary's
        fetched reason ids and sub-statuses). None by default."""
        return []

    @classmethod
    def mapping_values(cls, what: str, dealer_id: int | None) -> list[str]:
        """Values of a list whose choices are the vendor organisation's own
        (MappingList.choices empty), offered to the dealer's admin. None by default."""
        return []

    def check_status_change(self, lead: Lead, change) -> list[Violation]:
        """Vendor rules a status change must satisfy before it is recorded.

        `change` is apps.leads.services.StatusChange. The base adds none.
        """
        return []

    def required_form_fields(self, lead: Lead, to_status: str, *, actor=None) -> set[str]:
        """The status form's fields the vendor requires for `to_status`. None by default."""
        return set()

    def record_followup(self, lead: Lead, followup, *, event: str) -> None:
        """Queue what the vendor must hear of a follow-up; `event` is "scheduled"
        or "completed". Called inside the follow-up service's transaction (like
        record_status_change). Nothing by default."""

    def record_owner_change(self, lead: Lead, actor=None) -> None:
        """Queue what the vendor must hear of a new owner (inside the assignment
        service's transaction); actor: the user who assigned it (None: LeadHub
        itself). Nothing by default."""

    def record_status_change(self, lead: Lead, log) -> None:
        """Queue whatever the vendor must be told about this change.

        Called by the status service inside the transaction that wrote `log`, so
        the change and its outbound message commit together or not at all. A
        vendor that takes status updates (supports_push) gets an OutboxItem: queued,
        or blocked with the reason shown on the lead (an unmapped reason or stage).
        """
        if not self.supports_push:
            return
        from apps.sync.outbox import queue_status_update

        queue_status_update(self, lead, log)


    # --- sync interface (apps/sync/engine.py calls these) -------------------------------
    # A vendor sets supports_pull / supports_historic / supports_push and implements
    # the matching methods; the engine never calls a method whose flag is False.

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

    def item_lead_id(self, item) -> str | None:
        """The vendor's lead id of one stored page item (None: it has none).

        Retention (apps/sync/retention.py) prunes a processed page only when every
        item's lead is in the Lead table; a vendor that does not say how to read
        the id keeps its pages forever (NotImplementedError)."""
        raise NotImplementedError

    def stored_lead_ids(self, ids: list[str]) -> set[str]:
        """Which of these vendor lead ids LeadHub holds a lead for (retention's test
        that a page is not the only copy). The account's leads by vendor lead id; a
        vendor that links its ids to leads LeadHub created adds those."""
        from apps.leads.lookup import lead_ids_by_vendor_id

        return set(lead_ids_by_vendor_id(self.account.pk, ids))

    def apply_items(self, items: list[dict], *, kind: str) -> ApplyResult:
        """Upsert the page's items into leads (inside the caller's transaction)."""
        raise NotImplementedError

    def prepare_page(self, body: bytes) -> ParsedPage:
        """Parse (and precompute from) a page body with no database access, so it
        can run while the previous page is written; raises PageUnreadable."""
        return ParsedPage(self.parse_page(body))

    def apply_page(self, page: ParsedPage, *, kind: str) -> ApplyResult:
        return self.apply_items(page.items, kind=kind)

    def apply_pending(self, lead: Lead, rows: list) -> int:
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

    def build_outbox_payload(self, lead: Lead, log) -> tuple[dict | None, list[Violation]]:
        """The message reporting `log` (a StatusLog) to the vendor, or None when the
        vendor is not told about that status; violations block it."""
        return None, []

    def build_submission(self, lead: Lead) -> tuple[dict | None, list[Violation]]:
        """The message submitting `lead` to the vendor as a new lead, and the
        vendor's field rules it breaks (which block it, shown on the lead)."""
        raise NotImplementedError(f"{self.verbose_name} takes no lead submissions")

    def rebuild_outbox_payload(self, item) -> tuple[dict | None, list[Violation]]:
        """A blocked OutboxItem's message rebuilt from the lead as it is now (the
        dealer may have fixed a mapping or a field); the engine retries blocked
        items with it. Status updates and submissions by default; adapters with
        other kinds of message (item.kind) override."""
        from apps.sync.outbox import SUBMIT_KIND

        if item.kind == SUBMIT_KIND:
            return self.build_submission(item.lead)
        return self.build_outbox_payload(item.lead, item.status_log)

    def describe_outbox_item(self, item) -> str:
        """One line for the lead's timeline when the item was sent."""
        return item.kind.replace("_", " ")

    def after_sent(self, item, outcome) -> None:
        """Record what the vendor answered to a sent item (its id for a created
        lead, warnings...) on the lead; runs in the transaction that marks the
        item sent. Nothing by default."""

    def send(self, http, items) -> list:
        """Send claimed OutboxItems; one apps.sync.engine.SendOutcome per item."""
        raise NotImplementedError

    @classmethod
    def validate_outbound(cls, items: list) -> list[list[Violation]]:
        """Check a list of outbound messages with the vendor's rules (validate_payload)."""
        raise NotImplementedError(f"{cls.verbose_name}: validate_payload is not available yet")
