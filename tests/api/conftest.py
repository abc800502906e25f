"""API test helpers: a client that sends a key, and keys of each scope."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.api.keys import apikey_create


@pytest.fixture(autouse=True)
def fresh_rate_counts():
    """The rate limit counts in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


def client_with(key_text: str | None) -> APIClient:
    client = APIClient()
    if key_text:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key_text}")
    return client


@pytest.fixture
def api_a(world):
    """Dealer A's write key."""
    return client_with(world["A100"]["apikey_text"])


@pytest.fixture
def read_key_a(world):
    key, text = apikey_create(dealer=world["A100"]["dealer"], name="A100 website", scope="read")
    return client_with(text)


def error_fields(response) -> dict[str, list[str]]:
    """{field: [messages]} of an error answer."""
    found: dict[str, list[str]] = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["message"])
    return found
