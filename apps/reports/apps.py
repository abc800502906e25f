from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    label = "reports"
    verbose_name = "Reports"
    # Dealer admins (sales managers) read the dealer's reports; staff see their own
    # numbers on My leads (apps.accounts.roles collects this).
    role_permissions = {"admin": ("reports.view_leadreport",)}

    def ready(self):
        # Imported here, not at the top: these modules import models, which Django
        # allows only once every app is loaded.
        from django.db.models.signals import post_migrate

        from apps.leads import digest, queue

        from . import escalation
        from .dashboard import my_numbers

        if my_numbers not in queue.PANELS:
            queue.PANELS.append(my_numbers)  # staff's own numbers on My leads
        section = (escalation.digest_recipients, escalation.digest_line)
        if section not in digest.SECTIONS:
            digest.SECTIONS.append(section)  # the feedback line in dealer admins' daily digest
        post_migrate.connect(escalation.ensure_schedule, sender=self)
