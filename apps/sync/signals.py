"""Saving what decides how a vendor's values apply queues the job that applies
the values leads still wait for (apps.leads.pending; apps.sync.tasks.
apply_pending_values), on commit: a status, reason or stage mapping (for that
dealer's accounts of that vendor), a vendor account (its options, e.g. the
dealer codes a Cat account serves) and a membership (a vendor's owner becomes
one of the dealer's people)."""
from __future__ import annotations

from django.db.models.signals import post_save

from apps.accounts.models import Membership
from apps.leads.models import ReasonMapping, StageMapping, StatusMapping
from apps.vendors.core.models import VendorAccount

from .tasks import queue_apply_pending


def _accounts(dealer_id, vendor: str | None = None):
    accounts = VendorAccount.objects.filter(dealer_id=dealer_id)
    if vendor:
        accounts = accounts.filter(vendor=vendor)
    return accounts.values_list("pk", flat=True)


def _status_mapping_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        queue_apply_pending(_accounts(instance.dealer_id, instance.vendor))


def _reason_mapping_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        queue_apply_pending(_accounts(instance.reason.dealer_id, instance.vendor))


def _stage_mapping_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        queue_apply_pending(_accounts(instance.stage.dealer_id, instance.vendor))


def _account_saved(sender, instance, raw=False, created=False, **kwargs):
    if not raw and not created:
        queue_apply_pending([instance.pk])


def _membership_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        queue_apply_pending(_accounts(instance.dealer_id))


def connect() -> None:
    post_save.connect(_status_mapping_saved, sender=StatusMapping, dispatch_uid="pending-status-mapping")
    post_save.connect(_reason_mapping_saved, sender=ReasonMapping, dispatch_uid="pending-reason-mapping")
    post_save.connect(_stage_mapping_saved, sender=StageMapping, dispatch_uid="pending-stage-mapping")
    post_save.connect(_account_saved, sender=VendorAccount, dispatch_uid="pending-vendor-account")
    post_save.connect(_membership_saved, sender=Membership, dispatch_uid="pending-membership")
