from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "LeadHub core"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
