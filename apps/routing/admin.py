"""Routing rules in the admin (dealer admins), with a preview of what a rule
matches, and the "Submit to a vendor" screen for one or more leads (linked from
the lead page and the lead changelist's action; dealer-scoped through the lead
admin's own queryset and permissions)."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.accounts.admin_scoping import DealerScopedAdmin
from apps.accounts.models import Membership
from apps.leads.models import Lead
from apps.sync.models import OutboxState

from . import assignment, services
from .models import AssignmentRule, RoutingRule

MAX_LEADS = 200  # one screen; the changelist action refuses more


@admin.register(RoutingRule)
class RoutingRuleAdmin(DealerScopedAdmin):
    dealer_field = "dealer"
    list_display = ["position", "name", "dealer", "account", "criteria", "active"]
    list_display_links = ["name"]
    list_editable = ["position", "active"]
    list_filter = ["dealer", "active"]
    list_select_related = ["dealer", "account"]
    readonly_fields = ["preview"]
    fields = ["dealer", "name", "position", "account", "brands", "product_keywords", "sources", "active", "preview"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "account" and formfield is not None:
            formfield.queryset = formfield.queryset.filter(vendor__in=services.submit_vendors())
        return formfield

    @admin.display(description="what it matches among the dealer's own leads")
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return "Save the rule (Save and continue editing) to see what it matches."
        shown = services.preview(obj)
        rows = format_html_join("", "<li><a href='{}'>#{} {}</a> — {} / {} / {}</li>", (
            (reverse("admin:leads_lead_change", args=[lead.pk]), lead.pk, lead.full_name or lead.email or "—",
             lead.brand or "no brand", lead.product_interest or "no product", lead.source or "no source")
            for lead in shown.sample))
        return format_html("<p><strong>{}</strong> lead(s) match; <strong>{}</strong> of them are not taken by an "
                           "earlier rule, so this rule would route them.</p><ul class='routing-sample'>{}</ul>",
                           shown.matches, shown.decided, rows)

    # --- "Submit to a vendor" --------------------------------------------------------
    def get_urls(self):
        return [path("submit/", self.admin_site.admin_view(self.submit_view), name="routing_submit")] \
            + super().get_urls()

    def submit_view(self, request):
        """GET ?ids=1,2: each lead's submission state and the vendor's rule violations
        per account; POST account=<id>: submit those leads to it (queue_submission)."""
        lead_admin = self.admin_site._registry[Lead]
        ids = [int(i) for i in str(request.GET.get("ids", "")).split(",") if i.strip().isdigit()][:MAX_LEADS]
        leads = [lead for lead in lead_admin.get_queryset(request).filter(pk__in=ids).select_related("dealer")
                 if lead_admin.has_change_permission(request, lead)]
        if not leads:
            raise Http404("No lead you may change was given.")
        if request.method == "POST":
            return self._submit(request, leads)
        accounts = {}
        for lead in leads:
            accounts.setdefault(lead.dealer_id, list(services.submit_accounts(lead.dealer_id)))
        rows = [{"lead": lead, "targets": [_target(lead, account) for account in accounts[lead.dealer_id]]}
                for lead in leads]
        every_account = {a.pk: a for listed in accounts.values() for a in listed}.values()
        context = {**self.admin_site.each_context(request), "title": "Submit to a vendor", "opts": Lead._meta,
                   "rows": rows, "accounts": every_account, "ids": ",".join(str(lead.pk) for lead in leads)}
        return TemplateResponse(request, "admin/routing/submit.html", context)

    def _submit(self, request, leads):
        try:
            account_id = int(request.POST.get("account", ""))
        except ValueError:
            raise PermissionDenied from None
        done, refused = 0, []
        for lead in leads:
            account = services.submit_accounts(lead.dealer_id).filter(pk=account_id).first()
            if account is None:
                continue  # not an account of this lead's dealer
            item, problems = services.submit_by_hand(lead, account, actor=request.user)
            if problems:
                refused.append(f"#{lead.pk}: " + " ".join(p.message for p in problems))
            else:
                done += 1
        if done:
            messages.success(request, f"{done} lead(s) queued for submission.")
        if refused:
            messages.warning(request, "Not queued: " + "; ".join(refused[:10]))
        if not done and not refused:
            messages.error(request, "That account takes no submissions for these leads' dealer.")
        url = reverse("admin:routing_submit") + "?ids=" + ",".join(str(lead.pk) for lead in leads)
        return HttpResponseRedirect(url)


def _target(lead, account) -> dict:
    """One account's line on the submit screen: where the lead stands with it."""
    item = services.submission_state(lead, account)
    problems = []
    if item is None or item.state in (OutboxState.BLOCKED, OutboxState.FAILED):
        _, problems = account.adapter().build_submission(lead)
    result = ((item.response or {}).get("result") or {}) if item else {}
    return {"account": account, "item": item, "problems": problems, "result": result,
            "can_submit": item is None or item.state in (OutboxState.BLOCKED, OutboxState.FAILED)}


class AssignmentRuleForm(forms.ModelForm):
    """The rule's accounts and reps must be its dealer's (a person who works for
    two dealers is offered both dealers' in the lists)."""

    class Meta:
        model = AssignmentRule
        fields = "__all__"

    def clean(self):
        data = super().clean()
        dealer = data.get("dealer")
        if dealer is None:
            return data
        others = [account.name for account in data.get("accounts") or [] if account.dealer_id != dealer.pk]
        if others:
            self.add_error("accounts", f"{', '.join(others)}: not an account of {dealer.code}. Pick {dealer.code}'s.")
        reps = list(data.get("reps") or [])
        members = set(Membership.objects.filter(dealer=dealer, user__in=reps).values_list("user_id", flat=True))
        outside = [user.get_username() for user in reps if user.pk not in members]
        if outside:
            self.add_error("reps", f"{', '.join(outside)}: does not work for {dealer.code}.")
        return data


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(DealerScopedAdmin):
    form = AssignmentRuleForm
    dealer_field = "dealer"
    list_display = ["position", "name", "dealer", "criteria", "rep_names", "active"]
    list_display_links = ["name"]
    list_editable = ["position", "active"]
    list_filter = ["dealer", "active"]
    list_select_related = ["dealer"]
    readonly_fields = ["preview"]
    filter_horizontal = ["accounts", "reps"]
    fieldsets = [
        (None, {"fields": ["dealer", "name", "position", "active"]}),
        ("Which leads (blank: any)", {"fields": ["vendors", "accounts", "brands", "product_keywords", "sources",
                                                  "postal_prefixes", "states", "countries"]}),
        ("Who gets them", {"fields": ["reps", "max_open_new"]}),
        ("Preview", {"fields": ["preview"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("reps", "accounts")

    @admin.display(description="reps")
    def rep_names(self, obj):
        return ", ".join(user.get_username() for user in obj.reps.all()) or "—"

    @admin.display(description="what it would do")
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return "Save the rule (Save and continue editing) to see what it matches."
        shown = assignment.preview(obj)
        rows = format_html_join("", "<li><a href='{}'>#{} {}</a> — {} / {} / {} {}</li>", (
            (reverse("admin:leads_lead_change", args=[lead.pk]), lead.pk, lead.full_name or lead.email or "—",
             lead.vendor or "manual", lead.brand or "no brand", lead.state_province or "no state",
             lead.postal_code or "") for lead in shown.sample))
        reps = format_html_join("", "<li>{}: {}</li>", ((user.get_username(), state) for user, state in shown.reps))
        return format_html(
            "<p><strong>{}</strong> lead(s) of the last {} days match; <strong>{}</strong> of them are not "
            "taken by an earlier rule, so this rule would assign them.</p><ul class='routing-sample'>{}</ul>"
            "<p>Its reps today:</p><ul class='assignment-reps'>{}</ul>",
            shown.matches, assignment.PREVIEW_DAYS, shown.decided, rows, reps)
