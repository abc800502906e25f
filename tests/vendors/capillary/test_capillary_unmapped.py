"""Nothing Capillary sends is dropped (issue 14, section 1): a lead with a status,
sub-status or owner the dealer has not mapped is stored with its raw payload,
visible to its dealer, flagged with what is pending, counted in sync health,
and applied by the mapping job as soon as the mapping exists — without
Capillary changing the lead again. Over a sandbox Capillary on 127.0.0.1."""
import pytest

from apps.leads.models import LeadEvent, Lead, PendingField, PendingVendorValue, StageMapping, StatusLog, StatusMapping
from apps.sync import tasks
from apps.sync.engine import apply_pending, pull
from apps.sync.models import AccountSyncState, OutboxItem
from apps.vendors.capillary.models import CapillaryLink

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def won_unmapped(mapped, dealer_a):
    """Dealer A's mappings without WON: the dealer admin has not mapped it yet."""
    StatusMapping.objects.filter(dealer=dealer_a, vendor="capillary", vendor_value="WON").delete()
    return mapped


def _won_lead(sandbox):
    return sandbox.add_lead(lead_for="sku_won", status="WON", reason_id=3)


def test_it_stores_a_lead_with_an_unmapped_status_and_flags_what_is_pending(account, won_unmapped, sandbox,
                                                                         client, alice, bob):
    made = _won_lead(sandbox)
    summary = pull(account)
    lead = Lead.objects.get(vendor_account=account, vendor_lead_id=str(made["id"]))
    assert lead.raw_payload == made and lead.dealer_id == account.dealer_id and lead.status == "new"
    [pending] = PendingVendorValue.objects.filter(lead=lead)
    assert (pending.account, pending.field, pending.vendor_value) == (account, PendingField.STATUS, "WON")
    assert pending.details["reasonId"] == 3
    assert lead.needs_review and "'WON' is not mapped" in lead.review_note
    assert not summary.failed_run()
    # The position moved past it, and the lead is still there: nothing depends on Capillary sending it again.
    assert AccountSyncState.objects.get(account=account).cursor["ids"] == [str(made["id"])]
    client.force_login(alice)
    page = client.get(f"/admin/leads/lead/{lead.pk}/work/").content.decode()
    assert "Waiting for a mapping" in page and "<code>WON</code>" in page
    form = client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    assert "waiting for a mapping" in form.lower() and "<code>WON</code>" in form
    assert client.get(f"/admin/leads/lead/?waiting_for={account.pk}").context["cl"].result_count == 1
    client.force_login(bob)  # another dealer sees neither the lead nor the account's flagged list
    assert client.get(f"/admin/leads/lead/{lead.pk}/work/").status_code == 404
    assert client.get(f"/admin/leads/lead/?waiting_for={account.pk}").context["cl"].result_count == 0


def test_sync_health_counts_the_leads_waiting_for_a_mapping_and_links_to_them(account, won_unmapped, sandbox,
                                                                            client, adam):
    _won_lead(sandbox)
    sandbox.add_lead(lead_for="sku_lost", status="ON_HOLD", sub_status="Unknown")
    StatusMapping.objects.filter(vendor="capillary", vendor_value="ON_HOLD").delete()
    sandbox.add_lead(lead_for="sku_open")  # mapped: not counted
    pull(account)
    client.force_login(adam)
    response = client.get("/admin/sync/synchealth/")
    [row] = response.context["cl"].result_list
    assert row.n_waiting == 2
    assert f"?waiting_for={account.pk}" in response.content.decode()


def test_the_job_applies_the_status_once_mapped_without_a_new_pull(account, won_unmapped, sandbox, dealer_a):
    made = _won_lead(sandbox)
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    requests_before = len(sandbox.requests)
    StatusMapping.objects.create(dealer=dealer_a, status="closed_won", vendor="capillary", vendor_value="WON")
    result = tasks.apply_pending_values(account.pk)
    lead.refresh_from_db()
    assert lead.status == "closed_won" and lead.probability == 100
    assert not lead.needs_review and lead.review_note == ""
    assert not PendingVendorValue.objects.filter(lead=lead).exists()
    log = StatusLog.objects.get(lead=lead, to_status="closed_won")
    assert log.source == "sync" and log.actor_label == account.name
    assert log.reason == won_unmapped["reasons"]["closed_won"]  # Capillary's reason id 3, mapped
    assert CapillaryLink.objects.get(kind="status_log", capillary_id=str(made["statusLogDetails"][-1]["id"])
                                     ).status_log == log
    assert LeadEvent.objects.filter(lead=lead, summary__contains="applied as Closed won").exists()
    assert result["updated"] == 1 and len(sandbox.requests) == requests_before  # Capillary was not asked
    assert not OutboxItem.objects.filter(lead=lead).exists()  # Capillary's own change is not sent back to it
    # Twice is once: nothing left to apply, no second log.
    tasks.apply_pending_values(account.pk)
    assert StatusLog.objects.filter(lead=lead).count() == 1


def test_saving_the_mapping_queues_the_job_on_commit(account, won_unmapped, sandbox, dealer_a, monkeypatch):
    from django.db import transaction

    _won_lead(sandbox)
    pull(account)
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append((func, args)))
    with transaction.atomic():  # the admin's request
        StatusMapping.objects.create(dealer=dealer_a, status="closed_won", vendor="capillary", vendor_value="WON")
        assert queued == []  # never inside the saving request's transaction
    assert queued == [("apps.sync.tasks.apply_pending_values", (account.pk,))]
    with pytest.raises(RuntimeError), transaction.atomic():  # a save rolled back queues nothing
        StatusMapping.objects.get(dealer=dealer_a, status="closed_won").save()
        raise RuntimeError("rolled back")
    assert len(queued) == 1


def test_nothing_is_queued_when_no_lead_waits(account, mapped, dealer_a, monkeypatch):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append(func))
    StatusMapping.objects.get(dealer=dealer_a, status="closed_won").save()
    assert queued == []


def test_the_next_pull_applies_it_when_the_job_was_lost(account, won_unmapped, sandbox, dealer_a):
    made = _won_lead(sandbox)
    pull(account)
    StatusMapping.objects.create(dealer=dealer_a, status="closed_won", vendor="capillary", vendor_value="WON")
    pull(account)  # Capillary sends nothing new; the pull's end applies what waited
    assert Lead.objects.get(vendor_lead_id=str(made["id"])).status == "closed_won"


def test_the_job_leaves_a_lead_the_dealer_worked_meanwhile(account, won_unmapped, sandbox, dealer_a, alice):
    from apps.leads.services import lead_change_status

    made = _won_lead(sandbox)
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    assert lead_change_status(lead=lead, to_status="accepted", actor=alice).ok
    StatusMapping.objects.create(dealer=dealer_a, status="closed_won", vendor="capillary", vendor_value="WON")
    apply_pending(account)
    lead.refresh_from_db()
    assert lead.status == "accepted" and not PendingVendorValue.objects.filter(lead=lead).exists()
    assert "stands" in lead.review_note and "'WON' is not mapped" not in lead.review_note


def test_a_newer_capillary_status_replaces_the_pending_one(account, won_unmapped, sandbox):
    made = _won_lead(sandbox)
    pull(account)
    sandbox.update_lead(made["id"], status="LOST", reason_id=2)
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    assert lead.status == "closed_lost" and not PendingVendorValue.objects.filter(lead=lead).exists()
    assert "'WON' is not mapped" not in lead.review_note


def test_an_unmapped_sub_status_waits_for_its_stage_mapping(account, mapped, sandbox):
    sandbox.add_substatus("OPEN", "Demo")
    made = sandbox.add_lead(lead_for="sku_demo", status="OPEN", sub_status="Demo")
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    [pending] = PendingVendorValue.objects.filter(lead=lead)
    assert (pending.field, pending.vendor_value) == (PendingField.SUB_STATUS, "Demo") and lead.needs_review
    StageMapping.objects.create(stage=mapped["stages"][0], vendor="capillary", vendor_value="Demo")
    apply_pending(account)
    lead.refresh_from_db()
    assert (lead.status, lead.sales_stage) == ("accepted", mapped["stages"][0]) and not lead.needs_review


def test_an_unknown_owner_is_kept_flagged_and_applied_once_they_join_the_dealer(account, mapped, sandbox,
                                                                              dealer_a):
    from apps.accounts.models import Membership
    from tests.conftest import make_user

    made = sandbox.add_lead(lead_for="sku_owned", owner="carol.store")
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    assert lead.owner is None and lead.raw_payload["owner"] == "carol.store"
    [pending] = PendingVendorValue.objects.filter(lead=lead)
    assert (pending.field, pending.vendor_value) == (PendingField.OWNER, "carol.store")
    assert "not one of A100's people" in lead.review_note
    carol = make_user("Carol.Store")  # a user, not yet of the dealer: still pending
    apply_pending(account)
    assert PendingVendorValue.objects.filter(lead=lead).exists()
    Membership.objects.create(user=carol, dealer=dealer_a)
    apply_pending(account)
    lead.refresh_from_db()
    assert lead.owner == carol and not lead.needs_review
    assert not OutboxItem.objects.filter(lead=lead).exists()  # not sent back to Capillary


def test_a_known_owner_is_taken_from_capillary(account, mapped, sandbox, alice):
    made = sandbox.add_lead(lead_for="sku_owned", owner="ALICE")
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    assert lead.owner == alice and not lead.needs_review
    assert not OutboxItem.objects.filter(lead=lead).exists()


def test_the_job_skips_while_a_pull_holds_the_lock(account, won_unmapped, sandbox, dealer_a):
    from apps.sync.locks import account_lock

    _won_lead(sandbox)
    pull(account)
    StatusMapping.objects.create(dealer=dealer_a, status="closed_won", vendor="capillary", vendor_value="WON")
    with account_lock(account.pk, "pull") as lock:
        assert lock.held
        summary = apply_pending(account)
    assert not summary.failed_run() and PendingVendorValue.objects.count() == 1
    apply_pending(account)
    assert PendingVendorValue.objects.count() == 0
