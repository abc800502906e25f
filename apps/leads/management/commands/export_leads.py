"""python manage.py export_leads -o FILE [--dealer CODE] [--vendor KIND]: every lead
(of one dealer / vendor) as CSV, streamed with flat memory; a progress bar when
stderr is a terminal."""
import sys

from apps.accounts.models import Dealer
from apps.core.commands import LeadHubCommand
from apps.leads.csv_export import UTF8_BOM, write_leads_csv
from apps.leads.models import Lead
from apps.vendors.core.registry import ADAPTERS


class Command(LeadHubCommand):
    help = "Export leads as CSV (the admin's columns), streaming."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", required=True, help="The CSV file to write ('-' for stdout).")
        parser.add_argument("--dealer", help="Only this dealer's leads (dealer code).")
        parser.add_argument("--vendor", choices=[*ADAPTERS, "none"], help="Only leads of this vendor ('none': manual/CSV).")
        parser.add_argument("--excel", action="store_true",
                            help="Start the file with a UTF-8 byte-order mark, so Excel reads it as UTF-8.")

    def handle(self, *args, output, dealer, vendor, excel=False, **options):
        queryset = Lead.objects.all()
        if dealer:
            found = Dealer.objects.filter(code__iexact=dealer).first()
            if found is None:
                raise self.usage_error(f"no dealer with code {dealer!r}")
            queryset = queryset.filter(dealer=found)
        if vendor == "none":
            queryset = queryset.filter(vendor_account__isnull=True)
        elif vendor:
            queryset = queryset.filter(vendor_account__vendor=vendor)
        try:
            out = sys.stdout if output == "-" else open(output, "w", newline="", encoding="utf-8")
        except OSError as exc:
            raise self.usage_error(f"cannot write {output}: {exc.strerror}") from None
        if excel:
            out.write(UTF8_BOM)
        show = sys.stderr.isatty() and output != "-"
        total = queryset.count() if show else 0

        def progress(done):
            width = 30
            filled = int(width * done / total) if total else width
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} leads")
            sys.stderr.flush()

        try:
            count = write_leads_csv(queryset, out, progress=progress if show else None)
        finally:
            if out is not sys.stdout:
                out.close()
        if show:
            sys.stderr.write("\n")
        if output != "-":
            self.stdout.write(f"wrote {count} leads to {output}")
