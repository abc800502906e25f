"""The reports have no table of their own: they read leads. LeadReport (a proxy of
Lead) gives them a place in the admin, its menu entry and its permission
(reports.view_leadreport, a dealer admin's: apps.accounts.roles via
ReportsConfig.role_permissions)."""
from apps.leads.models import Lead


class LeadReport(Lead):
    class Meta:
        proxy = True
        verbose_name = "report"
        verbose_name_plural = "reports"
        default_permissions = ("view",)
