from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "apps.routing"
    label = "routing"
    verbose_name = "Lead routing"

    def ready(self):
        from . import signals  # noqa: F401 - connects route-on-create
