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
    """

    def __init__(self, message: str, *, permanent: bool, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after


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
    the database (prepare_page may run in the prefetch thread)."""

    items: list
    prepared: object = None


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

    def check_status_change(self, lead: Lead, change) -> list[Violation]:
        """Vendor rules a status change must satisfy before it is recorded.

        `change` is apps.leads.services.StatusChange. The base adds none.
        """
        return []

    def required_form_fields(self, lead: Lead, to_status: str, *, actor=None) -> set[str]:
        """The status form's fields the vendor requires for `to_status`. None by default."""
        return set()

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

    def fetch_pages(self, http, *, call):
        """Yield RawResponses of new leads until the vendor has none; `call(fn, ...)`
        wraps each vendor call with LeadHub's retries."""
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

    def apply_items(self, items: list[dict], *, kind: str) -> ApplyResult:
        """Upsert the page's items into leads (inside the caller's transaction)."""
        raise NotImplementedError

    def prepare_page(self, body: bytes) -> ParsedPage:
        """Parse (and precompute from) a page body with no database access, so it
        can run while the previous page is written; raises PageUnreadable."""
        return ParsedPage(self.parse_page(body))

    def apply_page(self, page: ParsedPage, *, kind: str) -> ApplyResult:
        return self.apply_items(page.items, kind=kind)

    def build_outbox_payload(self, lead: Lead, log) -> tuple[dict | None, list[Violation]]:
        """The message reporting `log` (a StatusLog) to the vendor, or None when the
        vendor is not told about that status; violations block it."""
        return None, []

    def send(self, http, items) -> list:
        """Send claimed OutboxItems; one apps.sync.engine.SendOutcome per item."""
        raise NotImplementedError

    @classmethod
    def validate_outbound(cls, items: list) -> list[list[Violation]]:
        """Check a list of outbound messages with the vendor's rules (validate_payload)."""
        raise NotImplementedError(f"{cls.verbose_name}: validate_payload is not available yet")
