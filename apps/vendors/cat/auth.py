"""OAuth2 client credentials against PingFederate (document: "Invoking the Service",
steps 1-3): HTTP Basic with client id and secret, form body
grant_type=client_credentials and scope=manage:all. "All access tokens expire in
60 minutes": the token is cached until shortly before expires_in."""
from __future__ import annotations

import hashlib
import json

from django.core.cache import cache

from apps.vendors.core.base import VendorError

REFRESH_MARGIN_SECONDS = 60


def _cache_key(account) -> str:
    # The key changes when the credentials change, so a new secret never reuses
    # a token fetched with the old one. Only a hash of the secret is used.
    fingerprint = hashlib.sha256(
        f"{account.token_url}|{account.options.get('client_id')}|{account.secrets.get('client_secret')}".encode()
    ).hexdigest()[:16]
    return f"leadhub:cat-token:{account.pk}:{fingerprint}"


def get_token(account, http, *, force: bool = False) -> str:
    key = _cache_key(account)
    if not force:
        token = cache.get(key)
        if token:
            return token
    response = http.request(
        "POST", account.token_url,
        auth=(account.options.get("client_id", ""), account.secrets.get("client_secret", "")),
        data={"grant_type": "client_credentials", "scope": account.options.get("scope") or "manage:all"},
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    if response.status_code in (400, 401, 403):
        # Bad client id/secret or scope: retrying cannot help until someone fixes them.
        raise VendorError(f"Cat token request refused ({response.status_code}): {_message(response.body)}. "
                          "Check the account's client id, secret and scope.", permanent=True,
                          status=response.status_code)
    if response.status_code != 200:
        raise VendorError(f"Cat token endpoint answered {response.status_code}", permanent=False,
                          status=response.status_code, retry_after=response.retry_after())
    try:
        data = json.loads(response.body)
        token = data["access_token"]
        expires_in = int(data.get("expires_in", 3599))
    except (ValueError, KeyError, TypeError):
        raise VendorError("Cat token endpoint sent an unreadable answer", permanent=False) from None
    cache.set(key, token, max(1, expires_in - REFRESH_MARGIN_SECONDS))
    return token


def forget_token(account) -> None:
    cache.delete(_cache_key(account))


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
        return str(data.get("message") or data.get("error_description") or data.get("error") or data)[:300]
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", errors="replace")


