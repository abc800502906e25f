"""Signals the sync engine sends, for apps above it (webhooks) to hear without
apps.sync importing them.

`outbox_items_failed(sender=OutboxItem, account=VendorAccount, items=[OutboxItem])`:
a vendor refused these messages for good (state failed: a permanent refusal,
never retried), sent once per push batch right after they were marked failed.
Each item's `last_error` and `last_status_code` hold the vendor's answer and
`item.lead` is loaded. Not sent for a transient failure still being retried.
"""
from django.dispatch import Signal

outbox_items_failed = Signal()
