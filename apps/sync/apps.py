from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SyncConfig(AppConfig):
    name = "apps.sync"
    label = "sync"
    verbose_name = "Vendor sync"

    def ready(self):
        # Imported here, not at the top: these modules import models, which Django
        # allows only once every app is loaded (ready() runs then).
        from apps.leads import outbound

        from . import signals
        from .port import OutboxForLeads
        from .tasks import ensure_schedule

        post_migrate.connect(ensure_schedule, sender=self)
        signals.connect()
        outbound.install(OutboxForLeads())  # the lead services queue their messages here
