from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Dealer
from apps.core.commands import LeadHubCommand


def _one_line(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(LeadHubCommand):
    help = "Create or update a dealer: dealer add CODE --name NAME [--time-zone TZ] [--currency XXX]; dealer list."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["add", "list"])
        parser.add_argument("code", nargs="?", help="Dealer code, e.g. B330.")
        parser.add_argument("--name", help="Dealer name (required when creating).")
        parser.add_argument("--time-zone", help="IANA time zone, e.g. America/Chicago.")
        parser.add_argument("--currency", help="Default ISO 4217 currency, e.g. USD.")

    def handle(self, *args, action, code, name, time_zone, currency, **options):
        if action == "list":
            for dealer in Dealer.objects.all():
                self.stdout.write(f"{dealer.code}\t{dealer.name}\t{dealer.time_zone}\t{dealer.default_currency}")
            return
        if not code:
            raise self.usage_error("dealer add needs a CODE.")
        with transaction.atomic():
            dealer = Dealer.objects.filter(code__iexact=code).select_for_update().first()
            created = dealer is None
            if created:
                if not name:
                    raise self.usage_error(f"dealer {code} does not exist yet; --name is required to create it.")
                dealer = Dealer(code=code)
            changes = {k: v for k, v in (("name", name), ("time_zone", time_zone),
                                         ("default_currency", currency.upper() if currency else None))
                       if v is not None and getattr(dealer, k) != v}
            for field, value in changes.items():
                setattr(dealer, field, value)
            try:
                dealer.full_clean()
            except ValidationError as exc:
                raise self.usage_error(_one_line(exc)) from None
            dealer.save()
        if created:
            self.stdout.write(f"created dealer {dealer.code} ({dealer.name})")
        elif changes:
            self.stdout.write(f"updated dealer {dealer.code}: {', '.join(sorted(changes))}")
        else:
            self.stdout.write(f"dealer {dealer.code} unchanged")
