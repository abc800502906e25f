"""Nothing Cat sends is dropped (issue 14, section 1). Cat's leads carry no status,
reason, stage or owner (GET /leads, "Response JSON - Leads object"); what can be
unknown is catDealerCode. A lead for a code the account does not serve is kept
with the account's own dealer, flagged, counted in sync health, and moved by the
mapping job once the account serves that code. Over a sandbox Cat on 127.0.0.1."""
import pytest

from apps.accounts.models import Dealer
from apps.leads.models import Lead, PendingField, PendingVendorValue
from apps.sync import engine, tasks

pytestmark = pytest.mark.django_db(transaction=True)


def _pull_unknown_code(sandbox, cat_account):
    sandbox.add_leads([{"leadId": "FAR-1", "leadState": "NEW", "firstName": "Far", "catDealerCode": "Z999"},
                       {"leadId": "FAR-2", "leadState": "NEW", "firstName": "Away", "catDealerCode": "Z999"},
                       {"leadId": "HOME-1", "leadState": "NEW", "firstName": "Home", "catDealerCode": "A100"}])
    summary = engine.pull(cat_account)
    assert summary.created == 3 and not summary.failed_run()
    return Lead.objects.get(vendor_lead_id="FAR-1"), Lead.objects.get(vendor_lead_id="FAR-2")


def test_it_keeps_a_lead_for_an_unknown_dealer_code_with_the_accounts_dealer(sandbox, cat_account, client, alice):
    far, _ = _pull_unknown_code(sandbox, cat_account)
    assert far.dealer == cat_account.dealer and far.raw_payload["catDealerCode"] == "Z999"
    [pending] = PendingVendorValue.objects.filter(lead=far)
    assert (pending.account, pending.field, pending.vendor_value) == (cat_account, PendingField.DEALER_CODE, "Z999")
    assert far.needs_review and pending.note in far.review_note.split("; ")
    assert not PendingVendorValue.objects.filter(lead__vendor_lead_id="HOME-1").exists()
    assert not engine.pull(cat_account).failed_run()  # Cat does not send it again: it stays flagged
    assert Lead.objects.get(pk=far.pk).needs_review
    client.force_login(alice)
    assert "<code>Z999</code>" in client.get(f"/admin/leads/lead/{far.pk}/work/").content.decode()


def test_sync_health_counts_them(sandbox, cat_account, client, adam):
    _pull_unknown_code(sandbox, cat_account)
    client.force_login(adam)
    [row] = client.get("/admin/sync/synchealth/").context["cl"].result_list
    assert row.n_waiting == 2
    listed = client.get(f"/admin/leads/lead/?waiting_for={cat_account.pk}").context["cl"].result_list
    assert {lead.vendor_lead_id for lead in listed} == {"FAR-1", "FAR-2"}


def test_the_job_moves_an_unworked_lead_once_the_account_serves_the_code(sandbox, cat_account, alice, monkeypatch):
    from apps.leads.services import lead_assign_owner

    far, worked = _pull_unknown_code(sandbox, cat_account)
    assert lead_assign_owner(lead=worked, owner=alice, actor=alice).ok
    z999 = Dealer.objects.create(code="Z999", name="Zed Machinery")
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append((func, args)))
    cat_account.options = {**cat_account.options, "dealer_codes": "Z999"}
    cat_account.save()  # the dealer admin's save queues the job on commit
    assert queued == [("apps.sync.tasks.apply_pending_values", (cat_account.pk,))]
    tasks.apply_pending_values(cat_account.pk)
    far.refresh_from_db()
    worked.refresh_from_db()
    assert far.dealer == z999 and not far.needs_review
    assert worked.dealer == cat_account.dealer and worked.owner == alice  # worked at A100: it stays
    assert not worked.needs_review and not PendingVendorValue.objects.exists()
    tasks.apply_pending_values(cat_account.pk)  # twice is once
    assert Lead.objects.get(pk=far.pk).dealer == z999


def test_a_historic_lead_for_an_unknown_code_is_kept_too(sandbox, cat_account):
    from django.utils import timezone

    sandbox.add_leads([{"leadId": "OLD-1", "leadState": "NEW", "catDealerCode": "Q123",
                        "dateCreated": timezone.now().isoformat()}])
    today = timezone.localdate()
    engine.pull(cat_account)
    Lead.objects.all().delete()
    PendingVendorValue.objects.all().delete()
    engine.reconcile(cat_account, today, today)
    lead = Lead.objects.get(vendor_lead_id="OLD-1")
    assert lead.dealer == cat_account.dealer and lead.pending_values.get().vendor_value == "Q123"


def _serve_z999(cat_account):
    z999 = Dealer.objects.create(code="Z999", name="Zed Machinery")
    cat_account.options = {**cat_account.options, "dealer_codes": "Z999"}
    cat_account.save()
    return z999


def test_the_job_leaves_a_lead_a_person_edited_with_the_dealer_that_edited_it(sandbox, cat_account, alice):
    far, _ = _pull_unknown_code(sandbox, cat_account)
    far._history_user = alice  # an edit in the admin: alice's notes are A100's, not Z999's
    far.comments = "Knows our sales rep; call after 5 pm"
    far.save()
    _serve_z999(cat_account)
    tasks.apply_pending_values(cat_account.pk)
    far.refresh_from_db()
    assert far.dealer == cat_account.dealer and not PendingVendorValue.objects.filter(lead=far).exists()


def test_a_status_change_checked_before_the_move_is_refused_after_it(sandbox, cat_account, alice):
    from apps.leads.services import lead_change_status

    far, _ = _pull_unknown_code(sandbox, cat_account)  # alice's page read the lead at A100
    z999 = _serve_z999(cat_account)
    tasks.apply_pending_values(cat_account.pk)
    result = lead_change_status(lead=far, to_status="accepted", actor=alice)
    assert not result.ok and result.errors[0].code == "conflict"
    far.refresh_from_db()
    assert (far.dealer, far.status) == (z999, "new") and not far.status_logs.exists()


def test_an_owner_checked_before_the_move_is_not_given_the_lead_after_it(sandbox, cat_account, alice):
    from apps.leads.services import lead_assign_owner

    far, _ = _pull_unknown_code(sandbox, cat_account)
    _serve_z999(cat_account)
    tasks.apply_pending_values(cat_account.pk)
    problems = lead_assign_owner(lead=far, owner=alice, actor=alice).errors
    assert [p.code for p in problems] == ["other_dealer"]
    assert Lead.objects.get(pk=far.pk).owner is None


def test_a_moved_lead_takes_its_webhooks_to_the_dealer_it_moved_to(sandbox, cat_account, settings):
    from apps.routing.arrivals import process_arrivals
    from apps.webhooks.models import Event, WebhookDelivery, WebhookEndpoint

    settings.LEADHUB_PUSH_ON_COMMIT = False
    a_hook = WebhookEndpoint.objects.create(dealer=cat_account.dealer, url="https://a.example.com/",
                                            events=[Event.LEAD_CREATED])
    far, _ = _pull_unknown_code(sandbox, cat_account)
    process_arrivals()
    [owed] = WebhookDelivery.objects.filter(endpoint=a_hook, lead_id=far.pk)  # queued, not sent yet
    z999 = _serve_z999(cat_account)
    z_hook = WebhookEndpoint.objects.create(dealer=z999, url="https://z.example.com/", events=[Event.LEAD_CREATED])
    tasks.apply_pending_values(cat_account.pk)
    owed.refresh_from_db()
    assert owed.state == "cancelled"  # A100 never gets a lead that is Z999's
    [created] = WebhookDelivery.objects.filter(endpoint=z_hook, lead_id=far.pk)  # (FAR-2 moved too)
    assert created.payload["data"]["lead"]["dealer"] == "Z999"
    tasks.apply_pending_values(cat_account.pk)  # twice is once
    assert WebhookDelivery.objects.filter(endpoint=z_hook, lead_id=far.pk).count() == 1
