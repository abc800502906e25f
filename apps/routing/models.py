"""Routing rules: which of a dealer's own leads are submitted to which vendor account.

A rule names an account that takes submissions (CAP Gateway, Aimbase...) and
criteria on the lead: brands, product keywords, sources. A blank criterion
matches anything; all given criteria must match; within one criterion any listed
value matches. A dealer's active rules are evaluated in order (position, then
id) and the FIRST matching rule decides: the lead is queued for its account.
(First match, like a mail filter: what a lead gets is predictable from the
list, the preview shows it, and a lead that must also reach another account is
submitted there by hand from its page.)
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords
from django.db.models import Q

from apps.vendors.core.registry import ADAPTERS, adapter_class


def _values(text: str) -> list[str]:
    return [value.strip() for value in (text or "").split(",") if value.strip()]


def _all_criteria(criteria) -> Q:
    """Every (field, lookup, values) criterion with values must match; within one,
    any value does (a criterion without values matches anything): the matching
    rule of both routing and assignment rules."""
    condition = Q()
    for field, lookup, values in criteria:
        if values:
            any_of = Q()
            for value in values:
                any_of |= Q(**{f"{field}__{lookup}": value})
            condition &= any_of
    return condition


class RoutingRule(models.Model):
    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.CASCADE, related_name="routing_rules")
    name = models.CharField(max_length=100, help_text="What the rule is for, e.g. Audi walk-ins to CAP.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Rules are tried in this order; the first "
                                                                     "that matches decides.")
    account = models.ForeignKey("vendors.VendorAccount", on_delete=models.CASCADE, related_name="routing_rules",
                                help_text="A vendor account of this dealer that takes lead submissions.")
    brands = models.CharField(max_length=500, blank=True,
                              help_text="Comma-separated; the lead's brand equals one of them (any case). "
                                        "Blank: any brand.")
    product_keywords = models.CharField(max_length=500, blank=True,
                                        help_text="Comma-separated; the lead's product interest contains one of "
                                                  "them (any case). Blank: any product.")
    sources = models.CharField(max_length=500, blank=True,
                               help_text="Comma-separated; the lead's source equals one of them (any case), e.g. "
                                         "Walk-in, Dealer website. Blank: any source.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()  # audit: who changed what and when

    class Meta:
        ordering = ["dealer", "position", "id"]
        indexes = [models.Index(fields=["dealer", "active", "position"], name="routingrule_dealer_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.account_id and self.dealer_id and self.account.dealer_id != self.dealer_id:
            raise ValidationError({"account": "Pick an account of the same dealer."})
        if self.account_id and not adapter_class(self.account.vendor).supports_submit:
            raise ValidationError({"account": f"{self.account.get_vendor_display()} takes no lead submissions; "
                                              "pick a CAP Gateway or Aimbase account."})

    def lead_filter(self) -> Q:
        """The leads this rule matches, as a query (the one definition: routing a
        new lead and the admin's preview both use it)."""
        return _all_criteria([("brand", "iexact", _values(self.brands)),
                              ("product_interest", "icontains", _values(self.product_keywords)),
                              ("source", "iexact", _values(self.sources))])

    @property
    def criteria(self) -> str:
        parts = [f"{label} {', '.join(_values(text))}" for label, text in
                 (("brand", self.brands), ("product", self.product_keywords), ("source", self.sources))
                 if _values(text)]
        return "; ".join(parts) or "every lead"


class AssignmentRule(models.Model):
    """Which rep gets a dealer's new lead. Like routing rules: a dealer's active
    rules are tried in order (position, then id) and the first that matches
    decides; a blank criterion matches anything, all given criteria must match,
    within one criterion any listed value matches. The rule names one rep or
    several (round-robin among those not away and under the cap)."""

    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.CASCADE, related_name="assignment_rules")
    name = models.CharField(max_length=100, help_text="What the rule is for, e.g. Cat leads in Illinois.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Rules are tried in this order; the first "
                                                                     "that matches decides.")
    vendors = models.CharField(max_length=200, blank=True,
                               help_text="Comma-separated vendor kinds the lead came from (cat, capillary, cap, "
                                         "aimbase), or manual for the dealer's own leads. Blank: any.")
    accounts = models.ManyToManyField("vendors.VendorAccount", blank=True, related_name="assignment_rules",
                                      help_text="Only leads from these vendor accounts. None chosen: any.")
    brands = models.CharField(max_length=500, blank=True,
                              help_text="Comma-separated; the lead's brand equals one of them (any case). Blank: any.")
    product_keywords = models.CharField(max_length=500, blank=True,
                                        help_text="Comma-separated; the lead's product interest contains one of "
                                                  "them (any case). Blank: any product.")
    sources = models.CharField(max_length=500, blank=True,
                               help_text="Comma-separated; the lead's source equals one of them (any case). "
                                         "Blank: any source.")
    postal_prefixes = models.CharField(max_length=500, blank=True,
                                       help_text="Comma-separated; the lead's postal code starts with one of them "
                                                 "(any case), e.g. 606, 607, SW1. Blank: anywhere.")
    states = models.CharField(max_length=500, blank=True,
                              help_text="Comma-separated; the lead's state or province starts with one of them "
                                        "(any case), e.g. IL, Wisconsin. Blank: any.")
    countries = models.CharField(max_length=200, blank=True,
                                 help_text="Comma-separated ISO country codes, e.g. US, CA. Blank: any country.")
    reps = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="assignment_rules",
                                  help_text="One rep, or several to take turns (round-robin).")
    max_open_new = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name="at most this many new leads per rep",
        help_text="A rep with this many leads still New is skipped. Blank: no cap.")
    last_rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 editable=False, related_name="+", help_text="Whose turn it was last (round-robin).")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(m2m_fields=[accounts, reps])  # audit: who changed what and when

    class Meta:
        ordering = ["dealer", "position", "id"]
        indexes = [models.Index(fields=["dealer", "active", "position"], name="assignrule_dealer_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        unknown = [kind for kind in _values(self.vendors) if kind.lower() not in {*ADAPTERS, "manual"}]
        if unknown:
            raise ValidationError({"vendors": f"Unknown vendor {', '.join(unknown)}: use "
                                              f"{', '.join([*ADAPTERS, 'manual'])}."})
        bad = [code for code in _values(self.countries) if not (len(code) == 2 and code.isalpha())]
        if bad:
            raise ValidationError({"countries": f"Use two-letter country codes (US, CA, GB); not {', '.join(bad)}."})

    def lead_filter(self, account_ids: list[int] | None = None) -> Q:
        """The leads this rule matches, as a query: assigning new leads and the
        admin's preview both use it. `account_ids`: the rule's accounts, when the
        caller read them already."""
        condition = Q()
        kinds = [kind.lower() for kind in _values(self.vendors)]
        if kinds:
            any_kind = Q(vendor_account__vendor__in=[k for k in kinds if k != "manual"])
            if "manual" in kinds:
                any_kind |= Q(vendor_account__isnull=True)
            condition &= any_kind
        account_ids = account_ids if account_ids is not None else (
            [a.pk for a in self.accounts.all()] if self.pk else [])
        if account_ids:
            condition &= Q(vendor_account_id__in=account_ids)
        countries = [code.upper() for code in _values(self.countries)]
        return condition & _all_criteria([
            ("brand", "iexact", _values(self.brands)),
            ("product_interest", "icontains", _values(self.product_keywords)),
            ("source", "iexact", _values(self.sources)),
            ("postal_code", "istartswith", _values(self.postal_prefixes)),
            ("state_province", "istartswith", _values(self.states)),
            ("country", "in", [countries] if countries else [])])

    @property
    def criteria(self) -> str:
        parts = [f"{label} {', '.join(_values(text))}" for label, text in (
            ("vendor", self.vendors), ("brand", self.brands), ("product", self.product_keywords),
            ("source", self.sources), ("postal code", self.postal_prefixes), ("state", self.states),
            ("country", self.countries)) if _values(text)]
        if self.pk and self.accounts.exists():
            parts.append("account " + ", ".join(a.name for a in self.accounts.all()))
        return "; ".join(parts) or "every lead"
