"""Retention: old raw pages and sent payloads are pruned, never the only copy of a lead."""
import json
from datetime import timedelta

from django.utils import timezone

from apps.leads import services
from apps.leads.models import EventKind, Lead, LeadEvent
from apps.sync import engine, tasks
from apps.sync.models import InboxPage, OutboxItem, PageState
from apps.sync.retention import prune

DAYS = 30


def age_everything(days=DAYS + 1):
    then = timezone.now() - timedelta(days=days)
    InboxPage.objects.update(received_at=then)
    OutboxItem.objects.exclude(sent_at=None).update(sent_at=then)
    LeadEvent.objects.update(created_at=then)


def page(account, items, state=PageState.PROCESSED, days=DAYS + 1):
    return InboxPage.objects.create(account=account, kind="pull", request="GET /leads", status_code=200,
                                    body=json.dumps(items).encode(), state=state,
                                    received_at=timezone.now() - timedelta(days=days))


def test_it_prunes_old_processed_pages_whose_leads_are_all_stored(sandbox, cat_account):
    sandbox.generate_leads(150, dealer_code="A100")
    engine.pull(cat_account)
    assert InboxPage.objects.count() == 2  # 100 + 50 (the empty answer is not stored)
    recent = page(cat_account, [], days=1)
    age_everything()
    InboxPage.objects.filter(pk=recent.pk).update(received_at=timezone.now())
    result = prune(days=DAYS)
    assert result.pages_deleted == 2 and list(InboxPage.objects.all()) == [recent]
    assert Lead.objects.filter(vendor_account=cat_account).count() == 150  # leads untouched


def test_it_never_prunes_a_page_holding_a_lead_the_lead_table_lacks(cat_account, dealer_a):
    Lead.objects.create(dealer=dealer_a, vendor_account=cat_account, vendor_lead_id="HAVE-1", first_name="A")
    only_copy = page(cat_account, [{"leadId": "HAVE-1"}, {"leadId": "MISSING-2"}])
    no_id = page(cat_account, [{"leadId": "HAVE-1"}, {"firstName": "no id"}])
    pending = page(cat_account, [{"leadId": "HAVE-1"}], state=PageState.PENDING)
    unreadable = InboxPage.objects.create(account=cat_account, kind="pull", request="GET /leads", status_code=200,
                                          body=b"<html>oops", state=PageState.FAILED,
                                          received_at=timezone.now() - timedelta(days=400))
    processed_but_unreadable_now = InboxPage.objects.create(
        account=cat_account, kind="pull", request="GET", status_code=200, body=b"{truncated",
        state=PageState.PROCESSED, received_at=timezone.now() - timedelta(days=400))
    done = page(cat_account, [{"leadId": "HAVE-1"}])
    result = prune(days=DAYS)
    assert set(InboxPage.objects.values_list("pk", flat=True)) == {
        only_copy.pk, no_id.pk, pending.pk, unreadable.pk, processed_but_unreadable_now.pk}
    assert (result.pages_deleted, result.pages_kept) == (1, 3) and not InboxPage.objects.filter(pk=done.pk).exists()


def test_the_same_lead_id_at_another_account_does_not_count(cat_account, dealer_a, dealer_b):
    from tests.conftest import make_cat_account

    other = make_cat_account(dealer_b)
    Lead.objects.create(dealer=dealer_b, vendor_account=other, vendor_lead_id="SAME-1", first_name="B")
    kept = page(cat_account, [{"leadId": "SAME-1"}])
    prune(days=DAYS)
    assert InboxPage.objects.filter(pk=kept.pk).exists()


def test_it_clears_old_sent_payloads_but_keeps_the_rows_and_unsent_ones(sandbox, cat_account, cat_mapped, alice):
    sandbox.generate_leads(3, dealer_code="A100")
    engine.pull(cat_account)
    leads = list(Lead.objects.order_by("id"))
    for lead in leads[:2]:
        assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice,
                                           updates={"customer_contacted": True}).ok
    engine.push(cat_account)
    age_everything()
    assert services.lead_change_status(lead=leads[2], to_status="accepted", actor=alice,
                                       updates={"customer_contacted": True}).ok
    waiting = OutboxItem.objects.get(lead=leads[2])
    result = prune(days=DAYS)
    assert (result.payloads_cleared, result.events_cleared) == (2, 2)
    assert [item.payload for item in OutboxItem.objects.filter(state="sent")] == [{}, {}]
    waiting.refresh_from_db()
    assert waiting.payload  # not sent yet: kept whole
    sent_events = LeadEvent.objects.filter(kind=EventKind.PUSH_SENT)
    assert sent_events.count() == 2 and all("payload" not in e.details and "outbox" in e.details for e in sent_events)
    assert prune(days=DAYS).as_dict() == {"pages_deleted": 0, "pages_kept": 0, "payloads_cleared": 0,
                                          "events_cleared": 0}


def test_zero_days_keeps_everything(cat_account):
    page(cat_account, [], days=1000)
    assert prune(days=0).pages_deleted == 0 and InboxPage.objects.count() == 1


def test_the_daily_job_is_scheduled_and_uses_the_setting(cat_account, settings):
    from django_q.models import Schedule

    tasks.ensure_schedule()
    tasks.ensure_schedule()  # idempotent
    schedule = Schedule.objects.get(name=tasks.RETENTION_SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "apps.sync.tasks.prune_retention", Schedule.DAILY, -1)
    settings.LEADHUB_RETENTION_DAYS = 10
    page(cat_account, [], days=11)
    page(cat_account, [], days=9)
    assert tasks.prune_retention()["pages_deleted"] == 1 and InboxPage.objects.count() == 1
