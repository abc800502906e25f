from django.apps import AppConfig


class CapConfig(AppConfig):
    """Everything of the CAP Gateway integration (docs/architecture.md, "Adding a vendor")."""

    name = "apps.vendors.cap"
    label = "cap"
    verbose_name = "CAP Gateway"
