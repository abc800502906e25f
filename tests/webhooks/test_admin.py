"""The endpoints' and deliveries' admin: scoped to the dealer's admins, with the
secret, "Send test event", "Rotate secret", re-enabling and "Retry now"."""
import pytest
from django.urls import reverse

from apps.webhooks import sender
from apps.webhooks.models import DeliveryState, Event, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import webhook_send_test
from tests.conftest import without_csrf


@pytest.fixture
def mine(dealer_a, endpoint_a):
    return endpoint_a


@pytest.fixture
def theirs(dealer_b, quick):
    endpoint = WebhookEndpoint.objects.create(dealer=dealer_b, url="https://birch.example.com/hooks",
                                              events=[Event.LEAD_CREATED])
    webhook_send_test(endpoint=endpoint)
    return endpoint


def _form(endpoint, **changes):
    data = {"dealer": endpoint.dealer_id, "url": endpoint.url, "description": endpoint.description,
            "events": list(endpoint.events), "is_active": "on" if endpoint.is_active else ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_it_shows_a_dealer_admin_their_endpoints_and_secret_only(client, adam, mine, theirs):
    client.force_login(adam)
    body = without_csrf(client.get(reverse("admin:webhooks_webhookendpoint_changelist")).content.decode())
    assert mine.url in body and theirs.url not in body
    page = client.get(reverse("admin:webhooks_webhookendpoint_change", args=[mine.pk]))
    assert page.status_code == 200 and mine.secret in page.content.decode()
    response = client.get(reverse("admin:webhooks_webhookendpoint_change", args=[theirs.pk]))
    assert response.status_code in (302, 404) and theirs.secret not in response.content.decode()
    for name in ("test", "rotate"):
        url = reverse(f"admin:webhooks_webhookendpoint_{name}", args=[theirs.pk])
        assert client.get(url).status_code == 404 and client.post(url).status_code == 404
    assert WebhookDelivery.objects.filter(endpoint=theirs).count() == 1  # nothing queued by A's admin


def test_it_never_lists_another_dealers_deliveries(client, adam, mine, theirs):
    own = webhook_send_test(endpoint=mine)
    client.force_login(adam)
    response = client.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [own]
    other = WebhookDelivery.objects.get(endpoint=theirs)
    assert client.get(reverse("admin:webhooks_webhookdelivery_change", args=[other.pk])).status_code in (302, 404)


def test_it_keeps_endpoints_from_dealer_staff(client, alice, mine):
    client.force_login(alice)
    assert client.get(reverse("admin:webhooks_webhookendpoint_changelist")).status_code == 403
    assert client.get(reverse("admin:webhooks_webhookendpoint_change", args=[mine.pk])).status_code in (302, 403)


def test_it_sends_a_test_event_from_the_endpoint_page(client, adam, mine, receiver):
    client.force_login(adam)
    url = reverse("admin:webhooks_webhookendpoint_test", args=[mine.pk])
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 302 and f"endpoint__id__exact={mine.pk}" in response.url
    delivery = WebhookDelivery.objects.get(endpoint=mine, event_type="webhook.test")
    sender.deliver_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    log = client.get(response.url).content.decode()
    assert "webhook.test" in log and "Delivered" in log


def test_it_rotates_the_secret(client, adam, mine):
    client.force_login(adam)
    old = mine.secret
    client.post(reverse("admin:webhooks_webhookendpoint_rotate", args=[mine.pk]))
    mine.refresh_from_db()
    assert mine.secret.startswith("whsec_") and mine.secret != old


def test_it_registers_an_endpoint_only_with_a_safe_url(client, adam, dealer_a):
    client.force_login(adam)
    add = reverse("admin:webhooks_webhookendpoint_add")
    data = {"dealer": dealer_a.pk, "url": "http://crm.example.com/leadhub", "events": ["lead.created"],
            "is_active": "on"}
    response = client.post(add, data)
    assert response.status_code == 200 and "Use https://" in response.content.decode()
    response = client.post(add, {**data, "url": "https://crm.example.com/leadhub"})
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get(url="https://crm.example.com/leadhub")
    assert endpoint.created_by == adam and endpoint.events == ["lead.created"] and endpoint.secret


def test_it_resets_the_failure_count_when_an_admin_enables_the_endpoint_again(client, adam, mine):
    WebhookEndpoint.objects.filter(pk=mine.pk).update(is_active=False, consecutive_failures=5,
                                                      disabled_reason="410", disabled_at="2026-01-01T00:00:00Z")
    mine.refresh_from_db()
    client.force_login(adam)
    response = client.post(reverse("admin:webhooks_webhookendpoint_change", args=[mine.pk]),
                           _form(mine, is_active="on"))
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.is_active, mine.consecutive_failures, mine.disabled_at, mine.disabled_reason) == (True, 0, None, "")


def test_it_retries_a_failed_delivery_now(client, adam, mine):
    delivery = webhook_send_test(endpoint=mine)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.FAILED, attempts=12)
    client.force_login(adam)
    client.post(reverse("admin:webhooks_webhookdelivery_changelist"),
                {"action": "retry_now", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 0)


def test_it_says_in_the_log_why_a_delivery_was_cancelled(client, adam, mine):
    delivery = webhook_send_test(endpoint=mine)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.CANCELLED, cancelled_reason="Not sent: the lead moved to another dealer on 2026-12-05.")
    client.force_login(adam)
    body = client.get(reverse("admin:webhooks_webhookdelivery_changelist")).content.decode()
    assert "Cancelled" in body and "Not sent: the lead moved to another dealer on 2026-12-05." in body
    page = client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert "the lead moved to another dealer" in page


def test_it_counts_one_delivery_in_the_singular(client, adam, dealer_a):
    client.force_login(adam)
    endpoint = WebhookEndpoint.objects.create(dealer=dealer_a, url="https://a.example.com/one",
                                              events=[Event.LEAD_CREATED])
    change = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    webhook_send_test(endpoint=endpoint)
    assert ">1 delivery</a>" in client.get(change).content.decode()
    webhook_send_test(endpoint=endpoint)
    assert ">2 deliveries</a>" in client.get(change).content.decode()
