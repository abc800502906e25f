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

from dataclasses import dataclass
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
            value = (secrets.get(f.key) if f.secret else options.get(f.key)) or ""
            if f.required and not str(value).strip():
                missing.append(f.key)
        return missing

    def check_status_change(self, lead: Lead, change) -> list[Violation]:
        """Vendor rules a status change must satisfy before it is recorded.

        `change` is apps.leads.services.StatusChange. The base adds none.
        """
        return []

    def record_status_change(self, lead: Lead, log) -> None:
        """Queue whatever the vendor must be told about this change.

        Called by the status service inside the transaction that wrote `log`, so
        the change and its outbound message commit together or not at all. The
        base queues nothing (a vendor without outbound status reporting).
        """

