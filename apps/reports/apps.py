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
        from django.db.models.signals import post_migrate, post_save, pre_save

        from apps.accounts.models import Dealer
        from apps.leads import digest, queue
        from apps.vendors.core.models import VendorAccount

        from . import deadlines, escalation
        from .dashboard import my_numbers

        if my_numbers not in queue.PANELS:
            queue.PANELS.append(my_numbers)  # staff's own numbers on My leads
        section = (escalation.digest_recipients, escalation.digest_line)
        if section not in digest.SECTIONS:
            digest.SECTIONS.append(section)  # the feedback line in dealer admins' daily digest
        post_migrate.connect(escalation.ensure_schedule, sender=self)
        # Feedback deadlines stamped under settings that change are recomputed.
        pre_save.connect(deadlines.note_account_change, sender=VendorAccount, dispatch_uid="deadlines-account-pre")
        post_save.connect(deadlines.forget_when_account_changed, sender=VendorAccount,
                          dispatch_uid="deadlines-account-post")
        pre_save.connect(deadlines.note_dealer_change, sender=Dealer, dispatch_uid="deadlines-dealer-pre")
        post_save.connect(deadlines.forget_when_dealer_changed, sender=Dealer, dispatch_uid="deadlines-dealer-post")
