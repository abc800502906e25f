"""Dashboards: the numbers a manager asks for every Monday, each a link to the list
or report behind it, computed by the same report functions (reports.py) and
measures (measures.py) as the report pages.

- dealer admin / sales manager (and IT, across every dealer, plus sync health):
  `dealer_dashboard`, on the reports index, where dealer admins land;
- staff: `my_numbers`, a panel on My leads (their speed to lead, overdue
  follow-ups, wins), added to apps.leads.queue.PANELS in ReportsConfig.ready.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Dealer
from apps.accounts.scoping import dealer_ids_for
from apps.leads.models import FollowUp, Lead
from apps.leads.statuses import Status
from apps.sync.models import AccountSyncState, OutboxItem, OutboxState

from .reports import ReportScope, feedback, outcomes, pipeline, speed

FEEDBACK_LOOKBACK_DAYS = 90


@dataclass
class Tile:
    title: str
    value: str
    url: str
    detail: str = ""
    rows: list = field(default_factory=list)  # [(label, value, url)]


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.0f} min"
    if value < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / 1440:.1f} days"


NO_SPEED = {"median_minutes": None, "p90_minutes": None, "leads": 0, "reached": 0}


def _speed_overall(scope: ReportScope) -> dict[str, dict]:
    """measure -> the speed report's row over all of the scope's leads (one report run)."""
    return {r["measure"]: r for r in speed(scope).rows if r["dimension"] == "all"}


def _report_url(name: str, scope: ReportScope, dealer_param: bool) -> str:
    query = {"since": scope.since.isoformat(), "until": scope.until.isoformat()}
    if dealer_param and len(scope.dealers) == 1:
        query["dealer"] = scope.dealers[0].pk
    if scope.owner_id is not None:
        query["owner"] = scope.owner_id
    return reverse("admin:reports_leadreport_report", args=[name]) + "?" + urlencode(query)


def _leads_url(**query) -> str:
    return reverse("admin:leads_lead_changelist") + "?" + urlencode(query)


def dealer_dashboard(dealers, *, now: datetime | None = None, with_sync: bool = False) -> list[Tile]:
    """The manager's tiles for `dealers` (IT: every dealer, with sync health)."""
    now = now or timezone.now()
    dealers = list(dealers)
    if not dealers:
        return []
    today = timezone.localdate(now)
    this_week = ReportScope(tuple(dealers), _week_start(today), today)
    last_week = ReportScope(tuple(dealers), _week_start(today) - timedelta(days=7), _week_start(today) - timedelta(days=1))
    dealer_ids = [d.pk for d in dealers]
    tiles = []

    waiting = Lead.objects.filter(dealer_id__in=dealer_ids, status=Status.NEW, first_contacted_at__isnull=True
                                  ).aggregate(n=Count("pk"), oldest=Min("created_at"))
    tiles.append(Tile("New leads waiting", str(waiting["n"]), _leads_url(todo="new", whose="everyone"),
                      f"the oldest has waited {_minutes((now - waiting['oldest']).total_seconds() / 60)}"
                      if waiting["oldest"] else "none waiting"))

    speed_now, speed_before = _speed_overall(this_week), _speed_overall(last_week)
    for measure, title in (("first_contact", "Speed to first contact"), ("first_outcome", "Speed to first outcome")):
        now_row, before = speed_now.get(measure, NO_SPEED), speed_before.get(measure, NO_SPEED)
        tiles.append(Tile(
            title, _minutes(now_row["median_minutes"]), _report_url("speed", this_week, True),
            f"median this week (90th percentile {_minutes(now_row['p90_minutes'])}); last week "
            f"{_minutes(before['median_minutes'])} (90th {_minutes(before['p90_minutes'])})"))

    lookback = ReportScope(tuple(dealers), today - timedelta(days=FEEDBACK_LOOKBACK_DAYS - 1), today)
    # The most urgent rows come first: the leads breaching now, then the rest.
    report = feedback(lookback, now=now, limit=5)
    breaching = [r for r in report.rows if r["breached"] and r["waiting"]]
    tiles.append(Tile("Breaching a vendor's feedback target", str(sum(r["breaching_now"] for r in report.summary)),
                      _report_url("feedback", lookback, True),
                      f"leads of the last {FEEDBACK_LOOKBACK_DAYS} days whose vendor has had no outcome in time",
                      rows=[(f"{r['account']} {r['vendor_lead_id']}", f"due {r['deadline'][:16].replace('T', ' ')}",
                             reverse("admin:leads_lead_workbench", args=[r["lead_id"]])) for r in breaching]))

    overdue = (FollowUp.objects.filter(lead__dealer_id__in=dealer_ids, done_at__isnull=True, scheduled_at__lt=now)
               .values("assigned_to_id", "assigned_to__username", "assigned_to__first_name",
                       "assigned_to__last_name").annotate(n=Count("pk")).order_by("-n"))
    tiles.append(Tile("Follow-ups overdue", str(sum(r["n"] for r in overdue)),
                      _report_url("followups", this_week, True), "by rep",
                      rows=[(" ".join(filter(None, [r["assigned_to__first_name"], r["assigned_to__last_name"]]))
                             or r["assigned_to__username"] or "unassigned", str(r["n"]),
                             _leads_url(followup="overdue", **({"owner__id__exact": r["assigned_to_id"]}
                                                               if r["assigned_to_id"] else {})))
                            for r in overdue[:8]]))

    stages = pipeline(this_week).rows
    tiles.append(Tile("Pipeline", f"{sum(r['opportunities'] for r in stages)} open", _report_url(
        "pipeline", this_week, True), "opportunities now, by stage (weighted by probability)",
        rows=[(f"{r['stage']}", f"{r['weighted_amount']} {r['currency']} of {r['amount']}",
               _report_url("pipeline", this_week, True)) for r in stages]))

    month = ReportScope(tuple(dealers), today.replace(day=1), today)
    closed = outcomes(month).rows
    won = sum(r["leads"] for r in closed if r["status"] == Status.CLOSED_WON)
    lost = sum(r["leads"] for r in closed if r["status"] in (Status.CLOSED_LOST, Status.CLOSED_NO_DEAL))
    reasons = Counter()
    for r in closed:
        if r["status"] in (Status.CLOSED_LOST, Status.CLOSED_NO_DEAL):
            reasons[r["reason"] or "no reason given"] += r["leads"]
    received = f"{month.since.isoformat()}..{month.until.isoformat()}"
    tiles.append(Tile("Won / lost this month", f"{won} won · {lost} lost", _report_url("outcomes", month, True),
                      "of the leads received this month; top reasons for losing",
                      rows=[(reason, str(n), _leads_url(received=received, status__exact=Status.CLOSED_LOST))
                            for reason, n in reasons.most_common(3)]))

    if with_sync:
        failing = AccountSyncState.objects.filter(account__dealer_id__in=dealer_ids, consecutive_failures__gt=0).count()
        stuck = OutboxItem.objects.filter(account__dealer_id__in=dealer_ids, state__in=[
            OutboxState.BLOCKED, OutboxState.FAILED]).aggregate(
            blocked=Count("pk", filter=Q(state=OutboxState.BLOCKED)), failed=Count("pk", filter=Q(state=OutboxState.FAILED)))
        tiles.append(Tile("Sync health", f"{failing} failing", reverse("admin:sync_synchealth_changelist"),
                          f"accounts whose last run failed; {stuck['blocked']} updates held, {stuck['failed']} refused"))
    return tiles


def dashboard_dealers(user):
    """The dealers whose dashboard the user sees: all for IT, else the dealers where
    the user may read reports."""
    ids = dealer_ids_for(user)
    dealers = Dealer.objects.filter(is_active=True).order_by("code")
    return dealers if ids is None else dealers.filter(pk__in=ids)


def my_numbers(user) -> dict | None:
    """Staff's own numbers for My leads: speed to first contact this week, overdue
    follow-ups, wins this month (None for someone with no dealer)."""
    dealers = tuple(dashboard_dealers(user))
    if not dealers or getattr(user, "pk", None) is None:
        return None
    today = timezone.localdate()
    now = timezone.now()
    week = ReportScope(dealers, _week_start(today), today, owner_id=user.pk)
    month = ReportScope(dealers, today.replace(day=1), today, owner_id=user.pk)
    contact = _speed_overall(week).get("first_contact", NO_SPEED)
    overdue = FollowUp.objects.filter(assigned_to=user, lead__dealer__in=dealers, done_at__isnull=True,
                                      scheduled_at__lt=now).count()
    won = Lead.objects.filter(month.received(), owner=user, status=Status.CLOSED_WON).count()
    return {"template": "admin/reports/my_numbers.html", "tiles": [
        Tile("My speed to first contact", _minutes(contact["median_minutes"]), _leads_url(whose="mine"),
             f"median this week, {contact['reached']} of {contact['leads']} leads contacted"),
        Tile("My overdue follow-ups", str(overdue), _leads_url(followup="overdue", whose="mine")),
        Tile("My wins this month", str(won), _leads_url(whose="mine", status__exact=Status.CLOSED_WON,
                                                         received=f"{month.since}..{month.until}"),
             "of the leads I received this month"),
    ]}

