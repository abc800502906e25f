from django.apps import AppConfig


class VendorsConfig(AppConfig):
    """The vendors core: VendorAccount, the adapter contract (base.py), the registry
    and the one HTTP wrapper. Each vendor is an app of its own beside it
    (apps/vendors/<kind>/); the label stays "vendors" so tables, migrations and
    permissions keep their names."""

    name = "apps.vendors.core"
    label = "vendors"
    verbose_name = "Vendor accounts"
