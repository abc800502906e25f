from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from simple_history.admin import SimpleHistoryAdmin

from .admin_scoping import DealerScopedAdmin
from .models import Dealer, Membership


@admin.register(Dealer)
class DealerAdmin(DealerScopedAdmin):
    dealer_field = "pk"
    list_display = ["code", "name", "time_zone", "default_currency", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request, obj=None):
        # Dealer codes are what vendor leads are matched on; only IT changes them.
        return [] if request.user.is_superuser else ["code", "is_active"]


@admin.register(Membership)
class MembershipAdmin(DealerScopedAdmin):
    list_display = ["user", "dealer", "role", "away_from", "away_until", "created_at"]
    list_filter = ["role", "dealer"]
    search_fields = ["user__username", "user__email", "dealer__code"]
    autocomplete_fields = ["dealer"]

    def get_readonly_fields(self, request, obj=None):
        # A dealer admin records when their people are away (and their rep
        # numbers); who works where, and in which role, is IT's.
        if request.user.is_superuser:
            return []
        return ["user", "dealer", "role"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["dealer"]


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class LeadHubUserAdmin(SimpleHistoryAdmin, UserAdmin):
    """Users are managed by the dealer group's IT (superusers); roles are memberships.
    Their History page lists every change (never the password: a marker)."""

    history_list_display = ["password_marker"]

    inlines = [MembershipInline]
