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

from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords
from django.db.models import Q

from apps.vendors.core.registry import adapter_class


def _values(text: str) -> list[str]:
    return [value.strip() for value in (text or "").split(",") if value.strip()]


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
        condition = Q()
        for field, lookup, text in (("brand", "iexact", self.brands), ("product_interest", "icontains",
                                                                      self.product_keywords),
                                    ("source", "iexact", self.sources)):
            values = _values(text)
            if values:
                any_of = Q()
                for value in values:
                    any_of |= Q(**{f"{field}__{lookup}": value})
                condition &= any_of
        return condition

    @property
    def criteria(self) -> str:
        parts = [f"{label} {', '.join(_values(text))}" for label, text in
                 (("brand", self.brands), ("product", self.product_keywords), ("source", self.sources))
                 if _values(text)]
        return "; ".join(parts) or "every lead"
