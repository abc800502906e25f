"""Check a JSON array of outbound vendor messages with the vendor's rules module:
python manage.py validate_payload cat FILE.json. One JSON line per item; exit 0
if all are valid, 1 otherwise, 2 for unreadable input."""
import json
import sys

from apps.core.commands import LeadHubCommand
from apps.vendors.core.registry import ADAPTERS, adapter_class


class Command(LeadHubCommand):
    help = "Validate a JSON array of outbound updates against a vendor's rules."

    def add_arguments(self, parser):
        parser.add_argument("vendor", choices=list(ADAPTERS))
        parser.add_argument("file", help="A JSON file holding an array of updates ('-' for standard input).")

    def handle(self, *args, vendor, file, **options):
        try:
            text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError) as exc:
            raise self.usage_error(f"cannot read {file}: {exc}") from None
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise self.usage_error(f"{file} is not valid JSON: {exc}") from None
        if not isinstance(items, list):
            raise self.usage_error(f"{file} must hold a JSON array of updates, not a {type(items).__name__}")
        try:
            results = adapter_class(vendor).validate_outbound(items)
        except NotImplementedError as exc:
            raise self.usage_error(str(exc)) from None
        for index, violations in enumerate(results):
            self.stdout.write(json.dumps({
                "index": index, "valid": not violations,
                "errors": [{"field": v.field, "message": v.message} for v in violations]}, ensure_ascii=False))
        if any(results):
            sys.exit(1)
