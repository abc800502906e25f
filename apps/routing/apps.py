from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "apps.routing"
    label = "routing"
    verbose_name = "Lead routing"

    def ready(self):
        # In ready(), not at the top: these import models, which Django allows only once
        # every app is loaded.
        from . import signals  # noqa: F401 - connects route-on-create
