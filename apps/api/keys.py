"""Creating, revoking and checking API keys: plain functions the admin, the
`apikey` command and the API's authentication share.

A key reads `lh_<prefix>_<secret>`: `prefix` (8 characters) finds its row and is
shown in lists; `secret` (43 characters, 256 bits from `secrets.token_urlsafe(32)`)
is stored only as its SHA-256. A fast hash is enough here, unlike for passwords:
the secret is random and long, so there is nothing to guess from a leaked hash,
and checking a key costs microseconds on every request instead of a password
hasher's deliberate hundreds of milliseconds.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import ApiKey, Scope

KEY_START = "lh_"
PREFIX_LENGTH = 8
# last_used_at is written at most this often per key: a busy DMS must not turn every
# read into a write of the key's row.
LAST_USED_EVERY = timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_prefix() -> str:
    while True:
        prefix = secrets.token_urlsafe(6)[:PREFIX_LENGTH]  # 48 bits: a clash is rare, and checked
        if not ApiKey.objects.filter(prefix=prefix).exists():
            return prefix


def issue_secret(key: ApiKey) -> str:
    """Give an unsaved key its prefix and hashed secret; returns the whole key
    text, the only time it exists in clear (the caller shows it once)."""
    secret = secrets.token_urlsafe(32)
    key.prefix = _new_prefix()
    key.secret_hash = _hash(secret)
    return f"{KEY_START}{key.prefix}_{secret}"


def apikey_create(*, dealer, name: str, scope: str = Scope.READ, created_by=None) -> tuple[ApiKey, str]:
    """Create a key for `dealer`; returns (the saved ApiKey, its text in clear).

    Raises django.core.exceptions.ValidationError for a blank or taken name or an
    unknown scope (the model's own validation), nothing saved."""
    key = ApiKey(dealer=dealer, name=(name or "").strip(), scope=scope, created_by=created_by)
    plaintext = issue_secret(key)
    key.full_clean()
    if created_by is not None:
        key._history_user = created_by
    key._change_reason = "Created"
    key.save()
    return key, plaintext


def apikey_revoke(*, key: ApiKey, actor=None) -> bool:
    """Revoke the key (from now on it answers 401); False if it was already revoked.
    The row stays, with its history."""
    with transaction.atomic():
        current = ApiKey.objects.select_for_update().get(pk=key.pk)
        if current.revoked_at is not None:
            key.revoked_at = current.revoked_at
            return False
        current.revoked_at = timezone.now()
        if getattr(actor, "pk", None) is not None:
            current._history_user = actor
        current._change_reason = "Revoked"
        current.save(update_fields=["revoked_at"])
    key.revoked_at = current.revoked_at
    return True


def parse_key(text: str) -> tuple[str, str] | None:
    """(prefix, secret) of a key's text, or None when it is not shaped like one."""
    if not text.startswith(KEY_START) or len(text) < len(KEY_START) + PREFIX_LENGTH + 2:
        return None
    prefix, separator, secret = (text[len(KEY_START):len(KEY_START) + PREFIX_LENGTH],
                                 text[len(KEY_START) + PREFIX_LENGTH], text[len(KEY_START) + PREFIX_LENGTH + 1:])
    if separator != "_" or not secret:
        return None
    return prefix, secret


def authenticate(text: str) -> ApiKey | None:
    """The live key whose text this is (its dealer loaded), or None: unknown,
    wrong secret, revoked, or its dealer deactivated. Marks it used (at most once
    a minute)."""
    parsed = parse_key(text)
    if parsed is None:
        return None
    prefix, secret = parsed
    key = ApiKey.objects.select_related("dealer").filter(prefix=prefix).first()
    # Compared in constant time, and hashed even when no row matched, so the
    # answer's timing tells nothing about which prefixes exist.
    expected = key.secret_hash if key is not None else _hash("")
    matches = hmac.compare_digest(_hash(secret), expected)
    if key is None or not matches or key.revoked_at is not None or not key.dealer.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        # A plain UPDATE: no history row, no touching other columns.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
