"""Sync health, the outbox (with "Retry now"), stored vendor pages and runs.

Dealer admins see their dealer's accounts; IT (superusers) sees every account.
"""
from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from apps.accounts.admin_scoping import DealerScopedAdmin, ReadOnlyAdminMixin
from apps.leads.admin import LeadAdmin, ReadOnlyInline
from apps.leads.models import PendingVendorValue
from apps.leads.selectors import unmapped_values

from . import engine, held
from .models import InboxPage, OutboxItem, OutboxState, SyncHealth, SyncRun
from .outbox import kick_push


class OutboxInline(ReadOnlyInline):
    """Updates owed to the vendor and their state (Sync > Outbox has "Retry now"),
    on the lead's page (apps.leads knows nothing of the outbox)."""

    model = OutboxItem
    fields = ["created_at", "state", "attempts", "next_attempt_at", "last_error", "sent_at"]
    readonly_fields = fields
    verbose_name_plural = "Outbound updates to the vendor"


if OutboxInline not in LeadAdmin.inlines:
    LeadAdmin.inlines = [*LeadAdmin.inlines, OutboxInline]


def _ago(moment) -> str:
    return f"{timesince(moment)} ago" if moment else "never"


@admin.register(SyncHealth)
class SyncHealthAdmin(ReadOnlyAdminMixin, DealerScopedAdmin):
    list_display = ["name", "vendor", "dealer", "enabled", "last_pull", "last_push", "queued", "blocked",
                    "failed_pushes", "last_error", "waiting_for_mapping", "unmapped"]
    list_filter = ["vendor", "enabled", "dealer"]
    search_fields = ["name", "dealer__code"]
    readonly_fields = ["name", "vendor", "dealer", "enabled", "last_pull", "last_push", "queued", "blocked",
                       "failed_pushes", "last_error", "waiting_for_mapping", "unmapped"]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("dealer", "sync_state").annotate(
            n_queued=Count("outbox", filter=Q(outbox__state__in=[OutboxState.PENDING, OutboxState.SENDING])),
            n_blocked=Count("outbox", filter=Q(outbox__state=OutboxState.BLOCKED)),
            n_failed=Count("outbox", filter=Q(outbox__state=OutboxState.FAILED)),
            # A subquery, not a join: a second joined Count would multiply the outbox counts.
            n_waiting=Coalesce(Subquery(
                PendingVendorValue.objects.filter(account_id=OuterRef("pk")).order_by().values("account_id")
                .annotate(n=Count("lead_id", distinct=True)).values("n")[:1], output_field=IntegerField()), 0),
        )

    def _state(self, obj):
        return getattr(obj, "sync_state", None)

    @admin.display(description="last good pull")
    def last_pull(self, obj):
        state = self._state(obj)
        return _ago(state.last_pull_ok_at) if state else "never"

    @admin.display(description="last good push")
    def last_push(self, obj):
        state = self._state(obj)
        return _ago(state.last_push_ok_at) if state else "never"

    @admin.display(description="queued", ordering="n_queued")
    def queued(self, obj):
        return obj.n_queued

    @admin.display(description="blocked", ordering="n_blocked")
    def blocked(self, obj):
        return obj.n_blocked

    @admin.display(description="failed", ordering="n_failed")
    def failed_pushes(self, obj):
        return obj.n_failed

    @admin.display(description="last error")
    def last_error(self, obj):
        state = self._state(obj)
        if not state or not state.last_error or state.consecutive_failures == 0:
            return "—"
        return format_html("<span class='errornote'>{} ({})</span>", state.last_error[:300],
                           _ago(state.last_error_at))

    @admin.display(description="leads waiting for a mapping", ordering="n_waiting")
    def waiting_for_mapping(self, obj):
        """Leads of this account holding a value it sent that the dealer has not
        mapped yet (apps/leads/pending.py), linked to the list of them."""
        if not obj.n_waiting:
            return "0"
        url = reverse("admin:leads_lead_changelist") + f"?waiting_for={obj.pk}"
        return format_html("<a href='{}' class='waiting-for-mapping'>{} lead(s)</a>", url, obj.n_waiting)

    @admin.display(description="unmapped")
    def unmapped(self, obj):
        found = unmapped_values(dealer_id=obj.dealer_id, vendors=[obj.vendor])
        required = [u for u in found if u.required]
        if not required:
            return "none"
        return format_html_join("", "<div>{}</div>", ((u.message,) for u in required[:10]))


class RetryableLogAdminMixin:
    """A log of items retried by "Retry now" (outbox items, webhook deliveries):
    each change page is a view (a POST to it saves nothing), never added or
    deleted by hand; its last error shortened on the list and its payload shown."""

    def has_change_permission(self, request, obj=None):
        # The permission without an object is what "Retry now" needs on the list.
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="last error")
    def short_error(self, obj):
        return (obj.last_error[:120] + "…") if len(obj.last_error) > 120 else (obj.last_error or "—")

    @admin.display(description="payload")
    def payload_display(self, obj):
        return format_html("<pre class='leadhub-raw'>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))


@admin.register(OutboxItem)
class OutboxItemAdmin(RetryableLogAdminMixin, DealerScopedAdmin):
    dealer_field = "account__dealer"
    list_display = ["id", "lead", "account", "state", "attempts", "next_attempt_at", "short_error", "sent_at",
                    "created_at"]
    list_filter = ["state", "account"]
    list_select_related = ["lead", "account"]
    search_fields = ["lead__vendor_lead_id", "lead__last_name", "last_error"]
    actions = ["retry_now"]
    # What was sent, how, and what the vendor answered is a record, not a form:
    # no field of an item is editable by anyone (a dealer admin who could edit
    # dedupe_key could have a lead submitted twice). The only change people make
    # is "Retry now", an action through the engine. Every concrete field is read-
    # only, so a field added to the model later is read-only too.
    exclude = ["payload", "response"]

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in OutboxItem._meta.concrete_fields if f.name not in ("id", "payload", "response")]
        return [*names, "payload_display", "response_display"]


    @admin.display(description="vendor's answer")
    def response_display(self, obj):
        return format_html("<pre class='leadhub-raw'>{}</pre>", json.dumps(obj.response, indent=2, ensure_ascii=False))

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request, queryset):
        """Pending and failed items: due now. A held (blocked) item is never just
        pushed (the vendor would refuse it): it is re-checked, queued if its cause
        was fixed, and otherwise the message says what it still waits for and who
        can fix it. A sent item is left alone, and said so."""
        rechecked = held.recheck(queryset.filter(state=OutboxState.BLOCKED).select_related(
            "account", "lead", "lead__sales_stage", "status_log", "status_log__reason", "status_log__to_stage"))
        count = engine.retry_now(queryset, user=request.user)
        accounts = set(queryset.values_list("account_id", flat=True))
        for account_id in accounts:
            kick_push(account_id)
        queued = count + len(rechecked.queued)
        self.message_user(request, f"{queued} update(s) queued to be sent now"
                          + (f" ({len(rechecked.queued)} of them held until now: their cause was fixed)."
                             if rechecked.queued else "."), messages.SUCCESS if queued else messages.INFO)
        for item, problems in rechecked.still[:10]:
            said = item.account.adapter().held_for_staff(item, problems)
            self.message_user(request, f"#{item.pk} ({item.lead}, {item.account.name}) was not queued: it is held "
                              f"until its cause is fixed. " + " ".join(v.message for v in said)
                              + " Staff add what a lead is missing on its page, under \"Not sent yet\".",
                              messages.WARNING)
        if len(rechecked.still) > 10:
            self.message_user(request, f"{len(rechecked.still) - 10} more held update(s) were not queued either.",
                              messages.WARNING)
        sent = queryset.filter(state=OutboxState.SENT).count()
        if sent:
            self.message_user(request, f"{sent} update(s) were sent already: nothing to retry.", messages.INFO)


@admin.register(InboxPage)
class InboxPageAdmin(ReadOnlyAdminMixin, DealerScopedAdmin):
    dealer_field = "account__dealer"
    list_display = ["id", "account", "kind", "status_code", "state", "item_count", "received_at", "error"]
    list_filter = ["state", "kind", "account"]
    list_select_related = ["account"]
    readonly_fields = ["account", "kind", "request", "status_code", "received_at", "state", "processed_at",
                       "item_count", "error", "run", "body_display"]
    exclude = ["body"]

    @admin.display(description="body as received")
    def body_display(self, obj):
        text = obj.body_text
        return format_html("<pre class='leadhub-raw'>{}</pre>",
                           text[:200_000] + ("\n… (cut for display)" if len(text) > 200_000 else ""))


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdminMixin, DealerScopedAdmin):
    dealer_field = "account__dealer"
    list_display = ["id", "account", "kind", "state", "started_at", "duration", "fetched", "created", "updated",
                    "pushed", "failed"]
    list_filter = ["kind", "state", "account"]
    list_select_related = ["account"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    @admin.display(description="duration")
    def duration(self, obj):
        end = obj.finished_at or timezone.now()
        return f"{(end - obj.started_at).total_seconds():.1f}s"
