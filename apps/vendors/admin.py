from django.contrib import admin

from apps.accounts.admin_scoping import DealerScopedAdmin

from .forms import VendorAccountForm, form_for_vendor
from .models import VendorAccount


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

    @admin.display(description="Settings")
    def settings_state(self, obj):
        try:
            missing = obj.missing_settings()
        except Exception as exc:  # unreadable credentials: say so, never show them
            return f"⚠ {exc.__class__.__name__}"
        return "complete" if not missing else "missing: " + ", ".join(missing)


@admin.action(description="Refresh Capillary lists (reasons, sub-statuses)")
def refresh_capillary_lists(modeladmin, request, queryset):
    from .capillary.admin import refresh_account_lists

    for account in queryset.filter(vendor="capillary"):
        refresh_account_lists(request, account)


VendorAccountAdmin.actions = [*VendorAccountAdmin.actions, refresh_capillary_lists]

from .capillary import admin as capillary_admin  # noqa: E402,F401 - registers the Capillary lists
