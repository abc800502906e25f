from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "apps.leads"
    label = "leads"
    verbose_name = "Leads"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .digest import ensure_schedule

        post_migrate.connect(ensure_schedule, sender=self)
