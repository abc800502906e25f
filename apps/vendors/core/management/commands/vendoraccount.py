from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.management.commands.dealer import _one_line
from apps.accounts.models import Dealer
from apps.core.commands import LeadHubCommand
from apps.vendors.core.models import VendorAccount
from apps.vendors.core.registry import ADAPTERS, adapter_class


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set takes KEY=VALUE, got {text!r}")
    return key.strip(), value


class Command(LeadHubCommand):
    help = ("Create or update a vendor account: vendoraccount add NAME --vendor KIND --dealer CODE --base-url URL "
            "[--token-url URL] [--set KEY=VALUE ...]; vendoraccount list. Secret settings are stored encrypted "
            "and never printed.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["add", "list"])
        parser.add_argument("name", nargs="?")
        parser.add_argument("--vendor", choices=list(ADAPTERS))
        parser.add_argument("--dealer", help="Dealer code.")
        parser.add_argument("--base-url", help="Root of the vendor's host as its document writes URLs.")
        parser.add_argument("--token-url", help="Full URL of the OAuth token endpoint (Cat).")
        parser.add_argument("--environment", help="An endpoint preset of the vendor (e.g. qa, production).")
        parser.add_argument("--set", dest="set_values", action="append", default=[], metavar="KEY=VALUE",
                            help="A vendor setting; repeat for each (see README for each vendor's keys).")
        parser.add_argument("--pull-interval", type=int, help="Minutes between pulls (1-1440).")
        parser.add_argument("--alert-emails", help="Comma-separated alert addresses.")
        enabled = parser.add_mutually_exclusive_group()
        enabled.add_argument("--enable", dest="enabled", action="store_true", default=None)
        enabled.add_argument("--disable", dest="enabled", action="store_false")

    def handle(self, *args, action, name, **opts):
        if action == "list":
            for account in VendorAccount.objects.select_related("dealer"):
                missing = account.missing_settings()
                state = "complete" if not missing else "missing " + ",".join(missing)
                self.stdout.write(f"{account.name}\t{account.vendor}\t{account.dealer.code}\t{account.base_url}\t"
                                  f"{'enabled' if account.enabled else 'disabled'}\t{state}")
            return
        if not name:
            raise self.usage_error("vendoraccount add needs a NAME.")
        try:
            settings = dict(_key_value(item) for item in opts["set_values"])
        except ValueError as exc:
            raise self.usage_error(str(exc)) from None

        with transaction.atomic():
            account = VendorAccount.objects.filter(name=name).select_for_update().first()
            created = account is None
            if created:
                for flag in ("vendor", "dealer", "base_url"):
                    if not opts[flag] and not (flag == "base_url" and opts["environment"]):
                        raise self.usage_error(f"creating {name} needs --{flag.replace('_', '-')}.")
                account = VendorAccount(name=name, vendor=opts["vendor"])
            elif opts["vendor"] and opts["vendor"] != account.vendor:
                raise self.usage_error(f"{name} is a {account.vendor} account; its vendor cannot change.")
            changed = self._apply(account, opts)
            if settings:
                try:
                    account.set_settings(settings)
                except ValueError as exc:
                    raise self.usage_error(str(exc)) from None
                changed += [f"setting {key}" for key in sorted(settings)]
            try:
                account.full_clean()
            except ValidationError as exc:
                raise self.usage_error(_one_line(exc)) from None
            account.save()

        missing = account.missing_settings()
        verb = "created" if created else "updated"
        self.stdout.write(f"{verb} {account.vendor} account {account.name} for dealer {account.dealer.code}"
                          + (f": {', '.join(changed)}" if changed and not created else ""))
        if missing:
            self.stdout.write(f"  still missing settings: {', '.join(missing)}")

    def _apply(self, account: VendorAccount, opts) -> list[str]:
        changed = []
        if opts["dealer"]:
            dealer = Dealer.objects.filter(code__iexact=opts["dealer"]).first()
            if dealer is None:
                raise self.usage_error(f"no dealer with code {opts['dealer']!r}; create it with: dealer add CODE --name NAME")
            if account.dealer_id != dealer.pk:
                account.dealer = dealer
                changed.append("dealer")
        if opts["environment"]:
            preset = adapter_class(account.vendor).endpoint_presets.get(opts["environment"])
            if preset is None and opts["environment"] != "custom":
                known = ", ".join(["custom", *adapter_class(account.vendor).endpoint_presets])
                raise self.usage_error(f"--environment for {account.vendor}: one of {known}")
            account.environment = opts["environment"]
            if preset:
                account.base_url, account.token_url = preset.base_url, preset.token_url
            changed.append("environment")
        for flag, field in (("base_url", "base_url"), ("token_url", "token_url"),
                            ("pull_interval", "pull_interval_minutes"), ("alert_emails", "alert_emails"),
                            ("enabled", "enabled")):
            value = opts[flag]
            if value is not None and getattr(account, field) != value:
                setattr(account, field, value)
                changed.append(field)
        if opts["base_url"] and not opts["environment"]:
            account.environment = "custom"
        return changed
