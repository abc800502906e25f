"""Vendor updates LeadHub holds back, as dealer staff and dealer admins meet them.

The outbox (apps/sync/held.py) holds a status change's vendor message while the
vendor would refuse it or it cannot be built (an unmapped reason, a comment the
mapped value needs). Here: what staff are told when they save such a change (what
to do, and who can do it), and the hook that re-checks the held updates as soon
as a dealer admin saves the mapping they wait for.
"""
from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save

from apps.accounts.models import Membership, Role
from apps.accounts.scoping import role_at

from . import outbound
from .models import ReasonMapping, StageMapping, StatusMapping


def dealer_admin_names(dealer_id: int) -> list[str]:
    """Who can map values for the dealer: its dealer admins, by name."""
    users = [m.user for m in Membership.objects.filter(dealer_id=dealer_id, role=Role.ADMIN, user__is_active=True)
             .select_related("user").order_by("user__username")]
    return [user.get_full_name() or user.get_username() for user in users]


def can_map(user, dealer_id: int) -> bool:
    return bool(getattr(user, "is_superuser", False)) or role_at(user, dealer_id) == Role.ADMIN


def who_can_fix(held: outbound.HeldUpdate, *, user, dealer_id: int, on_the_lead: bool = False) -> str:
    """The sentence that says who acts next on a held update (on_the_lead: said on
    the lead's own "Not sent yet", where its form already asks staff)."""
    parts = []
    if held.needs_admin:
        if can_map(user, dealer_id):
            parts.append("You are a dealer admin: map it under Reasons or Sales stages (or the vendor account).")
        else:
            names = dealer_admin_names(dealer_id)
            parts.append(f"Dealer admins here: {', '.join(names)}." if names else
                         "This dealer has no dealer admin in LeadHub yet: ask your IT to name one.")
    if held.staff_fields and not on_the_lead:
        parts.append("Add it on this lead, under \"Not sent yet\".")
    return " ".join(parts)


def held_notice(held: outbound.HeldUpdate, *, user, dealer_id: int) -> str:
    """What staff read right after saving a change whose update is held."""
    problems = " ".join(v.message for v in held.problems)
    return f"Not sent to {held.vendor} yet: {problems} {who_can_fix(held, user=user, dealer_id=dealer_id)}".strip()


def notices_for_change(lead, log, *, user) -> list[str]:
    """For the change just saved (`log`): one notice per vendor update it left held."""
    if log is None:
        return []
    return [held_notice(held, user=user, dealer_id=lead.dealer_id) for held in outbound.held_updates(lead)
            if held.since >= log.created_at]


# Saving a mapping re-checks at once the updates held for the value it maps (after
# the commit: the re-check reads the mapping as stored).

def _reason_mapped(sender, instance: ReasonMapping, **kwargs) -> None:
    reason = instance.reason
    transaction.on_commit(lambda: outbound.recheck_for_mapping(
        dealer_id=reason.dealer_id, vendor=instance.vendor, reason_id=reason.pk))


def _stage_mapped(sender, instance: StageMapping, **kwargs) -> None:
    stage = instance.stage
    transaction.on_commit(lambda: outbound.recheck_for_mapping(
        dealer_id=stage.dealer_id, vendor=instance.vendor, stage_id=stage.pk))


def _status_mapped(sender, instance: StatusMapping, **kwargs) -> None:
    transaction.on_commit(lambda: outbound.recheck_for_mapping(
        dealer_id=instance.dealer_id, vendor=instance.vendor, status=instance.status))


def connect() -> None:
    post_save.connect(_reason_mapped, sender=ReasonMapping, dispatch_uid="leadhub-held-reason")
    post_save.connect(_stage_mapped, sender=StageMapping, dispatch_uid="leadhub-held-stage")
    post_save.connect(_status_mapped, sender=StatusMapping, dispatch_uid="leadhub-held-status")
