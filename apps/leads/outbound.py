"""How the lead services tell the vendors who know a lead what changed.

The services ask each adapter of the lead (adapters_for_lead: the account the
lead came from and the accounts it was submitted to) for its messages
(`messages_for_status_change`, `_followup`, `_owner_change`: pure, they write
nothing) inside the transaction of the change, and hand them to the outbox, so
a change and its messages commit together or not at all.

The outbox lives in apps.sync, which sits above leads (its rows point at
leads, and the engine writes leads through these services), so leads does not
import it: apps.sync installs its implementation here when Django starts
(SyncConfig.ready). Until then every use is an error, never a silent no-op: a
change no vendor hears of is a lost outcome.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ContextManager, Protocol

from apps.core.violations import Violation


@dataclass
class HeldUpdate:
    """A vendor update LeadHub holds back until its cause is fixed (a blocked
    outbox item), re-checked as the lead is now and said for staff.

    problems: each on the form field staff can fill to fix it (the comment, the
    customer number...), or on "" with who must act (a dealer admin maps a
    value); ready: nothing stops it any more (the next push sends it)."""

    item_id: int
    vendor: str
    account_name: str
    what: str
    since: datetime
    problems: list[Violation] = field(default_factory=list)
    ready: bool = False
    comment: str = ""

    @property
    def staff_fields(self) -> list[str]:
        return sorted({v.field for v in self.problems if v.field})

    @property
    def needs_admin(self) -> bool:
        return any(not v.field for v in self.problems)


class Outbox(Protocol):
    def adapters_for_leads(self, leads) -> dict[int, list]:
        """lead pk -> the adapters of every vendor account that knows the lead."""

    def queue(self, adapter, lead, messages) -> None:
        """Queue the adapter's OutboundMessages for `lead` (pending or blocked)."""

    def collecting(self) -> ContextManager:
        """Within the block, queued messages are inserted together when it ends."""

    def undelivered(self, lead_ref):
        """A queryset, for Exists(), of the lead's messages a vendor did not take
        (blocked or refused); `lead_ref` is the lead's pk or an OuterRef."""

    def held(self, lead) -> list[HeldUpdate]:
        """The lead's held updates, re-checked now, writing nothing."""

    def complete_held(self, lead, item_id: int, *, comment: str, actor) -> tuple[HeldUpdate | None, bool]:
        """Keep `comment` with the held update and re-check it: (what still holds
        it, or None; whether it was queued)."""

    def recheck_for_mapping(self, *, dealer_id: int, vendor: str, reason_id=None, stage_id=None, status=None):
        """Re-check the dealer's updates held for a value just mapped."""


_outbox: Outbox | None = None


def install(outbox: Outbox) -> None:
    global _outbox
    _outbox = outbox


def outbox() -> Outbox:
    if _outbox is None:
        raise RuntimeError("no outbox installed: apps.sync must be in INSTALLED_APPS (it installs itself in "
                           "SyncConfig.ready), so that vendors hear of every change")
    return _outbox


def adapters_for_lead(lead) -> list:
    return outbox().adapters_for_leads([lead])[lead.pk]


def adapters_for_leads(leads) -> dict[int, list]:
    return outbox().adapters_for_leads(leads)


def collecting() -> ContextManager:
    return outbox().collecting()


def report_status_change(adapters, lead, log) -> None:
    for adapter in adapters:
        outbox().queue(adapter, lead, adapter.messages_for_status_change(lead, log))


def report_followup(adapters, lead, followup, *, event: str) -> None:
    for adapter in adapters:
        outbox().queue(adapter, lead, adapter.messages_for_followup(lead, followup, event=event))


def report_owner_change(adapters, lead, *, actor=None) -> None:
    for adapter in adapters:
        outbox().queue(adapter, lead, adapter.messages_for_owner_change(lead, actor=actor))


def undelivered(lead_ref):
    return outbox().undelivered(lead_ref)


def held_updates(lead) -> list[HeldUpdate]:
    return outbox().held(lead)


def complete_held(lead, item_id: int, *, comment: str, actor) -> tuple[HeldUpdate | None, bool]:
    return outbox().complete_held(lead, item_id, comment=comment, actor=actor)


def recheck_for_mapping(**which):
    return outbox().recheck_for_mapping(**which)
