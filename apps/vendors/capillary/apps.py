from django.apps import AppConfig


class CapillaryConfig(AppConfig):
    """Everything of the Capillary integration (docs/architecture.md, "Adding a vendor")."""

    name = "apps.vendors.capillary"
    label = "capillary"
    verbose_name = "Capillary"
    # A dealer admin reads the organisation's lists and adds an entry by hand
    # (apps.accounts.roles collects this).
    role_permissions = {"admin": ("capillary.view_capillaryreason", "capillary.add_capillaryreason",
                                  "capillary.view_capillarysubstatus", "capillary.add_capillarysubstatus")}
