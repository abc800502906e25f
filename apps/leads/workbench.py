"""The lead workbench: one admin page where dealer staff work a lead.

Contact and interest at the top, the outcome actions this lead's state and
vendor allow, owner, follow-ups, the single timeline and the vendor's raw fields.
It is a custom view of LeadAdmin (admin look, admin login, the admin's dealer
scoping: the lead comes from LeadAdmin.get_queryset). Every write goes through
apps.leads.services; every rule comes from the same functions the vendor sync
and the CSV import use (services.lead_status_change_violations runs
lead_change_status's checks without writing, for the as-you-type check).
"""
from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import nh3
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from . import customers, held, outbound, selectors, services
from .forms import (AssignForm, FollowUpCompleteForm, FollowUpScheduleForm, HeldCompleteForm, LinkCustomerForm,
                    NoteForm, StatusChangeForm, add_violations, error_items)
from .models import FollowUp, Source
from .statuses import REASON_KIND_FOR_STATUS, Status, allowed_targets

# The button each target status gets, as staff say it.
ACTION_LABELS = {
    Status.ACCEPTED: "Accept",
    Status.REJECTED: "Reject",
    Status.DISQUALIFIED: "Disqualify",
    Status.ON_HOLD: "Put on hold",
    Status.CLOSED_WON: "Close won",
    Status.CLOSED_LOST: "Close lost",
    Status.CLOSED_NO_DEAL: "Close: no deal",
}

# Markup that vendor HTML (Cat's partShoppingCart: table rows) may keep when it is
# shown rendered. No attributes at all: no style, no links, no event handlers.
SAFE_TAGS = {"table", "thead", "tbody", "tr", "td", "th", "b", "i", "em", "strong", "br", "p", "ul", "ol", "li",
             "span", "div"}
_LOOKS_LIKE_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")


def required_by_status(lead, statuses, actor) -> dict[str, list[str]]:
    """For each status, the status form's fields that must be filled: the reason when
    LeadHub's lifecycle demands one (statuses.REASON_KIND_FOR_STATUS, the table
    rules.status_change_violations checks), plus what the lead's vendor requires
    (adapter.required_form_fields, the function its payload builder uses) for every
    vendor that knows the lead: the account it came from and any it was submitted to."""
    adapters = outbound.adapters_for_lead(lead)
    result = {}
    for status in statuses:
        fields = set().union(*(a.required_form_fields(lead, status, actor=actor) for a in adapters))
        if REASON_KIND_FOR_STATUS.get(status, (None, False))[1]:
            fields.add("reason")
        result[status] = sorted(fields)
    return result


def required_by_stage(lead, form, actor) -> dict[int, list[str]]:
    """For an accepted lead's outcome (the one that picks a stage): the fields
    each of the dealer's stages makes required, by the same adapters'
    required_form_fields. Cat counts a lead with a stage as an opportunity, so
    "Advance stage" to a first stage needs the amount and target date: the form
    shows them as soon as the stage is picked, not after a failed save."""
    if Status.ACCEPTED not in _targets(form):
        return {}
    adapters = outbound.adapters_for_lead(lead)
    return {stage.pk: sorted(set().union(*(a.required_form_fields(lead, Status.ACCEPTED, actor=actor, stage=stage)
                                           for a in adapters)))
            for stage in form.fields["stage"].queryset}


def field_spec(lead, form, required: dict[str, list[str]]) -> dict:
    """What the outcome form shows for each status: its own fields (a reason of the
    right kind, a stage and probability when accepting) and whatever is required;
    the other outcome fields stay behind "show every field". Also which reasons
    need a comment, so the comment is marked as soon as one is picked."""
    reasons = list(form.fields["reason"].queryset.values_list("pk", "kind", "requires_comment"))
    spec = {}
    for status in _targets(form):
        kind = REASON_KIND_FOR_STATUS.get(status, (None, False))[0]
        shown = {"to_status", "comment", *required.get(status, [])}
        if kind:
            shown.add("reason")
        if status == Status.ACCEPTED:
            shown |= {"stage", "probability"}
        spec[status] = {"shown": sorted(shown),
                        "reasons": [pk for pk, reason_kind, _ in reasons if reason_kind == kind]}
    return {"statuses": spec, "comment_reasons": [pk for pk, _, needs in reasons if needs]}


def actions_for(lead, form) -> list[tuple[str, str]]:
    """(status, button label) for every outcome this lead may move to now."""
    return [(status, "Advance stage" if status == Status.ACCEPTED and lead.status == Status.ACCEPTED
             else ACTION_LABELS.get(status, label)) for status, label in form.fields["to_status"].choices if status]


def raw_fields(payload) -> list[dict]:
    """The vendor's raw fields for display, every one escaped by the template.

    HTML a vendor sends (Cat's partShoppingCart is bare <tr>/<td> rows) is also
    offered rendered, after nh3 removed every tag outside SAFE_TAGS and every
    attribute: scripts, event handlers, styles and links never reach the page.
    """
    if not isinstance(payload, dict):
        payload = {"payload": payload}
    rows = []
    for key in sorted(payload, key=str):
        value = payload[key]
        text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
        rendered = None
        if isinstance(value, str) and _LOOKS_LIKE_HTML.search(value):
            # Table rows outside a table are dropped by an HTML parser: give them one.
            source = f"<table>{value}</table>" if "<tr" in value.lower() and "<table" not in value.lower() else value
            # Safe to mark: nh3 (ammonia) keeps only SAFE_TAGS, no attributes, no URLs.
            rendered = mark_safe(nh3.clean(source, tags=SAFE_TAGS, attributes={}, url_schemes=set(),  # nosec B308 B703
                                           strip_comments=True))
        rows.append({"key": key, "text": text, "rendered": rendered, "multiline": "\n" in text or len(text) > 80})
    return rows


def _url(lead) -> str:
    return reverse("admin:leads_lead_workbench", args=[lead.pk])


def _status_form(lead, data=None):
    form = StatusChangeForm(data, lead=lead)
    # Nothing preselected: an outcome is a decision, not a default.
    form.fields["to_status"].choices = [("", "Choose an outcome…")] + list(form.fields["to_status"].choices)
    return form


def _targets(form) -> list[str]:
    return [status for status, _ in form.fields["to_status"].choices if status]


def _assign_form(request, lead, data=None):
    form = AssignForm(data, user=request.user, allow_nobody=True, initial={"owner": lead.owner_id},
                      prefix="assign")
    form.fields["owner"].queryset = form.fields["owner"].queryset.filter(memberships__dealer_id=lead.dealer_id)
    return form


def _change_status(request, lead, form):
    """Apply the outcome through the status service; its StatusChangeResult."""
    return services.lead_apply_status_change(lead=lead, change=form.status_change(actor=request.user),
                                             source=Source.WORKBENCH, take_if_unassigned=True)


def workbench_view(model_admin, request, object_id):
    """GET: the page. POST with action=status|assign|schedule|complete: that write,
    then back to the page (or the page again with the form's errors)."""
    queryset = model_admin.get_queryset(request).select_related("dealer", "owner", "vendor_account", "sales_stage")
    lead = get_object_or_404(queryset, pk=object_id)
    can_change = model_admin.has_change_permission(request, lead)
    forms = {}
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "status":
            form = forms["status"] = _status_form(lead, request.POST)
            if form.is_valid():
                result = _change_status(request, lead, form)
                if result.ok:
                    messages.success(request, f"{lead}: now {lead.get_status_display()}."
                                     + (" It had no owner, so it is now yours." if result.taken_by_actor else ""))
                    for notice in held.notices_for_change(lead, result.log, user=request.user):
                        messages.warning(request, notice)
                    for offer in _same_outcome_offers(lead, form.cleaned_data["to_status"]):
                        messages.info(request, offer)
                    return HttpResponseRedirect(_url(lead))
                add_violations(form, result.errors)
        elif action == "complete_held":
            posted = request.POST.get("held-item", "")
            needs = next((h.staff_fields for h in outbound.held_updates(lead) if str(h.item_id) == posted), None)
            if not needs:  # no held update of this lead asks for that (sent meanwhile, or a forged post)
                messages.error(request, "This update does not wait for anything from you any more (it was sent, "
                                        "queued or changed meanwhile). Nothing was added.")
                return HttpResponseRedirect(_url(lead) + "#held")
            form = HeldCompleteForm(request.POST, prefix="held", lead=lead, needs=needs)
            if form.is_valid():
                result = services.lead_complete_held_update(
                    lead=lead, item_id=form.cleaned_data["item"], actor=request.user,
                    comment=form.cleaned_data.get("comment") or "", updates=form.outcome_updates())
                if result.ok:
                    if result.queued:
                        messages.success(request, "Added. The update is on its way to the vendor.")
                    elif result.still is not None:
                        messages.warning(request, "Added, but " + held.held_notice(
                            result.still, user=request.user, dealer_id=lead.dealer_id))
                    return HttpResponseRedirect(_url(lead) + "#held")
                add_violations(form, result.errors)
            forms["held"] = form
        elif action == "assign":
            form = forms["assign"] = _assign_form(request, lead, request.POST)
            if form.is_valid():
                owner = form.cleaned_data["owner"]
                result = services.lead_assign_owner(lead=lead, owner=owner, actor=request.user)
                if result.ok:
                    messages.success(request, f"{lead}: assigned to {owner.get_username() if owner else 'nobody'}.")
                    return HttpResponseRedirect(_url(lead))
                add_violations(form, result.errors)
        elif action == "link_customer":
            form = forms["link"] = LinkCustomerForm(request.POST, prefix="link", lead=lead,
                                                    leads=model_admin.get_queryset(request))
            if form.is_valid():
                other = form.cleaned_data["other"]
                customers.link_customers(lead=lead, other=other, actor=request.user)
                messages.success(request, f"{lead} and {other} are now the same customer.")
                return HttpResponseRedirect(_url(lead) + "#customer")
        elif action == "unlink_customer":
            customers.unlink_customer(lead=lead, actor=request.user)
            messages.success(request, f"{lead} is no longer linked with other leads as the same customer.")
            return HttpResponseRedirect(_url(lead) + "#customer")
        elif action == "note":
            form = forms["note"] = NoteForm(request.POST, prefix="note")
            if form.is_valid():
                result = services.lead_add_note(lead=lead, text=form.cleaned_data["text"], actor=request.user)
                if result.ok:
                    messages.success(request, "Note added.")
                    return HttpResponseRedirect(_url(lead) + "#timeline")
                add_violations(form, result.errors)
        elif action == "schedule":
            form = forms["schedule"] = FollowUpScheduleForm(request.POST, prefix="schedule")
            if form.is_valid():
                result = services.followup_schedule(lead=lead, actor=request.user, **form.cleaned_data)
                if result.ok:
                    messages.success(request, "Follow-up scheduled.")
                    return HttpResponseRedirect(_url(lead))
                add_violations(form, result.errors)
        elif action == "complete":
            form = FollowUpCompleteForm(request.POST, prefix="complete")
            if form.is_valid():
                followup = get_object_or_404(FollowUp, pk=form.cleaned_data["followup"], lead=lead)
                result = services.followup_complete(followup=followup, actor=request.user,
                                                    outcome_notes=form.cleaned_data["outcome_notes"],
                                                    next_at=form.cleaned_data["next_at"],
                                                    next_kind=form.cleaned_data["next_kind"] or None)
                if result.ok:
                    messages.success(request, "Follow-up done." + (" Next one scheduled."
                                                                   if form.cleaned_data["next_at"] else ""))
                    return HttpResponseRedirect(_url(lead))
                add_violations(form, result.errors)  # done already (a second click, another tab)
            forms["complete"] = form
        else:
            return HttpResponseBadRequest("Unknown action.")
    status_form = forms.get("status")
    if status_form is None:
        status_form = _status_form(lead)
        if request.GET.get("outcome") in _targets(status_form):  # an action button without JavaScript
            status_form.initial["to_status"] = request.GET["outcome"]
    required = required_by_status(lead, _targets(status_form), request.user)
    failed_complete = forms.get("complete")
    open_followups = []
    for followup in lead.followups.filter(done_at__isnull=True).select_related("assigned_to"):
        mine = failed_complete is not None and str(followup.pk) == str(failed_complete.data.get("complete-followup"))
        open_followups.append((followup, failed_complete if mine else FollowUpCompleteForm(
            prefix="complete", initial={"followup": followup.pk})))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": str(lead),
        # The page needs the width (a tablet): breadcrumbs lead back, not the app sidebar.
        "is_nav_sidebar_enabled": False,
        "opts": model_admin.opts,
        "lead": lead,
        "closing": selectors.lead_closing(lead),
        "original": lead,
        "can_change": can_change,
        "status_form": status_form,
        "actions": actions_for(lead, status_form),
        "required_by_status": required,
        "field_spec": {**field_spec(lead, status_form, required),
                       "by_stage": required_by_stage(lead, status_form, request.user)},
        "assign_form": forms.get("assign") or _assign_form(request, lead),
        "schedule_form": forms.get("schedule") or FollowUpScheduleForm(prefix="schedule"),
        "note_form": forms.get("note") or NoteForm(prefix="note"),
        "link_form": forms.get("link") or LinkCustomerForm(prefix="link"),
        "same_customer": customers.same_customer(lead),
        "open_followups": open_followups,
        "now": timezone.now(),
        "timeline": selectors.lead_timeline(lead),
        "raw_fields": raw_fields(lead.raw_payload) if lead.raw_payload else [],
        # Vendor updates held until their cause is fixed, each with who acts next
        # and, for what staff can add, its form.
        "held_updates": _held_with_forms(request, lead, forms.get("held")) if can_change else [
            (h, held.who_can_fix(h, user=request.user, dealer_id=lead.dealer_id, on_the_lead=True), None)
            for h in outbound.held_updates(lead)],
        # What the vendor sent that waits for a mapping (apps/leads/pending.py).
        "pending_values": list(lead.pending_values.select_related("account")),
    }
    return TemplateResponse(request, "admin/leads/lead/workbench.html", context)


def _same_outcome_offers(lead, to_status: str) -> list[str]:
    """After an outcome, the same customer's other open leads: each offered the
    same outcome on its own page, where its own vendor's rules and fields apply."""
    offers = []
    for other in customers.same_customer(lead):
        if to_status in allowed_targets(other.status):
            url = reverse("admin:leads_lead_workbench", args=[other.pk]) + "?" + urlencode({"outcome": to_status})
            vendor = other.vendor_account.get_vendor_display() if other.vendor_account_id else "the dealer"
            offers.append(format_html("The same customer is also <a href='{}'>lead #{} from {}</a> ({}): record "
                                      "this outcome there too.", url, other.pk, vendor, other.get_status_display()))
    return offers


def _held_with_forms(request, lead, failed_form) -> list[tuple]:
    """(HeldUpdate, who acts next, its completion form or None) for the page."""
    rows = []
    for update in outbound.held_updates(lead):
        form = None
        if update.staff_fields:
            mine = failed_form is not None and str(failed_form.data.get("held-item")) == str(update.item_id)
            form = failed_form if mine else HeldCompleteForm(prefix="held", lead=lead, needs=update.staff_fields,
                                                             initial={"item": update.item_id,
                                                                      "comment": update.comment})
        rows.append((update, held.who_can_fix(update, user=request.user, dealer_id=lead.dealer_id, on_the_lead=True),
                     form))
    return rows


def workbench_check_view(model_admin, request, object_id):
    """POST the outcome form as it stands; answers {"errors": {field: [{"message",
    "detail"}]}} (forms.error_items) with
    what saving it now would refuse (form errors, LeadHub's and the vendor's rules),
    writing nothing."""
    lead = get_object_or_404(model_admin.get_queryset(request).select_related("dealer", "vendor_account"),
                             pk=object_id)
    if request.method != "POST":
        return HttpResponseBadRequest("POST the outcome form.")
    if not model_admin.has_change_permission(request, lead):
        raise PermissionDenied
    form = _status_form(lead, request.POST)
    if form.is_valid():
        add_violations(form, services.lead_status_change_violations(
            lead=lead, change=form.status_change(actor=request.user)))
    errors = {name or "__all__": error_items(field_errors) for name, field_errors in form.errors.items()}
    return JsonResponse({"errors": errors})
