"""Reports in the admin: the index and one page per report (apps/reports/views.py),
and two filters on the lead list so that a report's number links to its leads:
"received" (a day range in each dealer's time zone) and "step" (a funnel step, as
measures.FUNNEL_STEPS defines it). They are added to LeadAdmin from here, so
apps.leads knows nothing of reports."""
from __future__ import annotations

from datetime import date

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path

from apps.accounts.models import Dealer
from apps.accounts.scoping import dealer_ids_for
from apps.leads.admin import LeadAdmin

from . import measures, views
from .models import LeadReport


@admin.register(LeadReport)
class LeadReportAdmin(admin.ModelAdmin):
    def has_view_permission(self, request, obj=None):
        return obj is None and views.allowed_dealers(request.user).exists()

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("", self.admin_site.admin_view(self.index_view), name="reports_leadreport_changelist"),
            path("<slug:name>/", self.admin_site.admin_view(self.report_view), name="reports_leadreport_report"),
        ]

    def index_view(self, request):
        return self._guarded(request, views.index_view, self, request)

    def report_view(self, request, name):
        return self._guarded(request, views.report_view, self, request, name)

    def _guarded(self, request, view, *args):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return view(*args)


def _day_range(value: str) -> tuple[date, date] | None:
    try:
        since, until = (date.fromisoformat(part) for part in value.split(".."))
    except ValueError:
        return None
    return (since, until) if since <= until else None


class ReceivedFilter(admin.SimpleListFilter):
    """Leads received from one day to another (`received=YYYY-MM-DD..YYYY-MM-DD`),
    each dealer's days in its own time zone: what a report counted."""

    title = "received"
    parameter_name = "received"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, value.replace("..", " to "))] if value and _day_range(value) else []

    def queryset(self, request, queryset):
        days = _day_range(self.value() or "")
        if days is None:
            return queryset
        ids = dealer_ids_for(request.user)
        dealers = Dealer.objects.all() if ids is None else Dealer.objects.filter(pk__in=ids)
        return queryset.filter(measures.received_q(list(dealers), *days))


class FunnelStepFilter(admin.SimpleListFilter):
    title = "funnel step"
    parameter_name = "step"

    def lookups(self, request, model_admin):
        return [(step, label) for step, label, _, _ in measures.FUNNEL_STEPS]

    def queryset(self, request, queryset):
        condition = measures.STEP_Q.get(self.value() or "")
        return queryset.filter(condition()) if condition else queryset


LeadAdmin.list_filter = [*LeadAdmin.list_filter, ReceivedFilter, FunnelStepFilter]
