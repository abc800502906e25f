"""What LeadHub does to every lead that arrives: the dealer's assignment rules
(assignment.py) and recognising the same customer from another vendor
(apps/leads/customers.py). `Lead.arrival_processed_at` says it is done.

- A lead made in LeadHub (by hand, the admin, a CSV import) is processed at once,
  in the transaction that creates it (signals.py): its explicit owner, if any, is
  already in the row.
- A vendor's pull inserts its leads in bulk; `leads_arrived` (sent once the pull
  committed) queues `process_arrivals` as a django-q2 job right after it, so the
  pull is not slowed, and the vendor's own owner (Capillary's) is in place first.
  A one-minute schedule runs it too, so a lost task only delays a lead.

Each batch is claimed under row locks (skipped by a second worker, never
processed twice) and marked processed in the same transaction as its
assignments: a crash leaves the batch to be processed again, whole.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_q import tasks as django_q_tasks  # looked up per call: tests swap async_task
from django_q.models import Schedule

from apps.leads.customers import ARRIVING, recognise_customers
from apps.leads.models import Lead
from apps.leads.signals import arrivals_processed
from apps.leads.table_stats import lead_statistics_refresh_for_arrivals

from .assignment import assign_new_leads

log = logging.getLogger("leadhub.routing")
BATCH = 2000
SCHEDULE_NAME = "leadhub-arrivals"


def process_arrivals(*, max_batches: int | None = None) -> int:
    """Process the leads whose arrival is not processed yet, oldest first; returns
    how many were processed."""
    # A pull's thousands of new leads in a table the planner has no (or outgrown)
    # statistics of: analyzed first, or every timeline entry's foreign-key check
    # below may walk a wrong index (apps/leads/table_stats.py).
    lead_statistics_refresh_for_arrivals()
    done = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            read = list(Lead.objects.select_for_update(skip_locked=True).filter(
                arrival_processed_at__isnull=True).order_by("pk").values_list("owner_id", *ARRIVING)[:BATCH])
            if not read:
                break
            process_leads([Arrival(row[1], row[2], row[0]) for row in read], read=[row[1:] for row in read])
            batch = read
        done += len(batch)
        batches += 1
    if done:
        log.info("arrivals: %d lead(s) processed", done)
    return done


@dataclass
class Arrival:
    """What processing an arrival reads of a lead (a pull's leads are not loaded whole)."""
    pk: int
    dealer_id: int
    owner_id: int | None
    owner: object = None
    arrival_processed_at: object = None


def process_leads(leads: list, *, read: list[tuple] | None = None) -> None:
    """Apply what every new lead gets to these leads (Lead instances or Arrivals,
    inside the caller's transaction) and mark them processed. `read`: their
    customers.ARRIVING columns, when the caller has them."""
    assign_new_leads(leads)
    recognise_customers([lead.pk for lead in leads], read=read)
    now = timezone.now()
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(arrival_processed_at=now)
    for lead in leads:
        lead.arrival_processed_at = now  # a caller that saves its instance again keeps it
    # Every new lead of any origin passes here exactly once (the batch is claimed and
    # marked in this transaction): the one place "a lead was created" is known whole.
    arrivals_processed.send(sender=Lead, lead_ids=[lead.pk for lead in leads])


def queue_arrivals(**kwargs) -> None:
    """leads_arrived: the job right after a pull."""
    django_q_tasks.async_task("apps.routing.arrivals.process_arrivals", task_name="arrivals", group="arrivals")


def ensure_schedule(**kwargs) -> None:
    """The one-minute safety net (post_migrate), once."""
    Schedule.objects.get_or_create(name=SCHEDULE_NAME, defaults={
        "func": "apps.routing.arrivals.process_arrivals", "schedule_type": Schedule.MINUTES, "minutes": 1,
        "repeats": -1})
