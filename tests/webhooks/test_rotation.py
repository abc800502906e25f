"""Rotating a signing secret, Stripe style: the old secret keeps signing every
delivery, next to the new one, for LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS, so a
receiver still configured with it keeps accepting deliveries; then only the new
one signs and the old one is cleared."""
import zoneinfo
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.webhooks import sender
from apps.webhooks.models import DeliveryState, WebhookEndpoint
from apps.webhooks.services import webhook_endpoint_rotate_secret, webhook_send_test
from apps.webhooks.signing import compute_signature


def _signatures(request) -> tuple[int, list[str]]:
    parts = [p.partition("=") for p in request["headers"]["LeadHub-Signature"].split(",")]
    return int(next(v for k, _, v in parts if k == "t")), [v for k, _, v in parts if k == "v1"]


def _deliver_one(endpoint):
    delivery = webhook_send_test(endpoint=endpoint)
    sender.deliver_due()
    delivery.refresh_from_db()
    return delivery


def test_it_signs_with_the_new_and_the_old_secret_during_the_grace_period(endpoint_a, receiver, settings):
    settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = 24
    old = endpoint_a.secret
    before = timezone.now()
    new = webhook_endpoint_rotate_secret(endpoint=endpoint_a)
    endpoint_a.refresh_from_db()
    assert new != old and endpoint_a.secret == new
    assert before + timedelta(hours=24) <= endpoint_a.previous_secret_expires_at <= timezone.now() + timedelta(hours=24)
    # A receiver not yet updated (the old secret) accepts the delivery...
    receiver.secret = old
    assert _deliver_one(endpoint_a).state == DeliveryState.DELIVERED
    # ... and so does one updated already (the new secret).
    receiver.secret = new
    assert _deliver_one(endpoint_a).state == DeliveryState.DELIVERED
    assert receiver.rejected == []
    for request in receiver.requests:
        t, signatures = _signatures(request)
        assert signatures == [compute_signature(new, t, request["body"]), compute_signature(old, t, request["body"])]


def test_it_signs_with_the_new_secret_only_once_the_grace_period_is_over(endpoint_a, receiver, settings):
    settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = 24
    old = endpoint_a.secret
    new = webhook_endpoint_rotate_secret(endpoint=endpoint_a, now=timezone.now() - timedelta(hours=25))
    receiver.secret = old
    delivery = _deliver_one(endpoint_a)
    assert delivery.state == DeliveryState.PENDING and delivery.last_status_code == 400  # the old one is refused
    t, signatures = _signatures(receiver.requests[-1])
    assert signatures == [compute_signature(new, t, receiver.requests[-1]["body"])]
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_a.pk)
    assert not endpoint.previous_secrets and endpoint.previous_secret_expires_at is None  # cleared, not kept


def test_it_never_signs_with_an_expired_secret_even_before_it_is_cleared(endpoint_a, settings):
    settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = 1
    new = webhook_endpoint_rotate_secret(endpoint=endpoint_a)
    later = timezone.now() + timedelta(hours=1, seconds=1)
    assert endpoint_a.signing_secrets(later) == [new]
    assert len(endpoint_a.signing_secrets()) == 2


def test_it_signs_once_and_keeps_no_old_secret_when_the_grace_period_is_zero(endpoint_a, receiver, settings):
    settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = 0
    old = endpoint_a.secret
    new = webhook_endpoint_rotate_secret(endpoint=endpoint_a)
    endpoint_a.refresh_from_db()
    assert not endpoint_a.previous_secrets and endpoint_a.previous_secret_expires_at is None
    receiver.secret = new
    assert _deliver_one(endpoint_a).state == DeliveryState.DELIVERED
    t, signatures = _signatures(receiver.requests[-1])
    assert signatures == [compute_signature(new, t, receiver.requests[-1]["body"])]
    assert old not in endpoint_a.signing_secrets()


def test_it_keeps_two_secrets_at_most_when_rotated_again_within_the_grace_period(endpoint_a, settings):
    settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = 24
    first = endpoint_a.secret
    second = webhook_endpoint_rotate_secret(endpoint=endpoint_a)
    third = webhook_endpoint_rotate_secret(endpoint=endpoint_a)
    endpoint_a.refresh_from_db()
    assert endpoint_a.signing_secrets() == [third, second] and first not in endpoint_a.signing_secrets()


def test_it_keeps_the_previous_secret_encrypted_and_out_of_the_audit_history(endpoint_a, settings):
    settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = 24
    old = endpoint_a.secret
    webhook_endpoint_rotate_secret(endpoint=endpoint_a)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT previous_secrets FROM {WebhookEndpoint._meta.db_table} WHERE id = %s",
                       [endpoint_a.pk])
        stored = cursor.fetchone()[0]
    assert stored and old not in stored
    assert WebhookEndpoint.objects.get(pk=endpoint_a.pk).previous_secrets.get("secret") == old
    latest = endpoint_a.history.latest()
    assert latest.history_change_reason == "Secret rotated" and not hasattr(latest, "previous_secrets")


def test_it_rotates_a_secret_that_no_longer_decrypts_without_a_grace_period(endpoint_a, settings):
    settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = 24
    with connection.cursor() as cursor:  # encrypted with a key since removed
        cursor.execute(f"UPDATE {WebhookEndpoint._meta.db_table} SET secrets = %s WHERE id = %s",
                       ["not-a-fernet-token", endpoint_a.pk])
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_a.pk)
    new = webhook_endpoint_rotate_secret(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.signing_secrets() == [new] and endpoint.previous_secret_expires_at is None


@pytest.mark.parametrize("hours", [24, 0])
def test_it_tells_the_admin_until_when_the_old_secret_still_works(client, adam, endpoint_a, settings, hours):
    settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = hours
    endpoint_a.dealer.time_zone = "America/Chicago"
    endpoint_a.dealer.save()
    client.force_login(adam)
    url = reverse("admin:webhooks_webhookendpoint_rotate", args=[endpoint_a.pk])
    confirm = client.get(url).content.decode()
    assert ("For the next 24 hours every delivery is signed with both" in confirm) == bool(hours)
    response = client.post(url)
    endpoint_a.refresh_from_db()
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    page = client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint_a.pk])).content.decode()
    if hours:
        # In the dealer's time zone, with its name.
        until = endpoint_a.previous_secret_expires_at.astimezone(
            zoneinfo.ZoneInfo("America/Chicago")).strftime("%Y-%m-%d %H:%M %Z")
        assert until.endswith(("CST", "CDT"))
        assert f"The old secret still works until {until}" in message
        assert f"The previous secret still works until {until}" in page
    else:
        assert "the old one stopped working now" in message
        assert "previous secret still works" not in page
    assert endpoint_a.secret in page
