from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "apps.routing"
    label = "routing"
    verbose_name = "Lead routing"
    # Dealer admins keep their dealer's assignment rules (apps.accounts.roles collects this).
    role_permissions = {"admin": tuple(f"routing.{action}_assignmentrule" for action in
                                       ("view", "add", "change", "delete"))}

    def ready(self):
        # In ready(), not at the top: these import models, which Django allows only once
        # every app is loaded.
        from django.db.models.signals import post_migrate

        from . import arrivals, signals  # noqa: F401 - signals connects route-and-assign-on-create

        post_migrate.connect(arrivals.ensure_schedule, sender=self)
