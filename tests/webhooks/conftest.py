from __future__ import annotations

import pytest
from django.utils import timezone

from apps.webhooks.models import Event, WebhookDelivery, WebhookEndpoint

from .receiver import Receiver


@pytest.fixture
def quick(settings):
    """Retries due at once (the tests move time by making deliveries due), a short read timeout."""
    settings.LEADHUB_WEBHOOK_BASE_SECONDS = 1
    settings.LEADHUB_WEBHOOK_MAX_SECONDS = 2
    settings.LEADHUB_WEBHOOK_TIMEOUT = 0.5
    settings.LEADHUB_PUSH_ON_COMMIT = False
    return settings


@pytest.fixture
def receiver():
    server = Receiver(stall=1.5).start()
    yield server
    server.stop()


@pytest.fixture
def endpoint_a(dealer_a, receiver, quick):
    endpoint = WebhookEndpoint.objects.create(dealer=dealer_a, url=receiver.url, events=list(Event.values))
    receiver.secret = endpoint.secret
    return endpoint


def make_due() -> int:
    """As if the backoff had passed: every queued delivery is due now."""
    return WebhookDelivery.objects.filter(state="pending").update(next_attempt_at=timezone.now())
