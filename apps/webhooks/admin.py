"""Webhook endpoints and their delivery log in the admin, for each dealer's
admins (scoped like every admin: DealerScopedAdmin). An endpoint's page shows its
signing secret, "Send test event", "Rotate secret" and a link to its log; the
log is read-only, with "Retry now"."""
from __future__ import annotations

import re
import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.accounts.admin_scoping import DealerScopedAdmin
from apps.sync.admin import RetryableLogAdminMixin

from .models import DeliveryState, Event, WebhookDelivery, WebhookEndpoint
from .services import (wake_sender, webhook_endpoint_reenable, webhook_endpoint_rotate_secret, webhook_retry_now,
                       webhook_send_test)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https",
                         help_text="Where LeadHub POSTs events: https://, or http:// to 127.0.0.1 only.")
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple,
                                       help_text="What LeadHub sends to this URL (docs/webhooks.md).")

    class Meta:
        model = WebhookEndpoint
        fields = ["dealer", "url", "description", "events", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["events"] = list(self.instance.events or [])


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(DealerScopedAdmin):
    dealer_field = "dealer"
    form = WebhookEndpointForm
    change_form_template = "admin/webhooks/webhookendpoint/change_form.html"
    list_display = ["url", "dealer", "event_list", "is_active", "consecutive_failures", "disabled_at"]
    list_filter = ["dealer", "is_active"]
    list_select_related = ["dealer"]
    readonly_fields = ["signing_secret", "delivery_log", "consecutive_failures", "disabled_at", "disabled_reason",
                       "created_by", "created_at"]
    actions = ["send_test_event"]

    def get_fields(self, request, obj=None):
        fields = ["dealer", "url", "description", "events", "is_active"]
        return fields + (self.readonly_fields if obj is not None else [])

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events or []) or "—"

    @admin.display(description="signing secret")
    def signing_secret(self, obj):
        shown = format_html("<code class='webhook-secret'>{}</code><div class='help'>Check every delivery's "
                            "LeadHub-Signature header with it (docs/webhooks.md). Keep it out of source code.</div>",
                            obj.secret)
        if obj.previous_secret_valid():
            shown += format_html("<div class='help'>The previous secret still works until {}: until then every "
                                 "delivery carries a signature with each. Update your receiver before then.</div>",
                                 local_time(obj, obj.previous_secret_expires_at))
        return shown

    @admin.display(description="delivery log")
    def delivery_log(self, obj):
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        count = obj.deliveries.count()
        return format_html("<a href='{}'>{} deliver{}</a>", url, count, "y" if count == 1 else "ies")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        elif "is_active" in form.changed_data and obj.is_active:
            webhook_endpoint_reenable(endpoint=obj)  # a fresh start: the count and the mark are cleared
        super().save_model(request, obj, form, change)

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test_event(self, request, queryset):
        for endpoint in queryset.select_related("dealer"):
            webhook_send_test(endpoint=endpoint)
        self.message_user(request, f"{queryset.count()} test event(s) queued; see the delivery log.", messages.SUCCESS)

    # --- Send test event / Rotate secret pages ------------------------------------------
    def get_urls(self):
        return [
            path("<path:object_id>/test/", self.admin_site.admin_view(self.test_view),
                 name="webhooks_webhookendpoint_test"),
            path("<path:object_id>/rotate-secret/", self.admin_site.admin_view(self.rotate_view),
                 name="webhooks_webhookendpoint_rotate"),
        ] + super().get_urls()

    def _endpoint(self, request, object_id) -> WebhookEndpoint:
        endpoint = self.get_object(request, unquote(object_id))
        if endpoint is None:
            raise Http404("No such webhook endpoint.")
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        return endpoint

    def test_view(self, request, object_id):
        """GET: what a test event is; POST: queue one and show the log."""
        endpoint = self._endpoint(request, object_id)
        if request.method == "POST":
            webhook_send_test(endpoint=endpoint)
            self.message_user(request, "Test event queued: it is sent within a minute and shown here.",
                              messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:webhooks_webhookdelivery_changelist")
                                        + f"?endpoint__id__exact={endpoint.pk}")
        return self._confirm(request, endpoint, title="Send a test event", button="Send test event", text=(
            "LeadHub sends a webhook.test event to this URL, signed with the endpoint's secret, through the same "
            "queue, retries and log as real events (even while the endpoint is disabled, so a fixed receiver can "
            "be checked before it is re-enabled)."))

    def rotate_view(self, request, object_id):
        """GET: what rotating does; POST: a new secret, shown on the endpoint's page."""
        endpoint = self._endpoint(request, object_id)
        if request.method == "POST":
            webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
            if endpoint.previous_secret_valid():
                self.message_user(request, "New signing secret made. The old secret still works until "
                                  f"{local_time(endpoint, endpoint.previous_secret_expires_at)}: until then every "
                                  "delivery carries a signature with each. Update your receiver before then.",
                                  messages.WARNING)
            else:
                self.message_user(request, "New signing secret made; the old one stopped working now. Update your "
                                  "receiver: deliveries from now on are signed with the new one only.",
                                  messages.WARNING)
            return HttpResponseRedirect(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
        hours = settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS
        if hours > 0:
            text = (f"LeadHub makes a new secret. For the next {hours:g} hours every delivery is signed with both "
                    "the new and the old secret (two v1 signatures in LeadHub-Signature), so your receiver keeps "
                    "working while you update it; after that, with the new one only.")
        else:
            text = ("LeadHub makes a new secret and signs every delivery from now on with it; the old one stops at "
                    "once. Update your receiver right after.")
        return self._confirm(request, endpoint, title="Rotate the signing secret", button="Rotate secret", text=text)

    def _confirm(self, request, endpoint, *, title, button, text):
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": endpoint,
                   "title": title, "button": button, "text": text}
        return TemplateResponse(request, "admin/webhooks/webhookendpoint/confirm.html", context)


def local_time(endpoint: WebhookEndpoint, when) -> str:
    """A time as the endpoint's dealer reads it, with its zone: "2026-12-06 20:40 CET"."""
    return when.astimezone(zoneinfo.ZoneInfo(endpoint.dealer.time_zone)).strftime("%Y-%m-%d %H:%M %Z")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RetryableLogAdminMixin, DealerScopedAdmin):
    dealer_field = "endpoint__dealer"
    # What a dealer admin scans the log for; when the next attempt is and when it was
    # delivered are on each delivery's page (the list fits a laptop's screen).
    list_display = ["created_at", "event_type", "endpoint_url", "state", "attempts", "last_status_code",
                    "short_error"]
    list_filter = ["state", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    actions = ["retry_now"]
    exclude = ["payload"]

    @admin.display(description="endpoint", ordering="endpoint__url")
    def endpoint_url(self, obj):
        """The URL without its scheme, breakable after each dot and slash: a narrow
        column wraps it at the host's and the path's own seams, not mid-word."""
        url = obj.endpoint.url.split("://", 1)[-1]
        pieces = re.split(r"(?<=[./])", url)
        return format_html_join("", "{}<wbr>", ((piece,) for piece in pieces if piece))

    def get_readonly_fields(self, request, obj=None):
        # A record, not a form: every field is read-only (a field added later too).
        names = [f.name for f in WebhookDelivery._meta.concrete_fields if f.name not in ("id", "payload")]
        return [*names, "payload_display"]

    @admin.display(description="last error")
    def short_error(self, obj):
        # A cancelled delivery says why in the list, where an admin scans the log.
        if obj.state == DeliveryState.CANCELLED:
            return obj.cancelled_reason
        return super().short_error(obj)


    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request, queryset):
        count = webhook_retry_now(deliveries=queryset)
        if count:
            wake_sender()
        delivered = queryset.filter(state=DeliveryState.DELIVERED).count()
        self.message_user(request, f"{count} deliver(ies) queued to be sent now."
                          + (f" {delivered} were delivered already and are never resent." if delivered else ""),
                          messages.SUCCESS if count else messages.INFO)
