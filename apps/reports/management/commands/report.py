"""python manage.py report {funnel,speed,outcomes,pipeline,followups,feedback} --dealer CODE
[--since YYYY-MM-DD] [--until YYYY-MM-DD] [--vendor KIND] [--format csv|json]: the same
numbers as the report's page (apps/reports/reports.py), to stdout."""
from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import Dealer
from apps.core.commands import LeadHubCommand, parse_day
from apps.reports.output import report_csv, report_json
from apps.reports.reports import DEFAULT_DAYS, MANUAL, REPORTS, ReportScope, run_report
from apps.vendors.core.registry import ADAPTERS



class Command(LeadHubCommand):
    help = "Print a report (the numbers of its page) as JSON or CSV."

    def add_arguments(self, parser):
        parser.add_argument("report", choices=list(REPORTS))
        parser.add_argument("--dealer", required=True, help="The dealer's code.")
        parser.add_argument("--since", help=f"First day received (YYYY-MM-DD; default {DEFAULT_DAYS} days ago).")
        parser.add_argument("--until", help="Last day received, included (YYYY-MM-DD; default today).")
        parser.add_argument("--vendor", choices=[*ADAPTERS, MANUAL], help="Only leads of this vendor "
                                                                          f"('{MANUAL}': no vendor).")
        parser.add_argument("--format", choices=["json", "csv"], default="json")

    def handle(self, *args, report, dealer, since, until, vendor, format, **options):
        found = Dealer.objects.filter(code__iexact=dealer).first()
        if found is None:
            raise self.usage_error(f"no dealer with code {dealer!r}")
        today = timezone.localdate(timezone=zoneinfo.ZoneInfo(found.time_zone))  # the dealer's today
        try:
            until_day = parse_day(until) if until else today
            since_day = parse_day(since) if since else until_day - timedelta(days=DEFAULT_DAYS - 1)
        except ValueError as exc:
            raise self.usage_error(str(exc)) from None
        if since_day > until_day:
            raise self.usage_error(f"--since {since_day} is after --until {until_day}")
        scope = ReportScope((found,), since_day, until_day, vendor=vendor or "")
        result = run_report(report, scope)
        if format == "json":
            self.stdout.write(report_json(result, dealer=found.code, since=since_day, until=until_day))
        else:
            self.stdout.write(report_csv(result), ending="")
