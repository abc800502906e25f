"""Signals apps.leads sends for writes that bypass Model.save().

`leads_created(sender=Lead, lead_ids=[...])`: new leads made in LeadHub (a CSV
import) were inserted in bulk, inside the transaction that inserted them. Bulk
inserts send no post_save; receivers that act on new leads (routing) listen
here too, so apps.leads needs to know nothing of them.
"""
from django.dispatch import Signal

leads_created = Signal()
