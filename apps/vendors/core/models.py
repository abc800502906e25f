"""A dealer's account with one vendor: where to reach it, how to authenticate,
and how often to sync."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, URLValidator, validate_email
import hashlib
from urllib.parse import urlsplit

from django.db import models
from django.db.models.functions import Cast
from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from apps.core.crypto import EncryptedSecrets, EncryptedSecretsField

from .registry import ADAPTERS, adapter_class, vendor_choices

# Vendor base URLs may be http on loopback (the sandbox vendors, tests); the
# system check and the form insist on https elsewhere.
url_validator = URLValidator(schemes=["http", "https"])
account_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]{0,63}$",
    "An account name is 1-64 lower-case letters, digits, '.', '-' or '_' (it is typed in commands).",
)


def parse_email_list(value: str) -> list[str]:
    return [part.strip() for part in value.replace(";", ",").replace("\n", ",").split(",") if part.strip()]


def validate_email_list(value: str) -> None:
    bad = []
    for address in parse_email_list(value):
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(f"Not e-mail addresses: {', '.join(bad)}")


def validate_vendor_url(value: str) -> None:
    url_validator(value)

    parts = urlsplit(value)
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValidationError("Vendor URLs must use https (plain http is allowed only on this machine's loopback).")


class SecretsMarker(models.Model):
    """Stands in a VendorAccount history row for the secrets, which history never
    holds (not even encrypted): whether any are set, and a fingerprint of the
    stored ciphertext, which changes exactly when someone re-enters a secret."""

    secrets_marker = models.CharField(max_length=64, blank=True, default="",
                                      help_text="Secrets are never kept in history; this changes when they change.")

    class Meta:
        abstract = True


class VendorAccount(models.Model):
    name = models.CharField(max_length=64, unique=True, validators=[account_name_validator],
                            help_text="Short name used in commands and logs, e.g. b330-cat.")
    vendor = models.CharField(max_length=16, choices=vendor_choices)
    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.PROTECT, related_name="vendor_accounts")
    environment = models.CharField(
        max_length=32, default="custom",
        help_text="An endpoint preset from the vendor's document (e.g. Cat QA or production), or custom.",
    )
    base_url = models.CharField(
        max_length=500, validators=[validate_vendor_url],
        help_text="Root of the vendor's host as its document writes URLs, possibly with a path prefix.",
    )
    token_url = models.CharField(max_length=500, blank=True, validators=[validate_vendor_url],
                                 help_text="Full URL of the OAuth token endpoint, where the vendor has one.")
    options = models.JSONField(default=dict, blank=True,
                               help_text="The vendor's non-secret settings (client id, scope, campaign id...).")
    secrets = EncryptedSecretsField(blank=True, default="", editable=False,
                                    help_text="Encrypted at rest; never shown, never logged.")
    enabled = models.BooleanField(default=True)
    pull_interval_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text="How often to pull from the vendor (Cat recommends every 15 minutes).",
    )
    feedback_target_hours = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="Business hours (the dealer's) within which the vendor should have the first outcome of each "
                  "lead it sends; empty: the vendor's default (apps/reports/measures.py, docs/reports.md).")
    alert_emails = models.TextField(blank=True, validators=[validate_email_list],
                                    help_text="Comma-separated addresses alerted when sync fails after its retries.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Audit: every change, who and when; the secrets are replaced by a marker.
    history = HistoricalRecords(excluded_fields=["secrets"], bases=[SecretsMarker])

    class Meta:
        ordering = ["dealer__code", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pull_interval_minutes__gte=1, pull_interval_minutes__lte=1440),
                name="vendoraccount_pull_interval_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_vendor_display()})"

    @property
    def adapter_class(self):
        return adapter_class(self.vendor)

    def adapter(self):
        return self.adapter_class(self)

    @property
    def alert_email_list(self) -> list[str]:
        return parse_email_list(self.alert_emails)

    def set_settings(self, values: dict[str, str]) -> None:
        """Store vendor settings: secret keys encrypted, the others in options.

        An empty value for a secret leaves the stored secret as it is (the admin's
        write-only fields send "" when left blank). Unknown keys raise ValueError.
        """
        cls = self.adapter_class
        known = cls.secret_keys() | cls.option_keys()
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"{self.vendor} accounts have no setting {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        secrets = self.secrets.as_dict() if self.secrets else {}
        options = dict(self.options or {})
        for field in cls.settings_fields:  # a new account starts with the vendor's defaults
            if not field.secret and field.default and field.key not in options:
                options[field.key] = field.default
        for key, value in values.items():
            if key in cls.secret_keys():
                if value:
                    secrets[key] = value
            else:
                options[key] = value
        self.secrets = EncryptedSecrets(secrets)
        self.options = options

    def missing_settings(self) -> list[str]:
        return self.adapter_class.missing_settings(self.options or {}, self.secrets)

    def clean(self):
        super().clean()
        if self.vendor in ADAPTERS:
            cls = self.adapter_class
            if cls.uses_token_url and not self.token_url:
                raise ValidationError({"token_url": f"{cls.verbose_name} needs a token URL."})
            presets = cls.endpoint_presets
            if self.environment != "custom" and self.environment not in presets:
                raise ValidationError({"environment": f"Choose custom or one of: {', '.join(presets)}."})



@receiver(pre_create_historical_record)
def _mark_secrets(sender, instance, history_instance, **kwargs):
    if not isinstance(instance, VendorAccount):
        return
    # The ciphertext as stored (Cast skips the field's decrypting converter).
    token = (VendorAccount.objects.filter(pk=instance.pk)
             .annotate(stored=Cast("secrets", models.TextField())).values_list("stored", flat=True).first())
    history_instance.secrets_marker = (
        f"set, version {hashlib.sha256(token.encode()).hexdigest()[:12]}" if token else "none")
