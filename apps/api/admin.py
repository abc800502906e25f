"""API keys in the admin: a dealer admin creates and revokes their own dealer's
keys (DealerScopedAdmin, `dealer_field`), IT any dealer's. The key's text is
shown once, in the page that answers the add form's POST (response_add), with
Cache-Control: no-store; never in Django's messages, whose cookie storage would
send it in a Set-Cookie header. LeadHub keeps only its hash."""
from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from apps.accounts.admin_scoping import DealerScopedAdmin

from . import keys
from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(DealerScopedAdmin):
    dealer_field = "dealer"
    list_display = ["name", "dealer", "shown_prefix", "scope", "created_at", "created_by", "last_used_at",
                    "state"]
    list_filter = ["dealer", "scope", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["dealer", "created_by"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_selected"]
    readonly_fields = ["shown_prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["dealer", "name", "scope"]
        return ["dealer", "name", "scope", "shown_prefix", "created_at", "created_by", "last_used_at",
                "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # A key's dealer and scope are what it was given to do: a different job is a
        # new key (and the old one revoked), so its history stays readable.
        return [*self.readonly_fields, "dealer", "scope"]

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: its history and last use stay

    @admin.display(description="key starts")
    def shown_prefix(self, obj):
        return format_html("<code>lh_{}…</code>", obj.prefix) if obj.prefix else "—"

    @admin.display(description="state", ordering="revoked_at")
    def state(self, obj):
        return f"revoked {obj.revoked_at:%Y-%m-%d %H:%M}" if obj.revoked_at else "live"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # The secret exists in clear only in this request: on the object (never
        # saved) until response_add shows it.
        obj.plaintext = keys.issue_secret(obj)
        obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        """The answer to the add form's POST: a page showing the key once (no
        redirect, so it is in this answer only), not cached anywhere."""
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": obj,
                   "title": f"API key {obj.name} created", "key_text": obj.plaintext}
        response = TemplateResponse(request, "admin/api/apikey/created.html", context)
        add_never_cache_headers(response)  # no-store among them
        return response

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        revoked = 0
        for key in queryset:
            if self.has_change_permission(request, key) and keys.apikey_revoke(key=key, actor=request.user):
                revoked += 1
        self.message_user(request, f"{revoked} key(s) revoked: they answer 401 from now on.", messages.SUCCESS)
