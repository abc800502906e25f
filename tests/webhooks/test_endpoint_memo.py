"""Per-lead events in one transaction read the active endpoints once (the memo of
apps/webhooks/services._active_endpoints), and an endpoint added, disabled or
deleted meanwhile is honoured by the next event; a memo never outlives its
transaction."""
import json

import pytest
from django.utils import timezone
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from apps.leads import services
from apps.webhooks.models import ENDPOINT_MEMO, Event, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import webhook_endpoint_disable
from tests.conftest import make_lead

pytestmark = pytest.mark.usefixtures("quick")


def _leads(dealer, n, tag):
    return [make_lead(dealer, email=f"{tag}{i}@acme.test") for i in range(n)]


def _change_all(leads, actor):
    _forget()  # the test's own transaction holds them since the leads were made: as a new transaction would
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        for lead in leads:
            assert services.lead_change_status(lead=lead, to_status="accepted", actor=actor).ok
    return captured


def _endpoint_reads(captured) -> int:
    """SELECTs from the endpoints' table (not the INSERTs that name it in a subquery)."""
    selects = [query["sql"] for query in captured.captured_queries if query["sql"].lstrip().startswith("SELECT")]
    return sum(1 for sql in selects if f'FROM "{WebhookEndpoint._meta.db_table}"' in sql)


def _forget():
    connections["default"].__dict__.pop(ENDPOINT_MEMO, None)


def test_it_reads_the_endpoints_once_for_20_status_changes_in_one_transaction(dealer_a, dealer_b, alice):
    nobody = _change_all(_leads(dealer_a, 20, "n"), alice)  # no endpoint anywhere
    assert _endpoint_reads(nobody) == 1
    WebhookEndpoint.objects.create(dealer=dealer_b, url="https://b.example.com/", events=list(Event.values))
    elsewhere = _change_all(_leads(dealer_a, 20, "e"), alice)  # another dealer listens
    # The same queries as when nobody listens: one read of the endpoints, no read of a lead.
    assert len(elsewhere) == len(nobody) and _endpoint_reads(elsewhere) == 1
    WebhookEndpoint.objects.create(dealer=dealer_a, url="https://a.example.com/", events=list(Event.values))
    listened = _change_all(_leads(dealer_a, 20, "l"), alice)  # the lead's dealer listens
    assert _endpoint_reads(listened) == 1
    assert len(listened) == len(nobody) + 20  # one INSERT per change, nothing else
    assert WebhookDelivery.objects.filter(event_type=Event.LEAD_STATUS_CHANGED).count() == 20


def test_it_honours_an_endpoint_added_disabled_or_deleted_in_the_middle_of_a_transaction(dealer_a, alice):
    leads = _leads(dealer_a, 8, "m")
    with transaction.atomic():
        def change(lead):
            assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice).ok

        change(leads[0])  # nobody listens yet: the (empty) endpoints are kept
        added = WebhookEndpoint.objects.create(dealer=dealer_a, url="https://a.example.com/1",
                                               events=[Event.LEAD_STATUS_CHANGED])
        change(leads[1])
        other = WebhookEndpoint.objects.create(dealer=dealer_a, url="https://a.example.com/2",
                                               events=[Event.LEAD_STATUS_CHANGED])
        change(leads[2])
        assert webhook_endpoint_disable(endpoint_id=added.pk, reason="test")  # a queryset update()
        change(leads[3])
        other.events = [Event.LEAD_CREATED]  # saved: unsubscribed
        other.save()
        change(leads[4])
        other.events = [Event.LEAD_STATUS_CHANGED]
        other.save()
        change(leads[5])
        other.delete()
        change(leads[6])
        added.is_active = True
        added.save()
        change(leads[7])
    sent = {(d.endpoint_id, d.lead_id) for d in WebhookDelivery.objects.filter(event_type=Event.LEAD_STATUS_CHANGED)}
    assert sent == {(added.pk, leads[1].pk), (added.pk, leads[2].pk), (added.pk, leads[7].pk)}
    # (other's deliveries, for leads[2] and leads[5], went with it: CASCADE)


def test_it_forgets_the_endpoints_read_in_a_savepoint_that_was_rolled_back(dealer_a, alice):
    lead, later = _leads(dealer_a, 2, "s")
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            WebhookEndpoint.objects.create(dealer=dealer_a, url="https://a.example.com/gone",
                                           events=[Event.LEAD_STATUS_CHANGED])
            assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice).ok  # read: one endpoint
            raise RuntimeError("rolled back with the endpoint")
        assert not WebhookEndpoint.objects.exists()
        # The memo read in the savepoint went with it: the endpoint is not sent to.
        assert services.lead_change_status(lead=later, to_status="accepted", actor=alice).ok
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_keeps_no_memo_past_a_commit(dealer_a, alice):
    first, second = _leads(dealer_a, 2, "c")
    with transaction.atomic():  # read with no endpoint (the memo is made), then committed
        assert services.lead_change_status(lead=first, to_status="accepted", actor=alice).ok
    assert not WebhookDelivery.objects.exists()
    # An endpoint written behind the models' back (as another process would: no
    # signal here forgets the memo): only the commit can have dropped it.
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {WebhookEndpoint._meta.db_table} (dealer_id, url, events, is_active, secrets, "
                       "disabled_reason, consecutive_failures, created_at, previous_secrets, description) "
                       "VALUES (%s, %s, %s, %s, '', '', 0, %s, '', '')",
                       [dealer_a.pk, "https://a.example.com/raw", json.dumps([Event.LEAD_STATUS_CHANGED]), True,
                        timezone.now()])
    with transaction.atomic():
        assert services.lead_change_status(lead=second, to_status="accepted", actor=alice).ok
    assert WebhookDelivery.objects.filter(lead_id=second.pk).count() == 1
