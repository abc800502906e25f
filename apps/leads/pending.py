"""Nothing a vendor sends is dropped: the values LeadHub could not apply yet.

A lead a vendor sends is always stored, whatever in it the dealer has not
mapped or LeadHub does not know (a Capillary status with no status mapping, a
Cat dealer code the account does not serve, an owner who is not one of the
dealer's people). What could not be applied becomes a PendingVendorValue: the
lead is flagged for review with a note naming the field and the vendor's value,
sync health counts it per account, and the vendor's adapter applies it
(VendorAdapter.apply_pending) as soon as the mapping exists — when a dealer
admin saves one (apps/sync/signals.py queues apps.sync.tasks.apply_pending_values
on commit) and at the end of every pull of the account.

These functions keep the row, the lead's flag and its note in step; call them
inside the transaction that writes the lead.
"""
from __future__ import annotations

from django.db.models import Count, Exists, OuterRef

from .history import record_lead_history
from .models import EventKind, Lead, LeadEvent, PendingVendorValue

NOTE_SEPARATOR = "; "


def add_review_note(text: str, note: str) -> str:
    """`text` with `note` appended, unless it is already one of its notes (a
    vendor that sends the same unmapped value again adds nothing)."""
    notes = [n for n in text.split(NOTE_SEPARATOR) if n] if text else []
    if note in notes:
        return text
    return NOTE_SEPARATOR.join([*notes, note])


def remove_review_note(text: str, note: str) -> str:
    """`text` without `note` (every copy of it)."""
    return NOTE_SEPARATOR.join(n for n in (text or "").split(NOTE_SEPARATOR) if n and n != note)


def _set_review(lead: Lead, review_note: str) -> None:
    """One UPDATE of the lead's flag and note (never a save() of a stale copy),
    audited; the caller's instance follows."""
    needs_review = bool(review_note)
    if (lead.needs_review, lead.review_note) == (needs_review, review_note):
        return
    Lead.objects.filter(pk=lead.pk).update(needs_review=needs_review, review_note=review_note)
    record_lead_history([lead.pk], reason="Review note from vendor sync")
    lead.needs_review, lead.review_note = needs_review, review_note


def pending_record(*, lead: Lead, account, field: str, vendor_value: str, note: str,
                   details: dict | None = None, actor_label: str = "") -> PendingVendorValue:
    """Record that `account` sent `vendor_value` for `field` of `lead` and LeadHub
    could not apply it: the row (replacing an earlier value of the same field),
    the lead flagged with `note`, and one timeline entry when the value is new.
    Returns the row."""
    details = details or {}
    note = note[:1000]
    lead.refresh_from_db(fields=["needs_review", "review_note"])
    existing = PendingVendorValue.objects.filter(lead=lead, account=account, field=field).first()
    review_note = lead.review_note
    if existing is not None:
        if (existing.vendor_value, existing.details, existing.note) == (vendor_value, details, note):
            _set_review(lead, add_review_note(review_note, note))
            return existing
        review_note = remove_review_note(review_note, existing.note)
        existing.vendor_value, existing.details, existing.note = vendor_value[:255], details, note
        existing.save(update_fields=["vendor_value", "details", "note", "updated_at"])
        pending = existing
    else:
        pending = PendingVendorValue.objects.create(lead=lead, account=account, field=field,
                                                    vendor_value=vendor_value[:255], details=details, note=note)
    _set_review(lead, add_review_note(review_note, note))
    LeadEvent.objects.create(lead=lead, kind=EventKind.REVIEW, actor_label=actor_label or account.name,
                             summary=note[:500], details={"pending": field, "vendor_value": vendor_value})
    return pending


def pending_resolve(pending: PendingVendorValue, *, lead: Lead, outcome: str = "") -> None:
    """`pending` is settled (applied, or superseded by a newer value or the
    dealer's own work): the row goes, its note leaves the lead's review note,
    and the flag is cleared when no other note remains. `outcome` (what was
    done) goes on the timeline."""
    PendingVendorValue.objects.filter(pk=pending.pk).delete()
    lead.refresh_from_db(fields=["needs_review", "review_note"])
    _set_review(lead, remove_review_note(lead.review_note, pending.note))
    if outcome:
        LeadEvent.objects.create(lead=lead, kind=EventKind.REVIEW, actor_label=pending.account.name,
                                 summary=outcome[:500], details={"resolved": pending.field,
                                                                 "vendor_value": pending.vendor_value})


def pending_resolve_field(*, lead: Lead, account, field: str, outcome: str = "") -> bool:
    """pending_resolve for the lead's pending `field` from `account`, if any."""
    pending = PendingVendorValue.objects.filter(lead=lead, account=account, field=field).select_related(
        "account").first()
    if pending is None:
        return False
    pending_resolve(pending, lead=lead, outcome=outcome)
    return True


def pending_lead_counts(account_ids) -> dict[int, int]:
    """account id -> how many of its leads wait for a mapping (sync health)."""
    rows = (PendingVendorValue.objects.filter(account_id__in=list(account_ids)).values("account_id")
            .annotate(n=Count("lead_id", distinct=True)))
    return {row["account_id"]: row["n"] for row in rows}


def pending_for_account(account):
    """The account's pending values, oldest lead first, with their leads."""
    return (PendingVendorValue.objects.filter(account=account).select_related("lead", "account")
            .defer("lead__raw_payload").order_by("lead_id", "field"))


def leads_waiting_q(account_id: int | None = None):
    """An Exists() for Lead querysets: leads with a pending value (of one account)."""
    pending = PendingVendorValue.objects.filter(lead_id=OuterRef("pk"))
    if account_id is not None:
        pending = pending.filter(account_id=account_id)
    return Exists(pending)
