"""The organisation's Capillary reasons and sub-statuses in the admin, per dealer.

Dealer admins see the lists fetched for their own Capillary accounts (to map
their reasons to real reason ids), add a missing one (it is created in
Capillary first: POST /leads/reasons or /leads/substatus, then the lists are
fetched again) and refresh the lists of the selected entries' accounts.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from apps.accounts.admin_scoping import DealerScopedAdmin
from apps.leads.admin import LeadAdmin
from apps.sync.outbox import queue_submission
from apps.vendors.core.admin import account_action
from apps.vendors.core.base import VendorError
from apps.vendors.core.models import VendorAccount

from . import rules
from .adapter import create_reason, create_substatus, refresh_lists
from .models import CapillaryReason, CapillarySubStatus


class _CreateInCapillaryForm(forms.ModelForm):
    """On add: the entry is created in Capillary by clean(), so a refusal shows on the form."""

    def clean(self):
        data = super().clean()
        account = data.get("account")
        if self.instance.pk is None and account is not None and not self.errors:
            problems = self.create(account, data)
            for problem in problems:
                self.add_error(None, problem.message)
            if not problems:
                self.instance = self.find(account, data) or self.instance
        return data


class CapillaryReasonForm(_CreateInCapillaryForm):
    class Meta:
        model = CapillaryReason
        fields = ["account", "reason"]

    def create(self, account, data):
        return create_reason(account, data.get("reason") or "")

    def find(self, account, data):
        return CapillaryReason.objects.filter(account=account, reason=(data.get("reason") or "").strip()).first()


class CapillarySubStatusForm(_CreateInCapillaryForm):
    status = forms.ChoiceField(choices=[(s, s) for s in rules.STATUSES])

    class Meta:
        model = CapillarySubStatus
        fields = ["account", "status", "sub_status"]

    def create(self, account, data):
        return create_substatus(account, data.get("status") or "", data.get("sub_status") or "")

    def find(self, account, data):
        return CapillarySubStatus.objects.filter(account=account, status=data.get("status"),
                                                 sub_status=(data.get("sub_status") or "").strip()).first()


class _ListAdmin(DealerScopedAdmin):
    dealer_field = "account__dealer"
    list_filter = ["account"]
    actions = ["refresh_lists"]

    def get_readonly_fields(self, request, obj=None):
        # Capillary owns these: LeadHub adds, never edits (there is no update call).
        return [f.name for f in self.model._meta.fields if f.name != "id"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "account" and formfield is not None:
            formfield.queryset = formfield.queryset.filter(vendor="capillary")
        return formfield

    @admin.action(description="Refresh Capillary lists of these entries' accounts")
    def refresh_lists(self, request, queryset):
        for account in VendorAccount.objects.filter(pk__in=queryset.values("account_id")):
            refresh_account_lists(request, account)


def refresh_account_lists(request, account) -> None:
    try:
        reasons, subs = refresh_lists(account)
    except VendorError as exc:
        messages.error(request, f"{account.name}: Capillary could not be read: {exc.message}")
        return
    messages.success(request, f"{account.name}: {reasons} reasons and {subs} sub-statuses fetched from Capillary.")


@admin.register(CapillaryReason)
class CapillaryReasonAdmin(_ListAdmin):
    form = CapillaryReasonForm
    list_display = ["reason_id", "reason", "account", "fetched_at"]
    search_fields = ["reason"]


@admin.register(CapillarySubStatus)
class CapillarySubStatusAdmin(_ListAdmin):
    form = CapillarySubStatusForm
    list_display = ["status", "sub_status", "account", "fetched_at"]
    list_filter = ["account", "status"]
    search_fields = ["sub_status"]


@admin.action(description="Create in Capillary (the dealer's Capillary accounts)")
def submit_to_capillary(modeladmin, request, queryset):
    """Queue each selected lead for POST /leads to its dealer's Capillary accounts
    (apps.sync.outbox.queue_submission: at most once per lead and account)."""
    queued = 0
    for lead in queryset.select_related("dealer"):
        for account in VendorAccount.objects.filter(dealer_id=lead.dealer_id, vendor="capillary", enabled=True):
            item, problems = queue_submission(account.adapter(), lead)
            if problems:
                messages.warning(request, f"{lead} → {account.name}: " + " ".join(p.message for p in problems))
            elif item is not None:
                queued += 1
    if queued:
        messages.success(request, f"{queued} lead(s) queued for Capillary.")


@account_action
@admin.action(description="Refresh Capillary lists (reasons, sub-statuses)")
def refresh_capillary_lists(modeladmin, request, queryset):
    for account in queryset.filter(vendor="capillary"):
        refresh_account_lists(request, account)


if submit_to_capillary not in (LeadAdmin.actions or []):
    LeadAdmin.actions = [*(LeadAdmin.actions or []), submit_to_capillary]
