"""A vendor's rule, said to dealer staff in their words.

The outcome form (the workbench, the admin's "Change status" screen) shows what a
vendor would refuse next to the field staff fill in. A vendor's own finding names
its payload key and cites its document ("rejectedReasonComments is required when
rejectedReasonWhy is 'For Another Dealer' (Cat Leads API...)"): right for the IT
lead and for `validate_payload`, wrong as the message a salesperson reads. So the
message becomes what to do, in plain words, naming the vendor ("Add a comment: Cat
needs one when the reason is 'For Another Dealer'"), and the vendor's sentence is
kept whole as the Violation's detail, shown as a secondary line (GOV.UK error
messages: one message per problem, next to its field, saying how to fix it).

The field names are the status form's (apps.leads.forms.StatusChangeForm), which
is the vocabulary of apps.leads.services.StatusChange every adapter already maps
its payload keys onto.
"""
from __future__ import annotations

from apps.core.violations import Violation

# What each outcome field is called in a sentence, and the verb that asks for it.
OUTCOME_FIELD_WORDS = {
    "reason": ("Choose", "a reason"),
    "stage": ("Choose", "a sales stage"),
    "probability": ("Enter", "the probability"),
    "comment": ("Add", "a comment"),
    "sub_status": ("Enter", "a sub-status"),
    "opportunity_amount": ("Enter", "the opportunity amount"),
    "currency": ("Enter", "the currency"),
    "target_date": ("Enter", "the target date"),
    "rating": ("Choose", "a rating"),
    "customer_number": ("Enter", "the dealer customer number"),
    "quote_id": ("Enter", "the quote id"),
    "quote_sent_date": ("Enter", "the date the quote was sent"),
    "customer_contacted": ("Answer", "whether the customer was contacted"),
    "customer_previously_known": ("Answer", "whether the customer was already known"),
    "owner": ("Choose", "an owner"),
}


def field_words(field: str) -> tuple[str, str]:
    """(verb, noun phrase) for an outcome field; a readable fallback for others."""
    return OUTCOME_FIELD_WORDS.get(field, ("Fill in", f"the {field.replace('_', ' ')}" if field else "this outcome"))


def for_staff(vendor: str, violation: Violation, *, field: str, why: str = "", reason_label: str = "") -> Violation:
    """`violation` (a vendor rule's finding, in the vendor's words) on the status
    form's `field`, with a plain message that says what to do and the vendor's
    sentence as the detail line.

    why: when the vendor needs the value, in staff's words ("to close a lead as
        lost"); reason_label: the dealer's reason in play, for a comment a reason
        requires. A finding that already speaks to staff (its code in
        PLAIN_ALREADY) keeps its message."""
    if violation.code in PLAIN_ALREADY:
        return Violation(field, violation.code, violation.message, detail=violation.detail)
    verb, noun = field_words(field)
    code = violation.code
    if code == "comment_required_for_reason" or (field == "comment" and code == "required" and reason_label):
        message = (f"Add a comment: {vendor} needs one when the reason is '{reason_label}'." if reason_label
                   else f"Add a comment: {vendor} needs one with the reason you chose.")
    elif code == "required":
        message = f"{verb} {noun}: {vendor} needs it {why or 'for this outcome'}."
    elif code == "max_length":
        message = f"Shorten {noun}: it is longer than {vendor} accepts."
    elif code in ("max_digits", "decimal_places"):
        message = f"Check {noun}: {vendor} does not accept that many digits."
    elif code == "invalid_choice":
        message = f"{verb} {noun} {vendor} knows: it does not accept this one."
    elif code == "not_allowed":
        message = f"Leave {noun} empty: {vendor} does not take it {why or 'with this outcome'}."
    else:
        message = f"Check {noun}: {vendor} would not accept it as it is."
    return Violation(field, code, message, detail=f"{vendor}: {violation.message}")


# Findings a vendor adapter already writes for staff (they name the field and what
# to enter): kept as they are.
PLAIN_ALREADY = frozenset({"out_of_range"})


# Held updates ---------------------------------------------------------------------------
# An update LeadHub holds back (blocked in the outbox) until its cause is fixed. Who can
# fix it decides what staff read: a mapping or an account setting is a dealer admin's
# (field ""), a value of the change or of the lead is staff's own (its form field).

ADMIN_CODES = frozenset({"unmapped", "unmapped_reason", "no_reason_id"})
# What staff can add on the lead for a held update: the comment (kept with the
# update, the status log being history) and the lead's outcome facts.
STAFF_FIELDS = frozenset({"comment", "opportunity_amount", "currency", "target_date", "rating", "customer_number",
                          "quote_id", "quote_sent_date", "customer_contacted", "customer_previously_known"})
SENT_WHEN_FIXED = "it is sent as soon as that is done"


def held_for_staff(vendor: str, violation: Violation, *, field: str, reason_label: str = "",
                   stage_name: str = "", status_label: str = "", why: str = "") -> Violation:
    """One reason a held update cannot go yet, said for staff: field is the form
    field staff fill to fix it, or "" when a dealer admin must (a mapping, an
    account setting) or the cause is not something staff can change."""
    detail = f"{vendor}: {violation.message}"
    if violation.code in ADMIN_CODES:
        if field == "reason" and violation.code != "no_reason_id":
            what = f"map the reason '{reason_label}' to a {vendor} reason" if reason_label else \
                f"map the reason to a {vendor} reason"
        elif field in ("stage", "probability"):
            what = f"map the sales stage '{stage_name}' to a {vendor} stage" if stage_name else \
                f"map the sales stage to a {vendor} stage"
        elif field == "status":
            what = f"map the status '{status_label}' to a {vendor} status"
        else:
            what = f"set the {vendor} account's default reason id" if violation.code == "no_reason_id" else \
                f"complete the {vendor} mappings"
        return Violation("", violation.code, f"A dealer admin must {what}; {SENT_WHEN_FIXED}.", detail=detail)
    if field in STAFF_FIELDS:
        said = for_staff(vendor, violation, field=field, why=why, reason_label=reason_label)
        return Violation(field, violation.code, said.message, detail=detail)
    return Violation("", violation.code, f"{vendor} would refuse this update as it is; a dealer admin or IT must "
                                         f"look at it ({SENT_WHEN_FIXED}).", detail=detail)
