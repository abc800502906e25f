from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "LeadHub core"

    def ready(self):
        # In ready(), not at the top: these import models, which Django allows only once
        # every app is loaded.
        from . import checks  # noqa: F401  (registers the system checks)
        from simple_history.signals import pre_create_historical_record

        from .runcontext import name_history_row

        pre_create_historical_record.connect(name_history_row, dispatch_uid="leadhub-history-run")
