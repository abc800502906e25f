"""`apikey create|revoke|list`: API keys from the command line (docs/api.md)."""
from __future__ import annotations

from django.core.exceptions import ValidationError

from apps.accounts.models import Dealer
from apps.api import keys
from apps.api.models import ApiKey, Scope
from apps.core.commands import LeadHubCommand


def _one_line(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" if field != "__all__" else " ".join(msgs)
                         for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(LeadHubCommand):
    help = ("API keys. apikey create --dealer CODE --name NAME [--scope read|write] (prints the key once); "
            "apikey revoke --dealer CODE --name NAME; apikey list [--dealer CODE].")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "revoke", "list"])
        parser.add_argument("--dealer", help="The dealer's code, e.g. B330.")
        parser.add_argument("--name", help="What uses the key, e.g. DMS.")
        parser.add_argument("--scope", choices=Scope.values, default=Scope.READ,
                            help="read (default) or write (also creates and changes).")

    def _dealer(self, code):
        if not code:
            raise self.usage_error("--dealer CODE is required.")
        dealer = Dealer.objects.filter(code__iexact=code).first()
        if dealer is None:
            raise self.usage_error(f"there is no dealer {code!r} (see: manage.py dealer list).")
        return dealer

    def handle(self, *args, action, dealer, name, scope, **options):
        if action == "list":
            found = ApiKey.objects.select_related("dealer").order_by("dealer__code", "name", "id")
            if dealer:
                found = found.filter(dealer=self._dealer(dealer))
            for key in found:
                state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "live"
                used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
                self.stdout.write(f"{key.dealer.code}\t{key.name}\tlh_{key.prefix}…\t{key.scope}\t{state}\t"
                                  f"last used {used}")
            return
        target = self._dealer(dealer)
        if not name:
            raise self.usage_error("--name NAME is required.")
        if action == "create":
            try:
                key, plaintext = keys.apikey_create(dealer=target, name=name, scope=scope)
            except ValidationError as exc:
                raise self.usage_error(_one_line(exc)) from None
            self.stderr.write(f"created {key.scope} key {key.name!r} for {target.code}; it is shown only this once:")
            self.stdout.write(plaintext)
            return
        live = ApiKey.objects.filter(dealer=target, name=name, revoked_at__isnull=True).first()
        if live is None:
            raise self.usage_error(f"{target.code} has no live key named {name!r} (see: manage.py apikey list).")
        keys.apikey_revoke(key=live)
        self.stdout.write(f"revoked key {live.name!r} (lh_{live.prefix}…) of {target.code}")
