from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "apps.sync"
    label = "sync"
    verbose_name = "Vendor sync"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import signals
        from .tasks import ensure_schedule

        post_migrate.connect(ensure_schedule, sender=self)
        signals.connect()
