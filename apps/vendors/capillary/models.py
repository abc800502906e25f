"""What LeadHub keeps of a Capillary organisation: its reasons and sub-statuses
(fetched per account, so dealer admins map their own reasons to real reason
ids), and the link from each Capillary id LeadHub has seen or created to the
LeadHub row it became (idempotent upserts of leads, follow-ups and status logs).
"""
from __future__ import annotations

from django.db import models


class CapillaryReason(models.Model):
    """One reason of the account's organisation (GET /leads/reasons)."""

    account = models.ForeignKey("vendors.VendorAccount", on_delete=models.CASCADE, related_name="capillary_reasons")
    reason_id = models.BigIntegerField("Capillary reason id")
    reason = models.CharField(max_length=255)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "reason_id"]
        constraints = [models.UniqueConstraint(fields=["account", "reason_id"], name="capillary_reason_unique")]

    def __str__(self) -> str:
        return f"{self.reason_id}: {self.reason}"


class CapillarySubStatus(models.Model):
    """One sub-status of a Capillary status in the organisation (GET /leads/substatuses)."""

    account = models.ForeignKey("vendors.VendorAccount", on_delete=models.CASCADE,
                                related_name="capillary_substatuses")
    status = models.CharField(max_length=16)
    sub_status = models.CharField(max_length=100)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "status", "sub_status"]
        verbose_name_plural = "capillary sub-statuses"
        constraints = [models.UniqueConstraint(fields=["account", "status", "sub_status"],
                                               name="capillary_substatus_unique")]

    def __str__(self) -> str:
        return f"{self.status} / {self.sub_status}"


class LinkKind(models.TextChoices):
    LEAD = "lead", "Lead"
    STATUS_LOG = "status_log", "Status log entry"
    FOLLOWUP = "followup", "Follow-up"


class CapillaryLink(models.Model):
    """A Capillary id (per account and kind) -> the LeadHub row it is.

    Unique on (account, kind, capillary_id): a status log entry or follow-up
    Capillary sends again (every search returns the whole history) is found
    here and never imported twice; one LeadHub sent is linked when Capillary
    answers with its id, so it is not imported back as Capillary's own work.
    """

    account = models.ForeignKey("vendors.VendorAccount", on_delete=models.CASCADE, related_name="capillary_links")
    kind = models.CharField(max_length=16, choices=LinkKind.choices)
    capillary_id = models.CharField(max_length=64)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="capillary_links")
    status_log = models.ForeignKey("leads.StatusLog", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    followup = models.ForeignKey("leads.FollowUp", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    payload = models.JSONField(default=dict, blank=True, help_text="What Capillary sent for this id, as sent.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "kind", "capillary_id"],
                                               name="capillary_link_unique")]
        indexes = [models.Index(fields=["lead", "kind"], name="capillary_link_lead_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.capillary_id} → lead {self.lead_id}"
