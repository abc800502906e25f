from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        # Imported here, not at the top: these modules import models, which Django
        # allows only once every app is loaded.
        from django.db.models.signals import post_migrate

        from apps.leads import digest
        from apps.leads.signals import owner_assigned

        from . import alerts, services

        owner_assigned.connect(alerts.lead_assigned, dispatch_uid="notifications.lead_assigned")
        section = (services.digest_recipients, services.digest_line)
        if section not in digest.SECTIONS:
            digest.SECTIONS.append(section)  # the notifications a person chose to get once a day
        post_migrate.connect(alerts.ensure_schedule, sender=self)
