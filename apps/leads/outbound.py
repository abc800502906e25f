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

from typing import ContextManager, Protocol


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
