import hashlib
import hmac
import json
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.webhooks.models import WebhookEndpoint, validate_webhook_url
from apps.webhooks.signing import SignatureError, compute_signature, signature_header, verify_signature

SECRET = "whsec_test"
BODY = json.dumps({"id": "evt_1", "type": "webhook.test"}).encode()


def test_it_accepts_a_good_signature_and_returns_its_timestamp():
    header = signature_header(SECRET, BODY, timestamp=1_700_000_000)
    assert header == f"t=1700000000,v1={compute_signature(SECRET, 1_700_000_000, BODY)}"
    assert verify_signature(SECRET, header, BODY, now=1_700_000_100) == 1_700_000_000


def test_it_signs_the_timestamp_and_the_body_with_hmac_sha256():
    # The documented recipe, written out independently (docs/webhooks.md).
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert compute_signature(SECRET, 1_700_000_000, BODY) == expected


@pytest.mark.parametrize("header, body, message", [
    (signature_header(SECRET, BODY), BODY.replace(b"webhook.test", b"lead.created"), "does not match"),
    (signature_header("whsec_other", BODY), BODY, "does not match"),
    (signature_header(SECRET, BODY, timestamp=int(time.time()) - 301), BODY, "old"),
    ("", BODY, "no LeadHub-Signature"),
    ("v1=abc", BODY, "needs t="),
    ("t=soon,v1=abc", BODY, "not a number"),
])
def test_it_refuses_a_tampered_wrong_or_old_signature(header, body, message):
    with pytest.raises(SignatureError, match=message):
        verify_signature(SECRET, header, body)


def test_it_accepts_any_of_several_v1_signatures():
    t = int(time.time())
    header = f"t={t},v1={compute_signature('whsec_old', t, BODY)},v1={compute_signature(SECRET, t, BODY)}"
    assert verify_signature(SECRET, header, BODY) == t


@pytest.mark.parametrize("url", ["https://crm.example.com/leadhub", "http://127.0.0.1:8080/hooks",
                                 "http://localhost/hooks", "http://[::1]:9000/x"])
def test_it_accepts_https_and_loopback_http(url):
    validate_webhook_url(url)


@pytest.mark.parametrize("url, code", [
    ("http://crm.example.com/leadhub", "insecure"),
    ("http://10.0.0.5/hooks", "insecure"),
    ("ftp://crm.example.com/x", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("https://user:pw@crm.example.com/x", "credentials"),
    ("https://", "invalid"),
])
def test_it_refuses_other_urls_with_a_clear_message(url, code):
    with pytest.raises(ValidationError) as raised:
        validate_webhook_url(url)
    assert raised.value.code == code


def test_it_refuses_an_endpoint_without_events_or_with_unknown_ones(dealer_a):
    with pytest.raises(ValidationError) as raised:
        WebhookEndpoint(dealer=dealer_a, url="https://crm.example.com/x", events=[]).full_clean()
    assert "events" in raised.value.message_dict
    with pytest.raises(ValidationError) as raised:
        WebhookEndpoint(dealer=dealer_a, url="https://crm.example.com/x", events=["lead.deleted"]).full_clean()
    assert "lead.deleted" in str(raised.value)


def test_it_keeps_the_secret_encrypted_at_rest(dealer_a):
    endpoint = WebhookEndpoint.objects.create(dealer=dealer_a, url="https://crm.example.com/x",
                                              events=["lead.created"])
    assert endpoint.secret.startswith("whsec_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM webhooks_webhookendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]
    assert stored
    assert endpoint.secret not in stored
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/", "http://localhost/hooks", "https://localhost:8443/x",
                                 "http://[::1]:9000/x"])
def test_it_refuses_this_machines_addresses_unless_loopback_is_allowed(url, settings):
    settings.LEADHUB_WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(ValidationError) as raised:
        validate_webhook_url(url)
    assert raised.value.code == "loopback"
    settings.LEADHUB_WEBHOOK_ALLOW_LOOPBACK = True
    validate_webhook_url(url)


def test_it_puts_one_v1_per_secret_in_the_header_the_new_first_and_either_verifies():
    header = signature_header(["whsec_new", "whsec_old"], BODY, timestamp=1_700_000_000)
    assert header == (f"t=1700000000,v1={compute_signature('whsec_new', 1_700_000_000, BODY)},"
                      f"v1={compute_signature('whsec_old', 1_700_000_000, BODY)}")
    for secret in ("whsec_new", "whsec_old"):
        assert verify_signature(secret, header, BODY, now=1_700_000_000) == 1_700_000_000
    with pytest.raises(SignatureError):
        verify_signature("whsec_other", header, BODY, now=1_700_000_000)
