"""Who gets in: a live key's Bearer header; its scope; its rate."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

from apps.api import keys
from apps.leads.models import Lead, LeadEvent
from tests.api.conftest import client_with


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer lh_nothing_here", "Bearer not-a-key", "Bearer a b",
                                    "Basic dXNlcjpwYXNz"])
def test_it_answers_401_with_www_authenticate_without_a_valid_key(world, header):
    client = client_with(None)
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(reverse("api:lead-list"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["message"]


def test_it_refuses_a_key_with_a_wrong_secret(world):
    text = world["A100"]["apikey_text"]
    response = client_with(text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB")).get(
        reverse("api:lead-list"))
    assert response.status_code == 401


def test_it_refuses_a_revoked_key(world, api_a):
    assert api_a.get(reverse("api:lead-list")).status_code == 200
    keys.apikey_revoke(key=world["A100"]["apikey"])
    response = api_a.get(reverse("api:lead-list"))
    assert response.status_code == 401
    assert "revoked" in response.json()["errors"][0]["message"]


def test_it_refuses_a_key_of_a_deactivated_dealer(world, api_a):
    dealer = world["A100"]["dealer"]
    dealer.is_active = False
    dealer.save()
    assert api_a.get(reverse("api:lead-list")).status_code == 401


def test_it_lets_a_read_key_read_but_not_write(world, read_key_a):
    lead = world["A100"]["lead"]
    assert read_key_a.get(reverse("api:lead-detail", args=[lead.pk])).status_code == 200
    before = Lead.objects.count()
    writes = [
        (reverse("api:lead-list"), {"first_name": "Walk", "last_name": "In"}),
        (reverse("api:lead-change-status", args=[lead.pk]), {"to_status": "on_hold"}),
        (reverse("api:lead-followups", args=[lead.pk]), {"scheduled_at": "2030-01-01T10:00:00Z"}),
        (reverse("api:lead-complete-followup", args=[lead.pk, world["A100"]["followup"].pk]),
         {"outcome_notes": "Rang"}),
        (reverse("api:lead-notes", args=[lead.pk]), {"text": "hello"}),
    ]
    for url, body in writes:
        response = read_key_a.post(url, body, format="json")
        assert response.status_code == 403, url
        assert response.json()["errors"][0]["code"] == "read_only_key"
        assert "read-only" in response.json()["errors"][0]["message"]
    assert Lead.objects.count() == before
    lead.refresh_from_db()
    assert lead.status == "accepted"


def test_it_marks_a_key_used_at_most_once_a_minute(world, api_a):
    key = world["A100"]["apikey"]
    assert key.last_used_at is None
    api_a.get(reverse("api:reason-list"))
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    api_a.get(reverse("api:reason-list"))
    key.refresh_from_db()
    assert key.last_used_at == first  # no write per request


@override_settings(LEADHUB_API_RATE="3/minute")
def test_it_limits_each_key_with_429_and_retry_after(world, api_a):
    url = reverse("api:reason-list")
    assert [api_a.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = api_a.get(url)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["errors"][0]["code"] == "throttled"
    # Another key has its own count.
    assert client_with(world["B200"]["apikey_text"]).get(url).status_code == 200


@override_settings(LEADHUB_API_ANON_RATE="5/minute")
def test_it_limits_bad_keys_from_one_address_with_429(world, api_a):
    url = reverse("api:lead-list")
    guesser = client_with("lh_guess1234_" + "x" * 43)
    assert [guesser.get(url, REMOTE_ADDR="203.0.113.9").status_code for _ in range(5)] == [401] * 5
    refused = guesser.get(url, REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert client_with(None).get(url, REMOTE_ADDR="203.0.113.9").status_code == 429  # nor without a key
    # Another address has its own count; a live key is never counted by address.
    assert guesser.get(url, REMOTE_ADDR="198.51.100.7").status_code == 401
    assert api_a.get(url, REMOTE_ADDR="203.0.113.9").status_code == 200


def test_it_refuses_a_logged_in_admin_session_without_a_key(client, world):
    client.force_login(get_user_model().objects.get(username="adam"))  # A100's dealer admin
    response = client.get(reverse("api:lead-list"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_it_records_a_request_with_a_key_and_a_session_under_the_key(world):
    client = client_with(world["A100"]["apikey_text"])
    client.force_login(get_user_model().objects.get(username="adam"))
    lead = world["A100"]["lead"]
    response = client.post(reverse("api:lead-notes", args=[lead.pk]), {"text": "From the DMS"}, format="json")
    assert response.status_code == 201
    assert response.json()[0]["who"] == "API key A100 DMS"
    assert LeadEvent.objects.get(lead=lead, summary="From the DMS").actor_label == "API key A100 DMS"
