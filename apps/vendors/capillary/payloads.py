"""Capillary messages built from LeadHub data, and Capillary pages read back.

Pure functions: the dealer's mappings arrive as a plain `Mappings` (the adapter
reads them from the database), so builders and readers are tested without
HTTP or a database. Every builder returns (payload, violations) checked with
rules.py.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone

from django.utils.dateparse import parse_datetime

from apps.core.violations import Violation
from apps.leads.statuses import REASON_KIND_FOR_STATUS
from apps.vendors.core.base import PageUnreadable

from . import rules


@dataclass(frozen=True)
class Mappings:
    """A dealer's Capillary mappings and the account's settings, as plain data."""

    statuses: dict = field(default_factory=dict)  # dealer status -> (Capillary status, sub-status or "")
    stages: dict = field(default_factory=dict)  # SalesStage id -> Capillary sub-status
    reasons: dict = field(default_factory=dict)  # dealer Reason id -> Capillary reason id (int)
    default_reason_id: int | None = None  # sent when a change carries no reason of its own
    created_by: int | None = None  # the till / staff entity id LeadHub writes as
    org_source_id: int = -1


def fmt(value: datetime | None) -> str | None:
    """YYYY-MM-DDThh:mm:ssTZD, in UTC (+00:00)."""
    if value is None:
        return None
    return value.astimezone(dt_timezone.utc).replace(microsecond=0).isoformat()


def parse_dt(value) -> datetime | None:
    """A Capillary date-time (with +05:30 or Z), or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        return None  # the document always sends a zone; a naive value is not trusted
    return parsed


def capillary_status(m: Mappings, status: str, stage_id: int | None = None) -> tuple[str | None, str, list]:
    """The Capillary (status, subStatus) a dealer status maps to; an accepted lead's
    sales stage may name the sub-status (StageMapping), for "accepted" only. Unmapped: a violation with
    code "unmapped" (it blocks the message until a dealer admin maps it)."""
    mapped = m.statuses.get(status)
    if mapped is None:
        return None, "", [Violation("status", "unmapped", f"The dealer status {status!r} is not mapped to a "
                                                          "Capillary status (Mappings → Status mappings).")]
    cap_status, sub = mapped
    # A stage names a sub-status of the status Accepted maps to (the mapping form
    # checks that), so it goes with an accepted lead only: a lead that moves on keeps
    # its stage, and ON_HOLD + an OPEN sub-status would be refused.
    if status == "accepted" and stage_id is not None and m.stages.get(stage_id):
        sub = m.stages[stage_id]
    return cap_status, sub or "", []


def reason_id_for(m: Mappings, to_status: str, reason) -> tuple[int | None, list[Violation]]:
    """The reasonId for a change to `to_status` with the dealer's `reason` (a Reason
    or None). "reasonId*" is mandatory on every status update: the reason's
    mapping, else the account's default reason id; otherwise refused on the
    status form's reason field."""
    if reason is not None:
        if reason.pk in m.reasons:
            return m.reasons[reason.pk], []
        return None, [Violation("reason", "unmapped_reason",
                                f"The reason {reason.label!r} has no Capillary reason id; a dealer admin maps it "
                                "(Reasons → Capillary reason id) before this change can be made.")]
    kind, required = REASON_KIND_FOR_STATUS.get(to_status, (None, False))
    if m.default_reason_id is not None and not required:
        return m.default_reason_id, []
    if kind is None and m.default_reason_id is None:
        return None, [Violation("reason", "no_reason_id",
                                "Capillary needs a reason id with every status change; set the account's default "
                                "reason id (Vendor accounts → default_reason_id).")]
    return None, [Violation("reason", "required", "Capillary needs a reason with this status change: choose one "
                                                  "that is mapped to a Capillary reason id.")]


def build_status(m: Mappings, *, to_status: str, stage_id: int | None, reason, at: datetime | None = None):
    """PUT /leads/{id}/status."""
    cap_status, sub, problems = capillary_status(m, to_status, stage_id)
    reason_id, reason_problems = reason_id_for(m, to_status, reason)
    problems += reason_problems
    if problems:
        return None, problems
    payload = {"status": cap_status, "reasonId": reason_id}
    if sub:
        payload["subStatus"] = sub
    if m.created_by is not None:
        payload["createdBy"] = m.created_by
    if at is not None:
        payload["createdOn"] = fmt(at)
    return payload, rules.check_status_update(payload)


def build_followup(m: Mappings, *, done_at: datetime, scheduled_at: datetime | None, notes: str,
                   next_at: datetime | None):
    """POST /leads/{id}/followup for a completed follow-up."""
    payload = {"followedUpOn": fmt(done_at), "createdBy": m.created_by}
    if scheduled_at is not None:
        payload["scheduledFollowUp"] = fmt(scheduled_at)
    if next_at is not None:
        payload["nextFollowUp"] = fmt(next_at)
    if notes:
        payload["notes"] = notes
    problems = rules.check_followup(payload)
    if m.created_by is None:
        problems = [Violation("createdBy", "required", "Capillary needs a till / staff entity id with a follow-up; "
                                                       "set the account's created_by setting.")]
    return (None if problems else payload), problems


def build_lead_update(*, owner_username: str | None, extended_fields: dict | None):
    """PUT /leads/{id}: the owner's username and the extended fields."""
    payload: dict = {}
    if owner_username:
        payload["owner"] = owner_username
    if extended_fields:
        payload["extendedFields"] = dict(extended_fields)
    if not payload:
        return None, []
    return payload, rules.check_lead_update(payload)


@dataclass(frozen=True)
class LeadFacts:
    """What a new Capillary lead is made of (from a LeadHub lead)."""

    lead_for: str
    type: str = "SKU"
    user_id: int | None = None
    email: str = ""
    mobile: str = ""
    status: str = "new"
    stage_id: int | None = None
    created_at: datetime | None = None
    next_follow_up_at: datetime | None = None
    owner_username: str = ""
    extended_fields: dict = field(default_factory=dict)
    status_logs: tuple = ()  # (to_status, stage_id, Reason or None, created_at), oldest first
    followups: tuple = ()  # (scheduled_at, done_at, notes, next_at), completed ones, oldest first


def build_create(m: Mappings, facts: LeadFacts):
    """POST /leads. The customer by userId, else idType EMAIL, else MOBILE ("If
    this is left blank, then you need to pass idType and identifier")."""
    problems: list[Violation] = []
    payload: dict = {"type": facts.type or "SKU", "leadFor": facts.lead_for}
    if facts.user_id is not None:
        payload["userId"] = facts.user_id
    elif facts.email:
        payload.update(idType="EMAIL", identifier=facts.email)
    elif facts.mobile:
        payload.update(idType="MOBILE", identifier=facts.mobile)
    cap_status, sub, found = capillary_status(m, facts.status, facts.stage_id)
    problems += found
    if cap_status:
        payload["status"] = cap_status
    if sub:
        payload["subStatus"] = sub
    payload["createdOn"] = fmt(facts.created_at)
    if m.created_by is not None:
        payload["createdBy"] = m.created_by
    if facts.next_follow_up_at is not None:
        payload["nextFollowUp"] = fmt(facts.next_follow_up_at)
    if facts.owner_username:
        payload["owner"] = facts.owner_username
    if facts.extended_fields:
        payload["extendedFields"] = dict(facts.extended_fields)
    logs = []
    for to_status, stage_id, reason, at in facts.status_logs:
        entry, found = build_status(m, to_status=to_status, stage_id=stage_id, reason=reason, at=at)
        problems += [Violation(f"statusLogDetails.{v.field}", v.code, v.message) for v in found]
        if entry:
            logs.append({k: entry[k] for k in ("status", "reasonId", "createdBy", "subStatus") if k in entry})
    if not logs and cap_status:
        # "These reason ids are required to create or update leads": a lead with no
        # status change yet goes with one entry for the status it is created in, and
        # the reason id the account gives statuses that need no reason of their own
        # (Capillary logs a store's new lead the same way). Without such a default
        # the lead goes without, as the Add Lead table lists no reason field.
        entry, _ = build_status(m, to_status=facts.status, stage_id=facts.stage_id, reason=None)
        if entry:
            logs.append({k: entry[k] for k in ("status", "reasonId", "createdBy", "subStatus") if k in entry})
    if logs:
        payload["statusLogDetails"] = logs
    followups = []
    for scheduled_at, done_at, notes, next_at in facts.followups:
        entry = {"scheduledFollowUp": fmt(scheduled_at), "followedUpOn": fmt(done_at)}
        if m.created_by is not None:
            entry["followedUpBy"] = m.created_by
        if notes:
            entry["notes"] = notes
        if next_at is not None:
            entry["nextFollowUp"] = fmt(next_at)
        followups.append(entry)
    if followups:
        payload["followUpDetails"] = followups
    payload["orgSourceId"] = m.org_source_id
    payload = {k: v for k, v in payload.items() if v is not None}
    problems += rules.check_create(payload)
    return payload, _unique(problems)


def _unique(problems: list[Violation]) -> list[Violation]:
    seen, out = set(), []
    for violation in problems:
        if (violation.field, violation.message) not in seen:
            seen.add((violation.field, violation.message))
            out.append(violation)
    return out


# --- reading ------------------------------------------------------------------------------

def parse_search_page(body: bytes) -> list[dict]:
    """The leads of a GET /leads answer ({"data": [...], "warnings", "errors"});
    PageUnreadable for anything else (the page stays stored as received)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PageUnreadable(f"not JSON ({exc.__class__.__name__}: {str(exc)[:120]}); "
                             f"{len(body)} bytes kept as received") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise PageUnreadable(f"expected {{\"data\": [leads]}}, got {str(data)[:200]}")
    leads = data["data"]
    bad = [i for i, lead in enumerate(leads) if not isinstance(lead, dict) or lead.get("id") in (None, "")]
    if bad:
        raise PageUnreadable(f"lead(s) at {bad[:10]} have no id")
    return leads


def sort_key(lead: dict) -> tuple:
    """(lastUpdatedOn as an instant, id): the order the feed is read in."""
    at = parse_dt(lead.get("lastUpdatedOn")) or datetime.min.replace(tzinfo=dt_timezone.utc)
    return at, str(lead.get("id"))


def dealer_status_for(m: Mappings, cap_status, sub: str, reason_id, reason_kinds: set[str], *,
                      current: str) -> tuple[str | None, int | None, str]:
    """The dealer status (and sales stage id) a Capillary status stands for, by the
    dealer's own mappings read backwards: (status, stage_id, "") or (None, None,
    note) when it is unmapped or ambiguous. Several dealer statuses may map to one
    Capillary status (Rejected, Disqualified and Closed lost → LOST); the
    sub-status, then the reason's kind, then the lead's current status decide."""
    candidates = [s for s, (value, _) in m.statuses.items() if value == cap_status]
    if not candidates:
        return None, None, f"Capillary status {cap_status!r} is not mapped to any dealer status"
    stage_id = None
    if sub:
        exact = [s for s in candidates if m.statuses[s][1] == sub]
        stage_ids = [pk for pk, name in m.stages.items() if name == sub]
        if exact:
            candidates = exact
        elif stage_ids and "accepted" in candidates:
            candidates, stage_id = ["accepted"], stage_ids[0]
    if len(candidates) > 1 and reason_kinds:
        by_reason = [s for s in candidates if REASON_KIND_FOR_STATUS.get(s, (None,))[0] in reason_kinds]
        candidates = by_reason or candidates
    if len(candidates) > 1 and current in candidates:
        candidates = [current]
    if len(candidates) > 1:
        return None, None, (f"Capillary status {cap_status!r} maps to several dealer statuses "
                            f"({', '.join(sorted(candidates))}); choose one on the lead")
    return candidates[0], stage_id, ""
