"""Signals apps.leads sends for writes that bypass Model.save().

`leads_created(sender=Lead, lead_ids=[...])`: new leads made in LeadHub (a CSV
import) were inserted in bulk, inside the transaction that inserted them. Bulk
inserts send no post_save; receivers that act on new leads (routing) listen
here too, so apps.leads needs to know nothing of them.

`leads_arrived(sender=Lead, account=...)`: a vendor's pull inserted new leads
(apps/sync/engine.py), sent once the pull's work is committed. Their
`arrival_processed_at` is null until the arrivals job (apps/routing/arrivals.py)
has applied the dealer's assignment rules.

`owner_assigned(sender=Lead, lead_ids=[...], owner=user|None, actor=user|None, by=str)`:
leads were given to `owner` (by a person, an assignment rule or a vendor), or
taken from their owner (`owner` None: unassigned), inside the transaction that
did it; the notifications app tells a new owner. `actor` is the person who did
it (None: LeadHub or a vendor); `by` says how. Sent for every change of owner,
also a person taking a lead themselves (`actor` is `owner`: the notifications
app tells nobody; webhooks report it) and an unassignment (nobody is told;
webhooks report it). Receivers must accept `owner=None`.

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

`lead_moved(sender=Lead, lead_ids=[...], from_dealer_id=int, to_dealer_id=int, key=str)`:
leads moved from one dealer to another, inside the transaction that moved them:
leads nobody had worked yet, by a Cat shared account that now serves the lead's
catDealerCode (apps/vendors/cat/inbound.py apply_pending), or a lead made in
LeadHub whose dealer someone changed on its admin form (apps/leads/admin.py). `key` names the move
(stable if the same move is announced again), so a receiver can make its own
records of it idempotent. The webhooks app stops what the old dealer's endpoints
were still owed about the leads and tells the new dealer's (docs/webhooks.md).
"""
from django.dispatch import Signal

leads_created = Signal()
leads_arrived = Signal()
owner_assigned = Signal()
status_changed = Signal()
arrivals_processed = Signal()
lead_moved = Signal()
