"""Leads from a CSV file (events, walk-ins, websites): the one import behind the
admin's import, `import_leads` and the background import job.

Two phases, so that a 100,000-row file neither holds the database nor costs the
site its logins (issue 14):

1. **Check** (`check_lead_file`): the file is read by the strict reader
   (apps/core/csvread.py), every row is checked by plain functions that apply
   the Lead model's own rules (lengths, e-mail, country, IP address, consent
   cells, the owner works for the dealer, the dealer is one the importing user
   may add leads to), and matched to the lead it updates — by LeadHub `id`, else
   the same `external_ref` at the same dealer, else (neither given) the same
   e-mail among the dealer's own (non-vendor) leads — with lookups in batches.
   Nothing is written; every row's problems are reported at once, in plain words,
   with line and column.
2. **Write** (`write_lead_plan`), only when no row has a problem: in batches of
   `LEADHUB_IMPORT_BATCH_ROWS`, each its own short transaction (measured: well
   under a second), so other users' writes (a login) wait at most that long.
   New leads are inserted in one statement per batch (apps/leads/bulk.py) with
   their audit history, and announced by `signals.leads_created` (routing);
   updated leads get one UPDATE each and their history rows.

All or nothing: a problem anywhere in the file means nothing is written. The one
thing validation cannot rule out is a change made by someone else between the
check and the write (the same reference created at that moment by another
import, a matched lead deleted); the write then stops at that batch, says which
line and how many rows were written before it, and running the same file again
finishes the job without duplicates (rows already written match their leads and
are unchanged). We chose this roll-forward over compensating deletes because a
new lead may already have been routed and submitted to a vendor by then.
"""
from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django_countries import countries

from apps.accounts.admin_scoping import dealers_with_perm
from apps.accounts.models import Dealer, Membership
from apps.core.csvread import CsvFileError, CsvProblem, read_csv
from apps.core.csvsafe import yes_no

from .bulk import LeadRows, insert_lead_rows_ids
from .history import record_lead_history
from .models import Lead, Origin
from .phones import normalize_phone
from .signals import leads_created
from .table_stats import lead_statistics_refresh

IMPORT_COLUMNS = ["id", "dealer", "external_ref", "first_name", "last_name", "company", "email", "phone",
                  "mobile_phone", "address1", "address2", "city", "state_province", "postal_code", "country",
                  "product_interest", "brand", "source", "campaign", "owner", "comments", "ip_address",
                  "opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_post",
                  "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"]
CONSENT_COLUMNS = ["opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_post"]
TEXT_COLUMNS = [c for c in IMPORT_COLUMNS if c not in ("id", "dealer", "owner", "email", "country", "ip_address",
                                                       *CONSENT_COLUMNS)]
MAX_LENGTH = {name: Lead._meta.get_field(name).max_length for name in IMPORT_COLUMNS
              if name not in ("id", "dealer", "owner", "ip_address", *CONSENT_COLUMNS)}
LOOKUP_CHUNK = 2000
COUNTRY_CODES = {code.upper(): code for code, _ in countries}
COUNTRY_NAMES = {str(name).casefold(): code for code, name in countries}


@dataclass
class LeadImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[CsvProblem] = field(default_factory=list)
    committed: bool = False
    written_rows: int = 0          # rows written before a write-phase conflict stopped it
    longest_write_seconds: float = 0.0
    batches: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Op:
    line: int
    dealer_id: int
    lead_id: int | None          # None: a new lead
    values: dict                 # Lead attribute -> value (new lead: all given; update: the changed ones)


Progress = Callable[[str, int, int], None]  # (phase, rows done, problems so far)


class _Scope:
    """The dealers and owners the importing user may use, looked up once."""

    def __init__(self, user):
        allowed = dealers_with_perm(user, "leads.add_lead") if user is not None else None
        dealers = Dealer.objects.all() if allowed is None else Dealer.objects.filter(pk__in=allowed)
        self.dealers = {code.upper(): (pk, code) for pk, code in dealers.values_list("pk", "code")}
        self.dealer_ids = {pk for pk, _ in self.dealers.values()}
        users = get_user_model().objects.filter(is_active=True)
        self.owners = {u.username: u for u in users.only("pk", "username", "is_superuser")}
        self.members: set[tuple[int, int]] = set(Membership.objects.values_list("user_id", "dealer_id"))
        self.visible_owners = None
        if allowed is not None:
            self.visible_owners = {uid for uid, did in self.members if did in self.dealer_ids}


def _cell_problems(row: dict, line: int, scope: _Scope, values: dict, problems: list) -> int | None:
    """Check one row's cells into `values` (Lead attributes); append problems.
    Returns the dealer id (None when the dealer cell is wrong)."""
    def bad(column, message):
        problems.append(CsvProblem(line, column, message))

    dealer_id = None
    code = row.get("dealer", "").strip()
    if "id" not in row or not row.get("id", "").strip() or code:
        if not code:
            bad("dealer", "enter the dealer code (the dealer the lead belongs to)")
        elif code.upper() not in scope.dealers:
            bad("dealer", f"{code} is not one of the dealers you can add leads to")
        else:
            dealer_id = scope.dealers[code.upper()][0]
    for name in TEXT_COLUMNS:
        if name in row:
            text = row[name].strip()
            limit = MAX_LENGTH.get(name)
            if limit and len(text) > limit:
                bad(name, f"at most {limit} characters (this has {len(text)})")
            values[name] = text
    if "email" in row:
        email = row["email"].strip()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                bad("email", f"{email!r} is not an e-mail address")
            if len(email) > MAX_LENGTH["email"]:
                bad("email", f"at most {MAX_LENGTH['email']} characters")
        values["email"] = email
    if "country" in row:
        text = row["country"].strip()
        code_ = COUNTRY_CODES.get(text.upper()) or COUNTRY_NAMES.get(text.casefold()) if text else ""
        if text and not code_:
            bad("country", f"{text!r} is not a country: use its two-letter ISO code (US, GB, DE...)")
        values["country"] = code_ or ""
    if "ip_address" in row:
        text = row["ip_address"].strip()
        if text:
            try:
                values["ip_address"] = str(ipaddress.ip_address(text))
            except ValueError:
                bad("ip_address", f"{text!r} is not an IPv4 or IPv6 address")
        else:
            values["ip_address"] = None
    for name in CONSENT_COLUMNS:
        if name in row:
            text = row[name].strip()
            answer = yes_no(text) if text else None
            if text and answer is None:
                bad(name, f"{text!r} is not a consent answer: use yes, no, or leave it empty (not asked)")
            values[name] = answer
    if "owner" in row:
        username = row["owner"].strip()
        values["owner_id"] = None
        if username:
            owner = scope.owners.get(username)
            if owner is None or (scope.visible_owners is not None and owner.pk not in scope.visible_owners
                                 and not owner.is_superuser):
                bad("owner", f"{username} is not one of your dealers' people")
            else:
                values["owner_id"] = owner.pk
                values["_owner"] = owner
    return dealer_id


def check_lead_file(source, *, user, progress: Progress | None = None) -> tuple[LeadImportResult, list[_Op]]:
    """Phase 1: read and check every row, match each to the lead it updates.
    Returns the result (counts, problems) and the planned writes (empty when
    there is a problem). Writes nothing. Raises CsvFileError for a file that
    cannot be read as a lead CSV (header, encoding, quotes...)."""
    scope = _Scope(user)
    result = LeadImportResult()
    table = read_csv(source, columns=IMPORT_COLUMNS, max_rows=settings.LEADHUB_IMPORT_MAX_ROWS,
                     max_cell_chars=settings.LEADHUB_IMPORT_MAX_CELL_CHARS)
    if not ({"id", "dealer"} & set(table.columns)):
        raise CsvFileError(CsvProblem(1, None, "the header needs a dealer column (or id, to update leads by "
                                               "their LeadHub id)"))
    ops: list[_Op] = []
    seen_ids: dict[int, int] = {}
    seen_refs: dict[tuple[int, str], int] = {}
    new_by_email: dict[tuple[int, str], _Op] = {}
    chunk: list[tuple[int, dict, int | None, dict]] = []

    def flush():
        _match(chunk, scope, result, ops, new_by_email)
        chunk.clear()
        if progress:
            progress("checked", result.rows, len(result.problems))

    for row in table.rows():
        result.rows += 1
        values: dict = {}
        before = len(result.problems)
        dealer_id = _cell_problems(row.values, row.line, scope, values, result.problems)
        lead_id = None
        raw_id = row.values.get("id", "").strip()
        if raw_id:
            if not raw_id.isdigit():
                result.problems.append(CsvProblem(row.line, "id", f"{raw_id!r} is not a LeadHub lead id "
                                                                  "(a whole number)"))
            else:
                lead_id = int(raw_id)
                if lead_id in seen_ids:
                    result.problems.append(CsvProblem(row.line, "id", f"lead {lead_id} is also on line "
                                                                      f"{seen_ids[lead_id]}: one row per lead"))
                seen_ids.setdefault(lead_id, row.line)
        ref = values.get("external_ref", "")
        if ref and dealer_id is not None:
            if (dealer_id, ref) in seen_refs:
                result.problems.append(CsvProblem(row.line, "external_ref", f"{ref!r} is also on line "
                                                                            f"{seen_refs[(dealer_id, ref)]}: one "
                                                                            "row per reference"))
            seen_refs.setdefault((dealer_id, ref), row.line)
        if len(result.problems) == before:
            chunk.append((row.line, values, dealer_id, {"id": lead_id}))
        if len(chunk) >= LOOKUP_CHUNK:
            flush()
    flush()
    result.problems.sort(key=lambda p: (p.line or 0))
    if result.problems:
        return result, []
    return result, ops


def _match(chunk, scope: _Scope, result: LeadImportResult, ops: list[_Op], new_by_email: dict) -> None:
    """Match a chunk of checked rows to existing leads (one query per kind of
    key), then plan a create or the changed fields of an update."""
    if not chunk:
        return
    visible = Lead.objects.filter(dealer_id__in=scope.dealer_ids)
    fields = ["id", "dealer_id", "vendor_account_id", *[c for c in IMPORT_COLUMNS if c not in ("id", "dealer",
                                                                                                  "owner")],
              "owner_id"]
    ids = [keys["id"] for _, _, _, keys in chunk if keys["id"]]
    by_id = {lead.pk: lead for lead in visible.filter(pk__in=ids).only(*fields)} if ids else {}
    refs: dict[int, set] = {}
    emails: dict[int, set] = {}
    for _, values, dealer_id, keys in chunk:
        if keys["id"]:
            continue
        if values.get("external_ref"):
            refs.setdefault(dealer_id, set()).add(values["external_ref"])
        elif values.get("email"):
            emails.setdefault(dealer_id, set()).add(values["email"].lower())
    by_ref, by_email = {}, {}
    for dealer_id, wanted in refs.items():
        for lead in Lead.objects.filter(dealer_id=dealer_id, external_ref__in=wanted).only(*fields):
            by_ref[(dealer_id, lead.external_ref)] = lead
    for dealer_id, wanted in emails.items():
        candidates = (Lead.objects.filter(dealer_id=dealer_id, vendor_account__isnull=True)
                      .annotate(email_key=Lower("email")).filter(email_key__in=wanted).order_by("id").only(*fields))
        for lead in candidates:
            by_email.setdefault((dealer_id, lead.email.lower()), lead)
    for line, values, dealer_id, keys in chunk:
        owner = values.pop("_owner", None)
        if keys["id"]:
            lead = by_id.get(keys["id"])
            if lead is None:
                result.problems.append(CsvProblem(line, "id", f"no lead {keys['id']} among your dealers' leads"))
                continue
            if dealer_id is not None and dealer_id != lead.dealer_id:
                result.problems.append(CsvProblem(line, "dealer", "a lead cannot move to another dealer"))
                continue
            dealer_id = lead.dealer_id
        elif values.get("external_ref"):
            lead = by_ref.get((dealer_id, values["external_ref"]))
        elif values.get("email"):
            lead = by_email.get((dealer_id, values["email"].lower()))
            planned = new_by_email.get((dealer_id, values["email"].lower()))
            if lead is None and planned is not None:
                # The file's earlier row creates this customer: this row completes it.
                if not _owner_ok(owner, dealer_id, scope, line, result):
                    continue
                planned.values.update(values)
                continue
        else:
            lead = None
        if not _owner_ok(owner, dealer_id, scope, line, result):
            continue
        if lead is None:
            op = _Op(line, dealer_id, None, values)
            ops.append(op)
            result.created += 1
            if values.get("email") and not values.get("external_ref"):
                new_by_email[(dealer_id, values["email"].lower())] = op
            continue
        changed = {name: value for name, value in values.items() if getattr(lead, name) != value}
        if not changed:
            result.unchanged += 1
            continue
        if {"phone", "mobile_phone", "country"} & set(changed):
            region = changed.get("country", lead.country) or None
            changed["phone_normalized"] = (normalize_phone(changed.get("phone", lead.phone), str(region) if region
                                                           else None)
                                           or normalize_phone(changed.get("mobile_phone", lead.mobile_phone),
                                                              str(region) if region else None))
        ops.append(_Op(line, dealer_id, lead.pk, changed))
        result.updated += 1


def _owner_ok(owner, dealer_id, scope: _Scope, line: int, result: LeadImportResult) -> bool:
    """The model's rule (rules.owner_violations): an owner works for the lead's dealer."""
    if owner is None or owner.is_superuser or (owner.pk, dealer_id) in scope.members:
        return True
    code = next((c for pk, c in scope.dealers.values() if pk == dealer_id), "this dealer")
    result.problems.append(CsvProblem(line, "owner", f"{owner.username} does not work for {code}"))
    return False


def write_lead_plan(result: LeadImportResult, ops: list[_Op], *, user, reason: str,
                    progress: Progress | None = None) -> LeadImportResult:
    """Phase 2: write the planned rows in short transactions (see the module's
    docstring). Sets result.committed, written_rows and the longest write."""
    builder = LeadRows()
    batch_rows = settings.LEADHUB_IMPORT_BATCH_ROWS
    for start in range(0, len(ops), batch_rows):
        batch = ops[start:start + batch_rows]
        began = time.perf_counter()
        try:
            with transaction.atomic():
                _write_batch(batch, builder, user=user, reason=reason)
        except _WriteConflict as conflict:
            result.problems.append(CsvProblem(conflict.line, None, f"{conflict.message}; {result.written_rows} "
                                                                   "rows before it were written. Import the same "
                                                                   "file again to finish: written rows are "
                                                                   "unchanged the second time."))
            return result
        result.longest_write_seconds = max(result.longest_write_seconds, time.perf_counter() - began)
        # The next batch's foreign-key checks (timeline, history, notifications)
        # probe the primary key only once the planner knows the table it grew
        # (table_stats.py: a first import into a new installation).
        lead_statistics_refresh(created=sum(1 for op in batch if op.lead_id is None))
        result.batches += 1
        result.written_rows += len(batch)
        if progress:
            progress("written", result.written_rows, 0)
    result.committed = True
    return result


class _WriteConflict(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


def _write_batch(batch: list[_Op], builder: LeadRows, *, user, reason: str) -> None:
    now = timezone.now()
    new = [op for op in batch if op.lead_id is None]
    if new:
        rows = []
        for op in new:
            values = {**op.values, "dealer_id": op.dealer_id, "origin": Origin.CSV, "created_at": now,
                      "updated_at": now}
            region = values.get("country") or None
            values["phone_normalized"] = (normalize_phone(values.get("phone", ""), region)
                                          or normalize_phone(values.get("mobile_phone", ""), region))
            rows.append(builder.row(values))
        new_ids = insert_lead_rows_ids(builder, rows, reason=reason, user=user)
        if len(new_ids) != len(new):
            # ON CONFLICT skipped a row: someone created the same reference since the check.
            raise _WriteConflict(new[0].line, "a lead with a reference of this batch was created by someone else "
                                              "while the file was being imported")
        leads_created.send(sender=Lead, lead_ids=new_ids)
    updated = []
    for op in batch:
        if op.lead_id is None:
            continue
        if not Lead.objects.filter(pk=op.lead_id).update(**op.values, updated_at=now):
            raise _WriteConflict(op.line, f"lead {op.lead_id} was deleted while the file was being imported")
        updated.append(op.lead_id)
    record_lead_history(updated, reason=reason, user=user)


def import_lead_file(source, *, user, dry_run: bool = False, reason: str = "CSV import",
                     progress: Progress | None = None) -> LeadImportResult:
    """Check the file and, when every row is fine and this is not a dry run,
    write it. Raises CsvFileError for an unreadable file."""
    result, ops = check_lead_file(source, user=user, progress=progress)
    if result.problems or dry_run:
        return result
    return write_lead_plan(result, ops, user=user, reason=reason, progress=progress)
