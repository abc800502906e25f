"""The report pages: a filter form, a chart and the same numbers as a table, a CSV
download and a print layout. Views of LeadReportAdmin (apps/reports/admin.py), in
the admin's look, scoped to the dealers where the person may read reports."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from apps.accounts.admin_scoping import dealers_with_perm, scoped_users
from apps.accounts.models import Dealer
from apps.vendors.core.registry import VENDOR_CHOICES

from . import dashboard
from .output import report_csv
from .reports import DEFAULT_DAYS, MANUAL, REPORTS, ReportScope, run_report

PERMISSION = "reports.view_leadreport"
LONGEST_DAYS = 3 * 366
SHOWN_ROWS = 500  # on the page; the CSV has them all

TITLES = {"funnel": "Funnel", "speed": "Speed to lead", "outcomes": "Outcomes", "pipeline": "Pipeline",
          "followups": "Follow-up discipline", "feedback": "Vendor feedback SLA"}
DESCRIPTIONS = {
    "funnel": "Received → contacted → accepted → opportunity → won, lost or no deal; rejected and "
              "disqualified; the conversion between steps.",
    "speed": "How fast leads are contacted, get an outcome, and have it accepted by the vendor: median and 90th "
             "percentile, by rep, vendor and week.",
    "outcomes": "What became of the leads, by vendor, rep and source, with the dealer's reasons and the vendor "
                "values they map to.",
    "pipeline": "Open opportunities now by stage: how many, their amount and the amount weighted by probability.",
    "followups": "Follow-ups done on time, late, overdue and to come, by rep.",
    "feedback": "Each vendor lead against its vendor's feedback target (business hours): reported in time, late, "
                "or breaching now.",
}


def allowed_dealers(user):
    """The dealers whose reports the user may read."""
    ids = dealers_with_perm(user, PERMISSION)
    dealers = Dealer.objects.filter(is_active=True).order_by("code")
    return dealers if ids is None else dealers.filter(pk__in=ids)


class ReportFilterForm(forms.Form):
    dealer = forms.ModelChoiceField(queryset=Dealer.objects.none(), required=False, empty_label="All my dealers")
    since = forms.DateField(label="Received from", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="to", widget=forms.DateInput(attrs={"type": "date"}))
    vendor = forms.ChoiceField(required=False)
    owner = forms.ModelChoiceField(queryset=None, required=False, label="Rep", empty_label="Every rep")
    source = forms.CharField(required=False, max_length=255)
    brand = forms.CharField(required=False, max_length=100)

    def __init__(self, data, *, user, dealers):
        today = timezone.localdate()
        data = data.copy() if data is not None else {}
        # The last DEFAULT_DAYS days unless asked otherwise, checked like any input.
        if not data.get("since") and not data.get("until"):
            data["since"] = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
            data["until"] = today.isoformat()
        super().__init__(data)
        self.fields["dealer"].queryset = dealers
        self.fields["vendor"].choices = [("", "Every vendor"), *VENDOR_CHOICES, (MANUAL, "No vendor (manual / CSV)")]
        self.fields["owner"].queryset = scoped_users(user)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            if since > until:
                self.add_error("until", "Choose a day on or after the first one.")
            elif (until - since).days >= LONGEST_DAYS:
                self.add_error("since", "Choose at most three years: for longer, run the report for each year.")
        return data

    def scope(self, dealers) -> ReportScope:
        data = self.cleaned_data
        chosen = (data["dealer"],) if data["dealer"] else tuple(dealers)
        return ReportScope(chosen, data["since"], data["until"], vendor=data["vendor"] or "",
                           owner_id=data["owner"].pk if data["owner"] else None, source=data["source"].strip(),
                           brand=data["brand"].strip())


def _lead_list_query(scope: ReportScope, **extra) -> str:
    """The lead list's query string for the leads behind a number."""
    query = {"received": f"{scope.since.isoformat()}..{scope.until.isoformat()}", **extra}
    if len(scope.dealers) == 1:
        query["dealer__id__exact"] = scope.dealers[0].pk
    if scope.vendor:
        query["vendor"] = "none" if scope.vendor == MANUAL else scope.vendor
    if scope.owner_id is not None:
        query["owner__id__exact"] = scope.owner_id
    return urlencode(query)


def _links(name: str, scope: ReportScope, rows: list[dict]) -> list[str | None]:
    """For each row, the filtered lead list behind it (or None)."""
    base = reverse("admin:leads_lead_changelist") + "?"
    if name == "funnel":
        return [base + _lead_list_query(scope, step=row["step"]) for row in rows]
    if name == "outcomes":
        return [base + _lead_list_query(scope, status__exact=row["status"]) for row in rows]
    if name == "feedback":
        return [reverse("admin:leads_lead_workbench", args=[row["lead_id"]]) for row in rows]
    return [None] * len(rows)


def index_view(model_admin, request):
    """The dashboard (where dealer admins land), then every report."""
    dealers = allowed_dealers(request.user)
    form = ReportFilterForm(request.GET, user=request.user, dealers=dealers)
    query = request.GET.urlencode()
    chosen = dealers
    if form.is_valid() and form.cleaned_data["dealer"]:
        chosen = [form.cleaned_data["dealer"]]
    tiles = dashboard.dealer_dashboard(chosen, with_sync=request.user.is_superuser)
    context = {**model_admin.admin_site.each_context(request), "title": "Dashboard and reports",
               "opts": model_admin.opts, "tiles": tiles,
               "form": form, "reports": [(name, TITLES[name], DESCRIPTIONS[name],
                                          reverse("admin:reports_leadreport_report", args=[name])
                                          + (f"?{query}" if query else "")) for name in REPORTS]}
    return TemplateResponse(request, "admin/reports/index.html", context)


def report_view(model_admin, request, name: str):
    if name not in REPORTS:
        raise Http404("No such report.")
    dealers = allowed_dealers(request.user)
    form = ReportFilterForm(request.GET, user=request.user, dealers=dealers)
    report = rows = summary = None
    if form.is_valid():
        scope = form.scope(dealers)
        download = request.GET.get("format") == "csv"
        report = run_report(name, scope, limit=None if download else SHOWN_ROWS)
        if download:
            response = HttpResponse(report_csv(report, excel_bom=True), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (f'attachment; filename="leadhub-{name}-{scope.since.isoformat()}-'
                                               f'{scope.until.isoformat()}.csv"')
            return response
        shown = report.rows[:SHOWN_ROWS]
        rows = [([(heading or key, row.get(key)) for key, heading in report.columns], link)
                for row, link in zip(shown, _links(name, scope, shown))]
        summary = [[(heading, row.get(key)) for key, heading in report.summary_columns] for row in report.summary]
    csv_query = request.GET.copy()
    csv_query["format"] = "csv"
    context = {**model_admin.admin_site.each_context(request), "title": TITLES[name],
               "opts": model_admin.opts, "form": form, "report": report, "rows": rows, "summary": summary, "name": name,
               "description": DESCRIPTIONS[name], "csv_url": "?" + csv_query.urlencode(),
               "more_rows": report is not None and report.total_rows > SHOWN_ROWS, "shown_rows": SHOWN_ROWS,
               "index_url": reverse("admin:reports_leadreport_changelist") + (
                   "?" + request.GET.urlencode() if request.GET else ""),
               "is_nav_sidebar_enabled": False}
    return TemplateResponse(request, "admin/reports/report.html", context)

