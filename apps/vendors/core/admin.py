from django.contrib import admin

from apps.accounts.admin_scoping import DealerScopedAdmin

from .forms import VendorAccountForm, form_for_vendor
from .models import VendorAccount


# Actions a vendor app adds to the vendor account list (e.g. Capillary's "Refresh
# lists"): the vendor's admin.py calls account_action(); the core knows no vendor.
_vendor_account_actions: list = []


def account_action(action):
    """Register `action` (an admin action) on the vendor account list; for use
    by a vendor app's admin.py. Returns it, so it can decorate."""
    if action not in _vendor_account_actions:
        _vendor_account_actions.append(action)
    return action


@admin.register(VendorAccount)
class VendorAccountAdmin(DealerScopedAdmin):
    form = VendorAccountForm
    list_display = ["name", "vendor", "dealer", "environment", "enabled", "pull_interval_minutes", "settings_state"]
    list_filter = ["vendor", "enabled", "dealer"]
    search_fields = ["name", "dealer__code", "dealer__name"]
    history_list_display = ["secrets_marker"]  # audit: when secrets changed, never what they are

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The settings fields depend on the vendor: the account's own, or on the
        # add page the one chosen (?vendor=cat, or the posted value).
        kind = obj.vendor if obj is not None else (request.POST.get("vendor") or request.GET.get("vendor"))
        kwargs["form"] = form_for_vendor(kind)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_actions(self, request):
        actions = super().get_actions(request)
        for action in _vendor_account_actions:
            name, description = action.__name__, getattr(action, "short_description", action.__name__)
            actions.setdefault(name, (action, name, description))
        return actions

    @admin.display(description="Settings")
    def settings_state(self, obj):
        try:
            missing = obj.missing_settings()
        except Exception as exc:  # unreadable credentials: say so, never show them
            return f"⚠ {exc.__class__.__name__}"
        return "complete" if not missing else "missing: " + ", ".join(missing)
