"""The reports have no table of their own: they read leads. LeadReport (a proxy of
Lead) gives them a place in the admin, its menu entry and its permission
(reports.view_leadreport, a dealer admin's: apps.accounts.roles via
ReportsConfig.role_permissions)."""
from django.db import models

from apps.leads.models import Lead


class LeadReport(Lead):
    class Meta:
        proxy = True
        verbose_name = "report"
        verbose_name_plural = "reports"
        default_permissions = ("view",)


class FeedbackEscalation(models.Model):
    """That the dealer's admins were e-mailed about a lead breaching its vendor's
    feedback target at a threshold (1: the target passed, 2: twice the target):
    once per lead and threshold, whatever runs the schedule (apps/reports/escalation.py)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="feedback_escalations")
    threshold = models.PositiveSmallIntegerField()
    deadline = models.DateTimeField()
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lead", "threshold"], name="one_escalation_per_lead_and_threshold")]
