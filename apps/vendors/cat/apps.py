from django.apps import AppConfig


class CatConfig(AppConfig):
    """Everything of the Caterpillar integration (docs/architecture.md, "Adding a vendor")."""

    name = "apps.vendors.cat"
    label = "cat"
    verbose_name = "Caterpillar"
