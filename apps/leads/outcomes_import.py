"""Bulk outcomes from a dealer's own system, as CSV.

Each row goes through the status service (apps.leads.services; rows in batches of
BATCH_ROWS through lead_change_status_many, the same checks and writes as
lead_change_status), exactly like a change made in the browser: LeadHub's lifecycle rules, the vendor's rules (Cat's
reject / disqualify / close rules), the status log and the vendor outbox. The
file is all-or-nothing: one bad row and nothing is kept; a dry run checks
everything and keeps nothing. A row whose lead is already in the outcome it
states is "unchanged", so importing the same file twice changes nothing the
second time.

Columns (header names; the order is free):
  lead_id                        LeadHub's lead id, or
  account + vendor_lead_id       the vendor account name and the vendor's lead id
  status                         new status (value or label: accepted, "Closed won", ...)
  reason, stage                  the dealer's own reason label / sales stage name
  probability, sub_status, comment
  customer_contacted, customer_previously_known     yes / no / empty
  opportunity_amount, currency, target_date, rating, customer_number, quote_id, quote_sent_date
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction

from apps.core.csvread import CsvFileError, read_csv
from apps.core.csvsafe import yes_no
from .outbound import adapters_for_leads

from . import services
from .models import Lead, Reason, SalesStage, Source
from .statuses import REASON_KIND_FOR_STATUS, Status

OUTCOME_COLUMNS = ["lead_id", "account", "vendor_lead_id", "status", "reason", "stage", "probability", "sub_status",
                   "comment", "customer_contacted", "customer_previously_known", "opportunity_amount", "currency",
                   "target_date", "rating", "customer_number", "quote_id", "quote_sent_date"]
KNOWN_COLUMNS = set(OUTCOME_COLUMNS)
STATUS_BY_NAME = {**{v: v for v in Status.values}, **{label.lower(): v for v, label in Status.choices}}
# Rows applied together by services.lead_change_status_many (a few statements per
# batch instead of about ten per row).
BATCH_ROWS = 500


@dataclass(frozen=True)
class RowError:
    row: int        # the line number in the file (the header is line 1)
    column: str     # the CSV column at fault ("" for the whole row)
    message: str

    def __str__(self):
        return f"line {self.row}" + (f", column {self.column}" if self.column else "") + f": {self.message}"


@dataclass
class ImportResult:
    rows: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, header, size)."""


def read_rows(data: bytes | str) -> tuple[list[str], list[dict], list[int]]:
    """The file's header, its rows (cells stripped) and each row's line in the
    file, read by the one strict reader (apps.core.csvread: encoding, delimiter,
    unknown or repeated columns, quotes, NUL, oversized cells, row limit).

    A lead may have several rows (accepted, then closed won: each row is checked
    against the one before), so lead_id is not a column that must be unique here,
    unlike the lead import's id and external_ref."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        table = read_csv(data, columns=OUTCOME_COLUMNS, max_rows=settings.LEADHUB_IMPORT_MAX_ROWS,
                         max_cell_chars=settings.LEADHUB_IMPORT_MAX_CELL_CHARS)
        header = table.columns
        if "status" not in header or not ({"lead_id"} <= set(header) or {"account", "vendor_lead_id"} <= set(header)):
            raise ImportFileError("columns status and lead_id (or account and vendor_lead_id) are required")
        rows, lines = [], []
        for row in table.rows():
            rows.append({k: v.strip() for k, v in row.values.items()})
            lines.append(row.line)
    except CsvFileError as exc:
        raise ImportFileError(str(exc)) from None
    return header, rows, lines


def import_outcomes(data: bytes | str, *, actor=None, actor_label: str = "", dealer_ids: set[int] | None = None,
                    dry_run: bool = False) -> ImportResult:
    """Check every row and apply them all, or none. `dealer_ids`: the dealers the
    importing user reaches (None: all); a lead of another dealer is "not found".

    Two passes over groups of about BATCH_ROWS rows, each group in a transaction
    of its own, so that no write holds the database for long (a login waits at
    most one group; issue 14). A lead's rows always fall in one group, in file
    order, so each is checked against the one before it. The check pass applies
    each group and rolls it back; only when no row of the file has a problem does
    the write pass apply the groups again and commit each. All or nothing holds
    for everything in the file. A change someone else makes between the passes
    (a lead changed or deleted at that moment) stops the write at that group, with
    its line and how many rows were written before it; importing the same file
    again finishes it, since rows already in effect are "unchanged" (roll forward,
    as the lead import: apps/leads/lead_import.py)."""
    _, rows, lines = read_rows(data)
    result = ImportResult(rows=len(rows))
    _run_groups(rows, lines, result, actor=actor, actor_label=actor_label, dealer_ids=dealer_ids, commit=False)
    result.errors.sort(key=lambda e: e.row)  # a group's errors come after later lines' parse errors
    if result.errors or dry_run:
        return result
    # The check pass changed its in-memory leads: the write pass reads them again.
    written = ImportResult(rows=len(rows))
    _run_groups(rows, lines, written, actor=actor, actor_label=actor_label, dealer_ids=dealer_ids, commit=True)
    written.errors.sort(key=lambda e: e.row)
    written.committed = not written.errors
    return written


def _run_groups(rows, lines, result: ImportResult, *, actor, actor_label, dealer_ids, commit: bool) -> None:
    """Parse every row, group them (a lead's rows together, in order), and apply
    each group through lead_change_status_many in a transaction of its own:
    rolled back (commit=False, the check) or committed (commit=True, stopping at
    the first group with a problem)."""
    lookup = _Lookup(dealer_ids)
    lookup.preload(rows)
    parsed = []
    for line, row in zip(lines, rows):
        errors_before = len(result.errors)
        change = _parse(row, line, lookup, result.errors)
        if len(result.errors) == errors_before and change is not None:
            parsed.append((line, *change))
    if result.errors and commit:
        result.errors = [RowError(e.row, e.column, f"{e.message} (changed by someone else since the check; "
                                                   f"{result.changed} rows were written before it: import the "
                                                   "same file again to finish)") for e in result.errors]
        return
    for group in _groups(parsed):
        with transaction.atomic():
            errors_before, changed_before = len(result.errors), result.changed
            _apply_group(group, result, actor=actor, actor_label=actor_label)
            failed = len(result.errors) > errors_before
            if not commit or failed:
                transaction.set_rollback(True)
        if commit and failed:
            written = changed_before
            result.errors[errors_before:] = [
                RowError(e.row, e.column, f"{e.message} (changed by someone else since the check; {written} rows "
                                          "were written before it: import the same file again to finish)")
                for e in result.errors[errors_before:]]
            result.changed = written
            return


def _groups(parsed):
    """Groups of about BATCH_ROWS parsed rows; every row of a lead goes to the
    group of its first row (file order kept within a lead)."""
    groups: list[list] = []
    group_of: dict[int, int] = {}
    for item in parsed:
        lead = item[1]
        index = group_of.get(lead.pk)
        if index is None:
            if not groups or len(groups[-1]) >= BATCH_ROWS:
                groups.append([])
            index = group_of[lead.pk] = len(groups) - 1
        groups[index].append(item)
    return groups


def _apply_group(group, result: ImportResult, *, actor, actor_label) -> None:
    # Every account that must hear of each lead of the group, asked once (inside
    # the transaction, as lead_change_status would ask per row).
    adapters_by_lead = adapters_for_leads({lead.pk: lead for _, lead, _, _ in group}.values())
    batch: list[tuple[int, Lead, services.StatusChange]] = []
    in_batch: set[int] = set()  # lead ids

    def apply_batch():
        outcomes = services.lead_change_status_many(
            changes=[(lead, change) for _, lead, change in batch], actor=actor, actor_label=actor_label,
            source=Source.IMPORT, adapters_by_lead=adapters_by_lead)
        for (line, _, _), outcome in zip(batch, outcomes):
            if outcome.ok:
                result.changed += 1
            else:
                result.errors += [RowError(line, _column(v.field), _said(v)) for v in outcome.errors]
        batch.clear()
        in_batch.clear()

    for line, lead, to_status, kwargs in group:
        # A lead's second row is checked against its first row's result, as if
        # the rows were applied one by one: the batch so far goes first.
        if lead.pk in in_batch or len(batch) >= BATCH_ROWS:
            apply_batch()
        if _already(lead, to_status, kwargs):
            result.unchanged += 1
            continue
        batch.append((line, lead, services.StatusChange(
            to_status=to_status, reason=kwargs.get("reason"), stage=kwargs.get("stage"),
            probability=kwargs.get("probability"), sub_status=kwargs.get("sub_status", ""),
            comment=kwargs.get("comment", ""), updates=kwargs["updates"], actor=actor)))
        in_batch.add(lead.pk)
    if batch:
        apply_batch()


def _said(violation) -> str:
    """The row's message: the plain words, then the vendor's own (an import report
    is read by the dealer admin who may have to take it up with the vendor)."""
    return f"{violation.message} ({violation.detail})" if violation.detail else violation.message


def _column(field_name: str) -> str:
    return {"to_status": "status"}.get(field_name, field_name)


class _Lookup:
    """Leads, reasons and stages by the names a CSV uses, scoped and cached."""

    def __init__(self, dealer_ids):
        self.dealer_ids = dealer_ids
        self.reasons: dict[tuple[int, str], list[Reason]] = {}
        self.stages: dict[tuple[int, str], SalesStage | None] = {}

    def _leads(self):
        leads = Lead.objects.select_related("dealer", "vendor_account", "sales_stage", "owner")
        if self.dealer_ids is not None:
            leads = leads.filter(dealer_id__in=self.dealer_ids)
        return leads

    def preload(self, rows, chunk: int = 1000) -> None:
        """Read the leads named by lead_id in one query per `chunk` rows instead of one
        per row (10,000 outcome rows: bench/leads_1m.py)."""
        self.by_id: dict[int, Lead] = {}
        wanted = sorted({int(row["lead_id"]) for row in rows if (row.get("lead_id") or "").isdigit()})
        for start in range(0, len(wanted), chunk):
            self.by_id.update(self._leads().in_bulk(wanted[start:start + chunk]))

    def lead(self, row) -> Lead | None:
        if row.get("lead_id"):
            if not row["lead_id"].isdigit():
                return None
            preloaded = getattr(self, "by_id", None)
            if preloaded is not None:
                return preloaded.get(int(row["lead_id"]))
            return self._leads().filter(pk=row["lead_id"]).first()
        lead = self._leads().filter(vendor_account__name=row.get("account", ""),
                                    vendor_lead_id=row.get("vendor_lead_id", "")).first()
        preloaded = getattr(self, "by_id", None)
        if lead is not None and preloaded is not None:
            # One object per lead, however a row names it: a lead's later rows see
            # what its earlier rows did (the file is parsed before it is applied).
            lead = preloaded.setdefault(lead.pk, lead)
        return lead

    def reason(self, dealer_id, label, kind) -> Reason | None:
        key = (dealer_id, label.lower())
        if key not in self.reasons:
            self.reasons[key] = list(Reason.objects.filter(dealer_id=dealer_id, label__iexact=label))
        matches = self.reasons[key]
        return next((r for r in matches if r.kind == kind), matches[0] if matches else None)

    def stage(self, dealer_id, name) -> SalesStage | None:
        key = (dealer_id, name.lower())
        if key not in self.stages:
            self.stages[key] = SalesStage.objects.filter(dealer_id=dealer_id, name__iexact=name).first()
        return self.stages[key]


def _parse(row, line, lookup: _Lookup, errors: list[RowError]):
    def bad(column, message):
        errors.append(RowError(line, column, message))

    lead = lookup.lead(row)
    if lead is None:
        key = row.get("lead_id") or f"{row.get('account', '')}/{row.get('vendor_lead_id', '')}"
        bad("lead_id" if row.get("lead_id") else "vendor_lead_id", f"no lead {key!r} (of your dealers)")
        return None
    to_status = STATUS_BY_NAME.get(row["status"].lower())
    if to_status is None:
        bad("status", f"{row['status']!r} is not a status; one of {', '.join(Status.values)}")
        return None
    kwargs: dict = {"updates": {}}
    if row.get("reason"):
        kind = REASON_KIND_FOR_STATUS.get(to_status, (None,))[0]
        kwargs["reason"] = lookup.reason(lead.dealer_id, row["reason"], kind)
        if kwargs["reason"] is None:
            bad("reason", f"{lead.dealer.code} has no reason {row['reason']!r}")
    if row.get("stage"):
        kwargs["stage"] = lookup.stage(lead.dealer_id, row["stage"])
        if kwargs["stage"] is None:
            bad("stage", f"{lead.dealer.code} has no sales stage {row['stage']!r}")
    for column, parse in (("probability", _int), ("customer_contacted", _yes_no),
                          ("customer_previously_known", _yes_no), ("opportunity_amount", _decimal),
                          ("target_date", _date), ("quote_sent_date", _date)):
        if row.get(column):
            try:
                value = parse(row[column])
            except ValueError as exc:
                bad(column, str(exc))
                continue
            if column == "probability":
                kwargs["probability"] = value
            else:
                kwargs["updates"][column] = value
    for column in ("currency", "rating", "customer_number", "quote_id"):
        if row.get(column):
            kwargs["updates"][column] = row[column].upper() if column == "currency" else row[column]
    kwargs["sub_status"] = row.get("sub_status", "")
    kwargs["comment"] = row.get("comment", "")
    return lead, to_status, kwargs


def _already(lead: Lead, to_status: str, kwargs) -> bool:
    """The lead already is where the row says (a re-imported file)."""
    stage = kwargs.get("stage")
    return lead.status == to_status and (stage is None or lead.sales_stage_id == stage.pk) and (
        kwargs.get("probability") is None or lead.probability == kwargs["probability"])


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _decimal(text):
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount (e.g. 142410.00)") from None
    if value.as_tuple().exponent < -2 or value < 0:
        raise ValueError(f"{text!r}: an amount is positive with at most 2 decimals")
    return value


def _date(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _yes_no(text):
    value = yes_no(text)
    if value is None:
        raise ValueError(f"{text!r}: write yes or no")
    return value
