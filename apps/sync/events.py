"""Signals the sync engine sends, for apps above it (webhooks) to hear without
apps.sync importing them.

`outbox_items_failed(sender=OutboxItem, account=VendorAccount, items=[OutboxItem])`:
a vendor refused these messages for good (state failed: a permanent refusal,
never retried), sent for each item inside the transaction that marks it failed
(so the event and the failure commit together). Each item's `last_error`,
`last_status_code` and `attempts` (counting this one) hold the vendor's answer
and `item.lead` is loaded. Not sent for a transient failure still being
retried, nor for an item held because the vendor's answer was lost (the vendor
refused nothing; engine._hold).
"""
from django.dispatch import Signal

outbox_items_failed = Signal()
