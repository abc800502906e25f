from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
    # Dealer admins keep their dealer's endpoints and read their delivery logs
    # (apps.accounts.roles collects this); staff see neither (the secrets).
    role_permissions = {"admin": (
        *(f"webhooks.{action}_webhookendpoint" for action in ("view", "add", "change", "delete")),
        "webhooks.view_webhookdelivery", "webhooks.change_webhookdelivery")}

    def ready(self):
        # In ready(), not at the top: these import models, which Django allows only
        # once every app is loaded.
        from django.db.models.signals import post_migrate

        from apps.leads.signals import arrivals_processed, owner_assigned, status_changed
        from apps.sync.events import outbox_items_failed

        from . import receivers, tasks

        arrivals_processed.connect(receivers.lead_arrivals_processed, dispatch_uid="webhooks.lead_created")
        owner_assigned.connect(receivers.lead_owner_assigned, dispatch_uid="webhooks.lead_assigned")
        status_changed.connect(receivers.lead_status_changed, dispatch_uid="webhooks.lead_status_changed")
        outbox_items_failed.connect(receivers.outbox_items_failed, dispatch_uid="webhooks.vendor_report_failed")
        post_migrate.connect(tasks.ensure_schedule, sender=self)
