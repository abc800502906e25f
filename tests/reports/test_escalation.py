"""Escalating leads that breach their vendor's feedback target (apps/reports/escalation.py)."""
from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.core import mail
from django_q.models import Schedule

from apps.leads.digest import send_followup_digests
from apps.leads.models import Lead
from apps.reports import escalation
from apps.reports.escalation import escalate_feedback_breaches, ensure_schedule
from apps.reports.models import FeedbackEscalation
from tests.conftest import make_cat_account, make_lead

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
FRIDAY = datetime(2026, 11, 6, 16, 0, tzinfo=CHICAGO)  # Cat: 9 business hours -> due Monday 16:00


def test_admins_are_mailed_once_per_lead_and_threshold(dealer_a, adam, alice):
    account = make_cat_account(dealer_a)
    late = make_lead(dealer_a, vendor_account=account, vendor_lead_id="LATE", created_at=FRIDAY)
    reported = make_lead(dealer_a, vendor_account=account, vendor_lead_id="DONE", created_at=FRIDAY)
    Lead.objects.filter(pk=reported.pk).update(first_reported_at=FRIDAY + timedelta(hours=1))
    make_lead(dealer_a, created_at=FRIDAY)  # no vendor: no target
    assert escalate_feedback_breaches(FRIDAY + timedelta(days=3, minutes=-1)) == 0  # Mon 15:59: not yet
    assert escalate_feedback_breaches(FRIDAY + timedelta(days=3, minutes=30)) == 1
    [message] = mail.outbox
    assert message.to == ["adam@example.com"]  # the dealer's admins, not its staff
    assert "LATE" in message.body and "DONE" not in message.body and f"/admin/leads/lead/{late.pk}/work/" in message.body
    assert escalate_feedback_breaches(FRIDAY + timedelta(days=3, hours=2)) == 0  # once per threshold
    assert len(mail.outbox) == 1
    assert escalate_feedback_breaches(FRIDAY + timedelta(days=4, hours=1)) == 1  # Tue 17:00: twice the target
    assert "past 2 times its feedback target" in mail.outbox[1].body
    assert list(FeedbackEscalation.objects.values_list("threshold", flat=True).order_by("threshold")) == [1, 2]


def test_the_daily_digest_carries_the_count_for_dealer_admins(dealer_a, adam, alice):
    account = make_cat_account(dealer_a)
    make_lead(dealer_a, vendor_account=account, vendor_lead_id="LATE", created_at=FRIDAY)
    assert send_followup_digests(FRIDAY + timedelta(days=4)) == 1  # adam only: alice has nothing due
    [message] = mail.outbox
    assert message.to == ["adam@example.com"] and message.subject == "[LeadHub] Daily digest"
    assert "Feedback: 1 lead(s) breach their vendor's feedback target now." in message.body


def test_the_schedule_is_created_once(db):
    ensure_schedule()
    ensure_schedule()
    assert Schedule.objects.filter(func="apps.reports.escalation.escalate_feedback_breaches").count() == 1


def test_a_mail_that_cannot_go_is_tried_again_next_run(dealer_a, adam, monkeypatch):
    account = make_cat_account(dealer_a)
    make_lead(dealer_a, vendor_account=account, vendor_lead_id="LATE", created_at=FRIDAY)

    def down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(escalation, "send_mail", down)
    assert escalate_feedback_breaches(FRIDAY + timedelta(days=3, hours=1)) == 0
    assert not FeedbackEscalation.objects.exists()  # rolled back with the mail
    monkeypatch.undo()
    assert escalate_feedback_breaches(FRIDAY + timedelta(days=3, hours=2)) == 1 and len(mail.outbox) == 1
