from django.apps import AppConfig


class AimbaseConfig(AppConfig):
    """Everything of the Aimbase integration (docs/architecture.md, "Adding a vendor")."""

    name = "apps.vendors.aimbase"
    label = "aimbase"
    verbose_name = "Aimbase"
