from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    label = "reports"
    verbose_name = "Reports"
    # Dealer admins (sales managers) read the dealer's reports; staff see their own
    # numbers on My leads (apps.accounts.roles collects this).
    role_permissions = {"admin": ("reports.view_leadreport",)}
