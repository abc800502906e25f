"""Fetch (and optionally add to) a Capillary organisation's reasons and sub-statuses:
python manage.py capillary_lists NAME [--add-reason TEXT] [--add-substatus STATUS:NAME].
Prints one JSON object; exit 1 when Capillary refused or could not be reached."""
import json
import sys

from apps.core.commands import LeadHubCommand
from apps.vendors.capillary.adapter import create_reason, create_substatus, refresh_lists
from apps.vendors.capillary.models import CapillaryReason, CapillarySubStatus
from apps.vendors.core.base import VendorError
from apps.vendors.core.models import VendorAccount


class Command(LeadHubCommand):
    help = "Refresh a Capillary account's reasons and sub-statuses; add missing ones in Capillary."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The Capillary vendor account's name.")
        parser.add_argument("--add-reason", action="append", default=[], metavar="TEXT",
                            help="Create this reason in Capillary first (POST /leads/reasons); repeatable.")
        parser.add_argument("--add-substatus", action="append", default=[], metavar="STATUS:NAME",
                            help="Create this sub-status in Capillary first (POST /leads/substatus); repeatable.")

    def handle(self, *args, name, add_reason, add_substatus, **options):
        account = VendorAccount.objects.filter(name=name).first()
        if account is None:
            raise self.usage_error(f"no vendor account {name!r}")
        if account.vendor != "capillary":
            raise self.usage_error(f"{name} is a {account.get_vendor_display()} account, not Capillary")
        pairs = []
        for value in add_substatus:
            status, sep, sub = value.partition(":")
            if not sep or not sub.strip():
                raise self.usage_error(f"--add-substatus takes STATUS:NAME, not {value!r}")
            pairs.append((status.strip().upper(), sub.strip()))
        errors = []
        for text in add_reason:
            errors += [p.message for p in create_reason(account, text)]
        for status, sub in pairs:
            errors += [p.message for p in create_substatus(account, status, sub)]
        try:
            refresh_lists(account)
        except VendorError as exc:
            errors.append(exc.message)
        self.stdout.write(json.dumps({
            "account": account.name,
            "reasons": [{"id": r.reason_id, "reason": r.reason} for r in CapillaryReason.objects.filter(account=account)],
            "substatuses": [{"status": s.status, "subStatus": s.sub_status}
                            for s in CapillarySubStatus.objects.filter(account=account)],
            "errors": errors}, ensure_ascii=False))
        if errors:
            sys.exit(1)
