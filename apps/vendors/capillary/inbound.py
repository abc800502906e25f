"""Applying what Capillary sent: its lists, and its leads with their follow-ups
and status logs, keyed on Capillary ids (runs inside the engine's transaction).

Conflicts (docs/vendors/capillary.md): Capillary's status is taken only when
the dealer has no newer work of their own: no status change of the lead still
waiting to go to Capillary, and no dealer status change later than
Capillary's. Otherwise the dealer's status stands (it is, or will be, sent to
Capillary), and Capillary's is recorded on the timeline and flagged for review.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.leads.history import record_lead_history
from apps.leads.lookup import leads_by_vendor_id
from apps.leads.models import (EventKind, FollowUp, Lead, LeadEvent, Origin, PendingField, PendingVendorValue, Reason, SalesStage,
                               Source, StatusLog)
from apps.leads.pending import add_review_note, pending_record, pending_resolve_field
from apps.leads.services import lead_record_vendor_owner, lead_record_vendor_status, lead_refresh_next_follow_up
from apps.leads.statuses import REASON_KIND_FOR_STATUS
from apps.sync.models import OutboxItem, OutboxState
from apps.vendors.core.base import ApplyResult

from . import payloads
from .models import CapillaryLink, CapillaryReason, CapillarySubStatus, LinkKind


def store_lists(account, reasons: list, substatuses: list) -> tuple[int, int]:
    """Replace the account's copy of the organisation's reasons and sub-statuses."""
    keep = []
    for entry in reasons:
        if isinstance(entry, dict) and isinstance(entry.get("id"), int):
            obj, _ = CapillaryReason.objects.update_or_create(
                account=account, reason_id=entry["id"], defaults={"reason": str(entry.get("reason") or "")[:255]})
            keep.append(obj.pk)
    CapillaryReason.objects.filter(account=account).exclude(pk__in=keep).delete()
    keep = []
    for entry in substatuses:
        if isinstance(entry, dict) and entry.get("status") and entry.get("subStatus"):
            obj, _ = CapillarySubStatus.objects.update_or_create(
                account=account, status=str(entry["status"])[:16], sub_status=str(entry["subStatus"])[:100])
            keep.append(obj.pk)
    CapillarySubStatus.objects.filter(account=account).exclude(pk__in=keep).delete()
    return (CapillaryReason.objects.filter(account=account).count(),
            CapillarySubStatus.objects.filter(account=account).count())


def find_lead(account, capillary_id: str):
    """(lead, link or None): a lead that came from this account, or one LeadHub
    submitted to it (linked when Capillary answered with its id)."""
    lead = Lead.objects.filter(vendor_account=account, vendor_lead_id=capillary_id).first()
    if lead is not None:
        return lead, None
    link = (CapillaryLink.objects.filter(account=account, kind=LinkKind.LEAD, capillary_id=capillary_id)
            .select_related("lead").first())
    return (link.lead, link) if link else (None, None)


class Upsert:
    def __init__(self, adapter, mappings: payloads.Mappings):
        self.adapter = adapter
        self.account = adapter.account
        self.m = mappings
        self.result = ApplyResult()
        self.reasons_by_id = {}
        for reason in Reason.objects.filter(dealer_id=self.account.dealer_id, mappings__vendor=adapter.kind):
            for code in reason.mappings.filter(vendor=adapter.kind).values_list("vendor_code", flat=True):
                if str(code).strip().lstrip("-").isdigit():
                    self.reasons_by_id.setdefault(int(code), reason)
        self.stages = {s.pk: s for s in SalesStage.objects.filter(dealer_id=self.account.dealer_id)}

    def run(self, items: list[dict]) -> ApplyResult:
        self._prefetch(items)
        for item in items:
            self._one(item)
        return self.result

    def _prefetch(self, items: list[dict]) -> None:
        """The page's leads and already-linked ids in a few queries (not per lead)."""
        ids = [str(item["id"]) for item in items]
        self.known = {vendor_id: (lead, None) for vendor_id, lead in leads_by_vendor_id(self.account.pk, ids).items()}
        for link in CapillaryLink.objects.filter(account=self.account, kind=LinkKind.LEAD,
                                                 capillary_id__in=ids).select_related("lead"):
            self.known.setdefault(link.capillary_id, (link.lead, link))
        self.linked = {}
        for kind, key in ((LinkKind.FOLLOWUP, "followUpDetails"), (LinkKind.STATUS_LOG, "statusLogDetails")):
            entry_ids = [str(e["id"]) for item in items for e in item.get(key) or []
                         if isinstance(e, dict) and e.get("id") is not None]
            self.linked[kind] = set(CapillaryLink.objects.filter(account=self.account, kind=kind,
                                                                 capillary_id__in=entry_ids)
                                    .values_list("capillary_id", flat=True))

    def _one(self, item: dict) -> None:
        cap_id = str(item["id"])
        lead, link = self.known.get(cap_id, (None, None))
        if lead is None:
            self._create(cap_id, item)
            return
        previous = link.payload if link else (lead.raw_payload or {})
        if previous == item:
            return  # read again (the feed's overlap): nothing new
        before = payloads.parse_dt(previous.get("lastUpdatedOn"))
        now = payloads.parse_dt(item.get("lastUpdatedOn"))
        if before and now and now < before:
            return  # an older copy than LeadHub has
        if link:
            link.payload = item
            link.save(update_fields=["payload"])
        else:
            lead.raw_payload = item
            # Capillary's extended fields are the latest: LeadHub sends them back with
            # an owner change (PUT /leads/{id}) and must not send older ones.
            extras = dict(lead.submission_extras or {})
            extras[self.adapter.kind] = {**extras.get(self.adapter.kind, {}),
                                         **{k: item[k] for k in ("type", "leadFor", "userId", "extendedFields")
                                            if k in item}}
            lead.submission_extras = extras
            lead.save(update_fields=["raw_payload", "submission_extras", "updated_at"])
        changed = {k: [previous.get(k), item.get(k)] for k in sorted(set(previous) | set(item))
                   if k not in ("followUpDetails", "statusLogDetails", "lastUpdatedOn", "lastUpdatedBy")
                   and previous.get(k) != item.get(k)}
        self._history(lead, item, status_changed=bool({"status", "subStatus"} & set(changed)))
        if "nextFollowUp" in changed:
            self._next_followup(lead, item)
        if "owner" in changed:
            self._owner(lead, item)
        if changed:
            described = ", ".join(f"{k}: {v[0]!r} → {v[1]!r}" for k, v in list(changed.items())[:10])
            LeadEvent.objects.create(lead=lead, kind=EventKind.VENDOR_UPDATE, actor_label=self.account.name,
                                     summary=f"Capillary updated {described}"[:500], details={"changed": changed})
        self.result.updated += 1

    def _create(self, cap_id: str, item: dict) -> None:
        lead_for = str(item.get("leadFor") or "")
        lead = Lead.objects.create(
            dealer_id=self.account.dealer_id, vendor_account=self.account, vendor_lead_id=cap_id,
            origin=Origin.VENDOR, product_interest=lead_for[:1000],
            brand=lead_for[:100] if item.get("type") == "BRAND" else "", source="Capillary",
            raw_payload=item, vendor_created_at=payloads.parse_dt(item.get("createdOn")),
            submission_extras={self.adapter.kind: {k: item[k] for k in ("type", "leadFor", "userId", "extendedFields")
                                                   if k in item}})
        self.known[cap_id] = (lead, None)
        LeadEvent.objects.create(lead=lead, kind=EventKind.RECEIVED, actor_label=self.account.name,
                                 summary=f"Received from Capillary (lead {cap_id}, {item.get('type')} "
                                         f"{lead_for})"[:500])
        self.result.created += 1
        self._history(lead, item, status_changed=True)
        self._next_followup(lead, item)
        if item.get("owner"):
            self._owner(lead, item)

    def _next_followup(self, lead, item: dict) -> None:
        """nextFollowUp, "Next follow up date of the lead": a follow-up scheduled for
        then, unless the lead already has one open (the dealer's own plan wins) or
        has had one for that very time."""
        at = payloads.parse_dt(item.get("nextFollowUp"))
        if at is None or FollowUp.objects.filter(lead=lead, done_at__isnull=True).exists():
            return
        if FollowUp.objects.filter(lead=lead, scheduled_at=at).exists():
            return  # LeadHub's own (it reported that date), perhaps done since: not brought back
        FollowUp.objects.create(lead=lead, scheduled_at=at, notes="Next follow-up set in Capillary")
        lead_refresh_next_follow_up(lead)

    # --- follow-ups and status logs ---------------------------------------------------------
    def _link(self, kind: str, capillary_id: str, lead, **rows) -> CapillaryLink:
        self.linked[kind].add(capillary_id)
        return CapillaryLink.objects.create(account=self.account, kind=kind, capillary_id=capillary_id, lead=lead,
                                            **rows)

    def _history(self, lead, item: dict, *, status_changed: bool) -> None:
        followups = [f for f in item.get("followUpDetails") or [] if isinstance(f, dict) and f.get("id") is not None]
        added = False
        for entry in followups:
            if str(entry["id"]) in self.linked[LinkKind.FOLLOWUP]:
                continue
            done = payloads.parse_dt(entry.get("followedUpOn"))
            scheduled = payloads.parse_dt(entry.get("scheduledFollowUp")) or done or payloads.parse_dt(
                entry.get("createdOn")) or timezone.now()
            notes = str(entry.get("notes") or "")
            followup = FollowUp.objects.create(lead=lead, scheduled_at=scheduled, done_at=done, notes=notes,
                                               outcome_notes=notes if done else "")
            self._link(LinkKind.FOLLOWUP, str(entry["id"]), lead, followup=followup, payload=entry)
            added = True
        if added:
            lead_refresh_next_follow_up(lead)
        logs = sorted((e for e in item.get("statusLogDetails") or [] if isinstance(e, dict) and e.get("id") is not None),
                      key=lambda e: (payloads.parse_dt(e.get("createdOn")) or timezone.now(), str(e["id"])))
        new_logs = [e for e in logs if str(e["id"]) not in self.linked[LinkKind.STATUS_LOG]]
        links = []
        for entry in new_logs:
            reason = entry.get("reason") or entry.get("reasonId")
            LeadEvent.objects.create(
                lead=lead, kind=EventKind.VENDOR_UPDATE, actor_label=self.account.name,
                created_at=payloads.parse_dt(entry.get("createdOn")) or timezone.now(),
                summary=f"Capillary status log: {entry.get('status')}"
                        + (f" / {entry['subStatus']}" if entry.get("subStatus") else "")
                        + (f", reason {reason}" if reason else "") + f" (by {entry.get('createdBy')})",
                details={"capillary_status_log": entry})
            links.append(self._link(LinkKind.STATUS_LOG, str(entry["id"]), lead, payload=entry))
        if new_logs or status_changed:
            latest = new_logs[-1] if new_logs else (logs[-1] if logs else {})
            log = self._take_status(lead, item, latest)
            if log is not None and links:
                CapillaryLink.objects.filter(pk=links[-1].pk).update(status_log=log)

    def _take_status(self, lead, item: dict, latest: dict) -> StatusLog | None:
        cap_status, sub = item.get("status"), str(item.get("subStatus") or "")
        same = latest.get("status") == cap_status
        facts = {"status": cap_status, "subStatus": sub,
                 "reasonId": latest.get("reasonId") if same else None,
                 "reason": str(latest.get("reason") or "") if same else "",
                 "at": latest.get("createdOn") or item.get("lastUpdatedOn"),
                 "logId": str(latest["id"]) if same and latest.get("id") is not None else None}
        return self.apply_status(lead, facts)

    def apply_status(self, lead, facts: dict) -> StatusLog | None:
        """Take Capillary's status (`facts`: status, subStatus, reasonId, reason,
        at, logId) on the lead, by the dealer's mappings as they are now: the
        pull calls it with what Capillary just sent, apply_pending with what a
        PendingVendorValue kept. What the mappings cannot say stays pending
        (the status; a sub-status that could be a sales stage); what they can
        is written through lead_record_vendor_status (never sent back to this
        account) and its pending row resolved."""
        cap_status, sub, reason_id = facts.get("status"), str(facts.get("subStatus") or ""), facts.get("reasonId")
        shown = f"{cap_status}{' / ' + sub if sub else ''}"
        lead.refresh_from_db()
        status, stage_id, note = payloads.dealer_status_for(self.m, cap_status, sub, reason_id, self._kinds(reason_id),
                                                            current=lead.status)
        if note:
            if (cap_status == "OPEN" and lead.status == "new" and not sub
                    and not any(v == "OPEN" for v, _ in self.m.statuses.values())):
                # A new lead is open: nothing to say until the dealer maps OPEN at all.
                pending_resolve_field(lead=lead, account=self.account, field=PendingField.STATUS,
                                      outcome=f"Capillary says {shown} again: the lead stays New")
                return None
            return self._pending(lead, PendingField.STATUS, shown, note, facts)
        self._sub_status_pending(lead, cap_status, sub, facts)
        stage = self.stages.get(stage_id) if stage_id else None
        if status == lead.status and (stage is None or stage.pk == lead.sales_stage_id):
            pending_resolve_field(lead=lead, account=self.account, field=PendingField.STATUS,
                                  outcome=f"Capillary's {shown} is the lead's status already")
            return None
        at = payloads.parse_dt(facts.get("at"))
        waiting = OutboxItem.objects.filter(account=self.account, lead=lead, kind="status_update", state__in=[
            OutboxState.PENDING, OutboxState.SENDING, OutboxState.BLOCKED]).exists()
        newer = (StatusLog.objects.filter(lead=lead).exclude(source=Source.SYNC)
                 .filter(created_at__gt=at).exists() if at else False)
        if waiting or newer:
            pending_resolve_field(lead=lead, account=self.account, field=PendingField.STATUS,
                                  outcome=f"Capillary's {shown} is superseded by the dealer's newer change")
            return self._review(lead, f"Capillary says {shown}, but the dealer's "
                                      f"newer change ({lead.get_status_display()}) stands and is sent to Capillary")
        reason = self.reasons_by_id.get(reason_id) if isinstance(reason_id, int) else None
        if reason is not None and REASON_KIND_FOR_STATUS.get(status, (None,))[0] != reason.kind:
            reason = None  # a reason of another kind cannot be this status's reason
        log = lead_record_vendor_status(lead=lead, to_status=status, source_account=self.account, at=at,
                                        stage=stage, reason=reason, reason_label=str(facts.get("reason") or ""),
                                        sub_status=sub, comment=f"Changed in Capillary to {shown}")
        pending_resolve_field(lead=lead, account=self.account, field=PendingField.STATUS,
                              outcome=f"Capillary's {shown} applied as {lead.get_status_display()}")
        return log

    def _sub_status_pending(self, lead, cap_status, sub: str, facts: dict) -> None:
        """A sub-status of the Capillary status Accepted maps to names a sales
        stage (StageMapping); one no mapping names waits for one. Other
        sub-statuses are kept on the status log only (docs/vendors/capillary.md)."""
        accepted = self.m.statuses.get("accepted", (None, ""))[0]
        named = set(self.m.stages.values()) | {s for value, s in self.m.statuses.values() if value == cap_status}
        if sub and cap_status == accepted and sub not in named:
            self._pending(lead, PendingField.SUB_STATUS, sub,
                          f"Capillary sub-status {sub!r} is not mapped to a sales stage", facts)
        else:
            pending_resolve_field(lead=lead, account=self.account, field=PendingField.SUB_STATUS,
                                  outcome=f"Capillary sub-status {sub!r} applied" if sub else "")

    def _pending(self, lead, field: str, vendor_value: str, note: str, facts: dict) -> None:
        pending_record(lead=lead, account=self.account, field=field, vendor_value=vendor_value,
                       note=f"{self.account.name}: {note}", details=facts)
        self.result.notes.append(f"lead {lead.vendor_lead_id or lead.pk}: {note}")
        return None

    # --- the owner ------------------------------------------------------------------------
    def _owner(self, lead, item: dict) -> None:
        username = str(item.get("owner") or "").strip()
        if not username:
            pending_resolve_field(lead=lead, account=self.account, field=PendingField.OWNER,
                                  outcome="Capillary no longer names an owner")
            return
        self.apply_owner(lead, username)

    def apply_owner(self, lead, username: str) -> bool:
        """owner, "Username of the staff user who is assigned to the lead": the
        person of the lead's dealer with that username (ignoring case) becomes
        its owner, unless the dealer's own owner change still waits to go to
        Capillary. Nobody of that name at the dealer: kept pending. True when
        settled."""
        user = (get_user_model().objects.filter(username__iexact=username, is_active=True,
                                                memberships__dealer_id=lead.dealer_id).first())
        if user is None:
            self._pending(lead, PendingField.OWNER, username,
                          f"Capillary owner {username!r} is not one of {self.account.dealer.code}'s people", {})
            return False
        lead.refresh_from_db(fields=["owner"])
        waiting = OutboxItem.objects.filter(account=self.account, lead=lead, kind="update", state__in=[
            OutboxState.PENDING, OutboxState.SENDING, OutboxState.BLOCKED]).exists()
        if lead.owner_id == user.pk or waiting:
            outcome = ("the dealer's own owner change stands" if waiting and lead.owner_id != user.pk
                       else f"Capillary's owner {username} owns the lead already")
        else:
            lead_record_vendor_owner(lead=lead, owner=user, source_account=self.account)
            outcome = f"Capillary's owner {username} applied"
        pending_resolve_field(lead=lead, account=self.account, field=PendingField.OWNER, outcome=outcome)
        return True

    # --- what waited for a mapping (apps.sync.engine.apply_pending) ---------------------------
    def apply_pending(self, lead, rows) -> int:
        """Apply the lead's pending values with the mappings as they are now;
        the number of values settled."""
        before = len(rows)
        by_field = {row.field: row for row in rows}
        status_row = by_field.get(PendingField.STATUS) or by_field.get(PendingField.SUB_STATUS)
        if PendingField.OWNER not in by_field and status_row is not None and not self._may_apply(lead, status_row):
            return 0  # every pull tries the waiting leads again: a still-unmapped one costs no query
        if status_row is not None:
            log = self.apply_status(lead, dict(status_row.details))
            if log is not None and status_row.details.get("logId"):
                # As the pull does: Capillary's status log entry points at the row it became.
                CapillaryLink.objects.filter(account=self.account, kind=LinkKind.STATUS_LOG, lead=lead,
                                             capillary_id=status_row.details["logId"], status_log__isnull=True
                                             ).update(status_log=log)
        if PendingField.OWNER in by_field:
            self.apply_owner(lead, by_field[PendingField.OWNER].vendor_value)
        return before - PendingVendorValue.objects.filter(lead=lead, account=self.account).count()

    def _may_apply(self, lead, row) -> bool:
        """Whether the mappings now say more about a pending status or sub-status
        than when it was recorded (pure: the mappings and the row only)."""
        facts = row.details
        sub = str(facts.get("subStatus") or "")
        status, _, note = payloads.dealer_status_for(self.m, facts.get("status"), sub, facts.get("reasonId"),
                                                     self._kinds(facts.get("reasonId")), current=lead.status)
        if row.field == PendingField.STATUS:
            return not note
        named = set(self.m.stages.values()) | {s for value, s in self.m.statuses.values() if value == facts.get("status")}
        return bool(note) or sub in named or facts.get("status") != self.m.statuses.get("accepted", (None, ""))[0]

    def _kinds(self, reason_id) -> set[str]:
        reason = self.reasons_by_id.get(reason_id) if isinstance(reason_id, int) else None
        return {reason.kind} if reason else set()

    def _review(self, lead, note: str) -> None:
        text = f"{self.account.name}: {note}"
        lead.refresh_from_db(fields=["review_note"])
        Lead.objects.filter(pk=lead.pk).update(needs_review=True, review_note=add_review_note(lead.review_note,
                                                                                            text[:1000]))
        record_lead_history([lead.pk])  # audit: the UPDATE bypasses save(); named after the sync run
        LeadEvent.objects.create(lead=lead, kind=EventKind.REVIEW, actor_label=self.account.name, summary=text[:500])
        self.result.notes.append(f"lead {lead.vendor_lead_id or lead.pk}: {note}")
        return None
