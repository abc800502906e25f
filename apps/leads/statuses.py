"""The dealer-side lead lifecycle, vendor-neutral.

A lead starts NEW; staff accept, reject, disqualify or put it on hold. An
accepted lead is worked as an opportunity through the dealer's own sales stages
(a stage change is an ACCEPTED -> ACCEPTED change) until it is closed won, lost
or no deal. Rejected, disqualified and closed leads are final: vendors such as
Cat take one outcome per lead, so LeadHub never reopens one silently.
Vendors see these through the dealer's mappings (Cat: leadStatus + opportunity
stage; Capillary: OPEN/WON/LOST/ON_HOLD; Aimbase: disposition statuses).
"""
from django.db import models


class Status(models.TextChoices):
    NEW = "new", "New"
    ACCEPTED = "accepted", "Accepted"
    ON_HOLD = "on_hold", "On hold"
    REJECTED = "rejected", "Rejected"
    DISQUALIFIED = "disqualified", "Disqualified"
    CLOSED_WON = "closed_won", "Closed won"
    CLOSED_LOST = "closed_lost", "Closed lost"
    CLOSED_NO_DEAL = "closed_no_deal", "Closed no deal"


class ReasonKind(models.TextChoices):
    REJECTION = "rejection", "Rejection"
    DISQUALIFICATION = "disqualification", "Disqualification"
    ON_HOLD = "on_hold", "On hold"
    CLOSED_WON = "closed_won", "Closed won"
    CLOSED_LOST = "closed_lost", "Closed lost"
    CLOSED_NO_DEAL = "closed_no_deal", "Closed no deal"


TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.ACCEPTED, Status.REJECTED, Status.DISQUALIFIED, Status.ON_HOLD}),
    # ACCEPTED -> ACCEPTED is a sales stage change.
    Status.ACCEPTED: frozenset({Status.ACCEPTED, Status.ON_HOLD, Status.DISQUALIFIED, Status.CLOSED_WON,
                                Status.CLOSED_LOST, Status.CLOSED_NO_DEAL}),
    Status.ON_HOLD: frozenset({Status.ACCEPTED, Status.REJECTED, Status.DISQUALIFIED, Status.CLOSED_WON,
                               Status.CLOSED_LOST, Status.CLOSED_NO_DEAL}),
    Status.REJECTED: frozenset(),
    Status.DISQUALIFIED: frozenset(),
    Status.CLOSED_WON: frozenset(),
    Status.CLOSED_LOST: frozenset(),
    Status.CLOSED_NO_DEAL: frozenset(),
}

# The kind of reason a status takes, and whether it must have one.
REASON_KIND_FOR_STATUS: dict[str, tuple[str, bool]] = {
    Status.REJECTED: (ReasonKind.REJECTION, True),
    Status.DISQUALIFIED: (ReasonKind.DISQUALIFICATION, True),
    Status.CLOSED_LOST: (ReasonKind.CLOSED_LOST, True),
    Status.CLOSED_WON: (ReasonKind.CLOSED_WON, False),
    Status.CLOSED_NO_DEAL: (ReasonKind.CLOSED_NO_DEAL, False),
    Status.ON_HOLD: (ReasonKind.ON_HOLD, False),
}

# Closing fixes the probability (Cat: Closed Won 100%, Closed Lost / No Deal 0%).
FIXED_PROBABILITY: dict[str, int] = {
    Status.CLOSED_WON: 100,
    Status.CLOSED_LOST: 0,
    Status.CLOSED_NO_DEAL: 0,
}

OPEN_STATUSES = frozenset({Status.NEW, Status.ACCEPTED, Status.ON_HOLD})
FINAL_STATUSES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


def allowed_targets(status: str) -> frozenset[str]:
    return TRANSITIONS.get(status, frozenset())
