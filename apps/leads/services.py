"""The write path for leads: every status change, assignment and follow-up goes
through these functions, whether it comes from the admin, the dealer screens,
a CSV import or a vendor sync.

One error convention: what a person, an import row or a vendor's data can get
refused for comes back as data, a result whose `errors` lists Violations
(`ok` when there are none), and nothing is written when there are any. An
exception means the caller broke the contract (an unknown outcome field, a lead
twice in one batch): a bug to fix, never a message for a dealer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from apps.accounts.models import Dealer
from apps.core.violations import Violation
from apps.vendors.core.models import VendorAccount
from . import outbound
from .history import record_lead_history
from .signals import owner_assigned, status_changed
from .models import EventKind, FollowUp, Lead, LeadEvent, Origin, Reason, SalesStage, Source, StatusLog
from .rules import ReasonFacts, StageFacts, owner_violations, status_change_violations
from .statuses import FINAL_STATUSES, FIXED_PROBABILITY, Status


# Lead fields a status change may set together with the status: the facts a
# vendor needs with an outcome (Cat: opportunity amount, target date, customer
# number on closing...). Anything else is edited on the lead itself.
OUTCOME_FIELDS = frozenset({"opportunity_amount", "currency", "target_date", "rating", "customer_number", "quote_id",
                            "quote_sent_date", "customer_contacted", "customer_previously_known"})


@dataclass(frozen=True)
class StatusChange:
    """What a caller asks for; handed to vendor adapters for their own rules."""

    to_status: str
    reason: Reason | None = None
    stage: SalesStage | None = None
    probability: int | None = None
    sub_status: str = ""
    comment: str = ""
    updates: dict = field(default_factory=dict)
    actor: object = None


@dataclass
class ServiceResult:
    """What every write service here returns (the module's error convention)."""

    errors: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class StatusChangeResult(ServiceResult):
    log: StatusLog | None = None
    lead: Lead | None = None
    taken_by_actor: bool = False  # the lead had no owner and the person who accepted or closed it took it


@dataclass
class AssignResult(ServiceResult):
    lead: Lead | None = None


@dataclass
class FollowUpResult(ServiceResult):
    followup: FollowUp | None = None  # the one scheduled or completed
    next: FollowUp | None = None  # the next one, scheduled with a completion


@dataclass
class LeadCreateResult(ServiceResult):
    lead: Lead | None = None


def _actor_label(actor, actor_label: str) -> str:
    if actor_label:
        return actor_label
    if actor is not None:
        return actor.get_full_name() or actor.get_username()
    return "system"


def lead_change_status(
    *,
    lead: Lead,
    to_status: str,
    actor=None,
    actor_label: str = "",
    reason: Reason | None = None,
    stage: SalesStage | None = None,
    probability: int | None = None,
    sub_status: str = "",
    comment: str = "",
    source: str = Source.ADMIN,
    at: datetime | None = None,
    updates: dict | None = None,
    adapters: list | None = None,
) -> StatusChangeResult:
    """lead_apply_status_change with the change given field by field (jobs,
    commands, the demo, tests): the same StatusChange, the same service."""
    change = StatusChange(to_status=to_status, reason=reason, stage=stage, probability=probability,
                          sub_status=sub_status or "", comment=comment or "", updates=dict(updates or {}),
                          actor=actor)
    return lead_apply_status_change(lead=lead, change=change, actor_label=actor_label, source=source, at=at,
                                    adapters=adapters)


def lead_apply_status_change(*, lead: Lead, change: StatusChange, source: str, actor_label: str = "",
                             at: datetime | None = None, adapters: list | None = None,
                             take_if_unassigned: bool = False) -> StatusChangeResult:
    """Change a lead's status (or, for an accepted lead, its sales stage): the one
    entry point; the admin's "Change status" screen and the workbench build the
    StatusChange from the same form (StatusChangeForm.status_change).

    Checks the transition, the dealer's reason and stage rules and the rules of
    the lead's vendor; on success updates the lead and appends one StatusLog row
    in a single transaction, and lets the vendor adapter queue what it must send
    in that same transaction. `change.updates` sets OUTCOME_FIELDS of the lead in
    the same transaction (the vendor's rules see them). Returns a
    StatusChangeResult; `errors` lists every Violation found, and nothing is
    written when there are any. A concurrent change to the same lead is detected
    (the row is locked and re-read) and reported as a `conflict` violation.
    `adapters`: the lead's apps.leads.outbound.adapters_for_lead, when the caller
    already has them (a bulk import asks for all its leads at once).
    `take_if_unassigned` (the screens where a person records an outcome): an
    unassigned lead that person accepts or closes becomes theirs
    (`result.taken_by_actor`), and the vendors hear of the new owner.
    """
    _check_outcome_fields(change.updates)
    errors = _violations(lead, change, adapters)
    if errors:
        return StatusChangeResult(errors=errors, lead=lead)

    actor = change.actor
    at = at or timezone.now()
    with transaction.atomic():
        # Only the lead's row is locked (of=self); its dealer, account and owner come
        # in the same query because the vendor's payload builder reads them.
        current = _locked_leads([lead.pk]).get(pk=lead.pk)
        conflict = _conflict(lead, current)
        if conflict:
            return StatusChangeResult(lead=current, errors=[conflict])
        from_status = current.status
        log = _apply(current, change, actor=actor, actor_label=actor_label, source=source, at=at)
        taken = take_if_unassigned and _takes_the_lead(current, change, actor)
        _audit(current, actor, _history_reason(from_status, change.to_status, source)
               + (f"; assigned to {actor.get_username()}" if taken else ""))
        current.save(update_fields=["status", "sales_stage", "probability", "first_contacted_at", *REPORT_STAMPS,
                                    "updated_at", "owner", *change.updates])
        log.save()
        # Asked again under the lock unless the caller gave them: an account that
        # accepted the lead's submission meanwhile must hear of this change too.
        adapters = adapters if adapters is not None else outbound.adapters_for_lead(current)
        outbound.report_status_change(adapters, current, log)
        if taken:
            outbound.report_owner_change(adapters, current, actor=actor)
            owner_assigned.send(sender=Lead, lead_ids=[current.pk], owner=actor, actor=actor,
                                by="Taken on recording an outcome")
        status_changed.send(sender=Lead, logs=[log])
    _copy_into(lead, current)
    return StatusChangeResult(log=log, lead=lead, taken_by_actor=taken)


# Outcomes that make an unassigned lead the actor's: whoever accepts a lead works it,
# whoever closes one won or lost it (the salesperson a vendor's report names).
TAKING_STATUSES = frozenset({Status.ACCEPTED, Status.CLOSED_WON, Status.CLOSED_LOST, Status.CLOSED_NO_DEAL})


def _takes_the_lead(current: Lead, change: StatusChange, actor) -> bool:
    """An unassigned lead accepted or closed by a person becomes theirs, when they
    work for its dealer (imports, syncs and jobs do not ask for this). Sets the
    owner on `current` (not saved)."""
    if (current.owner_id is not None or change.to_status not in TAKING_STATUSES
            or getattr(actor, "pk", None) is None or owner_violations(actor, current.dealer)):
        return False
    current.owner = actor
    return True


def lead_change_status_many(*, changes: list[tuple[Lead, StatusChange]], actor=None, actor_label: str = "",
                            source: str = Source.IMPORT, at: datetime | None = None,
                            adapters_by_lead: dict | None = None) -> list[StatusChangeResult]:
    """lead_change_status for many leads at once (a CSV outcome import).

    The same checks and the same rows as one lead_change_status per change —
    the lead, its StatusLog, its audit history row, every vendor account's
    outbox item — written with a few statements per call instead of about ten
    per change (10,000 outcome rows: bench/leads_1m.py). `changes`: (lead,
    StatusChange) pairs, each lead at most once (a second change of a lead is
    checked against the first's result: call again). Returns one result per
    change, in order; a change with violations writes nothing, the others are
    written. Call it inside the caller's transaction to make the batch
    all-or-nothing. `adapters_by_lead`: apps.leads.outbound.adapters_for_leads of
    the leads, when the caller has them.
    """
    leads = [lead for lead, _ in changes]
    if len({lead.pk for lead in leads}) != len(leads):
        raise ValueError("lead_change_status_many takes each lead at most once")
    results: list[StatusChangeResult | None] = [None] * len(changes)
    valid = []
    for index, (lead, change) in enumerate(changes):
        _check_outcome_fields(change.updates)
        adapters = adapters_by_lead.get(lead.pk) if adapters_by_lead is not None else None
        errors = _violations(lead, change, adapters)
        if errors:
            results[index] = StatusChangeResult(errors=errors, lead=lead)
        else:
            valid.append(index)
    if not valid:
        return results
    at = at or timezone.now()
    with transaction.atomic(), outbound.collecting():
        locked = _locked_leads([changes[i][0].pk for i in valid]).in_bulk()
        applied = []  # (index, current, log, history reason)
        updates_by_values: dict[tuple, list[Lead]] = {}
        for index in valid:
            lead, change = changes[index]
            current = locked.get(lead.pk)
            if current is None:  # deleted since it was read
                results[index] = StatusChangeResult(lead=lead, errors=[Violation(
                    "to_status", "conflict", "This lead was deleted meanwhile.")])
                continue
            conflict = _conflict(lead, current)
            if conflict:
                results[index] = StatusChangeResult(lead=current, errors=[conflict])
                continue
            from_status = current.status
            columns = ["status", "sales_stage_id", "probability", "first_contacted_at",
                       *(Lead._meta.get_field(name).attname for name in [*REPORT_STAMPS, *change.updates])]
            before = {column: getattr(current, column) for column in columns}
            log = _apply(current, change, actor=actor, actor_label=actor_label, source=source, at=at)
            applied.append((index, current, log, _history_reason(from_status, change.to_status, source)))
            # What this change sets, as (column, value) pairs: the leads of a batch that
            # set the same values are updated with one UPDATE (an import's rows mostly
            # do); Django's bulk_update, one CASE per column, cost more than the rows.
            updates_by_values.setdefault(tuple(sorted(
                (column, getattr(current, column)) for column in columns
                if column == "status" or getattr(current, column) != before[column])), []).append(current)
        if applied:
            now = timezone.now()
            for values, currents in updates_by_values.items():
                for current in currents:
                    current.updated_at = now  # auto_now, which update() does not apply
                Lead.objects.filter(pk__in=[c.pk for c in currents]).update(**dict(values), updated_at=now)
            StatusLog.objects.bulk_create([log for _, _, log, _ in applied], batch_size=500)
            # The audit rows save() would have written, copied from the stored rows.
            by_reason: dict[str, list[int]] = {}
            for _, current, _, reason in applied:
                by_reason.setdefault(reason, []).append(current.pk)
            for reason, ids in by_reason.items():
                record_lead_history(ids, reason=reason, user=actor if getattr(actor, "pk", None) else None)
            for index, current, log, _ in applied:
                adapters = adapters_by_lead.get(current.pk) if adapters_by_lead is not None else None
                outbound.report_status_change(
                    adapters if adapters is not None else outbound.adapters_for_lead(current), current, log)
            status_changed.send(sender=Lead, logs=[log for _, _, log, _ in applied])  # once per batch
    for index, current, log, _ in applied:
        lead = changes[index][0]
        _copy_into(lead, current)
        results[index] = StatusChangeResult(log=log, lead=lead)
    return results


def _check_outcome_fields(updates: dict) -> None:
    unknown = sorted(set(updates) - OUTCOME_FIELDS)
    if unknown:
        raise ValueError(f"lead_change_status cannot set {', '.join(unknown)}")


def _locked_leads(ids):
    """The leads locked for a status change (only their own rows: of=self), with
    what the vendors' payload builders read."""
    return (Lead.objects.select_related("dealer", "vendor_account", "owner", "sales_stage")
            .select_for_update(of=("self",)).filter(pk__in=ids))


def _conflict(lead: Lead, current: Lead) -> Violation | None:
    """A change checked against `lead` must not be applied to a lead someone else
    changed meanwhile (`current` is the row re-read under the lock)."""
    if current.dealer_id != lead.dealer_id:
        # A Cat lead kept for a dealer code the account did not serve moves to
        # that dealer once it does (CatAdapter.apply_pending); a change checked
        # against the old dealer's reasons and people must not land there.
        return Violation("to_status", "conflict", "This lead moved to another dealer meanwhile; reload the list.")
    if (current.status, current.sales_stage_id) == (lead.status, lead.sales_stage_id):
        return None
    return Violation("to_status", "conflict",
                     f"Someone else changed this lead meanwhile (it is now {current.get_status_display()}); "
                     f"reload and try again.")


def _apply(current: Lead, change: StatusChange, *, actor, actor_label: str, source: str, at) -> StatusLog:
    """Set the change on the locked lead (not saved) and return its StatusLog (not saved)."""
    from_status, from_stage_id = current.status, current.sales_stage_id
    new_probability = _probability_after(current, change)
    current.status = change.to_status
    if change.to_status == Status.ACCEPTED and change.stage is not None:
        current.sales_stage = change.stage
    current.probability = new_probability
    if current.first_contacted_at is None and from_status == Status.NEW:
        current.first_contacted_at = at
    reason = change.reason
    _stamp_for_reports(current, from_status, at, reason=reason, reason_label=reason.label if reason else "")
    for name, value in change.updates.items():
        setattr(current, name, value)
    return StatusLog(
        lead=current, from_status=from_status, to_status=change.to_status, from_stage_id=from_stage_id,
        to_stage=current.sales_stage, probability=new_probability, reason=reason,
        reason_label=reason.label if reason else "", sub_status=change.sub_status, comment=change.comment,
        actor=actor, actor_label=_actor_label(actor, actor_label), source=source, created_at=at,
    )


# The Lead columns _stamp_for_reports may set: every status change saves them.
REPORT_STAMPS = ["first_outcome_at", "first_accepted_at", "outcome_reason", "outcome_reason_label"]


def _stamp_for_reports(current: Lead, from_status: str, at, *, reason, reason_label: str) -> None:
    """What the reports read from the lead instead of its status log
    (apps/reports/measures.py), set on `current` (not saved) as its status becomes
    `current.status`: the first move out of New whoever made it, the first
    acceptance, and the reason of a final outcome (cleared when the lead is not in
    one)."""
    if current.first_outcome_at is None and from_status == Status.NEW:
        current.first_outcome_at = at
    if current.first_accepted_at is None and current.status == Status.ACCEPTED:
        current.first_accepted_at = at
    final = current.status in FINAL_STATUSES
    current.outcome_reason = reason if final else None
    current.outcome_reason_label = reason_label[:255] if final else ""


def _history_reason(from_status: str, to_status: str, source: str) -> str:
    return f"Status {from_status} → {to_status} ({source})"


def _copy_into(lead: Lead, current: Lead) -> None:
    """Give the caller's instance exactly what was written, instead of reading the
    row again (one query less per change; it counts in 10,000-row imports)."""
    for f in Lead._meta.concrete_fields:
        setattr(lead, f.attname, getattr(current, f.attname))
        if f.is_relation and f.is_cached(current):
            f.set_cached_value(lead, f.get_cached_value(current))


def lead_status_change_violations(*, lead: Lead, change: StatusChange) -> list[Violation]:
    """What lead_apply_status_change would refuse for this change, writing nothing.

    The same checks (LeadHub's lifecycle and the vendor's rules), so a screen can
    show them while staff type; lead_apply_status_change still checks again on save.
    """
    return _violations(lead, change)


def lead_record_vendor_status(*, lead: Lead, to_status: str, source_account, at: datetime | None = None,
                              stage: SalesStage | None = None, reason: Reason | None = None, reason_label: str = "",
                              sub_status: str = "", comment: str = "") -> StatusLog:
    """Record a status change a vendor made in its own system (Capillary's status
    log): the lead takes the vendor's status and one StatusLog row (source
    sync, actor the account) joins the timeline, in one transaction.

    The dealer's transition rules are not applied: the change already happened
    at the vendor, and refusing it would only hide it. The caller decides first
    whether the dealer's own newer work wins (docs/vendors/capillary.md). The
    source account is not told about its own change; any other account that
    knows the lead is (messages_for_status_change)."""
    at = at or timezone.now()
    with transaction.atomic():
        current = Lead.objects.select_for_update().get(pk=lead.pk)
        from_status, from_stage_id = current.status, current.sales_stage_id
        current.status = to_status
        if stage is not None:
            current.sales_stage = stage
        current.probability = _probability_after(current, StatusChange(to_status=to_status, stage=stage))
        _stamp_for_reports(current, from_status, at, reason=reason,
                           reason_label=reason.label if reason else reason_label)
        current.save(update_fields=["status", "sales_stage", "probability", *REPORT_STAMPS, "updated_at"])
        log = StatusLog.objects.create(
            lead=current, from_status=from_status, to_status=to_status, from_stage_id=from_stage_id,
            to_stage=current.sales_stage, probability=current.probability, reason=reason,
            reason_label=reason.label if reason else reason_label[:255], sub_status=sub_status[:100],
            comment=comment, actor_label=source_account.name, source=Source.SYNC, created_at=at)
        outbound.report_status_change([adapter for adapter in outbound.adapters_for_lead(current)
                                       if adapter.account.pk != source_account.pk], current, log)
        status_changed.send(sender=Lead, logs=[log])
    lead.refresh_from_db()
    return log


def _probability_after(lead: Lead, change: StatusChange) -> int | None:
    if change.to_status in FIXED_PROBABILITY:
        return FIXED_PROBABILITY[change.to_status]
    if change.probability is not None:
        return change.probability
    if change.stage is not None and change.stage.default_probability is not None:
        return change.stage.default_probability
    return lead.probability


def _violations(lead: Lead, change: StatusChange, adapters: list | None = None) -> list[Violation]:
    reason, stage = change.reason, change.stage
    found = status_change_violations(
        dealer_id=lead.dealer_id,
        from_status=lead.status,
        from_stage_name=lead.sales_stage.name if lead.sales_stage_id else None,
        to_status=change.to_status,
        reason=ReasonFacts(reason.dealer_id, reason.kind, reason.label, reason.requires_comment, reason.active)
        if reason else None,
        stage=StageFacts(stage.dealer_id, stage.name, stage.active) if stage else None,
        probability=change.probability,
        comment=change.comment,
    )
    # The vendor's rules are checked too (all problems at once), unless the change
    # itself is impossible, which makes any vendor finding noise.
    impossible = any(v.field == "to_status" for v in found)
    if not impossible:
        # One message per problem: a field LeadHub's own rules already ask for (the
        # reason a rejection needs) is not asked for again in a vendor's words.
        seen_fields = {v.field for v in found if v.field}
        seen = {(v.field, v.message) for v in found}
        for adapter in adapters if adapters is not None else outbound.adapters_for_lead(lead):
            for violation in adapter.check_status_change(lead, change):
                if violation.field in seen_fields or (violation.field, violation.message) in seen:
                    continue
                seen.add((violation.field, violation.message))
                if violation.field:
                    seen_fields.add(violation.field)
                found.append(violation)
    return found


def lead_assign_owner(*, lead: Lead, owner, actor=None, reason: str = "") -> AssignResult:
    """Give the lead to `owner` (None: unassign). The owner must work for the lead's
    dealer. `reason`: the audit history's, when not a person's "Assigned"."""
    problems = owner_violations(owner, lead.dealer)
    if problems:
        return AssignResult(errors=problems, lead=lead)
    with transaction.atomic():
        # Re-read under a lock, so the history row holds the lead as it is, not a
        # stale copy from the admin's changelist.
        current = Lead.objects.select_for_update().get(pk=lead.pk)
        if current.dealer_id != lead.dealer_id:
            # Moved to another dealer since `lead` was read (CatAdapter.apply_pending):
            # the owner was checked against the old one.
            problems = owner_violations(owner, current.dealer)
            if problems:
                return AssignResult(errors=problems, lead=lead)
        owner_before = current.owner_id
        current.owner = owner
        _audit(current, actor, reason or ("Assigned" if owner else "Unassigned"))
        current.save(update_fields=["owner", "updated_at"])
        lead.owner = owner
        # actor: who assigned it, for a vendor that reports it (Aimbase's DealershipUser)
        outbound.report_owner_change(outbound.adapters_for_lead(lead), lead, actor=actor)
        # Every change of owner: taking it oneself (actor == owner) and unassigning
        # (owner None) too; webhooks report each, the notifications app tells only
        # a new owner someone else gave it to. Nothing when the owner stays the same
        # (Unassign on a lead that had none, the same person again).
        if owner_before != current.owner_id:
            owner_assigned.send(sender=Lead, lead_ids=[lead.pk], owner=owner, actor=actor,
                                by=reason or _assigned_by(owner, actor))
    return AssignResult(lead=lead)


def _assigned_by(owner, actor) -> str:
    """How a person's assignment came about, for owner_assigned's `by`."""
    verb = "Assigned" if owner is not None else "Unassigned"
    return f"{verb} by {actor.get_username()}" if getattr(actor, "pk", None) else verb


def lead_assign_new_owners(*, owners: dict[int, object], reason: str, events: dict[int, str] | None = None,
                           actor_label: str = "") -> list[int]:
    """Give each new lead (lead id -> owner) its owner, as an automatic assignment:
    lead_assign_owner for a batch of arrivals (apps/routing/assignment.py), with a
    few statements per batch instead of about ten per lead (a 10,000-lead pull's
    job: bench/cat_pull.py). A lead that has an owner by now (given meanwhile)
    keeps it, and an owner who does not work for the lead's dealer is skipped.
    Writes the audit history rows (`reason`), an "assigned" timeline entry per
    lead when `events` (owner id -> its summary) is given (by `actor_label`), and what the vendors
    that take owner changes must hear. Returns the ids assigned. Call it inside
    the caller's transaction."""
    if not owners:
        return []
    with transaction.atomic(), outbound.collecting():
        # Locked in id order (two batches never wait on each other crosswise).
        rows = list(Lead.objects.select_for_update(of=("self",)).filter(pk__in=list(owners), owner__isnull=True)
                    .order_by("pk").values_list("pk", "dealer_id", "vendor_account_id"))
        people = {owner.pk: owner for owner in owners.values()}
        dealers = {dealer.pk: dealer for dealer in Dealer.objects.filter(pk__in={row[1] for row in rows})}
        allowed: dict[tuple, bool] = {}  # (owner, dealer) -> works there: one query per pair
        by_owner: dict[int, list[int]] = {}
        for pk, dealer_id, _ in rows:
            owner = owners[pk]
            if (owner.pk, dealer_id) not in allowed:
                allowed[(owner.pk, dealer_id)] = not owner_violations(owner, dealers[dealer_id])
            if allowed[(owner.pk, dealer_id)]:
                by_owner.setdefault(owner.pk, []).append(pk)
        now = timezone.now()
        for owner_id, ids in by_owner.items():
            Lead.objects.filter(pk__in=ids).update(owner=people[owner_id], updated_at=now)
            if events:
                _timeline_entries(ids, EventKind.ASSIGNED, events[owner_id], {"owner": owner_id}, at=now,
                                  actor_label=actor_label)
        assigned = [pk for ids in by_owner.values() for pk in ids]
        record_lead_history(assigned, reason=reason)
        for owner_id, ids in by_owner.items():
            owner_assigned.send(sender=Lead, lead_ids=ids, owner=people[owner_id], actor=None, by=reason)
        _report_new_owners(assigned, {pk: account_id for pk, _, account_id in rows})
    return assigned


def _timeline_entries(lead_ids: list[int], kind: str, summary: str, details: dict, *, at, actor_label: str) -> None:
    """The same timeline entry for many leads: one INSERT ... SELECT per thousand
    (bulk_create built a model instance per lead, the larger part of the job)."""
    table, qn = LeadEvent._meta.db_table, connection.ops.quote_name
    values = [field.get_db_prep_save(value, connection) for field, value in (
        (LeadEvent._meta.get_field("kind"), kind), (LeadEvent._meta.get_field("summary"), summary[:500]),
        (LeadEvent._meta.get_field("details"), details), (LeadEvent._meta.get_field("actor_label"), actor_label),
        (LeadEvent._meta.get_field("created_at"), at))]
    with connection.cursor() as cursor:
        for start in range(0, len(lead_ids), 1000):
            chunk = lead_ids[start:start + 1000]
            # Names come from the models' metadata; every value is a parameter.
            cursor.execute(f"INSERT INTO {qn(table)} (lead_id, kind, summary, details, actor_label, created_at) "  # nosec B608
                           f"SELECT id, %s, %s, %s, %s, %s FROM {qn(Lead._meta.db_table)} "
                           f"WHERE id IN ({', '.join(['%s'] * len(chunk))})", [*values, *chunk])


@dataclass(frozen=True)
class _LeadRef:
    """What outbound.adapters_for_leads reads of a lead, without a model instance
    per lead (building 10,000 of them cost more than the rest of the job)."""
    pk: int
    vendor_account_id: int | None
    vendor_account: object


def _report_new_owners(lead_ids: list[int], account_of: dict[int, int | None]) -> None:
    """The vendors that take owner changes hear of the new owners: the leads are
    read whole only for those vendors (a Cat pull's leads are not read again)."""
    accounts = VendorAccount.objects.in_bulk({pk for pk in account_of.values() if pk})
    light = [_LeadRef(pk, account_of[pk], accounts.get(account_of[pk])) for pk in lead_ids]
    adapters = outbound.adapters_for_leads(light)
    listening = [pk for pk in lead_ids if any(adapter.hears_owner_changes for adapter in adapters.get(pk, []))]
    if not listening:
        return
    for lead in Lead.objects.filter(pk__in=listening).select_related("dealer", "vendor_account", "owner"):
        outbound.report_owner_change(adapters[lead.pk], lead, actor=None)


def lead_record_vendor_owner(*, lead: Lead, owner, source_account) -> None:
    """Record an owner a vendor assigned in its own system (Capillary's owner;
    None: the vendor unassigned it): the lead takes it, audited as the vendor's,
    in one transaction. Like
    lead_record_vendor_status, the source account is not told about its own
    change; any other account that knows the lead is (messages_for_owner_change).
    The caller has checked that `owner` works for the lead's dealer."""
    problems = owner_violations(owner, lead.dealer)
    if problems:
        raise ValueError(problems[0].message)
    with transaction.atomic():
        current = Lead.objects.select_for_update().get(pk=lead.pk)
        if current.owner_id == getattr(owner, "pk", None):
            lead.owner = owner
            return  # nothing changed: no audit row, no event, nothing to report (as lead_assign_owner)
        how = f"{'Assigned' if owner is not None else 'Unassigned'} in {source_account.name}"
        current.owner = owner
        _audit(current, None, how)
        current.save(update_fields=["owner", "updated_at"])
        lead.owner = owner
        owner_assigned.send(sender=Lead, lead_ids=[lead.pk], owner=owner, actor=None, by=how)
        outbound.report_owner_change([adapter for adapter in outbound.adapters_for_lead(current)
                                      if adapter.account.pk != source_account.pk], current, actor=None)


def _audit(obj, actor, reason: str) -> None:
    """Who and why, for the audit history row the next save() writes."""
    if getattr(actor, "pk", None) is not None:
        obj._history_user = actor
    obj._change_reason = reason


def followup_schedule(*, lead: Lead, scheduled_at: datetime, kind: str = "call", assigned_to=None, notes: str = "",
                      actor=None, actor_label: str = "") -> FollowUpResult:
    """Schedule a follow-up and keep the lead's next_follow_up_at current; every
    vendor that knows the lead hears of it. A follow-up refused (for someone of
    another dealer, an unknown kind) comes back as errors. `actor_label`: who it
    was, when no person did it (an API key): kept in its audit history."""
    followup = FollowUp(lead=lead, scheduled_at=scheduled_at, kind=kind, notes=notes,
                        assigned_to=assigned_to or lead.owner, created_by=actor,
                        created_by_label=_label_without_person(actor, actor_label))
    errors = _model_violations(followup)
    if errors:
        return FollowUpResult(errors=errors)
    with transaction.atomic():
        if actor_label:
            followup._change_reason = f"Scheduled by {actor_label}"
        followup.save()
        lead_refresh_next_follow_up(lead)
        outbound.report_followup(outbound.adapters_for_lead(lead), lead, followup, event="scheduled")
    return FollowUpResult(followup=followup)


def followup_complete(*, followup: FollowUp, actor=None, outcome_notes: str = "",
                      next_at: datetime | None = None, next_kind: str | None = None,
                      at: datetime | None = None, actor_label: str = "") -> FollowUpResult:
    """Mark a follow-up done; schedule the next one when `next_at` is given
    (result.next). Completing twice is refused (an `already_done` error), so a
    double click or a second tab never records two outcomes. `actor_label`: who
    it was, when no person did it (an API key): kept in the audit history."""
    with transaction.atomic():
        locked = FollowUp.objects.select_for_update().get(pk=followup.pk)
        if locked.done_at is not None:
            return FollowUpResult(followup=locked, errors=[Violation(
                "followup", "already_done", "This follow-up is already done.")])
        locked.done_at = at or timezone.now()
        locked.done_by = actor
        locked.done_by_label = _label_without_person(actor, actor_label)
        locked.outcome_notes = outcome_notes
        locked.next_follow_up_at = next_at
        if actor_label:
            locked._change_reason = f"Done by {actor_label}"
        locked.save(update_fields=["done_at", "done_by", "done_by_label", "outcome_notes", "next_follow_up_at",
                                   "updated_at"])
        _count_as_contact(locked)
        nxt = None
        if next_at is not None:
            nxt = FollowUp(lead=locked.lead, scheduled_at=next_at, kind=next_kind or locked.kind,
                           assigned_to=locked.assigned_to, created_by=actor, created_by_label=locked.done_by_label)
            if actor_label:
                nxt._change_reason = f"Scheduled by {actor_label}"
            nxt.save()
        lead_refresh_next_follow_up(locked.lead)
        adapters = outbound.adapters_for_lead(locked.lead)
        outbound.report_followup(adapters, locked.lead, locked, event="completed")
        if nxt is not None:
            outbound.report_followup(adapters, locked.lead, nxt, event="scheduled")
    followup.refresh_from_db()
    return FollowUpResult(followup=followup, next=nxt)


# Follow-up kinds that reach the customer: completing one is contact (a note is not).
CONTACT_KINDS = frozenset({"call", "email", "text", "visit", "appointment", "quote"})


def _label_without_person(actor, actor_label: str) -> str:
    """The name a follow-up keeps for who scheduled or completed it when no person
    did (an API key's "API key DMS"): a person is its created_by/done_by."""
    return "" if getattr(actor, "pk", None) is not None else actor_label[:150]


def _count_as_contact(followup: FollowUp) -> None:
    """A completed call, e-mail, text, visit, appointment or quote is the lead's
    first contact when it had none: it leaves "New, not yet contacted" (the queue)
    and its speed-to-lead clock stops. The status stays as it is (an outcome is a
    separate decision, and a vendor hears of it only then)."""
    if followup.kind not in CONTACT_KINDS:
        return
    contacted_at = followup.done_at or timezone.now()
    updated = Lead.objects.filter(pk=followup.lead_id, first_contacted_at__isnull=True).update(
        first_contacted_at=contacted_at, updated_at=timezone.now())
    if updated:
        record_lead_history([followup.lead_id], reason=f"First contact: {followup.get_kind_display().lower()} done")
        followup.lead.first_contacted_at = contacted_at


def lead_create(*, dealer: Dealer, data: dict, origin: str = Origin.MANUAL, actor=None,
                actor_label: str = "") -> LeadCreateResult:
    """A lead as staff type one in (the admin's "Add lead"): `data` holds Lead
    field values (not dealer, origin, status nor vendor fields). The model's own
    validation (full_clean, with the dealer set: one lead per reference, an owner
    who works for the dealer...) comes back as errors and nothing is written.
    Otherwise the lead is saved in one transaction, and its post_save receivers
    route it, apply the dealer's assignment rules and recognise the same customer,
    as for a lead typed in. The audit history says "Created by <actor or label>"."""
    lead = Lead(dealer=dealer, origin=origin, **data)
    errors = _model_violations(lead)
    if errors:
        return LeadCreateResult(errors=errors)
    lead._change_reason = f"Created by {_actor_label(actor, actor_label)}"
    with transaction.atomic():
        lead.save()
    return LeadCreateResult(lead=lead)


def lead_add_note(*, lead: Lead, text: str, actor, actor_label: str = "") -> ServiceResult:
    """A plain note on the lead (no date, not a follow-up), shown in its timeline.
    Vendors are not told: a note is the dealer's own. `actor_label`: who wrote it,
    when no person did (an API key)."""
    text = (text or "").strip()
    if not text:
        return ServiceResult(errors=[Violation("text", "required", "Write the note first.")])
    if len(text) > 4000:
        return ServiceResult(errors=[Violation("text", "max_length", "Keep a note under 4,000 characters.")])
    LeadEvent.objects.create(lead=lead, kind=EventKind.NOTE, actor_label=_actor_label(actor, actor_label),
                             summary=text[:500], details={"text": text, "by": getattr(actor, "pk", None)})
    return ServiceResult()


@dataclass
class HeldCompletionResult(ServiceResult):
    """queued: the held update goes now; still: what holds it yet (a HeldUpdate,
    e.g. a dealer admin's mapping), None once it is not held."""

    queued: bool = False
    still: outbound.HeldUpdate | None = None


def lead_complete_held_update(*, lead: Lead, item_id: int, actor, comment: str = "",
                              updates: dict | None = None) -> HeldCompletionResult:
    """What staff add so a vendor update held for it can go: the comment (kept with
    the update: the status log is history) and the lead's outcome facts (the
    customer number...), then the update is re-checked and queued if the vendor
    would take it. Refused when nothing was added."""
    updates = {name: value for name, value in (updates or {}).items() if value not in (None, "")}
    _check_outcome_fields(updates)
    comment = (comment or "").strip()
    if not comment and not updates:
        return HeldCompletionResult(errors=[Violation("", "required", "Add what is asked for first.")])
    if not any(held.item_id == item_id for held in outbound.held_updates(lead)):
        return HeldCompletionResult(errors=[Violation("", "not_held", "This update is not held any more: it was "
                                                                      "sent or queued meanwhile. Nothing was added.")])
    with transaction.atomic():
        current = Lead.objects.select_for_update().get(pk=lead.pk)
        if updates:
            for name, value in updates.items():
                setattr(current, name, value)
            _audit(current, actor, "Added for a held vendor update")
            current.save(update_fields=[*updates, "updated_at"])
            _copy_into(lead, current)
        still, queued = outbound.complete_held(current, item_id, comment=comment, actor=actor)
        added = ", ".join(["a comment"] * bool(comment) + [name.replace("_", " ") for name in sorted(updates)])
        LeadEvent.objects.create(lead=current, kind=EventKind.HELD_COMPLETED, actor_label=_actor_label(actor, ""),
                                 summary=f"Added {added} for a held vendor update"
                                         + (": queued to send." if queued else "."),
                                 details={"outbox": item_id, "comment": comment,
                                          "fields": sorted(updates), "queued": queued})
    return HeldCompletionResult(queued=queued, still=still)


def _model_violations(obj) -> list[Violation]:
    """The model's own validation (full_clean) as Violations."""
    try:
        obj.full_clean()
    except ValidationError as exc:
        return [Violation(name if name != "__all__" else "", "invalid", message)
                for name, messages in exc.message_dict.items() for message in messages]
    return []


def followup_save_edited(*, followup: FollowUp, actor) -> FollowUp:
    """Save a follow-up edited in a form (the admin's follow-up page and the lead
    form's inline) through the follow-up services, so that it counts exactly like
    one made on the workbench: a new one is scheduled (followup_schedule), one
    marked done is completed (followup_complete), and every vendor that knows the
    lead hears of it (Capillary, Aimbase). Other edits (notes, time) are saved
    as they are. Returns the saved follow-up."""
    done_at, outcome_notes = followup.done_at, followup.outcome_notes
    if followup.pk is None:
        scheduled = followup_schedule(lead=followup.lead, scheduled_at=followup.scheduled_at, kind=followup.kind,
                                      assigned_to=followup.assigned_to, notes=followup.notes, actor=actor)
        if not scheduled.ok:  # the admin's form ran the same model validation first
            raise ValidationError({v.field or "__all__": v.message for v in scheduled.errors})
        created = scheduled.followup
        if done_at is not None:
            followup_complete(followup=created, actor=followup.done_by or actor, outcome_notes=outcome_notes,
                              at=done_at)
        created.refresh_from_db()
        return created
    was_done = FollowUp.objects.filter(pk=followup.pk).values_list("done_at", flat=True).first()
    if was_done is None and done_at is not None:
        # The other edits first, then the completion through its service.
        followup.done_at, followup.done_by, followup.outcome_notes = None, None, ""
        followup.save()
        followup_complete(followup=followup, actor=actor, outcome_notes=outcome_notes, at=done_at)
        return followup
    if done_at is not None and not followup.done_by_id:
        followup.done_by = actor
    followup.save()
    lead_refresh_next_follow_up(followup.lead)
    return followup


def lead_refresh_next_follow_up(lead: Lead) -> None:
    """Set lead.next_follow_up_at to its earliest open follow-up (None if none),
    and stamp updated_at. Every caller has just scheduled, completed or edited one
    of the lead's follow-ups: the API's change feed (ordered by updated_at,
    docs/api.md) then carries it to a syncing client, even when the earliest date
    stayed the same."""
    earliest = FollowUp.objects.filter(lead_id=lead.pk, done_at__isnull=True).aggregate(m=Min("scheduled_at"))["m"]
    now = timezone.now()
    # UPDATEs of these columns only (never a stale save); audited only when the date changed.
    if Lead.objects.filter(pk=lead.pk).exclude(next_follow_up_at=earliest).update(next_follow_up_at=earliest,
                                                                                updated_at=now):
        record_lead_history([lead.pk], reason="Next follow-up set from its follow-ups")
    else:
        Lead.objects.filter(pk=lead.pk).update(updated_at=now)
    lead.updated_at = now
    lead.next_follow_up_at = earliest
