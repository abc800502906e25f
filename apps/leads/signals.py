"""Signals apps.leads sends for writes that bypass Model.save().

`leads_created(sender=Lead, lead_ids=[...])`: new leads made in LeadHub (a CSV
import) were inserted in bulk, inside the transaction that inserted them. Bulk
inserts send no post_save; receivers that act on new leads (routing) listen
here too, so apps.leads needs to know nothing of them.

`leads_arrived(sender=Lead, account=...)`: a vendor's pull inserted new leads
(apps/sync/engine.py), sent once the pull's work is committed. Their
`arrival_processed_at` is null until the arrivals job (apps/routing/arrivals.py)
has applied the dealer's assignment rules.

`owner_assigned(sender=Lead, lead_ids=[...], owner=user, actor=user|None, by=str)`:
leads were given to `owner` (by a person, an assignment rule or a vendor),
inside the transaction that did it; the notifications app tells the owner.
`actor` is the person who did it (None: LeadHub or a vendor); `by` says how.
Sent for every assignment, also a person taking a lead themselves (`actor` is
`owner`: the notifications app tells nobody; webhooks report it).

`status_changed(sender=Lead, logs=[StatusLog, ...])`: leads' statuses changed
through the status services (lead_apply_status_change, lead_change_status_many,
lead_record_vendor_status), inside the transaction that wrote them; each log
carries the lead (`log.lead`, as saved), from/to status and the actor's label.
The webhooks app queues its `lead.status_changed` deliveries here.

`arrivals_processed(sender=Lead, lead_ids=[...])`: new leads of any origin
(a vendor's pull, an import, a lead entered by hand) had their arrival
processed (apps/routing/arrivals.process_leads: assignment, customer match),
inside that transaction; sent once per lead. The webhooks app queues its
`lead.created` deliveries here.
"""
from django.dispatch import Signal

leads_created = Signal()
leads_arrived = Signal()
owner_assigned = Signal()
status_changed = Signal()
arrivals_processed = Signal()
