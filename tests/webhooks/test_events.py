"""Each of the four events is queued from its real source, for the subscribed,
active endpoints of the lead's own dealer only, in bounded queries for batches."""
import json

import pytest
from django.utils import timezone
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.leads import services
from apps.leads.models import Lead
from apps.leads.services import StatusChange
from apps.notifications.models import Notification
from apps.routing.arrivals import process_arrivals
from apps.routing.models import AssignmentRule
from apps.sync import engine
from apps.sync.models import OutboxItem
from apps.vendors.core.base import SendOutcome
from apps.webhooks import receivers
from apps.webhooks.models import Event, WebhookDelivery, WebhookEndpoint
from apps.webhooks.payloads import event_uuid
from apps.webhooks.services import wake_sender
from tests.conftest import LEAD_INLINES, make_cat_account, make_lead


@pytest.fixture
def endpoints(dealer_a, dealer_b, quick):
    def make(dealer, events, url, active=True):
        return WebhookEndpoint.objects.create(dealer=dealer, url=url, events=events, is_active=active)

    return {
        "a_all": make(dealer_a, list(Event.values), "https://a.example.com/all"),
        "a_created": make(dealer_a, [Event.LEAD_CREATED], "https://a.example.com/created"),
        "a_off": make(dealer_a, list(Event.values), "https://a.example.com/off", active=False),
        "b_all": make(dealer_b, list(Event.values), "https://b.example.com/all"),
    }


def _queued(event_type):
    return list(WebhookDelivery.objects.filter(event_type=event_type).select_related("endpoint").order_by("pk"))


def _urls(rows):
    return sorted(row.endpoint.url for row in rows)


def test_it_queues_status_changed_from_the_status_service(endpoints, lead_a, lead_b, alice):
    assert services.lead_change_status(lead=lead_a, to_status="accepted", actor=alice).ok
    rows = _queued(Event.LEAD_STATUS_CHANGED)
    assert _urls(rows) == ["https://a.example.com/all"]
    body = rows[0].payload
    assert body["type"] == "lead.status_changed" and body["id"] == f"evt_{rows[0].event_id.hex}"
    data = body["data"]
    assert (data["from_status"], data["to_status"], data["actor"], data["source"]) == ("new", "accepted", "alice",
                                                                                       "admin")
    assert data["lead"]["id"] == lead_a.pk and data["lead"]["status"] == "accepted"
    assert data["lead"]["dealer"] == "A100" and data["lead"]["email"] == "ann@acme.test"
    assert rows[0].lead_id == lead_a.pk


def test_it_queues_status_changed_for_the_other_dealer_only_to_its_endpoints(endpoints, lead_b, bob):
    assert services.lead_change_status(lead=lead_b, to_status="accepted", actor=bob).ok
    assert _urls(_queued(Event.LEAD_STATUS_CHANGED)) == ["https://b.example.com/all"]


def test_it_queues_nothing_for_a_refused_status_change(endpoints, lead_a, alice):
    result = services.lead_change_status(lead=lead_a, to_status="closed_won", actor=alice)
    assert not result.ok
    assert _queued(Event.LEAD_STATUS_CHANGED) == []


def test_it_queues_assigned_when_a_lead_is_given_to_someone(endpoints, lead_a, alice, adam):
    assert services.lead_assign_owner(lead=lead_a, owner=alice, actor=adam).ok
    rows = _queued(Event.LEAD_ASSIGNED)
    assert _urls(rows) == ["https://a.example.com/all"]
    data = rows[0].payload["data"]
    assert data["owner"] == {"id": alice.pk, "username": "alice"} and data["actor"] == "adam"
    assert data["lead"]["owner"] == {"id": alice.pk, "username": "alice"}


def test_it_queues_assigned_when_someone_takes_a_lead_but_notifies_nobody(endpoints, lead_a, alice):
    assert services.lead_assign_owner(lead=lead_a, owner=alice, actor=alice).ok
    rows = _queued(Event.LEAD_ASSIGNED)
    assert _urls(rows) == ["https://a.example.com/all"] and rows[0].payload["data"]["actor"] == "alice"
    assert not Notification.objects.filter(user=alice).exists()


def test_it_queues_assigned_when_recording_an_outcome_takes_the_lead(endpoints, lead_a, alice):
    result = services.lead_apply_status_change(lead=lead_a, change=StatusChange(to_status="accepted", actor=alice),
                                               source="workbench", take_if_unassigned=True)
    assert result.ok and result.taken_by_actor
    rows = _queued(Event.LEAD_ASSIGNED)
    assert _urls(rows) == ["https://a.example.com/all"]
    assert rows[0].payload["data"]["lead"]["owner"] == {"id": alice.pk, "username": "alice"}
    assert _urls(_queued(Event.LEAD_STATUS_CHANGED)) == ["https://a.example.com/all"]


def test_it_queues_created_once_when_a_hand_made_lead_arrives(endpoints, dealer_a):
    lead = make_lead(dealer_a, first_name="Walk", last_name="In")
    rows = _queued(Event.LEAD_CREATED)
    assert _urls(rows) == ["https://a.example.com/all", "https://a.example.com/created"]
    assert rows[0].payload["data"]["lead"]["first_name"] == "Walk"
    assert rows[0].event_id == rows[1].event_id  # one event, two endpoints
    # Processed again (a job re-run after a crash): the same event, never queued twice.
    Lead.objects.filter(pk=lead.pk).update(arrival_processed_at=None)
    assert process_arrivals() == 1
    assert len(_queued(Event.LEAD_CREATED)) == 2


def test_it_queues_created_for_a_vendor_lead_when_the_arrivals_job_processed_it(endpoints, dealer_a):
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, vendor_account=account, vendor_lead_id="CAT-1")
    assert _queued(Event.LEAD_CREATED) == []  # waits for the arrivals job (its vendor's owner first)
    assert process_arrivals() == 1
    rows = _queued(Event.LEAD_CREATED)
    assert _urls(rows) == ["https://a.example.com/all", "https://a.example.com/created"]
    assert rows[0].payload["data"]["lead"]["vendor"] == "cat"
    assert rows[0].payload["data"]["lead"]["vendor_lead_id"] == "CAT-1" and rows[0].lead_id == lead.pk


def test_it_queues_vendor_report_failed_when_a_vendor_refuses_an_update_for_good(endpoints, dealer_a, alice):
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, vendor_account=account, vendor_lead_id="CAT-2")
    assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice).ok
    item = OutboxItem.objects.select_related("lead").get(lead=lead)
    engine._record_outcomes(account, [item], [SendOutcome.refused("leadId unknown", status=400)],
                            engine.Summary(account=account.name))
    rows = _queued(Event.LEAD_VENDOR_REPORT_FAILED)
    assert _urls(rows) == ["https://a.example.com/all"]
    report = rows[0].payload["data"]["vendor_report"]
    assert report == {"outbox_id": item.pk, "kind": item.kind, "vendor": "cat", "account": account.name,
                      "status_code": 400, "error": "leadId unknown"}


def test_it_queues_no_vendor_report_failed_for_a_failure_still_retried(endpoints, dealer_a, alice):
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, vendor_account=account, vendor_lead_id="CAT-3")
    assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice).ok
    item = OutboxItem.objects.select_related("lead").get(lead=lead)
    item.unconfirmed_before = None  # what engine.claim_due sets on a claimed item
    engine._record_outcomes(account, [item], [SendOutcome.retry_later("503", status=503)],
                            engine.Summary(account=account.name))
    assert _queued(Event.LEAD_VENDOR_REPORT_FAILED) == []


def _new_leads(dealer, n):
    # Bulk-inserted: no post_save, so no arrival processing here; marked processed
    # (their lead.created went out) so that their lead.assigned is queued.
    return Lead.objects.bulk_create([Lead(dealer=dealer, first_name=f"Bulk{i}", email=f"b{i}@acme.test",
                                          arrival_processed_at=timezone.now()) for i in range(n)])


def _count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured)


def test_it_queues_a_bulk_assignment_in_a_bounded_number_of_queries(endpoints, dealer_a, alice,
                                                                   django_assert_max_num_queries):
    counts = {}
    for n in (1, 5, 60):  # the first reads the endpoints, kept for the (test's) transaction
        ids = [lead.pk for lead in _new_leads(dealer_a, n)]
        counts[n] = _count_queries(lambda: services.lead_assign_new_owners(
            owners={pk: alice for pk in ids}, reason="Assignment rule"))
    assert counts[5] == counts[60]  # nothing per lead
    assert len(_queued(Event.LEAD_ASSIGNED)) == 66
    # A big batch: the same queries, except that bulk_create splits its INSERTs (the
    # deliveries', the owner's notifications') by the database's limit on parameters
    # (SQLite: about 60 rows per statement).
    ids = [lead.pk for lead in _new_leads(dealer_a, 400)]
    with django_assert_max_num_queries(counts[5] + 2 * (400 // 50)):
        services.lead_assign_new_owners(owners={pk: alice for pk in ids}, reason="Assignment rule")


def test_it_queues_a_bulk_status_change_with_a_few_queries_whatever_its_size(endpoints, dealer_a):
    def extra_queries(n) -> int:
        """Queries the webhooks add to lead_change_status_many of n leads."""
        counts = []
        for subscribed in (False, True):
            WebhookEndpoint.objects.filter(pk=endpoints["a_all"].pk).update(is_active=subscribed)
            leads = _new_leads(dealer_a, n)
            counts.append(_count_queries(lambda: services.lead_change_status_many(
                changes=[(lead, StatusChange(to_status="accepted")) for lead in leads])))
        return counts[1] - counts[0]

    assert extra_queries(5) == extra_queries(60) <= 3
    assert len(_queued(Event.LEAD_STATUS_CHANGED)) == 65


def test_it_wakes_the_sender_once_per_transaction(endpoints, dealer_a, alice, settings,
                                                  django_capture_on_commit_callbacks):
    leads = [make_lead(dealer_a, email=f"l{i}@acme.test") for i in range(3)]  # their lead.created: no wake yet
    settings.LEADHUB_PUSH_ON_COMMIT = True
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for lead in leads:
            assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice).ok
    assert len(_queued(Event.LEAD_STATUS_CHANGED)) == 3  # one per lead, for a_all
    assert [c for c in callbacks if c is wake_sender] == [wake_sender]


def _refusable_item(dealer, actor, vendor_lead_id):
    account = make_cat_account(dealer)
    lead = make_lead(dealer, vendor_account=account, vendor_lead_id=vendor_lead_id)
    assert services.lead_change_status(lead=lead, to_status="accepted", actor=actor).ok
    item = OutboxItem.objects.select_related("lead").get(lead=lead)
    item.unconfirmed_before = None  # what engine.claim_due sets on a claimed item
    return account, item


def test_it_keys_vendor_report_failed_by_the_outbox_item_and_attempt(endpoints, dealer_a, alice):
    account, item = _refusable_item(dealer_a, alice, "CAT-4")
    engine._record_outcomes(account, [item], [SendOutcome.refused("leadId unknown", status=400)],
                            engine.Summary(account=account.name))
    row = _queued(Event.LEAD_VENDOR_REPORT_FAILED)[0]
    assert row.event_id == event_uuid(f"lead.vendor_report_failed:{item.pk}:1")


def test_it_queues_vendor_report_failed_in_the_transaction_of_the_failure(endpoints, dealer_a, alice, monkeypatch):
    account, item = _refusable_item(dealer_a, alice, "CAT-5")

    def broken(**kwargs):
        raise RuntimeError("the webhook table is unwritable")

    monkeypatch.setattr(receivers, "webhook_queue_lead_events", broken)
    with pytest.raises(RuntimeError):
        engine._record_outcomes(account, [item], [SendOutcome.refused("leadId unknown", status=400)],
                                engine.Summary(account=account.name))
    assert OutboxItem.objects.get(pk=item.pk).state != "failed"  # the failure went with its event


def test_it_queues_no_vendor_report_failed_for_an_item_held_after_a_lost_answer(endpoints, dealer_a, alice):
    account, item = _refusable_item(dealer_a, alice, "CAT-6")
    engine._hold(account, account.adapter(), [item], engine.Summary(account=account.name), why="read timeout")
    assert OutboxItem.objects.get(pk=item.pk).state == "failed"  # held for a person
    assert _queued(Event.LEAD_VENDOR_REPORT_FAILED) == []


def test_it_announces_a_new_lead_by_lead_created_naming_the_owner_the_rules_gave_it_then_reassignments(
        endpoints, dealer_a, alice, adam):
    rule = AssignmentRule.objects.create(dealer=dealer_a, name="Cat leads", vendors="cat")
    rule.reps.set([alice])
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, vendor_account=account, vendor_lead_id="CAT-7")
    assert process_arrivals() == 1
    lead.refresh_from_db()
    assert lead.owner == alice  # assigned on arrival, before lead.created was queued
    created = [row for row in _queued(Event.LEAD_CREATED) if row.endpoint == endpoints["a_all"]]
    assert created[0].payload["data"]["lead"]["owner"] == {"id": alice.pk, "username": "alice"}
    assert _queued(Event.LEAD_ASSIGNED) == []  # lead.created carries the owner: nothing before it
    services.lead_assign_owner(lead=lead, owner=adam, actor=adam)  # later: lead.assigned, after lead.created
    assigned = [row for row in _queued(Event.LEAD_ASSIGNED) if row.endpoint == endpoints["a_all"]]
    assert len(assigned) == 1 and assigned[0].pk > created[0].pk
    assert assigned[0].payload["data"]["owner"] == {"id": adam.pk, "username": "adam"}


# --- unassigning: lead.assigned with owner null ----------------------------------------------

def _assigned_rows(endpoint):
    return [row for row in _queued(Event.LEAD_ASSIGNED) if row.endpoint == endpoint]


def test_it_queues_assigned_with_no_owner_when_a_lead_is_unassigned_and_notifies_nobody(endpoints, lead_a, alice,
                                                                                         adam):
    assert services.lead_assign_owner(lead=lead_a, owner=alice, actor=adam).ok
    notified = Notification.objects.count()
    assert services.lead_assign_owner(lead=lead_a, owner=None, actor=adam).ok
    unassigned = _assigned_rows(endpoints["a_all"])[-1]
    data = unassigned.payload["data"]
    assert data["owner"] is None and data["lead"]["owner"] is None
    assert (data["actor"], data["by"]) == ("adam", "Unassigned by adam")
    assert _urls(_queued(Event.LEAD_ASSIGNED)) == ["https://a.example.com/all"] * 2  # assigned, then unassigned
    assert Notification.objects.count() == notified  # nobody is told of an unassignment


def test_it_queues_nothing_when_the_owner_does_not_change(endpoints, lead_a, alice, adam):
    assert services.lead_assign_owner(lead=lead_a, owner=None, actor=adam).ok  # had none
    assert services.lead_assign_owner(lead=lead_a, owner=alice, actor=adam).ok
    assert services.lead_assign_owner(lead=lead_a, owner=alice, actor=adam).ok  # the same owner again
    assert len(_assigned_rows(endpoints["a_all"])) == 1


def test_it_queues_assigned_with_no_owner_from_the_admin_action(client, endpoints, lead_a, alice, adam):
    assert services.lead_assign_owner(lead=lead_a, owner=alice, actor=adam).ok
    client.force_login(adam)
    client.post("/admin/leads/lead/", {"action": "unassign", "_selected_action": [lead_a.pk]})
    assert Lead.objects.get(pk=lead_a.pk).owner is None
    assert _assigned_rows(endpoints["a_all"])[-1].payload["data"]["owner"] is None


def test_it_queues_assigned_with_no_owner_from_the_workbench(client, endpoints, lead_a, alice, adam):
    assert services.lead_assign_owner(lead=lead_a, owner=alice, actor=adam).ok
    client.force_login(adam)
    response = client.post(f"/admin/leads/lead/{lead_a.pk}/work/", {"action": "assign", "assign-owner": ""})
    assert response.status_code == 302
    assert _assigned_rows(endpoints["a_all"])[-1].payload["data"]["owner"] is None


def test_it_queues_assigned_from_the_leads_own_form_and_notifies_only_a_new_owner(client, endpoints, dealer_a, lead_a,
                                                                                   alice, adam):
    client.force_login(adam)

    def save_form(owner):
        response = client.post(f"/admin/leads/lead/{lead_a.pk}/change/", {
            "dealer": dealer_a.pk, "origin": "manual", "first_name": "Ann", "last_name": "Alder",
            "email": "ann@acme.test", "phone": "+1 309 555 0101", "company": "Alder Paving", "owner": owner,
            "country": "", **LEAD_INLINES})
        assert response.status_code == 302, response.content.decode()[:2000]

    save_form(alice.pk)
    assert Lead.objects.get(pk=lead_a.pk).owner == alice
    given = _assigned_rows(endpoints["a_all"])[-1].payload["data"]
    assert given["owner"]["username"] == "alice" and given["actor"] == "adam"
    assert Notification.objects.filter(user=alice).count() == 1  # told, as from the Assign actions
    save_form("")
    assert Lead.objects.get(pk=lead_a.pk).owner is None
    assert _assigned_rows(endpoints["a_all"])[-1].payload["data"]["owner"] is None
    assert Notification.objects.filter(user=alice).count() == 1
    save_form("")  # saved again without a change of owner: nothing more
    assert len(_assigned_rows(endpoints["a_all"])) == 2


def test_it_moves_a_hand_made_lead_given_to_another_dealer_on_its_form(client, endpoints, dealer_a, dealer_b, lead_a,
                                                                       root):
    """A lead made in LeadHub whose dealer the group's IT changes: what dealer A's
    endpoints were still owed about it is cancelled, dealer B's hear lead.created."""
    process_arrivals()
    [owed] = [row for row in _queued(Event.LEAD_CREATED) if row.endpoint == endpoints["a_created"]
              and row.lead_id == lead_a.pk]
    client.force_login(root)
    response = client.post(f"/admin/leads/lead/{lead_a.pk}/change/", {
        "dealer": dealer_b.pk, "origin": "manual", "first_name": "Ann", "last_name": "Alder",
        "email": "ann@acme.test", "phone": "+1 309 555 0101", "company": "Alder Paving", "owner": "",
        "country": "", **LEAD_INLINES})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Lead.objects.get(pk=lead_a.pk).dealer == dealer_b
    owed.refresh_from_db()
    assert owed.state == "cancelled" and "moved to another dealer" in owed.cancelled_reason
    created_at_b = [row for row in _queued(Event.LEAD_CREATED) if row.endpoint == endpoints["b_all"]]
    assert [row.lead_id for row in created_at_b] == [lead_a.pk]
    assert created_at_b[0].payload["data"]["lead"]["dealer"] == dealer_b.code


@pytest.mark.parametrize("give_to", ["bob", ""])
def test_it_moves_an_owned_lead_without_its_old_owner_reaching_the_new_dealer(client, endpoints, dealer_a, dealer_b,
                                                                             lead_a, alice, bob, root, give_to):
    assert services.lead_assign_owner(lead=lead_a, owner=alice, actor=root).ok
    process_arrivals()
    client.force_login(root)
    response = client.post(f"/admin/leads/lead/{lead_a.pk}/change/", {
        "dealer": dealer_b.pk, "origin": "manual", "first_name": "Ann", "last_name": "Alder",
        "email": "ann@acme.test", "phone": "+1 309 555 0101", "company": "Alder Paving",
        "owner": bob.pk if give_to else "", "country": "", **LEAD_INLINES})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Lead.objects.get(pk=lead_a.pk).owner == (bob if give_to else None)
    to_b = list(WebhookDelivery.objects.filter(endpoint=endpoints["b_all"]).order_by("pk"))
    assert "alice" not in json.dumps([row.payload for row in to_b])  # dealer A's person, nowhere
    assert [row.event_type for row in to_b] == [Event.LEAD_CREATED] + ([Event.LEAD_ASSIGNED] if give_to else [])
    assert to_b[0].payload["data"]["lead"]["owner"] is None
    if give_to:
        assert to_b[1].payload["data"]["owner"]["username"] == "bob"
    # Nor in the lead's audit history as the new dealer's lead.
    assert not Lead.history.filter(id=lead_a.pk, dealer=dealer_b, owner=alice).exists()


def test_it_announces_a_vendors_owner_only_when_it_changes(endpoints, dealer_a, lead_a, alice):
    process_arrivals()
    account = make_cat_account(dealer_a)
    services.lead_record_vendor_owner(lead=lead_a, owner=alice, source_account=account)
    services.lead_record_vendor_owner(lead=lead_a, owner=alice, source_account=account)  # the same again
    assert len(_assigned_rows(endpoints["a_all"])) == 1
    assert Lead.history.filter(id=lead_a.pk, history_change_reason__startswith="Assigned in").count() == 1
