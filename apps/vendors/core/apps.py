from django.apps import AppConfig


class VendorsConfig(AppConfig):
    """The vendors core: VendorAccount, the adapter contract (base.py), the registry
    and the one HTTP wrapper. Each vendor is an app of its own beside it
    (apps/vendors/<kind>/); the label stays "vendors" so tables, migrations and
    permissions keep their names."""

    name = "apps.vendors.core"
    label = "vendors"
    verbose_name = "Vendor accounts"

    def ready(self):
        from django.db.models.signals import post_save

        from .models import VendorAccount
        from .receivers import analyze_accounts_when_added

        post_save.connect(analyze_accounts_when_added, sender=VendorAccount, dispatch_uid="vendors.analyze_accounts")
