"""Routing a dealer's own leads to vendor accounts, and submitting by hand.

Both end in apps.sync.outbox.queue_submission, which submits a lead at most
once per account: queued or blocked by the vendor's rules (shown on the lead),
resubmitted only after a refusal, never again once the vendor accepted it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db.models import Q

from apps.leads.models import EventKind, Lead, LeadEvent, Origin
from apps.sync.models import OutboxItem
from apps.sync.outbox import SUBMIT_KIND, queue_submission, submission_key
from apps.vendors.core.models import VendorAccount
from apps.vendors.core.registry import ADAPTERS, adapter_class

from .models import RoutingRule

log = logging.getLogger("leadhub.routing")
PREVIEW_SAMPLE = 10


def submit_vendors() -> list[str]:
    """Vendor kinds whose adapters take lead submissions."""
    return [kind for kind in ADAPTERS if adapter_class(kind).supports_submit]


def submit_accounts(dealer_id: int):
    """The dealer's enabled accounts that take lead submissions."""
    return VendorAccount.objects.filter(dealer_id=dealer_id, vendor__in=submit_vendors(), enabled=True).order_by("name")


def routable(lead: Lead) -> bool:
    """Rules apply to leads made in LeadHub (by hand, CSV, walk-in), never to a
    vendor's lead (it is that vendor's already)."""
    return lead.origin != Origin.VENDOR and not lead.vendor_account_id


def own_leads(dealer_id: int):
    return Lead.objects.filter(dealer_id=dealer_id, vendor_account__isnull=True).exclude(origin=Origin.VENDOR)


def matching_rule(lead: Lead) -> RoutingRule | None:
    """The first active rule of the lead's dealer that matches it."""
    rules = RoutingRule.objects.filter(dealer_id=lead.dealer_id, active=True).select_related("account")
    for rule in rules.order_by("position", "id"):
        if Lead.objects.filter(pk=lead.pk).filter(rule.lead_filter()).exists():
            return rule
    return None


@dataclass
class Routed:
    rule: RoutingRule | None = None
    item: OutboxItem | None = None
    problems: list = field(default_factory=list)


def route_lead(lead: Lead) -> Routed:
    """Apply the dealer's routing rules to a lead just made in LeadHub: the first
    matching rule's account gets it (queued, or blocked with the vendor's rule
    violations on the lead). Call inside the transaction that created the lead,
    so the lead and its submission commit together."""
    if not routable(lead):
        return Routed()
    rule = matching_rule(lead)
    if rule is None:
        return Routed()
    if not rule.account.enabled:
        LeadEvent.objects.create(lead=lead, kind=EventKind.NOTE, actor_label="routing",
                                 summary=f"Rule {rule.name!r} matched, but account {rule.account.name} is "
                                         "disabled: not submitted.")
        return Routed(rule)
    item, problems = queue_submission(rule.account.adapter(), lead)
    LeadEvent.objects.create(lead=lead, kind=EventKind.NOTE, actor_label="routing",
                             summary=f"Routed by rule {rule.name!r} to {rule.account.name} "
                                     f"({rule.account.get_vendor_display()})"
                                     + (": blocked until fixed" if problems else ": queued"),
                             details={"rule": rule.pk, "outbox": item.pk if item else None})
    return Routed(rule, item, list(problems))


def submit_by_hand(lead: Lead, account: VendorAccount, *, actor=None) -> tuple[OutboxItem | None, list]:
    """Submit a lead to one account now (the lead page's "Submit to a vendor").
    Refused with a violation once the vendor has accepted it."""
    item, problems = queue_submission(account.adapter(), lead)
    who = actor.get_username() if actor is not None else ""
    if item is not None and not any(p.code == "already_submitted" for p in problems):
        LeadEvent.objects.create(lead=lead, kind=EventKind.NOTE, actor_label=who,
                                 summary=f"Submitted by hand to {account.name} ({account.get_vendor_display()})"
                                         + (": blocked until fixed" if problems else ": queued"),
                                 details={"outbox": item.pk})
    return item, list(problems)


def submission_state(lead: Lead, account: VendorAccount) -> OutboxItem | None:
    return OutboxItem.objects.filter(account=account, dedupe_key=submission_key(lead), kind=SUBMIT_KIND).first()


@dataclass
class Preview:
    matches: int
    decided: int  # matches not taken by an earlier rule: what this rule would route
    sample: list


def preview(rule: RoutingRule) -> Preview:
    """What the rule matches among the dealer's own leads (the admin's preview)."""
    leads = own_leads(rule.dealer_id)
    matched = leads.filter(rule.lead_filter())
    me = (rule.position, rule.pk or float("inf"))
    earlier = [other.lead_filter() for other in
               RoutingRule.objects.filter(dealer_id=rule.dealer_id, active=True).exclude(pk=rule.pk)
               if (other.position, other.pk) < me]
    if any(not condition for condition in earlier):  # an earlier rule takes every lead
        decided = 0
    else:
        taken = Q()
        for condition in earlier:
            taken |= condition
        decided = matched.exclude(taken).count() if taken else matched.count()
    sample = list(matched.order_by("-created_at")[:PREVIEW_SAMPLE])
    return Preview(matched.count(), decided, sample)
