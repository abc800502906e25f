"""Domain rules for a lead status change, as a plain function over plain data.

Vendor-specific rules (Cat's, Capillary's) are added by the lead's vendor adapter;
the service applies both. Everything returns Violations, never raises.
"""
from __future__ import annotations

from dataclasses import dataclass

from apps.core.violations import Violation

from .statuses import FIXED_PROBABILITY, REASON_KIND_FOR_STATUS, Status, allowed_targets


@dataclass(frozen=True)
class ReasonFacts:
    dealer_id: int
    kind: str
    label: str
    requires_comment: bool
    active: bool


@dataclass(frozen=True)
class StageFacts:
    dealer_id: int
    name: str
    active: bool


def owner_violations(owner, dealer) -> list[Violation]:
    """An owner must work for the lead's dealer (superusers may own any lead)."""
    if owner is None or owner.is_superuser or owner.memberships.filter(dealer_id=dealer.pk).exists():
        return []
    return [Violation("owner", "other_dealer", f"{owner.get_username()} does not work for {dealer.code}.")]


def status_change_violations(
    *,
    dealer_id: int,
    from_status: str,
    from_stage_name: str | None,
    to_status: str,
    reason: ReasonFacts | None,
    stage: StageFacts | None,
    probability: int | None,
    comment: str,
) -> list[Violation]:
    """Violations of LeadHub's own lifecycle rules for one change."""
    found: list[Violation] = []
    labels = dict(Status.choices)
    if to_status not in labels:
        return [Violation("to_status", "invalid_choice", f"{to_status!r} is not a lead status.")]
    if to_status not in allowed_targets(from_status):
        if not allowed_targets(from_status):
            message = f"A {labels.get(from_status, from_status).lower()} lead is final and cannot change status."
        else:
            message = (f"A lead cannot go from {labels.get(from_status, from_status)} to {labels[to_status]}; "
                       f"allowed: {', '.join(sorted(labels[s] for s in allowed_targets(from_status)))}.")
        found.append(Violation("to_status", "transition_not_allowed", message))

    kind_rule = REASON_KIND_FOR_STATUS.get(to_status)
    if reason is not None:
        if reason.dealer_id != dealer_id:
            found.append(Violation("reason", "other_dealer", "This reason belongs to another dealer."))
        elif kind_rule is None or reason.kind != kind_rule[0]:
            found.append(Violation("reason", "wrong_kind",
                                   f"'{reason.label}' is a {reason.kind.replace('_', ' ')} reason, "
                                   f"not one for {labels[to_status]}."))
        elif not reason.active:
            found.append(Violation("reason", "inactive", f"'{reason.label}' is no longer in use."))
        if reason.requires_comment and not comment.strip():
            found.append(Violation("comment", "comment_required_for_reason",
                                   f"A comment is required with the reason '{reason.label}'."))
    elif kind_rule is not None and kind_rule[1]:
        found.append(Violation("reason", "required", f"{labels[to_status]} needs a reason."))

    if stage is not None:
        if stage.dealer_id != dealer_id:
            found.append(Violation("stage", "other_dealer", "This sales stage belongs to another dealer."))
        elif to_status != Status.ACCEPTED:
            found.append(Violation("stage", "not_allowed",
                                   "A sales stage is set only on an accepted lead (an open opportunity)."))
        elif not stage.active:
            found.append(Violation("stage", "inactive", f"The stage '{stage.name}' is no longer in use."))
    if (to_status == from_status == Status.ACCEPTED and stage is not None
            and stage.name == from_stage_name and probability is None):
        found.append(Violation("stage", "no_change", "The lead is already in this stage."))
    if to_status == from_status == Status.ACCEPTED and stage is None and probability is None:
        found.append(Violation("stage", "required", "Choose the new sales stage (the lead is already accepted)."))

    if probability is not None:
        if not 0 <= probability <= 100:
            found.append(Violation("probability", "out_of_range", "Probability is a percentage from 0 to 100."))
        elif to_status in FIXED_PROBABILITY and probability != FIXED_PROBABILITY[to_status]:
            found.append(Violation("probability", "fixed_by_status",
                                   f"{labels[to_status]} has probability {FIXED_PROBABILITY[to_status]}%."))
    return found
