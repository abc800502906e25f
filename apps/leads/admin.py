"""Admin screens for leads, follow-ups, the status log, reasons, stages and mappings.

Every screen is dealer-scoped through apps.accounts.admin_scoping. Status,
stage and probability are read-only on the lead form: they change only through
the "Change status" screen, which calls apps.leads.services.lead_change_status.
"""
from __future__ import annotations

import json

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from import_export.admin import ExportMixin

from apps.accounts.admin_scoping import DealerScopedAdmin, DealerScopedInline, ReadOnlyAdminMixin, dealers_with_perm
from apps.accounts.scoping import scope_queryset
from apps.vendors.core.models import VendorAccount
from apps.vendors.core.registry import VENDOR_CHOICES

from . import held, selectors, services, workbench
from .forms import (AssignForm, ImportUploadForm, ReasonMappingForm, StageMappingForm, StatusChangeForm, StatusMappingForm,
                    add_violations)
from .models import (FollowUp, ImportKind, ImportState, Lead, LeadEvent, PendingVendorValue, Reason, ReasonMapping,
                     SalesStage, Source, StageMapping, StatusLog, StatusMapping)
from .pending import leads_waiting_q
from .pagination import CappedPaginator
from .search import search_leads
from .signals import lead_moved
from .statuses import FINAL_STATUSES, Status
from . import imports
from .csv_export import streamed_csv
from .lead_import import IMPORT_COLUMNS
from .outcomes_import import OUTCOME_COLUMNS
from . import queue
from .queue import humane_age, my_queue
from .resources import LeadResource, lead_export_formats


class VendorFilter(admin.SimpleListFilter):
    title = "vendor"
    parameter_name = "vendor"

    def lookups(self, request, model_admin):
        return [("none", "No vendor (manual / CSV)")] + list(VENDOR_CHOICES)

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(vendor_account__isnull=True)
        if self.value():
            return queryset.filter(vendor_account__vendor=self.value())
        return queryset


class WaitingForMappingFilter(admin.SimpleListFilter):
    """Leads with values a vendor sent that wait for a mapping (apps/leads/pending.py),
    of any account or of one; sync health links here per account."""

    title = "waiting for a mapping"
    parameter_name = "waiting_for"

    def lookups(self, request, model_admin):
        accounts = scope_queryset(VendorAccount.objects.all(), request.user, "dealer").filter(
            pk__in=PendingVendorValue.objects.values("account_id")).order_by("name")
        return [("any", "Any vendor account")] + [(str(a.pk), a.name) for a in accounts]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "any":
            return queryset.filter(leads_waiting_q())
        if value:
            if not value.isdigit():
                return queryset.none()  # a tampered link: nothing, never an error page
            return queryset.filter(leads_waiting_q(int(value)))
        return queryset


class ToDoFilter(admin.SimpleListFilter):
    """The queue's buckets as a filter, so each bucket's "See all" is this list
    (apps/leads/queue.py holds the one definition)."""

    title = "to do"
    parameter_name = "todo"

    def lookups(self, request, model_admin):
        return [(key, title) for key, title, _ in queue.BUCKETS]

    def queryset(self, request, queryset):
        if self.value() not in {key for key, _, _ in queue.BUCKETS}:
            return queryset
        whose = request.GET.get(WhoseFilter.parameter_name) or "mine_and_unassigned"
        return queue.bucket_filter(queryset, self.value(), user=request.user, whose=whose, now=timezone.now())


class WhoseFilter(admin.SimpleListFilter):
    title = "whose"
    parameter_name = "whose"

    def lookups(self, request, model_admin):
        return queue.WHOSE

    def queryset(self, request, queryset):
        if self.value() in {key for key, _ in queue.WHOSE}:
            return queryset.filter(queue.whose_q(request.user, self.value()))
        return queryset


class FollowUpDueFilter(admin.SimpleListFilter):
    title = "follow-up"
    parameter_name = "followup"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("today", "Due today"), ("later", "Later"), ("none", "None scheduled")]

    def queryset(self, request, queryset):
        now = timezone.localtime()
        if self.value() == "overdue":
            return queryset.filter(selectors.followups_due_q(now, overdue=True))
        if self.value() == "today":
            return queryset.filter(selectors.followups_due_q(now, overdue=False))
        if self.value() == "later":
            return queryset.filter(next_follow_up_at__gt=selectors.end_of_local_day(now))
        if self.value() == "none":
            return queryset.filter(next_follow_up_at__isnull=True)
        return queryset


class FollowUpInline(DealerScopedInline):
    model = FollowUp
    parent_dealer_field = "dealer"
    extra = 0
    fields = ["kind", "scheduled_at", "assigned_to", "notes", "done_at", "done_by", "outcome_notes"]
    readonly_fields = ["done_by"]


class StatusLogInline(DealerScopedInline):
    model = StatusLog
    parent_dealer_field = "dealer"
    extra = 0
    can_delete = False
    fields = ["created_at", "from_status", "to_status", "to_stage", "probability", "reason_label", "sub_status",
              "comment", "actor_label", "source"]
    readonly_fields = fields
    verbose_name_plural = "Status log (read-only)"

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyInline(DealerScopedInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LeadEventInline(ReadOnlyInline):
    """What vendors sent and answered: updates, reports sent, refusals, blocks."""

    model = LeadEvent
    fields = ["created_at", "kind", "summary", "actor_label"]
    readonly_fields = fields
    verbose_name_plural = "Vendor activity"


@admin.register(Lead)
class LeadAdmin(ExportMixin, DealerScopedAdmin):
    resource_classes = [LeadResource]
    export_formats = lead_export_formats()  # CSV and TSV with a UTF-8 BOM, like "Download CSV"
    change_list_template = "admin/leads/lead/change_list.html"  # import-export wraps it, adding Export
    list_display = ["id", "display_name", "company", "status", "stage_display", "owner", "dealer", "vendor_display",
                    "vendor_lead_id", "follow_up_display", "created_at"]
    list_display_links = ["id"]
    list_filter = [ToDoFilter, WhoseFilter, "status", VendorFilter, FollowUpDueFilter, "dealer", "owner", "origin",
                   "needs_review", WaitingForMappingFilter]
    list_select_related = ["dealer", "owner", "sales_stage", "vendor_account"]
    search_fields = ["first_name"]  # shows the search box; get_search_results does the searching
    search_help_text = ("The start of a name, company, e-mail or vendor lead id, or a whole phone number "
                        "(any format).")
    list_per_page = 50
    # A million leads: no full COUNT per page (apps/leads/pagination.py).
    paginator = CappedPaginator
    show_full_result_count = False
    # apps.sync adds its outbox inline after these (apps/sync/admin.py).
    inlines = [FollowUpInline, StatusLogInline, LeadEventInline]
    related_history = [(FollowUp, "lead")]  # audit: the follow-ups' changes on the lead's History page
    actions = ["accept_selected", "hold_selected", "assign_to_me", "assign_to", "unassign", "submit_to_vendor"]
    readonly_fields = ["status", "sales_stage", "probability", "first_contacted_at", "next_follow_up_at",
                       "vendor_created_at", "created_at", "updated_at", "raw_payload_display", "phone_normalized",
                       "timeline", "waiting_for_mapping"]
    fieldsets = [
        (None, {"fields": ["dealer", "owner", ("status", "sales_stage", "probability")]}),
        ("Contact", {"fields": [("first_name", "last_name"), "company", "email", ("phone", "mobile_phone"),
                                "phone_normalized", "address1", "address2", ("city", "state_province"),
                                ("postal_code", "country")]}),
        ("Interest", {"fields": ["product_interest", "brand", ("source", "campaign"), "comments"]}),
        # What CAP's optInConsents and Aimbase's opt-in and UTM fields are built from:
        # a walk-in or event lead typed here must be able to carry them.
        ("Consent and origin", {"fields": [("opt_in_email", "opt_in_phone"), ("opt_in_sms", "opt_in_post"),
                                           "ip_address", ("utm_source", "utm_medium", "utm_campaign"),
                                           ("utm_term", "utm_content")],
                                "description": "Marketing consent per channel: Yes (opted in), No (opted out) "
                                               "or Unknown (not asked). Vendors receive exactly this answer."}),
        ("Timeline", {"fields": ["timeline"]}),
        ("Opportunity", {"fields": [("opportunity_amount", "currency"), ("target_date", "rating"),
                                    "customer_number", ("quote_id", "quote_sent_date")]}),
        ("Vendor", {"fields": ["origin", "vendor_account", "vendor_lead_id", "vendor_created_at",
                               ("needs_review", "review_note"), "raw_payload_display"],
                    "classes": ["collapse"]}),
        ("Times", {"fields": [("first_contacted_at", "next_follow_up_at"), ("created_at", "updated_at")]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.pk and obj.pending_values.exists():
            # Shown at the top only when a vendor's value waits for a mapping.
            first = dict(fieldsets[0][1], fields=[*fieldsets[0][1]["fields"], "waiting_for_mapping"])
            fieldsets = [(fieldsets[0][0], first), *fieldsets[1:]]
        return fieldsets

    @admin.display(description="waiting for a mapping")
    def waiting_for_mapping(self, obj):
        rows = list(obj.pending_values.select_related("account")) if obj.pk else []
        if not rows:
            return "—"
        return format_html("<ul class='pending-values'>{}</ul><div class='help'>{}</div>", format_html_join(
            "", "<li><strong>{}</strong>: {} sent <code>{}</code> ({})</li>",
            ((p.get_field_display(), p.account.get_vendor_display(), p.vendor_value, p.account.name) for p in rows)),
            "LeadHub applies each as soon as a dealer admin maps it.")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.vendor_account_id:
            # A vendor's lead stays with its account and id: they are its key.
            fields += ["dealer", "vendor_account", "vendor_lead_id", "origin"]
        return fields

    # --- assignment (through services.lead_assign_owner, which checks the dealer) ----
    def _assign(self, request, queryset, owner):
        done, refused = 0, []
        for lead in queryset.select_related("dealer"):
            result = services.lead_assign_owner(lead=lead, owner=owner, actor=request.user)
            if not result.ok:
                refused.append(f"#{lead.pk}: {result.errors[0].message}")
            else:
                done += 1
        who = owner.get_username() if owner else "nobody"
        self.message_user(request, f"{done} lead(s) assigned to {who}.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not assigned: " + "; ".join(refused[:10]), messages.WARNING)

    # --- bulk outcomes: only those that need nothing per lead ----------------------------
    BULK_LIMIT = 500  # one request's worth: more is a CSV outcome import (background, batched)

    @admin.action(description="Accept selected leads", permissions=["change"])
    def accept_selected(self, request, queryset):
        """Accept each selected lead through the status service, as the workbench
        would (LeadHub's and each vendor's rules per lead; an unassigned lead becomes
        the actor's), and say what happened to each one that was not accepted."""
        self._bulk_outcome(request, queryset, Status.ACCEPTED, "accepted")

    @admin.action(description="Put selected leads on hold", permissions=["change"])
    def hold_selected(self, request, queryset):
        """On hold needs nothing per lead (its reason is optional): the same path."""
        self._bulk_outcome(request, queryset, Status.ON_HOLD, "put on hold")

    def _bulk_outcome(self, request, queryset, to_status: str, done: str) -> None:
        """One outcome for every selected lead, lead by lead through the status
        service (at most BULK_LIMIT), with each refusal named and the leads whose
        vendor update is held counted (each lead's page says what it waits for)."""
        leads = list(queryset.select_related("dealer", "owner", "vendor_account", "sales_stage")[:self.BULK_LIMIT + 1])
        if len(leads) > self.BULK_LIMIT:
            self.message_user(request, f"More than {self.BULK_LIMIT} leads selected: narrow the list, or use "
                                       "Import outcomes (CSV) for large batches. Nothing was changed.", messages.ERROR)
            return
        changed, taken, refused, held_back = 0, 0, [], []
        for lead in leads:
            if not self.has_change_permission(request, lead):
                refused.append(f"{lead}: you may not change this lead")
                continue
            result = services.lead_apply_status_change(
                lead=lead, change=services.StatusChange(to_status=to_status, actor=request.user),
                source=Source.ADMIN, take_if_unassigned=True)
            if result.ok:
                changed += 1
                taken += result.taken_by_actor
                if held.notices_for_change(lead, result.log, user=request.user):
                    held_back.append(str(lead))
            else:
                refused.append(f"{lead}: " + " ".join(dict.fromkeys(v.message for v in result.errors)))
        if changed:
            self.message_user(request, f"{changed} lead(s) {done}" + (
                f"; {taken} had no owner and are now yours." if taken else "."), messages.SUCCESS)
        if held_back:
            self.message_user(request, f"Not sent to the vendor yet for {len(held_back)} of them (each lead's page "
                                       "says what it waits for, under \"Not sent yet\"): "
                              + ", ".join(held_back[:20]) + ("; …" if len(held_back) > 20 else ""), messages.WARNING)
        if refused:
            self.message_user(request, f"{len(refused)} not {done}: " + "; ".join(refused[:20])
                              + ("; …" if len(refused) > 20 else ""), messages.WARNING)

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        self._assign(request, queryset, request.user)

    @admin.action(description="Unassign", permissions=["change"])
    def unassign(self, request, queryset):
        self._assign(request, queryset, None)

    @admin.action(description="Assign to…", permissions=["change"])
    def assign_to(self, request, queryset):
        """Ask whom to, then assign (a second POST with the chosen owner)."""
        form = AssignForm(request.POST if "owner" in request.POST else None, user=request.user)
        if form.is_bound and form.is_valid():
            self._assign(request, queryset, form.cleaned_data["owner"])
            return None
        context = {**self.admin_site.each_context(request), "title": "Assign leads", "opts": self.opts,
                   "form": form, "queryset": queryset, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
        return TemplateResponse(request, "admin/leads/lead/assign.html", context)

    @admin.action(description="Submit to a vendor…", permissions=["change"])
    def submit_to_vendor(self, request, queryset):
        """The routing app's submit screen for the selected leads (by URL name only:
        apps.leads does not depend on apps.routing)."""
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True)[:200])
        return HttpResponseRedirect(reverse("admin:routing_submit") + "?ids=" + ids)

    def get_export_resource_classes(self, request):
        return [LeadResource]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        ids = dealers_with_perm(request.user, "leads.add_lead")
        if ids is not None and len(ids) == 1:  # most staff work for one dealer
            initial.setdefault("dealer", next(iter(ids)))
            initial.setdefault("owner", request.user.pk)
        return initial

    @admin.display(description="name", ordering="last_name")
    def display_name(self, obj):
        # The name opens the workbench, where staff work a lead; the id opens the
        # full edit form (docs/architecture.md, "The lead workbench").
        return format_html('<a href="{}" class="workbench-link">{}</a>',
                           reverse("admin:leads_lead_workbench", args=[obj.pk]), obj.full_name or obj.email or "—")

    @admin.display(description="sales stage", ordering="sales_stage__position")
    def stage_display(self, obj):
        # A final lead's stage is history: its status column says how it ended.
        if obj.status in FINAL_STATUSES or not obj.sales_stage_id:
            return "—"
        return f"{obj.sales_stage.name}" + (f" · {obj.probability}%" if obj.probability is not None else "")

    @admin.display(description="vendor", ordering="vendor_account__vendor")
    def vendor_display(self, obj):
        return obj.vendor_account.vendor if obj.vendor_account_id else "—"

    @admin.display(description="next follow-up", ordering="next_follow_up_at")
    def follow_up_display(self, obj):
        if not obj.next_follow_up_at:
            return "—"
        when = timezone.localtime(obj.next_follow_up_at)
        if obj.next_follow_up_at < timezone.now():
            return format_html('<strong class="overdue">overdue {}</strong>', when.strftime("%Y-%m-%d %H:%M"))
        return when.strftime("%Y-%m-%d %H:%M")

    @admin.display(description="everything that happened, newest first")
    def timeline(self, obj):
        if obj.pk is None:
            return "—"
        rows = format_html_join(
            "", "<tr class='timeline-{}'><td>{}</td><td><strong>{}</strong><div class='help'>{}</div></td><td>{}</td></tr>",
            ((e.kind, timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M"), e.title, e.detail, e.who)
             for e in selectors.lead_timeline(obj)))
        return format_html("<table class='timeline'><tbody>{}</tbody></table>", rows)

    @admin.display(description="raw vendor payload")
    def raw_payload_display(self, obj):
        if not obj.raw_payload:
            return "—"
        # Escaped by format_html: vendor HTML (Cat's partShoppingCart) is shown, never run.
        return format_html("<pre class='leadhub-raw leadhub-raw-short'>{}</pre>",
                           json.dumps(obj.raw_payload, indent=2, ensure_ascii=False, sort_keys=True))

    def get_search_results(self, request, queryset, search_term):
        """Prefix search that an index answers at a million leads (apps/leads/search.py)."""
        return search_leads(queryset, search_term), False

    def save_model(self, request, obj, form, change):
        """An owner changed on the lead's own form goes through the assignment
        service, like the Assign actions and the workbench: the lead is saved with
        the owner it has, then given to the new one (or unassigned), so vendors,
        the new owner's notification and webhooks hear of it (the admin's change
        view is one transaction)."""
        reassigned = change and "owner" in form.changed_data
        new_owner = obj.owner if obj.owner_id else None
        moved_from = form.initial.get("dealer") if change and "dealer" in form.changed_data else None
        if moved_from is not None:
            # A lead made in LeadHub given to another dealer (a vendor's lead cannot
            # be: its dealer is read-only here). Its owner worked for the old dealer
            # (Lead.clean holds the form's owner to the new one): it moves without
            # one, then is given the form's owner, so nothing of the old dealer's
            # person reaches the new dealer's webhooks or history in between.
            obj.owner_id = None
            reassigned = new_owner is not None
        elif reassigned:
            obj.owner_id = Lead.objects.filter(pk=obj.pk).values_list("owner_id", flat=True).first()
        super().save_model(request, obj, form, change)
        if moved_from is not None:
            # Like a Cat lead's move (signals.lead_moved): the old dealer's webhooks
            # stop, the new one's hear of it; the save's time names this move.
            lead_moved.send(sender=Lead, lead_ids=[obj.pk], from_dealer_id=moved_from, to_dealer_id=obj.dealer_id,
                            key=f"edit:{timezone.now():%Y%m%dT%H%M%S.%f}")
        if reassigned:
            result = services.lead_assign_owner(lead=obj, owner=new_owner, actor=request.user)
            if not result.ok:  # the form checked the owner already; the lead moved meanwhile
                self.message_user(request, "Owner not changed: " + result.errors[0].message, messages.WARNING)

    def save_formset(self, request, form, formset, change):
        if formset.model is FollowUp:
            # Through the follow-up services, as on the workbench: vendors that
            # know the lead hear of a new or completed follow-up.
            for followup in formset.save(commit=False):
                services.followup_save_edited(followup=followup, actor=request.user)
            for obj in formset.deleted_objects:
                obj.delete()
            services.lead_refresh_next_follow_up(form.instance)
        else:
            super().save_formset(request, form, formset, change)

    # --- the status change screen ---------------------------------------------------
    def changelist_view(self, request, extra_context=None):
        # The lead list is a work list with many columns: it takes the whole width on
        # a laptop (the admin's app menu stays a click away: Home in the breadcrumbs).
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("download-csv/", self.admin_site.admin_view(self.download_csv_view), name="%s_%s_download_csv" % info),
            path("queue/", self.admin_site.admin_view(self.queue_view), name="%s_%s_queue" % info),
            path("import/", self.admin_site.admin_view(self.import_view), name="%s_%s_import" % info),
            path("import/<int:job_id>/", self.admin_site.admin_view(self.import_job_view),
                 name="%s_%s_import_job" % info),
            path("<path:object_id>/status/", self.admin_site.admin_view(self.change_status_view),
                 name="%s_%s_status" % info),
            path("<path:object_id>/work/", self.admin_site.admin_view(self.workbench_view),
                 name="%s_%s_workbench" % info),
            path("<path:object_id>/work/check/", self.admin_site.admin_view(self.workbench_check_view),
                 name="%s_%s_workbench_check" % info),
        ] + super().get_urls()

    def workbench_view(self, request, object_id):
        """The lead workbench (apps/leads/workbench.py): where staff work a lead."""
        return workbench.workbench_view(self, request, object_id)

    def workbench_check_view(self, request, object_id):
        return workbench.workbench_check_view(self, request, object_id)

    def queue_view(self, request):
        """My leads: what to do next, by urgency (apps/leads/queue.py)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        whose = request.GET.get("whose")
        whose = whose if whose in {key for key, _ in queue.WHOSE} else "mine_and_unassigned"
        buckets = my_queue(request.user, whose=whose)
        for bucket in buckets:
            for lead in bucket.leads:
                lead.age_label = humane_age(lead.age)
            bucket.list_url = f"{reverse('admin:leads_lead_changelist')}?todo={bucket.key}&whose={whose}"
        context = {**self.admin_site.each_context(request), "title": "My leads", "opts": self.opts,
                   # The work lists need the width (a tablet, a laptop): breadcrumbs lead back.
                   "is_nav_sidebar_enabled": False,
                   "buckets": buckets, "whose": whose,
                   "switch": [(key, label) for key, label in queue.WHOSE if key not in ("unassigned", "everyone")],
                   "panels": [panel for panel in (make(request.user) for make in queue.PANELS) if panel]}
        return TemplateResponse(request, "admin/leads/lead/queue.html", context)

    # --- CSV imports (apps/leads/imports.py): upload, check, import, in the background ---
    def _may_import(self, request, kind: str) -> bool:
        perm = "leads.add_lead" if kind == ImportKind.LEADS else "leads.change_lead"
        allowed = dealers_with_perm(request.user, perm)
        return allowed is None or bool(allowed)

    def import_view(self, request):
        """Upload a lead or outcome CSV; it is checked first (nothing written) and
        the job's page shows every problem, or offers the import."""
        if not (self._may_import(request, ImportKind.LEADS) or self._may_import(request, ImportKind.OUTCOMES)):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            kind = form.cleaned_data["kind"]
            if not self._may_import(request, kind):
                raise PermissionDenied
            upload = form.cleaned_data["file"]
            try:
                if upload.size > settings.LEADHUB_IMPORT_MAX_UPLOAD_BYTES:
                    raise imports.UploadRefused(
                        f"The file is {upload.size / 2**20:.1f} MB; the largest LeadHub takes is "
                        f"{settings.LEADHUB_IMPORT_MAX_UPLOAD_BYTES / 2**20:.0f} MB. Split it into smaller files.")
                job = imports.job_create(kind=kind, user=request.user, file_name=upload.name, content=upload.read())
            except imports.UploadRefused as exc:
                form.add_error("file", str(exc))
            else:
                imports.job_start(job, write=False)
                return HttpResponseRedirect(reverse("admin:leads_lead_import_job", args=[job.pk]))
        context = {**self.admin_site.each_context(request), "title": "Import leads or outcomes", "opts": self.opts,
                   "form": form, "jobs": imports.jobs_for(request.user)[:20],
                   "lead_columns": IMPORT_COLUMNS, "outcome_columns": OUTCOME_COLUMNS,
                   "max_rows": settings.LEADHUB_IMPORT_MAX_ROWS,
                   "max_mb": settings.LEADHUB_IMPORT_MAX_UPLOAD_BYTES // (1024 * 1024)}
        return TemplateResponse(request, "admin/leads/lead/import.html", context)

    def import_job_view(self, request, job_id):
        """One import: its progress while it runs (the page refreshes itself), every
        problem when the file is refused, and "Import now" once checked."""
        job = get_object_or_404(imports.jobs_for(request.user), pk=job_id)
        if request.method == "POST":
            if job.state != ImportState.CHECKED or not self._may_import(request, job.kind):
                messages.error(request, "Only a checked file can be imported; upload it again.")
            else:
                imports.job_start(job, write=True)
            return HttpResponseRedirect(reverse("admin:leads_lead_import_job", args=[job.pk]))
        context = {**self.admin_site.each_context(request), "title": f"Import of {job.file_name}",
                   "opts": self.opts, "job": job, "refresh": not job.finished}
        return TemplateResponse(request, "admin/leads/lead/import_job.html", context)

    def download_csv_view(self, request):
        """Every lead of the changelist as it stands (scope, filters, search), streamed:
        memory stays flat however many leads match."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        queryset = self.get_export_queryset(request)  # the changelist's queryset
        # charset and BOM: Excel shows accented and non-Latin names correctly.
        response = StreamingHttpResponse(streamed_csv(queryset, excel_bom=True), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="leads-{timezone.localdate():%Y%m%d}.csv"'
        return response

    def change_status_view(self, request, object_id):
        lead = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, lead):
            raise PermissionDenied
        form = StatusChangeForm(request.POST or None, lead=lead)
        if request.method == "POST" and form.is_valid():
            result = services.lead_apply_status_change(lead=lead, change=form.status_change(actor=request.user),
                                                       source=Source.ADMIN, take_if_unassigned=True)
            if result.ok:
                messages.success(request, f"{lead}: now {lead.get_status_display()}."
                                 + (" It had no owner, so it is now yours." if result.taken_by_actor else ""))
                for notice in held.notices_for_change(lead, result.log, user=request.user):
                    messages.warning(request, notice)
                return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))
            add_violations(form, result.errors, {"to_status": "to_status"})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change status of {lead}",
            "lead": lead,
            "form": form,
            "opts": self.opts,
            "original": lead,
            "required_by_status": _required_by_status(lead, form, request.user),
        }
        return TemplateResponse(request, "admin/leads/lead/change_status.html", context)


def _required_by_status(lead, form, actor) -> dict:
    """For each status the lead may move to, the form fields that must be filled
    (shown as required as soon as that status is picked)."""
    return workbench.required_by_status(lead, [status for status, _ in form.fields["to_status"].choices], actor)


@admin.register(FollowUp)
class FollowUpAdmin(DealerScopedAdmin):
    dealer_field = "lead__dealer"
    list_display = ["lead", "kind", "scheduled_at", "assigned_to", "done_at", "done_by"]
    list_filter = ["kind", "assigned_to", ("done_at", admin.EmptyFieldListFilter)]
    list_select_related = ["lead", "assigned_to", "done_by"]
    search_fields = ["lead__first_name", "lead__last_name", "lead__email", "notes"]
    autocomplete_fields = ["lead"]
    readonly_fields = ["done_by", "created_by"]

    def save_model(self, request, obj, form, change):
        # Through the follow-up services, as on the workbench (vendors hear of it).
        saved = services.followup_save_edited(followup=obj, actor=request.user)
        obj.pk = saved.pk  # the admin's messages and history link to the saved one


@admin.register(StatusLog)
class StatusLogAdmin(ReadOnlyAdminMixin, DealerScopedAdmin):
    dealer_field = "lead__dealer"
    list_display = ["created_at", "lead", "from_status", "to_status", "to_stage", "reason_label", "actor_label",
                    "source"]
    list_filter = ["to_status", "source"]
    list_select_related = ["lead", "to_stage"]
    search_fields = ["lead__first_name", "lead__last_name", "lead__email", "lead__vendor_lead_id", "comment"]


class ReasonMappingInline(DealerScopedInline):
    model = ReasonMapping
    form = ReasonMappingForm
    extra = 1

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = type("BoundReasonMappingForm", (ReasonMappingForm,), {
            "__init__": lambda self, *a, **k: ReasonMappingForm.__init__(self, *a, reason_kind=obj.kind if obj else None, **k)})
        return formset


class UnmappedForVendorFilter(admin.SimpleListFilter):
    """Lists the dealer's values a vendor cannot receive yet (Cat's 'Dealer Mapping')."""

    title = "unmapped for"
    parameter_name = "unmapped"

    def lookups(self, request, model_admin):
        return list(VENDOR_CHOICES)

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if queryset.model is Reason:
            return selectors.reasons_unmapped_for(self.value(), queryset)
        return selectors.stages_unmapped_for(self.value(), queryset)


def _mapped_to(obj):
    mapped = {m.vendor: (m.vendor_value or m.vendor_code) for m in obj.mappings.all()}
    if not mapped:
        return format_html('<span class="{}">unmapped</span>', "unmapped")
    return format_html_join(", ", "{}: {}", sorted(mapped.items()))


@admin.register(Reason)
class ReasonAdmin(DealerScopedAdmin):
    list_display = ["label", "kind", "dealer", "requires_comment", "active", "mapped_to"]
    list_filter = ["kind", "active", UnmappedForVendorFilter, "dealer"]
    search_fields = ["label"]
    inlines = [ReasonMappingInline]
    related_history = [(ReasonMapping, "reason")]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("mappings")

    @admin.display(description="mapped to")
    def mapped_to(self, obj):
        return _mapped_to(obj)


class StageMappingInline(DealerScopedInline):
    model = StageMapping
    form = StageMappingForm
    extra = 1

    def get_formset(self, request, obj=None, **kwargs):
        # The stage's dealer: Capillary's sub-statuses are those of its accounts.
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = type("BoundStageMappingForm", (StageMappingForm,), {
            "__init__": lambda self, *a, **k: StageMappingForm.__init__(self, *a, dealer_id=obj.dealer_id if obj else None,
                                                                        **k)})
        return formset


@admin.register(SalesStage)
class SalesStageAdmin(DealerScopedAdmin):
    list_display = ["name", "position", "default_probability", "dealer", "active", "mapped_to"]
    list_filter = ["active", UnmappedForVendorFilter, "dealer"]
    search_fields = ["name"]
    inlines = [StageMappingInline]
    related_history = [(StageMapping, "stage")]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("mappings")

    @admin.display(description="mapped to")
    def mapped_to(self, obj):
        return _mapped_to(obj)


@admin.register(StatusMapping)
class StatusMappingAdmin(DealerScopedAdmin):
    form = StatusMappingForm
    list_display = ["dealer", "vendor", "status", "vendor_value", "vendor_sub_status"]
    list_filter = ["vendor", "status", "dealer"]
    search_fields = ["vendor_value", "vendor_sub_status"]
