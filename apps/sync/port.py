"""The outbox as the lead services use it (apps.leads.outbound.Outbox), installed
by SyncConfig.ready: leads sits below sync and never imports it."""
from __future__ import annotations

from . import held, outbox
from .models import OutboxItem, OutboxState


class OutboxForLeads:
    def adapters_for_leads(self, leads) -> dict:
        return outbox.adapters_for_leads(leads)

    def queue(self, adapter, lead, messages) -> None:
        outbox.queue_messages(adapter, lead, messages)

    def collecting(self):
        return outbox.collect_messages()

    def undelivered(self, lead_ref):
        return OutboxItem.objects.filter(lead=lead_ref, state__in=[OutboxState.BLOCKED, OutboxState.FAILED])

    def held(self, lead):
        return held.held_updates(lead)

    def complete_held(self, lead, item_id, *, comment, actor):
        return held.complete_held(lead, item_id, comment=comment, actor=actor)

    def recheck_for_mapping(self, **which):
        return held.recheck_for_mapping(**which)
