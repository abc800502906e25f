"""Pulling Cat leads from the sandbox over real HTTP, with injected faults.

After every fault: every lead the sandbox delivered is in LeadHub exactly once.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
from django.core import mail
from django.utils import timezone

from apps.leads.models import EventKind, Lead, LeadEvent
from apps.sync import engine
from apps.sync.locks import account_lock
from apps.sync.models import InboxPage, PageState, SyncRun


def leads_once(sandbox, account):
    """Every lead the sandbox delivered (or holds) is in LeadHub exactly once."""
    ids = list(Lead.objects.filter(vendor_account=account).values_list("vendor_lead_id", flat=True))
    assert max(Counter(ids).values(), default=1) == 1, "a lead was duplicated"
    return set(ids)


def test_it_pulls_pages_until_cat_says_empty(sandbox, cat_account):
    delivered = sandbox.generate_leads(250, dealer_code="A100")
    summary = engine.pull(cat_account)
    assert (summary.fetched, summary.created, summary.errors) == (250, 250, [])
    assert leads_once(sandbox, cat_account) == {lead["leadId"] for lead in delivered}
    gets = [path for method, path, status in sandbox.requests if method == "GET"]
    assert len(gets) == 4 and all("limit=100" in path for path in gets)  # 100, 100, 50, then []
    assert sandbox.pending_count() == 0
    assert InboxPage.objects.filter(account=cat_account, state=PageState.PROCESSED).count() == 3


def test_a_run_stops_at_its_page_limit_and_the_next_run_continues(sandbox, cat_account, monkeypatch):
    """The guard against a vendor that never says "empty": no page beyond the
    limit is even requested (Cat's read is destructive), the run says why it
    stopped, nothing counts as possibly lost (no reconciliation), and the next
    run takes the rest."""
    from apps.sync.models import SyncRun

    monkeypatch.setattr(engine, "MAX_PAGES_PER_RUN", 2)
    delivered = sandbox.generate_leads(250, dealer_code="A100")
    summary = engine.pull(cat_account)
    assert (summary.fetched, summary.created) == (200, 200)
    assert summary.errors == ["stopped after 2 pages; the next run continues"]
    assert len([path for method, path, status in sandbox.requests if method == "GET"]) == 2
    assert sandbox.pending_count() == 50
    assert not SyncRun.objects.filter(account=cat_account, kind="historic").exists()
    assert engine.pull(cat_account).created == 50
    assert leads_once(sandbox, cat_account) == {lead["leadId"] for lead in delivered}


def test_it_stops_on_204_no_content(cat_account, dealer_a, fast_retries):
    from sandboxes.cat import CatSandbox

    with CatSandbox(client_id="lh-client", client_secret="lh-secret", empty_response="204") as server:
        cat_account.base_url, cat_account.token_url = server.base_url, server.token_url
        cat_account.save()
        server.generate_leads(30, dealer_code="A100")
        assert engine.pull(cat_account).created == 30
        assert [s for m, p, s in server.requests if m == "GET"] == [200, 204], server.requests


def test_it_keeps_every_field_and_maps_the_main_ones(sandbox, cat_account):
    [sent] = sandbox.generate_leads(1, dealer_code="A100")
    engine.pull(cat_account)
    lead = Lead.objects.get(vendor_lead_id=sent["leadId"])
    assert lead.raw_payload == sent  # losslessly, every field
    assert (lead.first_name, lead.last_name, lead.company) == (sent["firstName"], sent["lastName"], sent["company"])
    assert lead.email == sent["emailAddress"].strip()
    assert lead.dealer.code == "A100" and lead.origin == "vendor" and lead.status == "new"
    assert lead.vendor_created_at is not None


def test_updated_leads_change_vendor_fields_never_the_dealers_work(sandbox, cat_account, alice):
    [sent] = sandbox.generate_leads(1, dealer_code="A100")
    engine.pull(cat_account)
    lead = Lead.objects.get(vendor_lead_id=sent["leadId"])
    lead.first_name, lead.owner = "Corrected", alice
    lead.save()
    sandbox.update_lead(sent["leadId"], catPrequalificationStatus=not sent.get("catPrequalificationStatus"))
    summary = engine.pull(cat_account)
    assert (summary.created, summary.updated) == (0, 1)
    lead.refresh_from_db()
    assert lead.raw_payload["catPrequalificationStatus"] == (not sent.get("catPrequalificationStatus"))
    assert (lead.first_name, lead.owner) == ("Corrected", alice)
    event = LeadEvent.objects.get(lead=lead, kind=EventKind.VENDOR_UPDATE)
    assert "catPrequalificationStatus" in event.summary
    assert not lead.needs_review


def test_it_flags_what_is_unexpected_and_keeps_it(sandbox, cat_account):
    sandbox.add_leads([
        {"leadId": "ODD-1", "leadState": "ARCHIVED", "firstName": "Odd", "catDealerCode": "A100"},
        {"leadId": "ODD-2", "leadState": "NEW", "catDealerCode": "Z999", "countryCode": "XX"},
        {"leadId": "ODD-3", "leadState": "SENT", "catDealerCode": "A100"},  # "Only for historic end point"
    ])
    engine.pull(cat_account)
    odd1, odd2 = Lead.objects.get(vendor_lead_id="ODD-1"), Lead.objects.get(vendor_lead_id="ODD-2")
    odd3 = Lead.objects.get(vendor_lead_id="ODD-3")
    assert odd3.needs_review and "only for the historic endpoint" in odd3.review_note
    assert odd1.needs_review and "ARCHIVED" in odd1.review_note
    assert odd2.needs_review and "Z999" in odd2.review_note and "XX" in odd2.review_note
    assert odd2.dealer == cat_account.dealer and odd2.raw_payload["countryCode"] == "XX"


def test_it_refreshes_an_expired_token_once_mid_run(sandbox, cat_account):
    sandbox.generate_leads(150, dealer_code="A100")
    sandbox.inject("expire_token", path="leads")
    summary = engine.pull(cat_account)
    assert summary.created == 150 and summary.errors == []
    tokens = [p for m, p, s in sandbox.requests if p.endswith("/as/token.oauth2")]
    assert len(tokens) == 2  # the first, and one after the 401


def test_it_caches_the_token_between_runs(sandbox, cat_account):
    sandbox.generate_leads(5, dealer_code="A100")
    engine.pull(cat_account)
    engine.pull(cat_account)
    assert len([p for m, p, s in sandbox.requests if p.endswith("/as/token.oauth2")]) == 1


def test_wrong_credentials_fail_clearly_without_retrying(sandbox, cat_account):
    cat_account.set_settings({"client_secret": "wrong"})
    cat_account.save()
    summary = engine.pull(cat_account)
    assert summary.errors and "client id, secret and scope" in summary.errors[0]
    assert len(sandbox.requests) == 1


@pytest.mark.parametrize("fault,params", [("500", {}), ("503", {}), ("502", {}), ("429", {"retry_after": 0}),
                                          ("timeout", {"seconds": 1.5, "deliver": False}),
                                          ("reset", {"deliver": False})])
def test_transient_faults_are_retried_within_the_run(sandbox, cat_account, fault, params):
    delivered = sandbox.generate_leads(120, dealer_code="A100")
    sandbox.inject(fault, times=3, path="leads", **params)
    summary = engine.pull(cat_account)
    assert summary.created == 120, summary.errors
    assert leads_once(sandbox, cat_account) == {lead["leadId"] for lead in delivered}


def test_retry_after_is_honoured(sandbox, cat_account, settings):
    import time

    settings.LEADHUB_RETRY_MAX_SECONDS = 2
    sandbox.generate_leads(3, dealer_code="A100")
    sandbox.inject("429", path="leads", retry_after=1)
    started = time.monotonic()
    assert engine.pull(cat_account).created == 3
    assert time.monotonic() - started >= 1.0


def test_after_five_failures_the_run_fails_and_alerts_then_recovers(sandbox, cat_account):
    delivered = sandbox.generate_leads(40, dealer_code="A100")
    sandbox.inject("500", times=5, path="leads")
    summary = engine.pull(cat_account)
    assert summary.created == 0 and "500" in summary.errors[0]
    assert len([1 for m, p, s in sandbox.requests if m == "GET" and s == 500]) == 5  # "at least 5 times"
    assert SyncRun.objects.filter(account=cat_account, kind="pull").latest("started_at").state == "failed"
    [alert] = mail.outbox
    assert alert.to == ["crm@acme.test"] and "500" in alert.body and "lh-secret" not in alert.body
    engine.pull(cat_account)
    assert len(mail.outbox) == 1  # one alert per failure streak
    assert leads_once(sandbox, cat_account) == {lead["leadId"] for lead in delivered}
    assert cat_account.sync_state.consecutive_failures == 0


@pytest.mark.parametrize("fault,params", [("timeout", {"seconds": 1.5}), ("reset", {"deliver": True}),
                                          ("malformed", {}), ("truncated", {}),
                                          ("truncated", {"mid_body_reset": True})])
def test_a_lost_page_is_recovered_from_the_historic_endpoint(sandbox, cat_account, fault, params):
    delivered = sandbox.generate_leads(180, dealer_code="A100")
    sandbox.inject(fault, path="leads", **params)  # Cat counts these 100 leads as delivered
    summary = engine.pull(cat_account)
    assert leads_once(sandbox, cat_account) == {lead["leadId"] for lead in delivered}
    assert summary.created == 180
    recovered = LeadEvent.objects.filter(kind=EventKind.RECEIVED, summary__contains="historic").count()
    assert recovered == 100
    if fault in ("malformed", "truncated") and not params:
        page = InboxPage.objects.get(account=cat_account, state=PageState.FAILED)
        assert bytes(page.body)  # the unreadable answer is kept as received


@pytest.mark.parametrize("fault, params", [("400", {"message": "limit must be between 1 and 100"}), ("403", {})])
def test_any_answer_but_200_or_204_is_retried_five_times(sandbox, cat_account, fault, params):
    """The document's Dealer error handling: "Any response code received other than
    200 OK or 204 No Content, - Retry mechanism should make API call at least 5
    times before failing" (a limit error included)."""
    delivered = sandbox.generate_leads(5, dealer_code="A100")
    sandbox.inject(fault, times=4, path="leads", **params)
    summary = engine.pull(cat_account)
    assert summary.errors == [] and summary.created == 5
    assert leads_once(sandbox, cat_account) == {lead["leadId"] for lead in delivered}
    assert len([1 for m, p, s in sandbox.requests if m == "GET"]) == 4 + 2  # 4 refused, the page, the empty end


def test_a_limit_error_fails_the_run_after_five_calls_and_alerts(sandbox, cat_account):
    sandbox.generate_leads(5, dealer_code="A100")
    sandbox.inject("400", times=5, path="leads", message="limit must be between 1 and 100")
    summary = engine.pull(cat_account)
    assert "limit must be between 1 and 100" in summary.errors[0]
    assert len([1 for m, p, s in sandbox.requests if m == "GET"]) == 5
    assert Lead.objects.count() == 0
    [alert] = mail.outbox
    assert "limit must be between 1 and 100" in alert.body
    engine.pull(cat_account)  # the leads were never delivered: the next run takes them
    assert Lead.objects.count() == 5


def test_a_worker_killed_after_a_page_was_received_loses_nothing(sandbox, cat_account, monkeypatch):
    delivered = sandbox.generate_leads(230, dealer_code="A100")
    original = engine._process_page
    calls = {"n": 0}

    def die_on_second_page(page, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")  # the page is stored; processing never happens
        return original(page, *args, **kwargs)

    monkeypatch.setattr(engine, "_process_page", die_on_second_page)
    with pytest.raises(SystemExit):
        engine.pull(cat_account)
    assert InboxPage.objects.filter(state=PageState.PENDING).count() == 1
    assert Lead.objects.count() == 100
    monkeypatch.setattr(engine, "_process_page", original)
    engine.pull(cat_account)  # the next run finishes the stored page first
    assert leads_once(sandbox, cat_account) == {lead["leadId"] for lead in delivered}
    assert not InboxPage.objects.filter(state=PageState.PENDING).exists()


def test_processing_a_page_twice_creates_nothing_twice(sandbox, cat_account):
    sandbox.generate_leads(50, dealer_code="A100")
    engine.pull(cat_account)
    page = InboxPage.objects.get(account=cat_account)
    InboxPage.objects.filter(pk=page.pk).update(state=PageState.PENDING)  # as if the mark was lost
    engine.pull(cat_account)
    assert Lead.objects.count() == 50


def test_one_pull_per_account_at_a_time(sandbox, cat_account):
    sandbox.generate_leads(10, dealer_code="A100")
    with account_lock(cat_account.pk, "pull", holder="other-worker") as held:
        assert held.held
        summary = engine.pull(cat_account)
        assert "another pull" in summary.errors[0] and summary.fetched == 0
    assert engine.pull(cat_account).created == 10


def test_an_expired_lease_of_a_dead_worker_is_taken_over(sandbox, cat_account):
    from apps.sync.models import AccountLock

    AccountLock.objects.create(account=cat_account, name="pull", holder="dead-worker",
                               expires_at=timezone.now() - timezone.timedelta(seconds=1))
    sandbox.generate_leads(3, dealer_code="A100")
    assert engine.pull(cat_account).created == 3


def test_historic_reconciliation_imports_only_what_is_missing(sandbox, cat_account, alice):
    delivered = sandbox.generate_leads(30, dealer_code="A100")
    engine.pull(cat_account)
    kept = Lead.objects.get(vendor_lead_id=delivered[0]["leadId"])
    kept.first_name = "Dealer's own edit"
    kept.save()
    Lead.objects.filter(vendor_lead_id__in=[lead["leadId"] for lead in delivered[10:20]]).delete()
    today = timezone.localdate()
    summary = engine.reconcile(cat_account, today - timezone.timedelta(days=1), today)
    assert summary.created == 10
    assert leads_once(sandbox, cat_account) == {lead["leadId"] for lead in delivered}
    assert Lead.objects.get(pk=kept.pk).first_name == "Dealer's own edit"


def test_the_sync_command_prints_a_json_summary_and_fails_visibly(sandbox, cat_account, capsys):
    from django.core.management import call_command

    sandbox.generate_leads(12, dealer_code="A100")
    call_command("sync", "a100-cat", "--pull")
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last == {"account": "a100-cat", "fetched": 12, "created": 12, "updated": 0, "pushed": 0, "failed": 0,
                    "errors": [], "notes": []}
    sandbox.inject("500", times=5, path="leads")
    with pytest.raises(SystemExit) as exited:
        call_command("sync", "a100-cat", "--pull")
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["errors"]
    today = timezone.localdate().isoformat()
    call_command("sync", "a100-cat", "--since", today, "--until", today)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["created"] == 0
