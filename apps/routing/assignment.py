"""Assignment rules applied to new leads: which rep gets a lead when it arrives.

`assign_new_leads(leads)` takes leads that just arrived (a vendor's pull, a CSV
import, hand entry) and, per dealer, tries the dealer's active rules in order:
the first whose criteria match decides (AssignmentRule.lead_filter, one query
per rule for the whole batch). The rule's reps take turns (round-robin, after
the one who had the last lead), skipping anyone away that day (Membership
away_from/away_until, in the dealer's time zone), no longer working for the
dealer, or already holding `max_open_new` leads still New. When the first
matching rule has nobody available the lead stays unassigned (the timeline says
why) rather than falling through to a later rule: a later rule is for other
leads, and the manager's "unassigned" alert picks the lead up.

A lead that already has an owner (given by hand, by the import's file, or by the
vendor) keeps it: an explicit owner wins. Each assignment goes through
services.lead_assign_new_owners (audit history, the vendors that take owner
changes hear of it) and adds an "Assigned" entry to the lead's timeline.
"""
from __future__ import annotations

import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import Dealer, Membership
from apps.leads import services
from apps.leads.models import EventKind, Lead, LeadEvent
from apps.leads.statuses import Status

from .models import AssignmentRule

ACTOR = "assignment rules"


@dataclass
class Assigned:
    assigned: dict = field(default_factory=dict)  # lead id -> (user, rule)
    unavailable: dict = field(default_factory=dict)  # lead id -> rule whose reps were all away or full


def active_rules(dealer_id: int) -> list[tuple[AssignmentRule, list[int]]]:
    """The dealer's active rules in order, each with its account ids."""
    rules = AssignmentRule.objects.filter(dealer_id=dealer_id, active=True).prefetch_related("accounts", "reps")
    return [(rule, [a.pk for a in rule.accounts.all()]) for rule in rules.order_by("position", "id")]


def first_matches(lead_ids: list[int], rules) -> dict[int, AssignmentRule]:
    """lead id -> the first rule (of `rules`, in order) that matches it."""
    remaining, decided = set(lead_ids), {}
    for rule, account_ids in rules:
        if not remaining:
            break
        for pk in Lead.objects.filter(pk__in=remaining).filter(rule.lead_filter(account_ids)).order_by().values_list(
                "pk", flat=True):
            decided[pk] = rule
            remaining.discard(pk)
    return decided


def assign_new_leads(leads: list[Lead]) -> Assigned:
    """Apply each dealer's rules to these new leads (those without an owner), a
    rule's whole share of the batch at once: its reps take turns in memory, then
    one service call writes the owners (services.lead_assign_new_owners)."""
    result = Assigned()
    by_dealer = defaultdict(list)
    for lead in leads:
        if lead.owner_id is None:
            by_dealer[lead.dealer_id].append(lead)
    for dealer_id in sorted(by_dealer):  # rule rows locked in one order by every run: never crosswise
        dealer_leads = by_dealer[dealer_id]
        rules = active_rules(dealer_id)
        if not rules:
            continue
        matched = first_matches([lead.pk for lead in dealer_leads], rules)
        by_rule = defaultdict(list)
        for lead in dealer_leads:
            if lead.pk in matched:
                by_rule[matched[lead.pk].pk].append(lead)
        for rule, _ in rules:
            if by_rule.get(rule.pk):
                _assign_by_rule(rule, by_rule[rule.pk], result)
    return result


def _assign_by_rule(rule: AssignmentRule, leads: list, result: Assigned) -> None:
    with transaction.atomic():
        # The rule row is the turn-taking's lock: two batches at once take turns too.
        locked = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
        reps, open_new = available_reps(locked, Dealer.objects.get(pk=leads[0].dealer_id))
        chosen, last = {}, locked.last_rep_id
        for lead in leads:
            rep = _next_turn(reps, last, open_new, locked.max_open_new)
            if rep is None:
                result.unavailable[lead.pk] = rule
                continue
            chosen[lead.pk], last = rep, rep.pk
            open_new[rep.pk] += 1
        summaries = {rep.pk: f"Assigned to {rep.get_full_name() or rep.get_username()} by rule “{rule.name}”"
                     for rep in chosen.values()}
        assigned = set(services.lead_assign_new_owners(owners=chosen, reason=f"Assigned by rule “{rule.name}”",
                                                       events=summaries, actor_label=ACTOR))
        last = locked.last_rep_id  # the turn moves on only for leads actually given
        for lead in leads:
            if lead.pk in assigned:
                lead.owner = chosen[lead.pk]  # the caller's instance (a lead saved by hand) keeps it
                result.assigned[lead.pk] = (chosen[lead.pk], rule)
                last = chosen[lead.pk].pk
        if result.unavailable:
            LeadEvent.objects.bulk_create([
                LeadEvent(lead_id=lead.pk, kind=EventKind.ASSIGNED, actor_label=ACTOR, details={"rule": rule.pk},
                          summary=f"Rule “{rule.name}” matched, but each of its reps is away or has the most new "
                                  f"leads allowed: left unassigned."[:500])
                for lead in leads if result.unavailable.get(lead.pk) is rule])
        if last != locked.last_rep_id:
            locked.last_rep_id = last
            locked.save(update_fields=["last_rep", "updated_at"])


def available_reps(rule: AssignmentRule, dealer) -> tuple[list, Counter]:
    """The rule's reps who may take a lead of `dealer` today (members, active, not
    away), in turn order (by user id), and how many New leads each holds."""
    day = timezone.localdate(timezone=zoneinfo.ZoneInfo(dealer.time_zone))
    memberships = {m.user_id: m for m in Membership.objects.filter(dealer=dealer, user__in=rule.reps.all())}
    reps = [user for user in rule.reps.filter(is_active=True).order_by("pk")
            if user.pk in memberships and not memberships[user.pk].is_away(day)]
    open_new = Counter(Lead.objects.filter(dealer=dealer, owner__in=reps, status=Status.NEW)
                       .values_list("owner_id", flat=True)) if rule.max_open_new is not None and reps else Counter()
    return reps, open_new


def _next_turn(reps: list, last_id: int | None, open_new: Counter, cap: int | None):
    """The first rep after `last_id` (round-robin, by user id) under the cap, or None."""
    under = [user for user in reps if cap is None or open_new[user.pk] < cap]
    if not under:
        return None
    after = [user for user in under if last_id is not None and user.pk > last_id]
    return after[0] if after else under[0]


# --- the admin's preview ------------------------------------------------------------------
PREVIEW_DAYS = 30
PREVIEW_SAMPLE = 10


@dataclass
class AssignmentPreview:
    matches: int  # leads received in the last PREVIEW_DAYS that the rule matches
    decided: int  # of them, not taken by an earlier rule: what this rule would assign
    sample: list
    reps: list  # (user, what their turn looks like today)


def preview(rule: AssignmentRule) -> AssignmentPreview:
    """What the rule would do: the recent leads it matches (and would decide, after
    the earlier rules), and each of its reps' availability today."""
    since = timezone.now() - timedelta(days=PREVIEW_DAYS)
    recent = Lead.objects.filter(dealer_id=rule.dealer_id, created_at__gte=since)
    matched = recent.filter(rule.lead_filter())
    me = (rule.position, rule.pk)
    earlier = [other.lead_filter() for other in AssignmentRule.objects.filter(
        dealer_id=rule.dealer_id, active=True).exclude(pk=rule.pk) if (other.position, other.pk) < me]
    if any(not condition for condition in earlier):  # an earlier rule takes every lead
        decided = 0
    else:
        taken = Q()
        for condition in earlier:
            taken |= condition
        decided = matched.exclude(taken).count() if taken else matched.count()
    return AssignmentPreview(matched.count(), decided, list(matched.order_by("-created_at")[:PREVIEW_SAMPLE]),
                             rep_states(rule))


def rep_states(rule: AssignmentRule) -> list[tuple]:
    """Each rep of the rule and whether they can take a lead today."""
    dealer = rule.dealer
    day = timezone.localdate(timezone=zoneinfo.ZoneInfo(dealer.time_zone))
    memberships = {m.user_id: m for m in Membership.objects.filter(dealer=dealer, user__in=rule.reps.all())}
    open_new = Counter(Lead.objects.filter(dealer=dealer, owner__in=rule.reps.all(), status=Status.NEW)
                       .values_list("owner_id", flat=True))
    states = []
    for user in rule.reps.order_by("pk"):
        membership = memberships.get(user.pk)
        if membership is None or not user.is_active:
            state = "no longer works for this dealer: skipped"
        elif membership.is_away(day):
            state = "away" + (f" until {membership.away_until:%d %b %Y}" if membership.away_until else "") \
                + ": skipped"
        elif rule.max_open_new is not None and open_new[user.pk] >= rule.max_open_new:
            state = f"has {open_new[user.pk]} new leads (the most allowed): skipped"
        else:
            state = f"available ({open_new[user.pk]} new leads)"
        states.append((user, state))
    return states
