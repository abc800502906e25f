"""Every query of the API goes through here: the key's dealer, and nothing else.

The same filter as the admin's scoping (apps.accounts.scoping.filter_to_dealers),
with the key's one dealer where the admin has a user's dealers. The lookup from
each model to its dealer is the one its admin names (`dealer_field`); a test
holds the two equal.
"""
from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.scoping import filter_to_dealers
from apps.leads.models import FollowUp, Lead, LeadEvent, Reason, SalesStage, StatusLog
from apps.vendors.core.models import VendorAccount

from .models import ApiKey

DEALER_PATH = {
    Lead: "dealer",
    FollowUp: "lead__dealer",
    StatusLog: "lead__dealer",
    LeadEvent: "lead__dealer",
    Reason: "dealer",
    SalesStage: "dealer",
    VendorAccount: "dealer",
    ApiKey: "dealer",
}


def scope_for_key(queryset: QuerySet, key: ApiKey) -> QuerySet:
    """`queryset` limited to the key's dealer (another dealer's object is then
    simply not found: 404, never 403)."""
    return filter_to_dealers(queryset, [key.dealer_id], DEALER_PATH[queryset.model])
