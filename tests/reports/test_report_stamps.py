"""What the reports read from the lead instead of its history: the first acceptance
and the reason of a final outcome (apps/leads/services.py), and the feedback
deadline (apps/reports/deadlines.py), kept right through every path that changes
what they depend on."""
from __future__ import annotations

import importlib
import zoneinfo
from datetime import date, datetime, time, timedelta

from django.core import mail
from django.db import connection

from apps.leads import services
from apps.leads.models import Lead
from apps.leads.services import StatusChange
from apps.reports import deadlines, reports
from apps.reports.escalation import breaching, escalate_feedback_breaches
from apps.reports.reports import ReportScope
from tests.conftest import make_cat_account, make_lead

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
FRIDAY = datetime(2026, 11, 6, 16, 0, tzinfo=CHICAGO)  # Cat: 9 business hours -> due Monday 16:00
MONDAY_DUE = datetime(2026, 11, 9, 16, 0, tzinfo=CHICAGO)


def scope(dealer):
    return ReportScope((dealer,), date(2026, 11, 1), date(2026, 11, 30))


def test_it_stamps_the_first_acceptance_once(alice, dealer_a, stages_a):
    lead = make_lead(dealer_a)
    accepted = services.lead_change_status(lead=lead, to_status="accepted", actor=alice, stage=stages_a[0])
    services.lead_change_status(lead=lead, to_status="accepted", actor=alice, stage=stages_a[1])  # a stage move
    lead.refresh_from_db()
    assert lead.first_accepted_at == accepted.log.created_at


def test_it_keeps_the_reason_of_the_final_outcome_and_clears_it_when_the_lead_moves_on(alice, dealer_a, reasons_a):
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, vendor_account=account, vendor_lead_id="R1")
    assert services.lead_change_status(lead=lead, to_status="rejected", actor=alice, reason=reasons_a["rejection"],
                                       comment="duplicate").ok
    lead.refresh_from_db()
    assert (lead.outcome_reason, lead.outcome_reason_label) == (reasons_a["rejection"], "A100 rejection")
    # The vendor reopens it in its own system (its rules, not the dealer's).
    services.lead_record_vendor_status(lead=lead, to_status="accepted", source_account=account)
    lead.refresh_from_db()
    assert (lead.outcome_reason, lead.outcome_reason_label) == (None, "")
    assert lead.first_accepted_at is not None


def test_the_bulk_path_stamps_like_the_single_one(alice, dealer_a, reasons_a):
    leads = [make_lead(dealer_a) for _ in range(3)]
    results = services.lead_change_status_many(changes=[
        (leads[0], StatusChange(to_status="accepted")),
        (leads[1], StatusChange(to_status="disqualified", reason=reasons_a["disqualification"])),
        (leads[2], StatusChange(to_status="rejected", reason=reasons_a["rejection"], comment="spam")),
    ], actor=alice)
    assert all(r.ok for r in results)
    stamped = {lead.pk: lead for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads])}
    assert stamped[leads[0].pk].first_accepted_at is not None and stamped[leads[0].pk].outcome_reason is None
    assert stamped[leads[1].pk].outcome_reason == reasons_a["disqualification"]
    assert stamped[leads[2].pk].outcome_reason_label == "A100 rejection"
    assert stamped[leads[2].pk].first_accepted_at is None


def test_the_migration_backfills_acceptance_and_outcome_reason(alice, dealer_a, reasons_a):
    lead = make_lead(dealer_a)
    accepted = services.lead_change_status(lead=lead, to_status="accepted", actor=alice).log
    services.lead_change_status(lead=lead, to_status="closed_lost", actor=alice, reason=reasons_a["closed_lost"],
                                comment="price")
    Lead.objects.filter(pk=lead.pk).update(first_accepted_at=None, outcome_reason=None, outcome_reason_label="")
    migration = importlib.import_module("apps.leads.migrations.0016_lead_report_stamps").Migration
    with connection.cursor() as cursor:
        for operation in migration.operations[-2:]:
            cursor.execute(operation.sql)
    lead.refresh_from_db()
    assert lead.first_accepted_at == accepted.created_at
    assert (lead.outcome_reason, lead.outcome_reason_label) == (reasons_a["closed_lost"], reasons_a["closed_lost"].label)


def test_the_feedback_report_stamps_new_arrivals_itself(dealer_a):
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, vendor_account=account, vendor_lead_id="NEW", created_at=FRIDAY)
    make_lead(dealer_a, created_at=FRIDAY)  # no vendor: no deadline, never stamped
    assert Lead.objects.get(pk=lead.pk).feedback_due_at is None
    [row] = reports.feedback(scope(dealer_a), now=FRIDAY).rows
    assert row["deadline"] == MONDAY_DUE.isoformat()
    assert Lead.objects.get(pk=lead.pk).feedback_due_at == MONDAY_DUE
    assert Lead.objects.filter(feedback_due_at__isnull=False).count() == 1


def test_a_new_account_target_or_new_business_hours_move_the_deadlines(dealer_a):
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, vendor_account=account, vendor_lead_id="L1", created_at=FRIDAY)
    assert deadlines.stamp_deadlines() == 1
    account.feedback_target_hours = 18
    account.save()
    assert Lead.objects.get(pk=lead.pk).feedback_due_at is None  # forgotten, to be stamped again
    assert deadlines.stamp_deadlines() == 1
    assert Lead.objects.get(pk=lead.pk).feedback_due_at == MONDAY_DUE + timedelta(days=1)  # 1 + 9 + 8 h
    account.name = "renamed"
    account.save()  # nothing the deadline depends on
    assert Lead.objects.get(pk=lead.pk).feedback_due_at is not None
    dealer_a.business_day_ends = time(18, 0)
    dealer_a.save()
    assert deadlines.stamp_deadlines() == 1
    # Fri 16-18 (2 h) + Mon 08-18 (10 h) + Tue 08-14 (6 h) = 18 business hours.
    assert Lead.objects.get(pk=lead.pk).feedback_due_at == datetime(2026, 11, 10, 14, 0, tzinfo=CHICAGO)


def test_the_report_puts_the_leads_breaching_now_first_and_counts_them_all(dealer_a):
    account = make_cat_account(dealer_a)
    on_time = make_lead(dealer_a, vendor_account=account, vendor_lead_id="ON", created_at=FRIDAY)
    late = make_lead(dealer_a, vendor_account=account, vendor_lead_id="LATE", created_at=FRIDAY)
    make_lead(dealer_a, vendor_account=account, vendor_lead_id="WAIT-OLD", created_at=FRIDAY)
    make_lead(dealer_a, vendor_account=account, vendor_lead_id="WAIT-NEW", created_at=FRIDAY + timedelta(days=3))
    Lead.objects.filter(pk=on_time.pk).update(first_reported_at=FRIDAY + timedelta(hours=1))
    Lead.objects.filter(pk=late.pk).update(first_reported_at=FRIDAY + timedelta(days=4))
    now = FRIDAY + timedelta(days=3, hours=1)  # Monday 17:00
    report = reports.feedback(scope(dealer_a), now=now)
    assert [r["vendor_lead_id"] for r in report.rows] == ["WAIT-OLD", "WAIT-NEW", "LATE", "ON"]
    [summary] = report.summary
    assert {k: summary[k] for k in ("leads", "breaching_now", "waiting", "late", "on_time")} == {
        "leads": 4, "breaching_now": 1, "waiting": 1, "late": 1, "on_time": 1}
    page = reports.feedback(scope(dealer_a), now=now, limit=2)
    assert [r["vendor_lead_id"] for r in page.rows] == ["WAIT-OLD", "WAIT-NEW"] and page.total_rows == 4
    weekly = dict(zip(report.chart["labels"], zip(*[d["data"] for d in report.chart["datasets"]])))
    assert weekly == {"2026-W45": (3, 2), "2026-W46": (1, 0)}  # (leads, breached) by week received


def test_the_escalation_reads_the_stamps(dealer_a):
    account = make_cat_account(dealer_a)
    make_lead(dealer_a, vendor_account=account, vendor_lead_id="LATE", created_at=FRIDAY)
    assert breaching(MONDAY_DUE - timedelta(minutes=1)) == []
    [(lead, threshold, due, found_account)] = breaching(MONDAY_DUE + timedelta(minutes=1))
    assert (lead.vendor_lead_id, threshold, due, found_account) == ("LATE", 1, MONDAY_DUE, account)
    [(_, threshold, due, _)] = breaching(MONDAY_DUE + timedelta(days=1, hours=1))  # Tue 17:00: twice the target
    assert (threshold, due) == (2, datetime(2026, 11, 10, 16, 0, tzinfo=CHICAGO))


def test_a_lead_is_judged_by_its_own_dealers_hours_and_a_cleared_stamp_never_breaks_the_report(dealer_a, dealer_b,
                                                                                               monkeypatch):
    account = make_cat_account(dealer_a)  # serves dealer B's code too: its leads may be B's
    london = make_lead(dealer_b, vendor_account=account, vendor_lead_id="UK1",
                       created_at=datetime(2026, 11, 6, 16, 0, tzinfo=zoneinfo.ZoneInfo("Europe/London")))
    deadlines.stamp_deadlines()
    # Fri 16:00 London + 9 business hours (08:00-17:00 there) = Mon 16:00 London.
    assert Lead.objects.get(pk=london.pk).feedback_due_at == datetime(
        2026, 11, 9, 16, 0, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    chicago = make_lead(dealer_a, vendor_account=account, vendor_lead_id="US1", created_at=FRIDAY)
    monkeypatch.setattr(deadlines, "stamp_deadlines", lambda leads=None: 0)  # cleared after the stamping
    [row] = reports.feedback(scope(dealer_a), now=FRIDAY).rows
    assert row["vendor_lead_id"] == "US1" and row["deadline"] == MONDAY_DUE.isoformat()
    assert Lead.objects.get(pk=chicago.pk).feedback_due_at is None


def test_the_escalation_mail_says_the_deadline_on_the_dealers_clock(dealer_a, adam):
    account = make_cat_account(dealer_a)
    make_lead(dealer_a, vendor_account=account, vendor_lead_id="LATE", created_at=FRIDAY)
    assert escalate_feedback_breaches(MONDAY_DUE + timedelta(minutes=5)) == 1
    assert "due 2026-11-09 16:00 (America/Chicago)" in mail.outbox[0].body


def test_the_report_reads_its_scope_for_stamping_only_when_a_lead_lacks_its_stamp(dealer_a, monkeypatch):
    account = make_cat_account(dealer_a)
    make_lead(dealer_a, vendor_account=account, vendor_lead_id="S1", created_at=FRIDAY)
    stamped = []
    real = deadlines.stamp_deadlines
    monkeypatch.setattr(deadlines, "stamp_deadlines", lambda leads=None: stamped.append(real(leads)) or stamped[-1])
    reports.feedback(scope(dealer_a), now=FRIDAY)
    reports.feedback(scope(dealer_a), now=FRIDAY)  # every lead stamped now: not asked again
    assert stamped == [1]
    make_lead(dealer_a, vendor_account=account, vendor_lead_id="S2", created_at=FRIDAY)
    reports.feedback(scope(dealer_a), now=FRIDAY)
    assert stamped == [1, 1]
