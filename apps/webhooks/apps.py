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
        from django.db.models.signals import post_delete, post_migrate, post_save

        from apps.leads.signals import arrivals_processed, lead_moved, owner_assigned, status_changed
        from apps.sync.events import outbox_items_failed

        from . import receivers, tasks
        from .models import WebhookEndpoint, forget_active_endpoints

        arrivals_processed.connect(receivers.lead_arrivals_processed, dispatch_uid="webhooks.lead_created")
        owner_assigned.connect(receivers.lead_owner_assigned, dispatch_uid="webhooks.lead_assigned")
        status_changed.connect(receivers.lead_status_changed, dispatch_uid="webhooks.lead_status_changed")
        lead_moved.connect(receivers.lead_moved, dispatch_uid="webhooks.lead_moved")
        outbox_items_failed.connect(receivers.outbox_items_failed, dispatch_uid="webhooks.vendor_report_failed")
        # An endpoint saved or deleted in a transaction is seen by that transaction's
        # next event (services._active_endpoints keeps them for the transaction).
        post_save.connect(forget_active_endpoints, sender=WebhookEndpoint, dispatch_uid="webhooks.forget_saved")
        post_delete.connect(forget_active_endpoints, sender=WebhookEndpoint, dispatch_uid="webhooks.forget_deleted")
        post_migrate.connect(tasks.ensure_schedule, sender=self)
