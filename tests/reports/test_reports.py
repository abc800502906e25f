"""The reports (apps/reports/reports.py) on leads whose times are known, and the
stamps they measure from (first outcome by the status service)."""
from __future__ import annotations

import importlib
import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection

from apps.accounts.models import Dealer
from apps.leads import services
from apps.leads.models import FollowUp, Lead, ReasonMapping
from apps.reports import reports
from apps.reports.reports import ReportScope
from apps.sync.models import OutboxItem
from tests.conftest import make_cat_account, make_lead

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
DAY = date(2026, 11, 2)  # a Monday
MORNING = datetime(2026, 11, 2, 9, 0, tzinfo=CHICAGO)


def scope(*dealers, **kw):
    return ReportScope(tuple(dealers), kw.pop("since", DAY - timedelta(days=30)), kw.pop("until", DAY + timedelta(days=30)),
                       **kw)


def lead(dealer, minutes_to_contact=None, **fields):
    """A lead received at MORNING, first contacted after `minutes_to_contact`."""
    created = fields.pop("created_at", MORNING)
    made = make_lead(dealer, created_at=created, **fields)
    if minutes_to_contact is not None:
        Lead.objects.filter(pk=made.pk).update(first_contacted_at=created + timedelta(minutes=minutes_to_contact))
    return made


def test_the_status_service_stamps_the_first_outcome_once(alice, dealer_a, reasons_a):
    made = make_lead(dealer_a)
    accepted = services.lead_change_status(lead=made, to_status="accepted", actor=alice)
    made.refresh_from_db()
    assert made.first_outcome_at == accepted.log.created_at
    services.lead_change_status(lead=made, to_status="closed_no_deal", actor=alice)
    made.refresh_from_db()
    assert made.first_outcome_at == accepted.log.created_at  # the first one, kept


def test_funnel_counts_each_step_once_and_never_another_dealers_leads(alice, dealer_a, dealer_b, reasons_a,
                                                                      stages_a):
    worked = [lead(dealer_a, 10) for _ in range(4)]
    lead(dealer_a)  # received, never contacted
    for made in worked[:3]:
        assert services.lead_change_status(lead=made, to_status="accepted", actor=alice, stage=stages_a[0]).ok
    assert services.lead_change_status(lead=worked[0], to_status="closed_no_deal", actor=alice).ok
    assert services.lead_change_status(lead=worked[3], to_status="rejected", actor=alice,
                                       reason=reasons_a["rejection"], comment="no").ok
    lead(dealer_b, 5)  # another dealer's: never counted
    steps = {row["step"]: row for row in reports.funnel(scope(dealer_a)).rows}
    assert [steps[s]["leads"] for s in ("received", "contacted", "accepted", "opportunity", "no_deal", "rejected")] \
        == [5, 4, 3, 3, 1, 1]
    assert steps["contacted"]["conversion_percent"] == 80.0 and steps["accepted"]["conversion_percent"] == 75.0


def test_the_range_is_each_dealers_own_days(dealer_a):
    lead(dealer_a, created_at=datetime(2026, 11, 2, 23, 30, tzinfo=CHICAGO))  # Nov 3 in UTC
    one_day = scope(dealer_a, since=date(2026, 11, 2), until=date(2026, 11, 2))
    assert reports.funnel(one_day).rows[0]["leads"] == 1


def test_speed_to_lead_median_and_90th_percentile(dealer_a, alice):
    for minutes in (10, 20, 30, 40):
        lead(dealer_a, minutes, owner=alice)
    lead(dealer_a)  # still waiting: counted, not reached
    rows = reports.speed(scope(dealer_a)).rows
    [overall] = [r for r in rows if r["dimension"] == "all" and r["measure"] == "first_contact"]
    assert (overall["leads"], overall["reached"], overall["median_minutes"], overall["p90_minutes"]) == (5, 4, 25.0, 37.0)
    [by_alice] = [r for r in rows if r["dimension"] == "rep" and r["measure"] == "first_contact" and r["key"] == "alice"]
    assert by_alice["reached"] == 4
    spread = {r["key"]: r["leads"] for r in rows if r["dimension"] == "spread" and r["measure"] == "first_contact"}
    assert spread["5 min to 1 h"] == 4


def test_outcomes_carry_the_dealers_reason_and_the_vendor_value_it_maps_to(dealer_a, alice, reasons_a):
    account = make_cat_account(dealer_a)
    ReasonMapping.objects.create(reason=reasons_a["disqualification"], vendor="cat", vendor_value="No budget")
    for vendor_lead_id in ("L1", "L2"):
        made = lead(dealer_a, vendor_account=account, vendor_lead_id=vendor_lead_id, owner=alice)
        assert services.lead_change_status(lead=made, to_status="disqualified", actor=alice,
                                           reason=reasons_a["disqualification"]).ok
    manual = lead(dealer_a, owner=alice)
    assert services.lead_change_status(lead=manual, to_status="rejected", actor=alice, reason=reasons_a["rejection"],
                                       comment="dup").ok
    rows = reports.outcomes(scope(dealer_a)).rows
    assert {(r["vendor"], r["status"], r["reason"], r["vendor_reason"], r["leads"]) for r in rows} == {
        ("cat", "disqualified", "A100 disqualification", "No budget", 2),
        ("manual", "rejected", "A100 rejection", "", 1)}


def test_pipeline_sums_amounts_per_stage_and_currency_never_across(dealer_a, alice, stages_a):
    for amount, currency, probability in (("1000", "USD", 10), ("3000", "USD", 50), ("500", "EUR", 10)):
        made = lead(dealer_a, owner=alice)
        assert services.lead_change_status(lead=made, to_status="accepted", actor=alice, stage=stages_a[0],
                                           probability=probability,
                                           updates={"opportunity_amount": Decimal(amount), "currency": currency}).ok
    rows = {(r["stage"], r["currency"]): r for r in reports.pipeline(scope(dealer_a)).rows}
    assert rows[("Discovery", "USD")]["amount"] == "4000.00" and rows[("Discovery", "USD")]["opportunities"] == 2
    assert rows[("Discovery", "USD")]["weighted_amount"] == "1600.00"  # 100 + 1500
    assert rows[("Discovery", "EUR")]["amount"] == "500.00"


def test_followup_discipline_by_rep(dealer_a, alice):
    made = lead(dealer_a, owner=alice)
    due = datetime(2026, 11, 3, 10, 0, tzinfo=CHICAGO)
    FollowUp.objects.create(lead=made, scheduled_at=due, assigned_to=alice, done_at=due + timedelta(hours=5))
    FollowUp.objects.create(lead=made, scheduled_at=due, assigned_to=alice, done_at=due + timedelta(days=1))
    FollowUp.objects.create(lead=made, scheduled_at=due, assigned_to=alice)
    FollowUp.objects.create(lead=made, scheduled_at=due + timedelta(days=20), assigned_to=alice)
    [row] = reports.followups(scope(dealer_a), now=due + timedelta(days=2)).rows
    assert (row["on_time"], row["late"], row["overdue"], row["upcoming"], row["on_time_percent"]) == (1, 1, 1, 1, 50.0)


def test_feedback_breaches_in_business_hours(dealer_a):
    account = make_cat_account(dealer_a)  # Cat: one business day (9 h, 08:00-17:00 Mon-Fri)
    friday = datetime(2026, 11, 6, 16, 0, tzinfo=CHICAGO)
    on_time = lead(dealer_a, vendor_account=account, vendor_lead_id="ON", created_at=friday)
    late = lead(dealer_a, vendor_account=account, vendor_lead_id="LATE", created_at=friday)
    lead(dealer_a, vendor_account=account, vendor_lead_id="WAIT", created_at=friday)  # never reported
    # Fri 16:00 + 9 business hours = Mon 16:00 (1 h on Friday, 8 on Monday).
    Lead.objects.filter(pk=on_time.pk).update(first_reported_at=friday + timedelta(days=3))  # Mon 16:00: 9 h
    Lead.objects.filter(pk=late.pk).update(first_reported_at=friday + timedelta(days=4))  # Tue 16:00: 18 h
    rows = {r["vendor_lead_id"]: r for r in reports.feedback(
        scope(dealer_a), now=friday + timedelta(days=3, hours=1, minutes=30)).rows}  # Mon 17:30
    assert rows["ON"]["breached"] is False and rows["ON"]["business_hours_to_report"] == 9.0  # just in time
    assert rows["LATE"]["breached"] is True and rows["LATE"]["business_hours_to_report"] == 18.0
    assert rows["WAIT"]["breached"] is True and rows["WAIT"]["reported_at"] is None  # due Mon 16:00
    assert rows["ON"]["deadline"] == datetime(2026, 11, 9, 16, 0, tzinfo=CHICAGO).isoformat()
    account.feedback_target_hours = 20  # the account's own target wins
    account.save()
    rows = {r["vendor_lead_id"]: r for r in reports.feedback(scope(dealer_a), now=friday).rows}
    assert not rows["LATE"]["breached"]


def test_vendor_filter_and_manual_leads(dealer_a):
    account = make_cat_account(dealer_a)
    lead(dealer_a, vendor_account=account, vendor_lead_id="C1")
    lead(dealer_a)
    assert reports.funnel(scope(dealer_a, vendor="cat")).rows[0]["leads"] == 1
    assert reports.funnel(scope(dealer_a, vendor=reports.MANUAL)).rows[0]["leads"] == 1


def test_the_migrations_backfill_both_stamps_for_leads_worked_before(alice, dealer_a, reasons_a):
    account = make_cat_account(dealer_a)
    made = lead(dealer_a, vendor_account=account, vendor_lead_id="OLD")
    log = services.lead_change_status(lead=made, to_status="accepted", actor=alice).log
    sent_at = MORNING + timedelta(hours=2)
    OutboxItem.objects.filter(lead=made).update(state="sent", sent_at=sent_at)
    Lead.objects.filter(pk=made.pk).update(first_outcome_at=None, first_reported_at=None)  # as before 0015
    for module, index in (("apps.leads.migrations.0015_lead_first_outcome_and_report", -1),
                          ("apps.sync.migrations.0007_backfill_first_reported_at", 0)):
        operation = importlib.import_module(module).Migration.operations[index]
        with connection.cursor() as cursor:
            cursor.execute(operation.sql)
    made.refresh_from_db()
    assert made.first_outcome_at == log.created_at and made.first_reported_at == sent_at


def test_dealers_of_one_time_zone_share_one_window_and_each_keeps_its_edges(dealer_a, dealer_b):
    """Two Chicago dealers and a London one: the first two are one created_at range,
    and every dealer's window still starts at its own midnight."""
    dealer_c = Dealer.objects.create(code="C3", name="Dealer C", time_zone="America/Chicago")
    start = datetime(2026, 11, 2, tzinfo=CHICAGO)
    london_start = datetime(2026, 11, 2, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    inside = [lead(dealer_a, created_at=start), lead(dealer_c, created_at=start + timedelta(hours=5)),
              lead(dealer_b, created_at=london_start)]
    lead(dealer_a, created_at=start - timedelta(minutes=1))
    lead(dealer_c, created_at=start - timedelta(minutes=1))
    lead(dealer_b, created_at=london_start - timedelta(minutes=1))
    lead(dealer_c, created_at=start + timedelta(days=1))  # the day after `until`
    window = scope(dealer_a, dealer_b, dealer_c, since=DAY, until=DAY)
    assert sorted(window.leads().values_list("pk", flat=True)) == sorted(made.pk for made in inside)
    ranges = str(window.leads().query).count("created_at\" >=")
    assert ranges == 2  # Chicago's two dealers share one range, London has its own
