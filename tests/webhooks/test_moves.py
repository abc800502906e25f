"""A lead that moves to another dealer (a Cat shared account now serving its
catDealerCode: apps/vendors/cat/inbound.apply_pending) takes its webhooks with it:
the old dealer's queued deliveries about it are cancelled, an old endpoint that
was sent something about it and takes lead.moved_away is told it left, and the
new dealer's endpoints get lead.created, once per move, all in the move's
transaction."""
import pytest
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Dealer
from apps.leads.models import Lead, PendingField
from apps.leads.pending import pending_record
from apps.leads.signals import lead_moved
from apps.routing.arrivals import process_arrivals
from apps.sync import engine
from apps.webhooks import sender
from apps.webhooks.models import DeliveryState, Event, WebhookDelivery, WebhookEndpoint
from apps.webhooks.payloads import event_uuid
from apps.webhooks.services import webhook_retry_now
from tests.conftest import make_cat_account, make_lead


@pytest.fixture
def shared(dealer_a, quick):
    """A100's Cat account, a lead it kept for catDealerCode Z999 (announced to
    A100's endpoints), dealer Z999 with an endpoint, and the account serving Z999
    from now on (the move waits for the job)."""
    account = make_cat_account(dealer_a)
    z999 = Dealer.objects.create(code="Z999", name="Zed Machinery")
    ends = {name: WebhookEndpoint.objects.create(dealer=dealer, url=f"https://{name}.example.com/", events=events)
            for name, dealer, events in [("a_all", dealer_a, list(Event.values)),
                                         ("a_created", dealer_a, [Event.LEAD_CREATED]),
                                         ("a_status", dealer_a, [Event.LEAD_STATUS_CHANGED, Event.LEAD_MOVED_AWAY]),
                                         ("z_all", z999, list(Event.values))]}
    lead = make_lead(dealer_a, vendor_account=account, vendor_lead_id="FAR-1", first_name="Far")
    assert process_arrivals() == 1  # lead.created for a_all and a_created
    pending = pending_record(lead=lead, account=account, field=PendingField.DEALER_CODE, vendor_value="Z999",
                             note="catDealerCode Z999 is not a dealer of this account")
    account.options = {**account.options, "dealer_codes": "Z999"}
    account.save()
    return {"account": account, "lead": lead, "z999": z999, "pending": pending, **ends}


def _rows(endpoint, event_type=None):
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk")
    return list(rows.filter(event_type=event_type) if event_type else rows)


def _deliver(row):
    WebhookDelivery.objects.filter(pk=row.pk).update(state=DeliveryState.DELIVERED, delivered_at=timezone.now())


def test_it_cancels_what_the_old_dealer_was_owed_and_announces_the_lead_to_the_new_one(shared):
    lead = shared["lead"]
    [told] = _rows(shared["a_all"], Event.LEAD_CREATED)
    _deliver(told)  # a_all heard of the lead; a_created's lead.created is still queued
    [waiting] = _rows(shared["a_created"], Event.LEAD_CREATED)
    assert not engine.apply_pending(shared["account"]).errors  # the mapping job: the lead moves
    assert Lead.objects.get(pk=lead.pk).dealer == shared["z999"]

    waiting.refresh_from_db()
    assert waiting.state == DeliveryState.CANCELLED and "moved to another dealer" in waiting.cancelled_reason
    told.refresh_from_db()
    assert told.state == DeliveryState.DELIVERED  # history stays as it was
    # a_all heard of it and takes lead.moved_away: told it left, with no word of where or its contents.
    [away] = _rows(shared["a_all"], Event.LEAD_MOVED_AWAY)
    assert away.payload["data"]["lead"] == {"id": lead.pk, "dealer": "A100", "vendor": "cat",
                                            "vendor_account": shared["account"].name, "vendor_lead_id": "FAR-1"}
    assert "first_name" not in str(away.payload) and "Z999" not in str(away.payload)
    # a_status takes it but was never sent anything about the lead; a_created does not take it.
    assert _rows(shared["a_status"]) == [] and _rows(shared["a_created"], Event.LEAD_MOVED_AWAY) == []
    # The new dealer: lead.created, as the lead is with it, keyed by the lead and the move.
    [created] = _rows(shared["z_all"])
    assert created.event_type == Event.LEAD_CREATED and created.payload["data"]["lead"]["dealer"] == "Z999"
    assert created.event_id == event_uuid(f"lead.created:{lead.pk}:moved:pending:{shared['pending'].pk}")
    # "Retry now" on the whole log: the queued ones (lead.created, lead.moved_away), never the cancelled one.
    assert webhook_retry_now(deliveries=WebhookDelivery.objects.all()) == 2
    assert WebhookDelivery.objects.get(pk=waiting.pk).state == DeliveryState.CANCELLED


def test_it_announces_a_move_once(shared):
    lead = shared["lead"]
    engine.apply_pending(shared["account"])
    engine.apply_pending(shared["account"])  # the job again: the lead has moved, the row is settled
    again = dict(sender=Lead, lead_ids=[lead.pk], from_dealer_id=shared["a_all"].dealer_id,
                 to_dealer_id=shared["z999"].pk, key=f"pending:{shared['pending'].pk}")
    lead_moved.send(**again)  # the same move announced twice
    assert len(_rows(shared["z_all"])) == 1


def test_it_cancels_a_failed_delivery_so_retry_now_never_sends_it_after_the_move(shared):
    [failed] = _rows(shared["a_created"], Event.LEAD_CREATED)
    WebhookDelivery.objects.filter(pk=failed.pk).update(state=DeliveryState.FAILED, attempts=12)
    engine.apply_pending(shared["account"])
    assert webhook_retry_now(deliveries=WebhookDelivery.objects.filter(pk=failed.pk)) == 0
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (DeliveryState.CANCELLED, 12)


def test_it_changes_no_delivery_when_the_move_is_rolled_back(shared):
    before = sorted(WebhookDelivery.objects.values_list("pk", "state"))
    rows = list(shared["lead"].pending_values.all())
    with pytest.raises(RuntimeError), transaction.atomic():
        assert shared["account"].adapter().apply_pending(shared["lead"], rows) == 1
        assert _rows(shared["z_all"])  # queued with the move...
        raise RuntimeError("the move's transaction fails")
    assert sorted(WebhookDelivery.objects.values_list("pk", "state")) == before  # ...and gone with it
    assert Lead.objects.get(pk=shared["lead"].pk).dealer_id == shared["a_all"].dealer_id


def test_it_leaves_a_lead_not_yet_announced_to_its_arrival(dealer_a, quick):
    account = make_cat_account(dealer_a)
    z999 = Dealer.objects.create(code="Z999", name="Zed Machinery")
    a_all = WebhookEndpoint.objects.create(dealer=dealer_a, url="https://a.example.com/", events=list(Event.values))
    z_all = WebhookEndpoint.objects.create(dealer=z999, url="https://z.example.com/", events=list(Event.values))
    lead = make_lead(dealer_a, vendor_account=account, vendor_lead_id="FAR-2")  # its arrival waits for the job
    pending_record(lead=lead, account=account, field=PendingField.DEALER_CODE, vendor_value="Z999", note="Z999")
    account.options = {**account.options, "dealer_codes": "Z999"}
    account.save()
    engine.apply_pending(account)
    assert not WebhookDelivery.objects.exists()  # nobody was told of it yet: nothing to cancel, nothing to add
    assert process_arrivals() == 1  # now it arrives, at Z999
    assert [row.endpoint for row in WebhookDelivery.objects.all()] == [z_all]
    assert WebhookDelivery.objects.get().event_id == event_uuid(f"lead.created:{lead.pk}")
    assert not _rows(a_all)


def test_it_does_not_retry_to_the_old_dealer_what_was_being_sent_when_the_lead_moved(shared):
    [sending] = _rows(shared["a_created"], Event.LEAD_CREATED)
    WebhookDelivery.objects.filter(pk=sending.pk).update(state=DeliveryState.DELIVERING, claimed_by="worker-1")
    assert not engine.apply_pending(shared["account"]).errors  # the lead moves meanwhile
    sending.refresh_from_db()
    assert sending.state == DeliveryState.DELIVERING  # left to finish
    sender.record(sending, sender.Outcome(False, 503, "503: the receiver did not accept the event"), "worker-1")
    sending.refresh_from_db()
    assert sending.state == DeliveryState.CANCELLED and sending.attempts == 1 and sending.last_status_code == 503
    assert "moved to another dealer" in sending.cancelled_reason


def test_it_retries_a_failed_attempt_about_a_lead_that_stayed(shared):
    [sending] = _rows(shared["a_created"], Event.LEAD_CREATED)
    WebhookDelivery.objects.filter(pk=sending.pk).update(state=DeliveryState.DELIVERING, claimed_by="worker-1")
    sending.refresh_from_db()
    sender.record(sending, sender.Outcome(False, 503, "503: the receiver did not accept the event"), "worker-1")
    sending.refresh_from_db()
    assert sending.state == DeliveryState.PENDING and sending.attempts == 1
