"""Route a lead when LeadHub creates it (by hand, CSV import, a walk-in screen),
and apply the dealer's assignment rules to it (arrivals.py).

A post_save receiver rather than calls in each create path: apps.leads stays
unaware of routing (it has no import of apps.routing), and every way a lead is
made in LeadHub, today's and future ones, is covered. It runs inside the
transaction that saves the lead (not on_commit), so the lead and its queued
submission commit together: a crash right after the commit cannot leave a new
lead that was never routed, and a rolled-back import (or its dry-run preview)
leaves no submission behind. Leads from vendors are bulk-inserted (no
post_save) and are skipped by routable() anyway.
"""
from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.leads.customers import ARRIVING
from apps.leads.models import EventKind, Lead, LeadEvent
from apps.leads.signals import leads_arrived, leads_created

from . import arrivals
from .models import RoutingRule
from .services import routable, route_lead

log = logging.getLogger("leadhub.routing")


@receiver(post_save, sender=Lead, dispatch_uid="routing.route_new_lead")
def route_new_lead(sender, instance: Lead, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw or not routable(instance):
        return
    try:
        with transaction.atomic():  # a savepoint: a routing bug must not cost the lead
            route_lead(instance)
    except Exception as exc:  # noqa: BLE001 - logged and shown on the lead; the lead itself is kept
        log.exception("routing lead %s failed", instance.pk)
        LeadEvent.objects.create(lead=instance, kind=EventKind.NOTE, actor_label="routing",
                                 summary=f"Routing failed ({exc.__class__.__name__}); submit it by hand "
                                         "from the lead's page.")


@receiver(leads_created, dispatch_uid="routing.route_new_leads")
def route_new_leads(sender, lead_ids, **kwargs) -> None:
    """Bulk-created leads (a CSV import) are routed like saved ones: only the
    dealers with an active rule cost any work, one query for the rest."""
    dealers = set(RoutingRule.objects.filter(active=True, dealer__leads__pk__in=list(lead_ids))
                  .values_list("dealer_id", flat=True).distinct()) if lead_ids else set()
    if not dealers:
        return
    for lead in Lead.objects.filter(pk__in=list(lead_ids), dealer_id__in=dealers).order_by("pk"):
        route_new_lead(Lead, lead, created=True)


@receiver(post_save, sender=Lead, dispatch_uid="routing.assign_new_lead")
def assign_new_lead(sender, instance: Lead, created: bool, raw: bool = False, **kwargs) -> None:
    """A lead made in LeadHub is assigned in the transaction that creates it; a
    vendor's lead waits for the arrivals job (its vendor's owner comes first)."""
    if not created or raw or instance.vendor_account_id or instance.arrival_processed_at is not None:
        return
    _process_safely([instance])


@receiver(leads_created, dispatch_uid="routing.assign_new_leads")
def assign_imported_leads(sender, lead_ids, **kwargs) -> None:
    """An import's batch: the columns processing reads, not whole leads (loading
    1,000 model instances per batch was a third of a 100,000-row import's time,
    bench/lead_import.py), as the arrivals job reads a pull's."""
    read = list(Lead.objects.filter(pk__in=list(lead_ids), arrival_processed_at__isnull=True,
                                    vendor_account__isnull=True).order_by("pk").values_list("owner_id", *ARRIVING))
    if read:
        _process_safely([arrivals.Arrival(row[1], row[2], row[0]) for row in read], read=[row[1:] for row in read])


def _process_safely(leads: list, *, read: list[tuple] | None = None) -> None:
    try:
        with transaction.atomic():  # a savepoint: an assignment bug must not cost the lead
            arrivals.process_leads(leads, read=read)
    except Exception:  # noqa: BLE001 - logged; the arrivals job tries the leads again
        log.exception("assigning new lead(s) %s failed; the arrivals job tries again", [lead.pk for lead in leads])


leads_arrived.connect(arrivals.queue_arrivals, dispatch_uid="routing.queue_arrivals")
