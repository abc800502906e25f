"""Dealers and the people who work for them.

A user reaches a dealer's data only through a Membership, which carries the role.
Superusers see every dealer. See apps/accounts/roles.py for what each role may do.
"""
from __future__ import annotations

import datetime

import hashlib
import zoneinfo

import pycountry
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Upper
from django.dispatch import receiver
from simple_history import register as register_history
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. America/Chicago).")


def validate_business_days(value: str) -> None:
    if not value or any(c not in "1234567" for c in value) or len(set(value)) != len(value):
        raise ValidationError("Enter the working days as ISO weekday digits, each once (Monday to Friday: 12345).")


def validate_currency(value: str) -> None:
    if not value or pycountry.currencies.get(alpha_3=value) is None:
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP).")


dealer_code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
    "A dealer code is 1-32 letters, digits, '-' or '_' (for example a Cat dealer code such as B330).",
)


class Dealer(models.Model):
    code = models.CharField(
        max_length=32,
        unique=True,
        validators=[dealer_code_validator],
        help_text="The dealer's code, e.g. its Cat dealer code (B330). Vendor leads are assigned by it.",
    )
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    default_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    # The dealer's business hours, in its time zone: a vendor's feedback target is
    # counted in them (apps/reports/business_hours.py). No public holidays.
    business_day_starts = models.TimeField(default=datetime.time(8, 0), help_text="When a business day starts.")
    business_day_ends = models.TimeField(default=datetime.time(17, 0), help_text="When a business day ends.")
    business_days = models.CharField(
        max_length=7, default="12345", validators=[validate_business_days],
        help_text="The working days as ISO weekday digits, 1 = Monday ... 7 = Sunday (Monday to Friday: 12345).")
    # The manager is told (apps/notifications/alerts.py) when a new lead waits this
    # long without an owner, or with an owner but no first contact. Blank: never.
    alert_unassigned_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=30, verbose_name="alert after unassigned for (minutes)",
        help_text="Tell the dealer's admins when a new lead has had no owner this long. Blank: never.")
    alert_uncontacted_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=240, verbose_name="alert after not contacted for (minutes)",
        help_text="Tell the dealer's admins when an assigned new lead has not been contacted this long. "
                  "Blank: never.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()  # audit: who changed what and when

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_currency__regex=r"^[A-Z]{3}$"),
                name="dealer_currency_is_three_capitals",
            ),
            models.UniqueConstraint(Upper("code"), name="dealer_code_unique_ignoring_case"),
            models.CheckConstraint(condition=models.Q(business_day_ends__gt=models.F("business_day_starts")),
                                   name="dealer_business_day_ends_after_it_starts"),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class Role(models.TextChoices):
    STAFF = "staff", "Dealer staff"
    ADMIN = "admin", "Dealer admin"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    dealer = models.ForeignKey(Dealer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)
    sales_rep_number = models.CharField(
        max_length=100, blank=True,
        help_text="The person's sales rep number at this dealer (Cat dealerSalesRepNumber); the username if blank.")
    # Away (holiday, leave): assignment rules skip the person on these days, both
    # included, in the dealer's time zone. Blank: not away.
    away_from = models.DateField(null=True, blank=True, help_text="First day away (assignment rules skip them).")
    away_until = models.DateField(null=True, blank=True, help_text="Last day away, included.")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()  # audit: who changed what and when

    class Meta:
        ordering = ["dealer__code", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dealer"], name="one_membership_per_user_and_dealer"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_known"),
            models.CheckConstraint(condition=models.Q(away_from__isnull=True) | models.Q(away_until__isnull=True)
                                   | models.Q(away_until__gte=models.F("away_from")), name="membership_away_in_order"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} at {self.dealer.code}"

    def clean(self):
        super().clean()
        if self.away_from and self.away_until and self.away_until < self.away_from:
            raise ValidationError({"away_until": "Choose a last day on or after the first day away."})

    def is_away(self, day) -> bool:
        """Away on `day` (a date in the dealer's time zone): from away_from (or
        always, if only the last day is set) to away_until (or open-ended)."""
        if self.away_from is None and self.away_until is None:
            return False
        return (self.away_from is None or self.away_from <= day) and (self.away_until is None or day <= self.away_until)


class PasswordMarker(models.Model):
    """Stands in a user's history row for the password, which history never
    holds (not even its hash): a fingerprint of the stored hash that changes
    exactly when the password is set again."""

    password_marker = models.CharField(max_length=16, blank=True, default="",
                                       help_text="Passwords are never kept in history; this changes when it does.")

    class Meta:
        abstract = True


def _password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16] if password_hash else ""


# Audit history of users (IT manages them): who changed a user, what, when; not
# the password (a marker instead) nor last_login (every login would be a change).
register_history(User, app="apps.accounts", excluded_fields=["password", "last_login"], bases=[PasswordMarker])


@receiver(pre_create_historical_record)
def _mark_password(sender, instance, history_instance, **kwargs):
    if isinstance(instance, User):
        history_instance.password_marker = _password_fingerprint(instance.password)
