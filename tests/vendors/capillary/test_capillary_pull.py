"""Pulling from a sandbox Capillary over HTTP: leads, follow-ups, status logs,
the organisation's lists, a list that changes while it is read, faults, resume."""
import json

import pytest

from apps.leads.models import FollowUp, Lead, LeadEvent, Source, StatusLog
from apps.sync.engine import pull
from apps.sync.models import AccountSyncState, InboxPage, PageState
from apps.vendors.capillary.models import CapillaryLink, CapillaryReason, CapillarySubStatus

pytestmark = pytest.mark.django_db(transaction=True)


def _limit(monkeypatch, n):
    monkeypatch.setattr("apps.vendors.capillary.feed.PAGE_LIMIT", n)


def test_it_imports_leads_with_their_followups_and_status_logs_once(account, mapped, sandbox):
    made = [sandbox.add_lead(lead_for=f"sku_{i}", followups=2) for i in range(3)]
    summary = pull(account)
    assert (summary.created, summary.errors) == (3, [])
    lead = Lead.objects.get(vendor_account=account, vendor_lead_id=str(made[0]["id"]))
    assert lead.raw_payload == made[0] and lead.product_interest == "sku_0"
    assert FollowUp.objects.filter(lead=lead, done_at__isnull=False).count() == 2
    assert CapillaryLink.objects.filter(lead=lead, kind="status_log").count() == 1
    again = pull(account)
    assert (again.created, again.updated) == (0, 0)
    assert Lead.objects.count() == 3 and FollowUp.objects.count() == 6
    assert CapillaryLink.objects.filter(kind="followup").count() == 6


def test_capillarys_next_follow_up_is_scheduled_on_the_lead(account, mapped, sandbox):
    made = sandbox.add_lead(lead_for="sku_1", next_follow_up="2030-10-05T08:00:00+05:30")
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    [followup] = FollowUp.objects.filter(lead=lead, done_at__isnull=True)
    assert followup.scheduled_at.isoformat() == "2030-10-05T02:30:00+00:00"
    assert lead.next_follow_up_at == followup.scheduled_at


def test_a_next_follow_up_leadhub_reported_and_completed_is_not_brought_back(account, mapped, sandbox, alice):
    from datetime import datetime
    from datetime import timezone as dt_timezone

    from apps.leads.services import followup_complete, followup_schedule
    from apps.sync.engine import push

    made = sandbox.add_lead(lead_for="sku_1")
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    at = datetime(2030, 10, 5, 2, 30, tzinfo=dt_timezone.utc)
    first = followup_schedule(lead=lead, scheduled_at=datetime(2030, 10, 1, tzinfo=dt_timezone.utc), actor=alice).followup
    nxt = followup_complete(followup=first, actor=alice, outcome_notes="Called", next_at=at).next
    followup_complete(followup=nxt, actor=alice, outcome_notes="Called again")
    push(account)
    sandbox.update_lead(made["id"], next_follow_up="2030-10-05T08:00:00+05:30")  # Capillary kept our date
    pull(account)
    assert not FollowUp.objects.filter(lead=lead, done_at__isnull=True).exists()


def test_it_pulls_leads_of_every_type(account, mapped, sandbox):
    """The search asks type=ALL, as the document's sample does; the table lists SKU,
    CATEGORY, BRAND and CUSTOM and does not say what a search without a type returns."""
    made = [sandbox.add_lead(lead_for=f"item_{kind}", type=kind) for kind in ("SKU", "BRAND", "CATEGORY", "CUSTOM")]
    assert pull(account).created == 4
    assert {lead.vendor_lead_id for lead in Lead.objects.all()} == {str(m["id"]) for m in made}


def test_it_refreshes_the_organisations_reasons_and_substatuses_on_pull(account, sandbox):
    pull(account)
    assert set(CapillaryReason.objects.filter(account=account).values_list("reason_id", flat=True)) == {1, 2, 3, 4}
    assert ("ON_HOLD", "YetToDecide") in set(CapillarySubStatus.objects.values_list("status", "sub_status"))


def test_it_records_a_status_changed_in_capillary_on_the_timeline(account, mapped, sandbox):
    made = sandbox.add_lead(lead_for="sku_1")
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    assert lead.status == "new"
    sandbox.update_lead(made["id"], status="WON", reason_id=3)
    summary = pull(account)
    lead.refresh_from_db()
    assert summary.updated == 1 and lead.status == "closed_won"
    log = StatusLog.objects.get(lead=lead, to_status="closed_won")
    assert log.source == Source.SYNC and log.actor_label == account.name and log.reason == mapped["reasons"]["closed_won"]
    assert not lead.outbox.exists()  # Capillary's own change is not sent back to it


def test_the_dealers_newer_change_stands_against_capillary(account, mapped, sandbox, alice):
    from apps.leads.services import lead_change_status

    made = sandbox.add_lead(lead_for="sku_1")
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    assert lead_change_status(lead=lead, to_status="accepted", actor=alice).ok  # queued, not yet pushed
    sandbox.update_lead(made["id"], status="LOST", reason_id=2)
    pull(account)
    lead.refresh_from_db()
    assert lead.status == "accepted" and lead.needs_review and "stands" in lead.review_note
    assert LeadEvent.objects.filter(lead=lead, summary__contains="Capillary status log: LOST").exists()


def test_it_loses_no_lead_when_the_list_changes_between_pages(account, mapped, sandbox, monkeypatch):
    _limit(monkeypatch, 5)
    made = [sandbox.add_lead(lead_for=f"sku_{i}") for i in range(23)]
    moved = iter([made[i]["id"] for i in range(4)])

    def update_an_early_lead(server):
        # After each of the first searches, two leads already read move to the end:
        # every lead behind them shifts two places forward (more than the overlap).
        for lead_id in (next(moved, None), next(moved, None)):
            if lead_id is not None:
                server.update_lead(lead_id, extended={"touched": "yes"})

    sandbox.on_search = update_an_early_lead
    summary = pull(account)
    assert summary.errors == [] and summary.created == 23
    assert Lead.objects.filter(vendor_account=account).count() == 23


def test_it_resumes_from_the_stored_position_and_skips_no_update(account, mapped, sandbox, monkeypatch):
    _limit(monkeypatch, 5)
    made = [sandbox.add_lead(lead_for=f"sku_{i}") for i in range(12)]
    pull(account)
    cursor = AccountSyncState.objects.get(account=account).cursor
    assert cursor["offset"] == 12 and cursor["ids"] == [str(made[-1]["id"])]
    # Updates of leads read before: they move behind the stored position.
    sandbox.update_lead(made[3]["id"], status="LOST", reason_id=2)
    sandbox.update_lead(made[4]["id"], followup_notes="called back")
    requests_before = len(sandbox.requests)
    summary = pull(account)
    assert summary.updated == 2 and summary.created == 0
    assert Lead.objects.get(vendor_lead_id=str(made[3]["id"])).status == "closed_lost"
    assert FollowUp.objects.filter(lead__vendor_lead_id=str(made[4]["id"]), notes="called back").count() == 1
    searches = [r for r in sandbox.requests[requests_before:] if r[1].startswith("/capillary/v2/leads?")]
    assert all("offset=0" not in r[1] for r in searches[:1]), searches  # resumed, not read from the start


@pytest.mark.parametrize("fault", ["500", "503", "429", "reset"])
def test_transient_faults_are_retried_and_lose_nothing(account, mapped, sandbox, fault):
    for i in range(4):
        sandbox.add_lead(lead_for=f"sku_{i}")
    sandbox.inject(fault, path="search", times=2, retry_after=0)
    summary = pull(account)
    assert summary.created == 4 and summary.errors == []


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
def test_an_unreadable_page_stops_the_pull_and_the_next_run_resumes_there(account, mapped, sandbox, fault,
                                                                          monkeypatch):
    _limit(monkeypatch, 3)
    for i in range(7):
        sandbox.add_lead(lead_for=f"sku_{i}")
    pull(account)
    for i in range(4):
        sandbox.add_lead(lead_for=f"new_{i}")
    sandbox.inject(fault, path="search")
    first = pull(account)
    assert any("unreadable page" in e for e in first.errors)
    assert InboxPage.objects.filter(account=account, state=PageState.FAILED).count() == 1
    second = pull(account)
    assert second.errors == []
    assert Lead.objects.filter(vendor_account=account).count() == 11
    assert Lead.objects.values("vendor_lead_id").distinct().count() == 11


def test_a_timeout_is_retried(account, mapped, sandbox, settings):
    settings.LEADHUB_HTTP_READ_TIMEOUT = 0.3
    sandbox.add_lead(lead_for="sku_1")
    sandbox.inject("timeout", path="search", seconds=1)
    summary = pull(account)
    assert summary.created == 1 and summary.errors == []


def test_a_crash_after_storing_a_page_repeats_nothing(account, mapped, sandbox, monkeypatch):
    for i in range(3):
        sandbox.add_lead(lead_for=f"sku_{i}", followups=1)
    from apps.vendors.capillary import adapter as adapter_module

    real = adapter_module.CapillaryAdapter.apply_page

    def die(self, page, *, kind):
        raise KeyboardInterrupt("worker killed")

    monkeypatch.setattr(adapter_module.CapillaryAdapter, "apply_page", die)
    with pytest.raises(KeyboardInterrupt):
        pull(account)
    assert InboxPage.objects.filter(state=PageState.PENDING).count() == 1 and Lead.objects.count() == 0
    monkeypatch.setattr(adapter_module.CapillaryAdapter, "apply_page", real)
    summary = pull(account)
    assert summary.created == 3 and Lead.objects.count() == 3 and FollowUp.objects.count() == 3


def test_the_sync_command_prints_the_json_summary(account, mapped, sandbox, capsys):
    from django.core.management import call_command

    sandbox.add_lead(lead_for="sku_1")
    call_command("sync", account.name, "--pull")
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["account"] == account.name and out["created"] == 1


def test_an_unmapped_capillary_status_is_flagged_not_guessed(account, mapped, sandbox):
    from apps.leads.models import StatusMapping

    made = sandbox.add_lead(lead_for="sku_1")
    pull(account)
    StatusMapping.objects.filter(vendor="capillary", vendor_value="WON").delete()
    sandbox.update_lead(made["id"], status="WON", reason_id=3)
    summary = pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    assert lead.status == "new" and lead.needs_review and "'WON' is not mapped" in lead.review_note
    assert any("'WON' is not mapped" in e for e in summary.notes) and not summary.failed_run()
