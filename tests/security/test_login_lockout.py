"""Login lockout (django-axes) and the client address it locks, behind proxies or not."""
import pytest
from django.test import RequestFactory

from apps.core.client_ip import client_ip
from tests.conftest import PASSWORD

LOGIN = "/admin/login/"


def attempt(client, username, password, **meta):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, **meta)


@pytest.fixture
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


def test_it_locks_a_user_out_after_repeated_failures_even_with_the_right_password(client, alice, limit):
    for _ in range(limit - 1):
        assert attempt(client, "alice", "wrong").status_code == 200  # the form again, with its error
    assert attempt(client, "alice", "wrong").status_code == 429  # the limit-th failure locks
    response = attempt(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_per_client_address(client, alice, limit):
    for _ in range(limit):
        attempt(client, "alice", "wrong", REMOTE_ADDR="198.51.100.7")
    assert attempt(client, "alice", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 429
    response = attempt(client, "alice", PASSWORD, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(alice.pk)


def test_a_success_before_the_limit_resets_the_count(client, alice, limit):
    for _ in range(limit - 1):
        attempt(client, "alice", "wrong")
    assert attempt(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(limit - 1):
        attempt(client, "alice", "wrong")
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_behind_a_proxy_the_forwarded_client_is_locked_not_the_proxy(client, alice, limit, settings):
    settings.LEADHUB_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(limit):
        attempt(client, "alice", "wrong", HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    assert attempt(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code == 429
    # Another client behind the same proxy still logs in.
    assert attempt(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy).status_code == 302


def test_a_forged_forwarded_for_entry_does_not_escape_the_lockout(client, alice, limit, settings):
    settings.LEADHUB_TRUSTED_PROXIES = 1
    for n in range(limit):  # the client prepends a different fake address each time
        attempt(client, "alice", "wrong", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.7", REMOTE_ADDR="10.0.0.2")
    response = attempt(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.7",
                       REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 429


@pytest.mark.parametrize("proxies, forwarded, expected", [
    (0, "198.51.100.7", "10.0.0.2"),                        # no trusted proxy: the header is ignored
    (1, "198.51.100.7", "198.51.100.7"),
    (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),           # the left part is the client's own word
    (2, "6.6.6.6, 198.51.100.7, 10.0.0.1", "198.51.100.7"),
    (2, "198.51.100.7", "10.0.0.2"),                        # fewer hops than proxies: it bypassed one
    (1, "not-an-ip", "10.0.0.2"),
    (1, "2001:db8::1", "2001:db8::1"),
])
def test_client_ip_takes_the_address_the_outermost_trusted_proxy_saw(settings, proxies, forwarded, expected):
    settings.LEADHUB_TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == expected


def test_the_forwarded_header_name_is_configurable(settings):
    settings.LEADHUB_TRUSTED_PROXIES, settings.LEADHUB_FORWARDED_FOR_HEADER = 1, "X-Real-IP"
    request = RequestFactory().get("/", HTTP_X_REAL_IP="198.51.100.7", HTTP_X_FORWARDED_FOR="6.6.6.6",
                                   REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "198.51.100.7"


def test_it_counts_failures_of_a_user_name_ignoring_case(client, alice, limit):
    # Each spelling used to get its own count: "alice", "Alice", "ALICE " = 3 x the limit.
    for username in ("alice", "Alice", "ALICE ")[:limit]:
        attempt(client, username, "wrong")
    response = attempt(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_success_still_needs_the_exact_user_name(client, alice):
    # Login itself is Django's: user names match exactly (docs/deployment.md).
    assert attempt(client, "Alice", PASSWORD).status_code == 200
    assert "_auth_user_id" not in client.session
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_it_stores_the_lockout_under_the_folded_name_that_the_reset_command_clears(client, alice, limit):
    from axes.models import AccessAttempt
    from django.core.management import call_command

    for username in ("ALICE", "Alice ", "alice")[:limit]:
        attempt(client, username, "wrong")
    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == [("alice", limit)]
    call_command("axes_reset_username", "alice")
    assert attempt(client, "alice", PASSWORD).status_code == 302
