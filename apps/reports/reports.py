"""The reports: plain functions over a ReportScope that return a Report (its rows,
the columns to show them in, and a chart of the same numbers). The report pages,
their CSV downloads, the dashboards and `manage.py report` all call these, so a
number is computed once, one way (measures.py defines each measure).

Scope: leads of the given dealers received (`Lead.created_at`) from `since` 00:00
to `until` 24:00 in each dealer's own time zone, narrowed by vendor, rep (owner),
source and brand. The pipeline is the exception: it is the open opportunities now,
whatever day they came in (docs/reports.md).
"""
from __future__ import annotations

import json
import zoneinfo
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.db.models import (Case, CharField, Count, DecimalField, ExpressionWrapper, F, IntegerField, Q,
                              QuerySet, Sum, Value, When)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from apps.leads.models import FollowUp, Lead, ReasonMapping, SalesStage
from apps.leads.statuses import FINAL_STATUSES, Status
from apps.vendors.core.models import VendorAccount

from . import deadlines, measures
from .business_hours import BusinessHours

MANUAL = "manual"  # the vendor of a lead that came from no vendor
DEFAULT_DAYS = 90  # the range a page or the command shows unless asked: the last quarter


@dataclass(frozen=True)
class ReportScope:
    dealers: tuple  # Dealer instances
    since: date
    until: date  # inclusive
    vendor: str = ""  # a vendor kind, or MANUAL
    owner_id: int | None = None
    source: str = ""
    brand: str = ""

    def received(self, prefix: str = "") -> Q:
        """Leads received in the window, each dealer's in its own time zone."""
        return measures.received_q(self.dealers, self.since, self.until, prefix)

    def narrowed(self, prefix: str = "") -> Q:
        q = Q(**{f"{prefix}dealer_id__in": [d.pk for d in self.dealers]})
        if self.vendor == MANUAL:
            q &= Q(**{f"{prefix}vendor_account__isnull": True})
        elif self.vendor:
            q &= Q(**{f"{prefix}vendor_account__vendor": self.vendor})
        if self.owner_id is not None:
            q &= Q(**{f"{prefix}owner_id": self.owner_id})
        if self.source:
            q &= Q(**{f"{prefix}source": self.source})
        if self.brand:
            q &= Q(**{f"{prefix}brand": self.brand})
        return q

    def leads(self) -> QuerySet:
        return Lead.objects.filter(self.received(), self.narrowed())


@dataclass
class Report:
    name: str
    title: str
    columns: list[tuple[str, str]]  # (row key, heading)
    rows: list[dict]
    chart: dict = field(default_factory=dict)  # Chart.js-shaped: the same numbers as the rows
    note: str = ""
    # A report of one row per lead asked for at most `limit` rows (a page) says how
    # many there are in all; the download and the command ask for every row.
    row_count: int | None = None
    # Totals shown above the rows (the feedback report's per-account counts).
    summary_columns: list[tuple[str, str]] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return len(self.rows) if self.row_count is None else self.row_count


def _names(user_ids) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=[pk for pk in set(user_ids) if pk is not None])
    return {u.pk: u.get_full_name() or u.get_username() for u in users}


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# --- Funnel -------------------------------------------------------------------------------

def funnel(scope: ReportScope) -> Report:
    """How many of the leads received reached each step, and the conversion from
    the step before. "Accepted" means ever accepted (a status log row), so a lead
    accepted and closed later still counts there."""
    counts = scope.leads().aggregate(**{step: Count("pk", filter=condition())
                                        for step, _, _, condition in measures.FUNNEL_STEPS})
    rows = [{"step": step, "label": label, "leads": counts[step], "from_step": base or "",
             "conversion_percent": _rate(counts[step], counts[base]) if base else None}
            for step, label, base, _ in measures.FUNNEL_STEPS]
    return Report("funnel", "Funnel", [("label", "Step"), ("leads", "Leads"), ("from_step", "From"),
                                       ("conversion_percent", "Conversion %")], rows,
                  chart=_bar([r["label"] for r in rows], [("Leads", [r["leads"] for r in rows])]))


# --- Speed to lead ----------------------------------------------------------------------------

SPEED_BUCKETS = [(5, "under 5 min"), (60, "5 min to 1 h"), (240, "1 to 4 h"), (1440, "4 to 24 h"),
                 (4320, "1 to 3 days"), (None, "over 3 days")]


def _bucket(value: float) -> str:
    return next(label for limit, label in SPEED_BUCKETS if limit is None or value < limit)


def _week(instant: datetime, zone) -> str:
    local = instant.astimezone(zone).date()
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


# (dimension, key, measure key) -> SpeedStat; key: "all", an owner id (None:
# unassigned), a vendor kind or MANUAL, an ISO week "2026-W49".
@dataclass(frozen=True)
class SpeedStat:
    leads: int
    reached: int
    median: float | None
    p90: float | None


def speed(scope: ReportScope) -> Report:
    """Received → first contact, first outcome and outcome accepted by the vendor:
    median and 90th percentile in minutes (wall-clock), for all leads, by rep, by
    vendor and by week received; and how the times spread (buckets). `reached` is
    how many leads have the stamp yet (a lead still waiting has no time).

    Exact percentiles (interpolated between the closest ranks), computed in the
    database on PostgreSQL (a million leads: every value must be sorted, which
    Python does ten times slower) and in Python elsewhere; a test holds the two to
    the same numbers (tests/reports/test_speed_engines.py)."""
    stats, spread = speed_stats_in_database(scope) if connection.vendor == "postgresql" else speed_stats(scope)
    names = _names(key for dimension, key, _ in stats if dimension == "rep")
    rows = []
    for (dimension, key, measure_key), stat in sorted(stats.items(), key=lambda kv: _speed_order(kv[0])):
        rows.append({"dimension": dimension,
                     "key": names.get(key, "unassigned") if dimension == "rep" else key,
                     "measure": measure_key, "measure_label": LABELS[measure_key], "leads": stat.leads,
                     "reached": stat.reached, "median_minutes": _round(stat.median), "p90_minutes": _round(stat.p90)})
    for measure in measures.SPEED_MEASURES:
        for _, label in SPEED_BUCKETS:
            rows.append({"dimension": "spread", "key": label, "measure": measure.key, "measure_label": measure.label,
                         "leads": spread[(measure.key, label)], "reached": spread[(measure.key, label)],
                         "median_minutes": None, "p90_minutes": None})
    weeks = sorted({r["key"] for r in rows if r["dimension"] == "week"})
    chart = _line(weeks, [(f"{m.label}: median minutes", [
        next((r["median_minutes"] for r in rows if r["dimension"] == "week" and r["key"] == w
              and r["measure"] == m.key), None) for w in weeks]) for m in measures.SPEED_MEASURES])
    return Report("speed", "Speed to lead", [("dimension", "By"), ("key", ""), ("measure_label", "Measure"),
                                             ("leads", "Leads"), ("reached", "Reached"),
                                             ("median_minutes", "Median (min)"), ("p90_minutes", "90th pct (min)")],
                  rows, chart=chart)


def speed_stats(scope: ReportScope) -> tuple[dict, Counter]:
    """The speed statistics (SpeedStat by (dimension, key, measure)) and the spread
    ((measure, bucket label) -> leads), read lead by lead in Python."""
    zones = {d.pk: zoneinfo.ZoneInfo(d.time_zone) for d in scope.dealers}
    values = defaultdict(list)  # (dimension, key, measure) -> [minutes]
    counts = Counter()  # (dimension, key, measure) -> leads
    spread = Counter()
    fields = ["dealer_id", "created_at", "owner_id", "vendor_account__vendor"] + [m.end for m in measures.SPEED_MEASURES]
    for row in scope.leads().values_list(*fields).iterator(chunk_size=5000):
        dealer_id, received, owner_id, vendor = row[:4]
        groups = [("all", "all"), ("rep", owner_id), ("vendor", vendor or MANUAL),
                  ("week", _week(received, zones[dealer_id]))]
        for measure, end in zip(measures.SPEED_MEASURES, row[4:]):
            taken = measures.minutes(received, end)
            for group in groups:
                counts[(*group, measure.key)] += 1
                if taken is not None:
                    values[(*group, measure.key)].append(taken)
            if taken is not None:
                spread[(measure.key, _bucket(taken))] += 1
    stats = {}
    for key, leads in counts.items():
        taken = sorted(values[key])
        stats[key] = SpeedStat(leads, len(taken), measures.percentile(taken, 0.5), measures.percentile(taken, 0.9))
    return stats, spread


def speed_stats_in_database(scope: ReportScope) -> tuple[dict, Counter]:
    """speed_stats computed by PostgreSQL in one query: percentile_cont (the same
    interpolation as measures.percentile) over GROUPING SETS of all, rep, vendor
    and the week in the dealer's time zone; the spread as filtered counts. A scope
    the planner expects PARALLEL_FROM_ROWS leads in, outside a transaction, runs
    as two queries at once (SPEED_SET_HALVES), each on its own connection."""
    leads = scope.leads().values(
        lead_owner=F("owner_id"), lead_vendor=Coalesce(F("vendor_account__vendor"), Value(MANUAL)),
        lead_dealer=F("dealer_id"), received=F("created_at"),
        **{f"end_{i}": F(m.end) for i, m in enumerate(measures.SPEED_MEASURES)}).order_by()
    inner, inner_params = leads.query.get_compiler(using=leads.db).as_sql()
    # Each dealer's time zone from here, not by joining the dealers: a join the
    # planner cannot drop, paid for every lead by the half that needs no week.
    zones = {d.pk: d.time_zone for d in scope.dealers}
    if len(set(zones.values())) == 1:
        zone, zone_params = "%s", [next(iter(zones.values()))]
    else:
        zone = "CASE lead_dealer " + "WHEN %s THEN %s " * len(zones) + "END"
        zone_params = [value for pair in zones.items() for value in pair]
    params = [*zone_params, *inner_params]
    taken = [f"CASE WHEN end_{i} IS NULL THEN NULL ELSE GREATEST(date_part('epoch', end_{i} - received), 0) / 60.0 "
             f"END AS m{i}" for i in range(len(measures.SPEED_MEASURES))]
    per_measure, spread_columns = [], []
    for i, measure in enumerate(measures.SPEED_MEASURES):
        per_measure.append(f"COUNT(m{i}), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY m{i})")
        low = 0
        for limit, label in SPEED_BUCKETS:
            upper = f" AND m{i} < {limit}" if limit is not None else ""
            spread_columns.append(((measure.key, label), f"COUNT(*) FILTER (WHERE m{i} >= {low}{upper})"))
            low = limit

    def query(half) -> str:
        sets, grouping, columns, with_spread = half
        # The spread is the grand total's (), and every aggregate is computed for
        # every set of the query: only the half with () counts it.
        spread = "".join(f", {column}" for _, column in spread_columns) if with_spread else ""
        # Built from this module's constants and the ORM's compiled query (`inner`,
        # whose values stay parameters): no input is pasted into it.
        return (f"SELECT {grouping}, {columns}, COUNT(*), "  # nosec B608
                f"{', '.join(per_measure)}{spread} "
                f"FROM (SELECT lead_owner, lead_vendor, date_trunc('week', received AT TIME ZONE {zone}) AS week, "
                f"{', '.join(taken)} FROM ({inner}) AS lead) AS timed GROUP BY GROUPING SETS ({sets})")

    stats, spread = {}, Counter()
    n = len(measures.SPEED_MEASURES)
    if not connections[leads.db].in_atomic_block and _planned_rows(leads.db, inner, inner_params) >= PARALLEL_FROM_ROWS:
        # Every value of every group is sorted, and PostgreSQL runs an ordered-set
        # aggregate on one core: the two halves of the grouping sets on two
        # connections at once (a million leads: 3.0 s -> see bench/README.md).
        with ThreadPoolExecutor(max_workers=len(SPEED_SET_HALVES)) as pool:
            halves = list(pool.map(lambda sets: _speed_rows_in_thread(leads.db, query(sets), params),
                                   SPEED_SET_HALVES))
        rows = [row for half in halves for row in half]
    else:
        rows = _speed_rows(leads.db, query(SPEED_SETS), params)
    for row in rows:
        grouping, owner_id, vendor, week, leads_count = row[:5]
        if not leads_count:
            continue  # the grand total of no leads: Python has no row for it either
        # GROUPING() sets a bit for each column *not* grouped by: 0b011 is
        # grouped by week only, 0b111 is the grand total.
        dimension, key = {0b111: ("all", "all"), 0b011: ("rep", owner_id), 0b101: ("vendor", vendor),
                          0b110: ("week", None)}[grouping]
        if dimension == "week":
            year, number, _ = week.date().isocalendar()
            key = f"{year}-W{number:02d}"
        for i, measure in enumerate(measures.SPEED_MEASURES):
            reached, (median, p90) = row[5 + 2 * i], row[6 + 2 * i] or (None, None)
            stats[(dimension, key, measure.key)] = SpeedStat(leads_count, reached, median, p90)
        if dimension == "all":
            for (spread_key, _), value in zip(spread_columns, row[5 + 2 * n:]):
                spread[spread_key] = value
    return stats, spread


# (grouping sets, their GROUPING() code over owner, vendor and week, the columns,
# whether it counts the spread): the four sets in one query, or in two halves of
# about equal time run at once on two connections for a large scope. GROUPING() may
# only name a half's own columns: its code is shifted to the whole query's (owner 4,
# vendor 2, week 1 when not grouped by). Measured at 5,000,000 leads (a year of
# every dealer, 1,050,000 leads, PostgreSQL 15, bench/README.md): the four sets in
# one query 2.85 s; (lead_vendor), (lead_owner) 1.32 s without the spread (1.74 s
# with it) and (week), () 1.16 s. How the sets are split and ordered matters as much
# as their number: (week) alone took 2.9 s, with () after it 1.3 s.
SPEED_SETS = ("(), (lead_owner), (lead_vendor), (week)", "GROUPING(lead_owner, lead_vendor, week)",
              "lead_owner, lead_vendor, week", True)
SPEED_SET_HALVES = (("(lead_vendor), (lead_owner)", "GROUPING(lead_owner, lead_vendor) * 2 + 1",
                     "lead_owner, lead_vendor, NULL::timestamp", False),
                    ("(week), ()", "GROUPING(week) + 6", "NULL::integer, NULL::text, week", True))
PARALLEL_FROM_ROWS = 200_000  # leads the planner expects in the scope


def _speed_rows(db: str, sql: str, params) -> list:
    with transaction.atomic(using=db), connections[db].cursor() as cursor:
        # In memory, and without JIT compilation (half a second of compiling for a
        # query that runs two): for this transaction only.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _speed_rows_in_thread(db: str, sql: str, params) -> list:
    """_speed_rows on this thread's own connection, closed when done."""
    try:
        return _speed_rows(db, sql, params)
    finally:
        connections[db].close()


def _planned_rows(db: str, sql: str, params) -> int:
    """How many rows PostgreSQL's planner expects the query to return (EXPLAIN:
    no rows read)."""
    with connections[db].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


LABELS = {m.key: m.label for m in measures.SPEED_MEASURES}


def _speed_order(key):
    dimension, group, measure = key
    order = {"all": 0, "rep": 1, "vendor": 2, "week": 3}[dimension]
    return order, str(group), [m.key for m in measures.SPEED_MEASURES].index(measure)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- Outcomes ---------------------------------------------------------------------------------

def outcomes(scope: ReportScope) -> Report:
    """Leads with a final outcome (won, lost, no deal, rejected, disqualified), by
    vendor, outcome, the dealer's reason and the vendor value it is mapped to, rep
    and source: the finest grain, which the page sums by vendor, rep and source."""
    # One GROUP BY in the database on the lead's own outcome stamps (measures.py).
    keys = ["vendor_account__vendor", "status", "outcome_reason_id", "outcome_reason_label", "owner_id", "source"]
    grouped = {tuple(row[key] for key in keys): row["n"] for row in scope.leads().filter(
        status__in=FINAL_STATUSES).values(*keys).annotate(n=Count("pk")).order_by()}
    mapped = {(m.reason_id, m.vendor): m.vendor_value or m.vendor_code for m in ReasonMapping.objects.filter(
        reason_id__in={key[2] for key in grouped if key[2] is not None})}
    names = _names(key[4] for key in grouped)
    labels = dict(Status.choices)
    rows = sorted(({"vendor": vendor or MANUAL, "status": status, "status_label": labels[status],
                    "reason": reason_label or "", "vendor_reason": mapped.get((reason_id, vendor), ""),
                    "rep": names.get(owner_id, "unassigned"), "source": source or "", "leads": count}
                   for (vendor, status, reason_id, reason_label, owner_id, source), count in grouped.items()),
                  key=lambda r: (r["vendor"], r["status"], -r["leads"], r["reason"], r["rep"], r["source"]))
    by_status = Counter()
    for row in rows:
        by_status[(row["vendor"], row["status_label"])] += row["leads"]
    vendors = sorted({v for v, _ in by_status})
    statuses = [labels[s] for s in Status.values if s in FINAL_STATUSES]
    chart = _bar(vendors, [(status, [by_status[(v, status)] for v in vendors]) for status in statuses], stacked=True)
    return Report("outcomes", "Outcomes", [("vendor", "Vendor"), ("status_label", "Outcome"), ("reason", "Reason"),
                                           ("vendor_reason", "Vendor's reason"), ("rep", "Rep"),
                                           ("source", "Source"), ("leads", "Leads")], rows, chart=chart)


# --- Pipeline ---------------------------------------------------------------------------------

def pipeline(scope: ReportScope) -> Report:
    """Open opportunities now (accepted, with a sales stage), by stage and currency:
    how many, their amount and their probability-weighted amount. Amounts in
    different currencies are never added together. One GROUP BY in the database:
    the rows never travel (1,500,000 open opportunities over 20 dealers)."""
    currency = Case(When(currency="", then=F("dealer__default_currency")), default=F("currency"),
                    output_field=CharField())
    weighted = ExpressionWrapper(F("opportunity_amount") * Coalesce(F("probability"), 0) / 100,
                                 output_field=DecimalField(max_digits=20, decimal_places=4))
    grouped = (Lead.objects.filter(scope.narrowed(), status=Status.ACCEPTED, sales_stage__isnull=False)
               .annotate(money=currency).values("sales_stage_id", "money")
               .annotate(n=Count("pk"), amount=Sum("opportunity_amount"), weighted=Sum(weighted)).order_by())
    totals = {(g["sales_stage_id"], g["money"]): (g["n"], Decimal(g["amount"] or 0), Decimal(g["weighted"] or 0))
              for g in grouped}
    stages = {s.pk: s for s in SalesStage.objects.filter(pk__in={stage_id for stage_id, _ in totals})}
    cent = Decimal("0.01")
    rows = [{"stage": stages[stage_id].name, "currency": money, "opportunities": n,
             "amount": str(amount.quantize(cent)), "weighted_amount": str(weighted_sum.quantize(cent))}
            for (stage_id, money), (n, amount, weighted_sum) in sorted(
                totals.items(), key=lambda kv: (stages[kv[0][0]].position, stages[kv[0][0]].name, kv[0][1]))]
    labels = [f"{r['stage']} ({r['currency']})" for r in rows]
    chart = _bar(labels, [("Amount", [float(r["amount"]) for r in rows]),
                          ("Weighted amount", [float(r["weighted_amount"]) for r in rows])])
    return Report("pipeline", "Pipeline", [("stage", "Stage"), ("currency", "Currency"),
                                           ("opportunities", "Opportunities"), ("amount", "Amount"),
                                           ("weighted_amount", "Weighted by probability")], rows, chart=chart,
                  note="Open opportunities now, whatever day they came in: the date range does not apply.")


# --- Follow-up discipline ----------------------------------------------------------------------

def followups(scope: ReportScope, *, now: datetime | None = None) -> Report:
    """Follow-ups scheduled in the range, by the rep they are assigned to: done on
    time (by the end of the day they were due, in the dealer's time zone), done
    late, overdue (open and past due), and still to come."""
    now = now or timezone.now()
    zones = {d.pk: zoneinfo.ZoneInfo(d.time_zone) for d in scope.dealers}
    # The range is on scheduled_at; "rep" is whom the follow-up is assigned to.
    q = replace(scope, owner_id=None).narrowed("lead__")
    if scope.owner_id is not None:
        q &= Q(assigned_to_id=scope.owner_id)
    window = Q(pk__in=[])
    for dealer in scope.dealers:
        start, end = measures.day_window(dealer, scope.since, scope.until)
        window |= Q(lead__dealer_id=dealer.pk, scheduled_at__gte=start, scheduled_at__lt=end)
    tally: dict = defaultdict(Counter)
    for dealer_id, assigned, scheduled, done in FollowUp.objects.filter(q, window).values_list(
            "lead__dealer_id", "assigned_to_id", "scheduled_at", "done_at").iterator(chunk_size=5000):
        zone = zones[dealer_id]
        due_end = datetime.combine(scheduled.astimezone(zone).date() + timedelta(days=1), time.min, zone)
        if done is not None:
            state = "on_time" if done < due_end else "late"
        else:
            state = "overdue" if scheduled < now else "upcoming"
        tally[assigned][state] += 1
    names = _names(tally)
    rows = []
    for assigned, counts in sorted(tally.items(), key=lambda kv: names.get(kv[0], "")):
        total = sum(counts.values())
        done = counts["on_time"] + counts["late"]
        rows.append({"rep": names.get(assigned, "unassigned"), "scheduled": total, "on_time": counts["on_time"],
                     "late": counts["late"], "overdue": counts["overdue"], "upcoming": counts["upcoming"],
                     "on_time_percent": _rate(counts["on_time"], done)})
    reps = [r["rep"] for r in rows]
    chart = _bar(reps, [(label, [r[key] for r in rows]) for key, label in (
        ("on_time", "On time"), ("late", "Late"), ("overdue", "Overdue"), ("upcoming", "To come"))], stacked=True)
    return Report("followups", "Follow-up discipline", [("rep", "Rep"), ("scheduled", "Scheduled"),
                                                        ("on_time", "Done on time"), ("late", "Done late"),
                                                        ("overdue", "Overdue"), ("upcoming", "To come"),
                                                        ("on_time_percent", "On time % of done")], rows, chart=chart)


# --- Vendor feedback SLA --------------------------------------------------------------------------

def feedback(scope: ReportScope, *, now: datetime | None = None, limit: int | None = None) -> Report:
    """Each lead received from a vendor account with a feedback target: when it was
    received, its deadline (`Lead.feedback_due_at`, the target counted in the
    dealer's business hours), when the vendor accepted its first outcome report
    (None while unreported), and whether it breached: reported after the deadline,
    or still unreported past it. The most urgent first: breaching now (oldest
    deadline first), then waiting within the target (soonest first), then reported
    late, then reported in time. `limit`: at most that many rows (a page);
    `row_count` has them all. Per-account totals are the summary, breaches by week
    received the chart; both counted in the database on the deadline stamps."""
    now = now or timezone.now()
    accounts = {a.pk: a for a in VendorAccount.objects.filter(dealer__in=scope.dealers)}
    targets = {pk: measures.feedback_target_hours(a) for pk, a in accounts.items()}
    targeted = [pk for pk, target in targets.items() if target is not None]
    measured = scope.leads().filter(vendor_account_id__in=targeted)
    deadlines.stamp_missing(measured, targeted)  # new arrivals the 15-minute schedule has not stamped yet
    waiting, breached = Q(first_reported_at__isnull=True), measures.breached_q(now)
    counts = {"leads": Count("pk"), "breaching_now": Count("pk", filter=waiting & breached),
              "waiting": Count("pk", filter=waiting & ~breached), "late": Count("pk", filter=~waiting & breached),
              "on_time": Count("pk", filter=~waiting & ~breached)}
    # One pass over the scope: the counts by account and week received are both the
    # per-account totals and the weekly chart (a year of every dealer is a million leads).
    totals, weekly = defaultdict(Counter), defaultdict(Counter)
    for (account_id, week), counted in _weekly(scope, measured, counts, by="vendor_account_id").items():
        totals[account_id].update(counted)
        weekly[week].update(leads=counted["leads"], breached=counted["breaching_now"] + counted["late"])
    summary = [{"account": accounts[account_id].name, "vendor": accounts[account_id].vendor,
                "target_hours": targets[account_id], **{key: counted[key] for key in counts}}
               for account_id, counted in totals.items()]
    summary.sort(key=lambda r: (-r["breaching_now"], r["account"]))
    hours = {d.pk: BusinessHours.of_dealer(d) for d in scope.dealers}
    urgency = Case(When(waiting & breached, then=Value(0)), When(waiting, then=Value(1)),
                   When(breached, then=Value(2)), default=Value(3), output_field=IntegerField())
    ranked = measured.annotate(urgency=urgency).order_by("urgency", "feedback_due_at", "pk")
    columns = ("pk", "dealer_id", "vendor_account_id", "vendor_lead_id", "created_at", "first_reported_at",
               "feedback_due_at")
    if limit is None:
        shown = ranked.values_list(*columns).iterator(chunk_size=5000)
    else:
        # A page: rank on what the report index holds (a year of every dealer is
        # read from the index alone), then read the page's own leads.
        page = list(ranked.values_list("pk", flat=True)[:limit])
        details = {row[0]: row for row in Lead.objects.filter(pk__in=page).values_list(*columns)}
        shown = [details[pk] for pk in page if pk in details]
    rows = []
    for lead_id, dealer_id, account_id, vendor_lead_id, received, reported, deadline in shown:
        if deadline is None:  # its stamp was cleared since (a target or hours saved meanwhile): counted here
            deadline = hours[dealer_id].after(received, targets[account_id])
        rows.append({"account": accounts[account_id].name, "vendor": accounts[account_id].vendor,
                     "lead_id": lead_id, "vendor_lead_id": vendor_lead_id, "received_at": received.isoformat(),
                     "reported_at": reported.isoformat() if reported else None,
                     "deadline": deadline.astimezone(hours[dealer_id].zone).isoformat(),  # the dealer's clock
                     "target_hours": targets[account_id],
                     "business_hours_to_report": None if reported is None else _round(
                         hours[dealer_id].between(received, reported) / 3600),
                     "breached": (reported or now) > deadline, "waiting": reported is None})
    weeks = sorted(weekly)
    chart = _bar(weeks, [("Leads", [weekly[w]["leads"] for w in weeks]),
                         ("Breached", [weekly[w]["breached"] for w in weeks])])
    return Report("feedback", "Vendor feedback SLA", [
        ("account", "Account"), ("vendor_lead_id", "Vendor lead id"), ("received_at", "Received"),
        ("deadline", "Due by"), ("reported_at", "Reported"), ("business_hours_to_report", "Business hours taken"),
        ("breached", "Breached")], rows, chart=chart, row_count=sum(r["leads"] for r in summary),
        summary_columns=[("account", "Account"), ("target_hours", "Target (business hours)"), ("leads", "Leads"),
                         ("breaching_now", "Breaching now"), ("waiting", "Waiting, in time"),
                         ("late", "Reported late"), ("on_time", "Reported in time")],
        summary=summary)


def _weekly(scope: ReportScope, leads: QuerySet, counts: dict, *, by: str) -> dict[tuple, Counter]:
    """`counts` (aggregates) of `leads` by `by` (a field) and ISO week received, in
    each dealer's time zone: {(value, "2026-W49"): Counter}. One GROUP BY per time
    zone among the scope's dealers (usually one)."""
    weekly: dict[tuple, Counter] = defaultdict(Counter)
    by_zone = defaultdict(list)
    for dealer in scope.dealers:
        by_zone[dealer.time_zone].append(dealer.pk)
    for zone, dealer_ids in by_zone.items():
        for row in leads.filter(dealer_id__in=dealer_ids).annotate(
                week=TruncWeek("created_at", tzinfo=zoneinfo.ZoneInfo(zone))).values(by, "week").annotate(
                **counts).order_by():
            year, number, _ = row["week"].isocalendar()
            weekly[(row[by], f"{year}-W{number:02d}")].update({key: row[key] for key in counts})
    return weekly


REPORTS = {"funnel": funnel, "speed": speed, "outcomes": outcomes, "pipeline": pipeline, "followups": followups,
           "feedback": feedback}
ROWS_PER_LEAD = {"feedback"}  # these take `limit`: a page shows the first rows, the download has them all


def run_report(name: str, scope: ReportScope, *, limit: int | None = None) -> Report:
    """REPORTS[name] over the scope; `limit` caps a report of one row per lead."""
    return REPORTS[name](scope, limit=limit) if name in ROWS_PER_LEAD else REPORTS[name](scope)


# --- Charts: the same numbers as the rows, in Chart.js's shape ---------------------------------------

def _bar(labels, series, *, stacked=False) -> dict:
    return {"type": "bar", "labels": [str(label) for label in labels], "stacked": stacked,
            "datasets": [{"label": name, "data": data} for name, data in series]}


def _line(labels, series) -> dict:
    return {"type": "line", "labels": [str(label) for label in labels], "stacked": False,
            "datasets": [{"label": name, "data": data} for name, data in series]}
