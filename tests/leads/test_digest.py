"""The daily follow-up digest e-mail."""
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.accounts.models import Membership
from apps.leads import services
from apps.leads.digest import SCHEDULE_NAME, send_followup_digests
from tests.conftest import make_lead


def test_each_person_gets_their_overdue_and_due_today_follow_ups(alice, adam, bob, dealer_a, dealer_b):
    now = timezone.now().replace(hour=12, minute=0)
    lead = make_lead(dealer_a, first_name="Dora", last_name="Due", owner=alice)
    services.followup_schedule(lead=lead, scheduled_at=now - timedelta(days=1), assigned_to=alice, notes="late")
    services.followup_schedule(lead=lead, scheduled_at=now + timedelta(hours=3), assigned_to=alice, notes="later")
    services.followup_schedule(lead=lead, scheduled_at=now + timedelta(days=3), assigned_to=alice, notes="not yet")
    done = services.followup_schedule(lead=lead, scheduled_at=now - timedelta(hours=2), assigned_to=adam).followup
    services.followup_complete(followup=done, actor=adam)
    assert send_followup_digests(now) == 1  # adam's only follow-up is done; bob has none
    [message] = mail.outbox
    assert message.to == ["alice@example.com"] and message.subject == "[LeadHub] 1 overdue, 1 due today"
    assert "late" in message.body and "later" in message.body and "not yet" not in message.body
    assert f"/admin/leads/lead/{lead.pk}/change/" in message.body


def test_nobody_gets_follow_ups_of_a_dealer_they_left(alice, dealer_a):
    now = timezone.now()
    lead = make_lead(dealer_a)
    services.followup_schedule(lead=lead, scheduled_at=now - timedelta(hours=1), assigned_to=alice)
    Membership.objects.filter(user=alice).delete()
    assert send_followup_digests(now) == 0 and mail.outbox == []


def test_the_daily_schedule_exists_after_migrating(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert schedule.schedule_type == Schedule.DAILY and schedule.func == "apps.leads.digest.send_followup_digests"


def test_the_sync_tick_is_scheduled_every_minute(db):
    from django_q.models import Schedule

    tick = Schedule.objects.get(name="leadhub-sync-tick")
    assert (tick.func, tick.schedule_type, tick.minutes) == ("apps.sync.tasks.tick", Schedule.MINUTES, 1)


@pytest.fixture
def sandbox_free_account(dealer_a):
    from tests.conftest import make_cat_account

    return make_cat_account(dealer_a)


def test_the_tick_queues_what_is_due(sandbox_free_account):
    from django_q.models import OrmQ

    from apps.sync.tasks import tick

    queued = tick()
    assert queued == [f"pull {sandbox_free_account.name}", f"historic {sandbox_free_account.name}"]
    assert OrmQ.objects.count() == 2
    # The tick only queues; the pull task itself records when it started, so the
    # next tick queues it again only after the account's interval.
    from apps.sync.models import AccountSyncState

    AccountSyncState.objects.filter(account=sandbox_free_account).update(
        last_pull_started_at=timezone.now(), last_historic_ok_at=timezone.now())
    assert tick() == []
