"""Run one account's sync now: python manage.py sync NAME [--pull] [--push]
[--since YYYY-MM-DD --until YYYY-MM-DD]. The last line of output is the JSON
summary; the exit status is 1 when the sync failed."""
import json
import sys
from django.utils import timezone

from apps.core.commands import LeadHubCommand, parse_day
from apps.sync import engine
from apps.vendors.core.models import VendorAccount


class Command(LeadHubCommand):
    help = "Sync one vendor account now (pull and push; historic reconciliation with --since/--until)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Vendor account name.")
        parser.add_argument("--pull", action="store_true", help="Only pull (default: pull and push).")
        parser.add_argument("--push", action="store_true", help="Only push.")
        parser.add_argument("--since", help="Reconcile leads created from this date (YYYY-MM-DD).")
        parser.add_argument("--until", help="... up to this date (default: today).")

    def handle(self, *args, name, pull, push, since, until, **options):
        account = VendorAccount.objects.select_related("dealer").filter(name=name).first()
        if account is None:
            raise self.usage_error(f"no vendor account named {name!r} (see: vendoraccount list)")
        if until and not since:
            raise self.usage_error("--until needs --since")
        try:
            start = parse_day(since) if since else None
            end = parse_day(until) if until else None
        except ValueError as exc:
            raise self.usage_error(str(exc)) from None
        if start and end and start > end:
            raise self.usage_error(f"--since {start} is after --until {end}")
        missing = account.missing_settings()
        if missing:
            raise self.usage_error(f"{name} is missing settings: {', '.join(missing)}")
        cls = account.adapter_class
        do_pull = pull or not push
        do_push = push or not pull
        summary = engine.Summary(account.name)
        if start:
            if not cls.supports_historic:
                raise self.usage_error(f"{account.vendor} accounts have no historic reconciliation")

            summary.add(engine.reconcile(account, start, end or timezone.localdate()))
        elif do_pull and cls.supports_pull:
            summary.add(engine.pull(account))
        if do_push and (cls.supports_push or cls.supports_submit):
            summary.add(engine.push(account))
        self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))
        if summary.failed_run():
            sys.exit(1)
