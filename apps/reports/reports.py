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

import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import (Case, CharField, Count, DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum,
                              When)
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.leads.models import FollowUp, Lead, ReasonMapping, SalesStage, StatusLog
from apps.leads.statuses import FINAL_STATUSES, Status
from apps.vendors.core.models import VendorAccount

from . import measures
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


def speed(scope: ReportScope) -> Report:
    """Received → first contact, first outcome and outcome accepted by the vendor:
    median and 90th percentile in minutes (wall-clock), for all leads, by rep, by
    vendor and by week received; and how the times spread (buckets). `reached` is
    how many leads have the stamp yet (a lead still waiting has no time)."""
    zones = {d.pk: zoneinfo.ZoneInfo(d.time_zone) for d in scope.dealers}
    values = defaultdict(list)  # (dimension, key, measure) -> [minutes]
    counts = Counter()  # (dimension, key, measure) -> leads
    spread = Counter()  # (measure, bucket) -> leads
    owners = []
    fields = ["dealer_id", "created_at", "owner_id", "vendor_account__vendor"] + [m.end for m in measures.SPEED_MEASURES]
    for row in scope.leads().values_list(*fields).iterator(chunk_size=5000):
        dealer_id, received, owner_id, vendor = row[:4]
        owners.append(owner_id)
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
    names = _names(owners)
    rows = []
    for (dimension, key, measure_key), leads in sorted(counts.items(), key=lambda kv: _speed_order(kv[0])):
        taken = sorted(values[(dimension, key, measure_key)])
        rows.append({"dimension": dimension,
                     "key": names.get(key, "unassigned") if dimension == "rep" else key,
                     "measure": measure_key, "measure_label": LABELS[measure_key], "leads": leads,
                     "reached": len(taken),
                     "median_minutes": _round(measures.percentile(taken, 0.5)),
                     "p90_minutes": _round(measures.percentile(taken, 0.9))})
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
    leads = scope.leads().filter(status__in=FINAL_STATUSES)
    closing = (StatusLog.objects.filter(lead=OuterRef("pk"), to_status=OuterRef("status"))
               .order_by("-created_at", "-id"))
    rows_in = leads.annotate(reason_id=closing.values("reason_id")[:1],
                             reason_label=closing.values("reason_label")[:1]).values_list(
        "vendor_account__vendor", "status", "reason_id", "reason_label", "owner_id", "source")
    grouped = Counter(rows_in.iterator(chunk_size=5000))
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

def feedback(scope: ReportScope, *, now: datetime | None = None) -> Report:
    """Each lead received from a vendor account with a feedback target: when it was
    received, when the vendor accepted its first outcome report (None while
    unreported), its deadline in the dealer's business hours, and whether it
    breached. Breaches by week received are the chart."""
    now = now or timezone.now()
    accounts = {a.pk: a for a in VendorAccount.objects.filter(dealer__in=scope.dealers)}
    targets = {pk: measures.feedback_target_hours(a) for pk, a in accounts.items()}
    measured = [pk for pk, target in targets.items() if target is not None]
    hours = {d.pk: BusinessHours.of_dealer(d) for d in scope.dealers}
    zones = {d.pk: zoneinfo.ZoneInfo(d.time_zone) for d in scope.dealers}
    rows, weekly = [], defaultdict(Counter)
    for lead_id, dealer_id, account_id, vendor_lead_id, received, reported in scope.leads().filter(
            vendor_account_id__in=measured).order_by("created_at", "id").values_list(
            "pk", "dealer_id", "vendor_account_id", "vendor_lead_id", "created_at", "first_reported_at").iterator(
            chunk_size=5000):
        result = measures.feedback(received=received, reported=reported, target_hours=targets[account_id],
                                   hours=hours[dealer_id], now=now)
        rows.append({"account": accounts[account_id].name, "vendor": accounts[account_id].vendor,
                     "lead_id": lead_id, "vendor_lead_id": vendor_lead_id, "received_at": received.isoformat(),
                     "reported_at": reported.isoformat() if reported else None,
                     "deadline": result.deadline.isoformat(), "target_hours": targets[account_id],
                     "business_hours_to_report": _round(result.business_hours_to_report),
                     "breached": result.breached, "waiting": reported is None})
        week = _week(received, zones[dealer_id])
        weekly[week]["leads"] += 1
        weekly[week]["breached"] += result.breached
    weeks = sorted(weekly)
    chart = _bar(weeks, [("Leads", [weekly[w]["leads"] for w in weeks]),
                         ("Breached", [weekly[w]["breached"] for w in weeks])])
    return Report("feedback", "Vendor feedback SLA", [
        ("account", "Account"), ("vendor_lead_id", "Vendor lead id"), ("received_at", "Received"),
        ("deadline", "Due by"), ("reported_at", "Reported"), ("business_hours_to_report", "Business hours taken"),
        ("breached", "Breached")], rows, chart=chart)


REPORTS = {"funnel": funnel, "speed": speed, "outcomes": outcomes, "pipeline": pipeline, "followups": followups,
           "feedback": feedback}


# --- Charts: the same numbers as the rows, in Chart.js's shape ---------------------------------------

def _bar(labels, series, *, stacked=False) -> dict:
    return {"type": "bar", "labels": [str(label) for label in labels], "stacked": stacked,
            "datasets": [{"label": name, "data": data} for name, data in series]}


def _line(labels, series) -> dict:
    return {"type": "line", "labels": [str(label) for label in labels], "stacked": False,
            "datasets": [{"label": name, "data": data} for name, data in series]}
