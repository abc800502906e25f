"""Cat leads coming in: GET /leads and /leads/historic pages parsed (a scanner
that keeps each item's text, for the raw payload) and written as leads with one
multi-row INSERT per page (apps.leads.bulk), plus what waited for a dealer code
the account did not serve. Decisions: docs/vendors/cat.md."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.utils import timezone

from apps.accounts.models import Dealer
from apps.leads.bulk import JSONText, LeadRows, insert_lead_rows
from apps.leads.history import record_lead_history
from apps.leads.lookup import leads_by_vendor_id
from apps.leads.models import EventKind, Lead, LeadEvent, Origin, PendingField, PendingVendorValue
from apps.leads.phones import normalize_phone
from apps.leads.pending import pending_resolve
from apps.leads.signals import lead_moved
from apps.vendors.core.base import ApplyResult, PageUnreadable

from . import payloads


def apply_pending(account, lead, rows) -> int:
    """A catDealerCode the account did not serve when the lead came (the lead
    went to the account's own dealer): once the account serves it (its
    dealer_codes option names a LeadHub dealer with that code), a lead
    nobody has worked yet moves to that dealer; a lead already worked stays
    where it is worked (docs/vendors/cat.md). Either way it is settled."""
    dealers = _served_dealers(account)
    settled = 0
    for row in rows:
        if row.field != PendingField.DEALER_CODE or row.vendor_value.upper() not in dealers:
            continue
        dealer_id, code = dealers[row.vendor_value.upper()]
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.dealer_id == dealer_id:
            outcome = f"catDealerCode {code}: the lead is with {code} already"
        elif _untouched(lead):
            # Its feedback deadline was counted in the old dealer's business hours:
            # cleared, to be stamped again in the new one's (apps/reports/deadlines.py).
            from_dealer_id = lead.dealer_id
            Lead.objects.filter(pk=lead.pk).update(dealer_id=dealer_id, feedback_due_at=None, updated_at=timezone.now())
            record_lead_history([lead.pk], reason=f"Moved to {code}: {account.name} now serves it")
            lead.dealer_id = dealer_id
            # In the move's transaction (the caller's: select_for_update above), so
            # what listens (webhooks) commits or rolls back with the move. The
            # pending row settled names this move: the same one is never announced
            # twice (a re-run finds the row gone and moves nothing).
            lead_moved.send(sender=Lead, lead_ids=[lead.pk], from_dealer_id=from_dealer_id, to_dealer_id=dealer_id,
                            key=f"pending:{row.pk}")
            outcome = f"Moved to dealer {code}: account {account.name} now serves catDealerCode {code}"
        else:
            outcome = (f"catDealerCode {code} is now served by {account.name}, but the lead is already "
                       f"being worked at {account.dealer.code}: it stays there")
        pending_resolve(row, lead=lead, outcome=outcome)
        settled += 1
    return settled



def _served_dealers(account) -> dict[str, tuple[int, str]]:
    """catDealerCode (upper case) -> (dealer id, code) of the dealers the account
    serves: its own, and the LeadHub dealers its dealer_codes option names."""
    served = [c.strip().upper() for c in str((account.options or {}).get("dealer_codes", "")).split(",") if c.strip()]
    dealers = {account.dealer.code.upper(): (account.dealer_id, account.dealer.code)}
    for dealer in Dealer.objects.filter(code__in=served):
        dealers[dealer.code.upper()] = (dealer.pk, dealer.code)
    return dealers


def _untouched(lead) -> bool:
    """Nobody at the dealer has worked the lead: still New, no owner, no status
    change, no follow-up, nothing queued for a vendor, and no edit by a person
    (its audit history holds only the sync's rows): what the old dealer's people
    wrote on it (comments, corrected contact details) is theirs and does not go
    to another dealer."""
    return (lead.status == "new" and lead.owner_id is None and not lead.status_logs.exists()
            and not lead.followups.exists() and not lead.outbox.exists()
            and not lead.history.filter(history_user__isnull=False).exists())


def is_empty_array(body: bytes) -> bool:
    stripped = body.strip()
    if stripped in (b"", b"[]"):
        return True
    if len(stripped) < 16:
        try:
            return json.loads(stripped) == []
        except ValueError:
            return False
    return False


@dataclass
class _Prepared:
    """One page of Cat leads turned into INSERT rows, without the database."""

    builder: LeadRows
    entries: list = field(default_factory=list)  # (lead_id, item, state, columns, notes, row), page order
    notes: list[str] = field(default_factory=list)  # items without a leadId


_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


def parse_items(body: bytes) -> list[tuple[object, str]]:
    """The items of a GET /leads page, each with its exact JSON text in the page.

    The text is what a new lead keeps as its raw payload: the vendor's own bytes
    (key order, number formatting) rather than a re-encoding, and no second
    encoding pass on the pull's hot path. Raises PageUnreadable for anything but
    a JSON array."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PageUnreadable(f"not UTF-8 ({exc}); {len(body)} bytes kept as received") from None
    end = len(text)
    at = _skip(text, 0)
    if at >= end or text[at] != "[":
        try:  # say what it is, as a plain json.loads would
            data = json.loads(text)
        except ValueError as exc:
            raise PageUnreadable(f"not JSON ({exc.__class__.__name__}: {str(exc)[:120]}); "
                                 f"{len(body)} bytes kept as received") from None
        raise PageUnreadable(f"expected a JSON array of leads, got {type(data).__name__}: {str(data)[:200]}")
    items = []
    at = _skip(text, at + 1)
    try:
        if at < end and text[at] == "]":
            at += 1
        else:
            while True:
                item, stop = _DECODER.raw_decode(text, at)
                items.append((item, text[at:stop]))
                at = _skip(text, stop)
                if at < end and text[at] == ",":
                    at = _skip(text, at + 1)
                    continue
                if at < end and text[at] == "]":
                    at += 1
                    break
                raise ValueError(f"expected , or ] at character {at}")
        if _skip(text, at) != end:
            raise ValueError(f"extra data at character {at}")
    except ValueError as exc:
        raise PageUnreadable(f"not JSON ({exc.__class__.__name__}: {str(exc)[:120]}); "
                             f"{len(body)} bytes kept as received") from None
    return items


def _skip(text: str, at: int) -> int:
    end = len(text)
    while at < end and text[at] in _WHITESPACE:
        at += 1
    return at


def prepare(parsed, account_id: int) -> _Prepared:
    """Pure work for a page (runs in the prefetch thread): key each item and build
    the row that would create it. `parsed`: (item, its JSON text or None). The
    dealer is filled in by CatUpsert."""
    prepared = _Prepared(LeadRows())
    for index, (item, item_text) in enumerate(parsed):
        lead_id = str(item.get("leadId") or "").strip() if isinstance(item, dict) else ""
        if not lead_id:
            prepared.notes.append(f"item {index} has no leadId; it is kept in the stored page")
            continue
        state = str(item.get("leadState") or "").strip().upper()
        columns, notes = payloads.inbound_columns(item)
        if state not in ("NEW", "UPDATED", "SENT"):
            notes.append(f"unexpected leadState {item.get('leadState')!r}")
        region = columns.get("country") or None
        columns.update(
            vendor_account_id=account_id, vendor_lead_id=lead_id, origin=Origin.VENDOR,
            raw_payload=JSONText(item_text) if item_text is not None else item,
            needs_review=bool(notes), review_note="; ".join(notes),
            phone_normalized=normalize_phone(columns.get("phone", ""), region)
            or normalize_phone(columns.get("mobile_phone", ""), region))
        prepared.entries.append((lead_id, item, state, columns, notes, prepared.builder.row(columns)))
    return prepared


class CatUpsert:
    """Applies one page of Cat leads: NEW creates, UPDATED updates the vendor's own
    fields, historic (SENT) only fills gaps. Keyed on (account, leadId)."""

    def __init__(self, account, kind: str):
        self.account = account
        self.kind = kind
        self.result = ApplyResult()
        self.dealer_by_code = {code: dealer_id for code, (dealer_id, _) in _served_dealers(account).items()}
        self.unknown_codes: dict[str, tuple[str, str]] = {}  # lead id -> (catDealerCode, note): pending

    def run(self, prepared: _Prepared) -> ApplyResult:
        self.result.notes += prepared.notes
        existing = leads_by_vendor_id(self.account.pk, [entry[0] for entry in prepared.entries])
        builder = prepared.builder
        at = builder.position
        new, events = {}, []
        for lead_id, item, state, columns, notes, row in prepared.entries:
            if lead_id in new:  # the same lead twice in one page: keep the later values
                earlier = new[lead_id][0]["raw_payload"]
                if isinstance(earlier, JSONText):
                    earlier = json.loads(earlier)
                merged = dict(new[lead_id][0], raw_payload={**earlier, **item})
                new[lead_id] = (merged, builder.row(merged))
                continue
            lead = existing.get(lead_id)
            if lead is not None:
                if self.kind != "historic":
                    events += self._update(lead, item, state)
                continue
            notes = list(notes)
            if state == "SENT" and self.kind != "historic":
                # The table: "NEW UPDATED SENT (Only for historic end point)".
                notes.append("leadState SENT is only for the historic endpoint, yet GET /leads sent it")
            row[at["dealer_id"]] = self._dealer(item, notes)  # may add a note
            if notes:
                row[at["needs_review"]], row[at["review_note"]] = True, "; ".join(notes)
            new[lead_id] = (dict(columns, dealer_id=row[at["dealer_id"]]), row)
            self.result.notes += [f"lead {lead_id}: {note}" for note in notes]
        if new:
            self.result.created += insert_lead_rows(builder, [row for _, row in new.values()])
            if self.unknown_codes:  # rare: not on the pull's hot path
                self._record_unknown_codes(set(new))
            if self.kind == "historic":
                created = leads_by_vendor_id(self.account.pk, new)
                events += [LeadEvent(lead=lead, kind=EventKind.RECEIVED, actor_label=self.account.name,
                                     summary="Recovered by reconciliation with Cat's historic endpoint")
                           for lead in created.values()]
        if events:
            LeadEvent.objects.bulk_create(events)
        return self.result

    def _dealer(self, item, notes) -> int:
        code = str(item.get("catDealerCode") or "").strip().upper()
        if not code or code in self.dealer_by_code:
            return self.dealer_by_code.get(code, self.account.dealer_id)
        # Kept, never dropped: with the account's own dealer (it received it), and
        # pending until the account serves the code (apply_pending).
        note = (f"catDealerCode {code} is not a dealer of account {self.account.name}, "
                f"so the lead went to {self.account.dealer.code}")
        notes.append(note)
        lead_id = str(item.get("leadId") or "").strip()
        self.unknown_codes.setdefault(lead_id, (code, note))
        return self.account.dealer_id

    def _record_unknown_codes(self, created_ids: set[str]) -> None:
        """PendingVendorValue rows for the new leads whose catDealerCode the
        account does not serve (their flag and note are in the inserted row)."""
        ids = [lead_id for lead_id in self.unknown_codes if lead_id in created_ids]
        leads = leads_by_vendor_id(self.account.pk, ids)
        PendingVendorValue.objects.bulk_create([
            PendingVendorValue(lead=leads[lead_id], account=self.account, field=PendingField.DEALER_CODE,
                               vendor_value=self.unknown_codes[lead_id][0][:255],
                               note=self.unknown_codes[lead_id][1][:1000],
                               details={"catDealerCode": self.unknown_codes[lead_id][0]})
            for lead_id in ids if lead_id in leads], ignore_conflicts=True)

    def _update(self, lead, item, state) -> list:
        """UPDATED: keep the new payload, never clobber the dealer's own columns."""
        old = lead.raw_payload or {}
        changed = {k: [old.get(k), item.get(k)] for k in sorted(set(old) | set(item))
                   if k != "leadState" and old.get(k) != item.get(k)}
        if not changed:
            return []
        lead.raw_payload = {**old, **item}
        fields = ["raw_payload", "updated_at"]
        unexpected = [k for k in changed if k not in payloads.UPDATABLE_FIELDS]
        if state != "UPDATED" or unexpected:
            lead.needs_review = True
            note = (f"Cat sent {state or 'no leadState'} for a lead LeadHub has" if state != "UPDATED"
                    else "Cat changed fields it does not document as updatable: " + ", ".join(unexpected))
            lead.review_note = (lead.review_note + "; " if lead.review_note else "") + note
            fields += ["needs_review", "review_note"]
            self.result.notes.append(f"lead {lead.vendor_lead_id}: {note}")
        lead.save(update_fields=fields)
        self.result.updated += 1
        described = ", ".join(f"{k}: {v[0]!r} → {v[1]!r}" for k, v in list(changed.items())[:10])
        return [LeadEvent(lead=lead, kind=EventKind.VENDOR_UPDATE, actor_label=self.account.name,
                          summary=f"Cat updated {described}"[:500], details={"changed": changed})]
