"""Encryption at rest for vendor credentials.

We use `cryptography`'s Fernet (authenticated encryption) with LeadHub's own key
list (settings.CREDENTIALS_KEYS: the first key encrypts, every key decrypts, so
keys rotate without downtime). We do not use django-fernet-encrypted-fields: it
derives its key from SECRET_KEY and, on a wrong key, silently hands back the
ciphertext as if it were the secret; a credential that cannot be decrypted must
be a loud error, never a garbage password sent to a vendor.
"""
from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted with any configured key."""


def _fernet() -> MultiFernet:
    keys = settings.CREDENTIALS_KEYS
    if not keys:
        raise ImproperlyConfigured("LEADHUB_CREDENTIALS_KEYS is empty.")
    try:
        return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "LEADHUB_CREDENTIALS_KEYS must hold Fernet keys (32 url-safe base64 bytes); "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from exc


def encrypt_json(data: dict) -> str:
    return _fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "Stored vendor credentials cannot be decrypted with LEADHUB_CREDENTIALS_KEYS; "
            "re-enter them, or restore the key they were saved with."
        ) from exc


class EncryptedSecrets:
    """A dict of secrets that is never shown: its repr and str hide the values."""

    __slots__ = ("_data",)

    def __init__(self, data: dict | None = None):
        self._data = dict(data or {})

    def get(self, key, default=None):
        return self._data.get(key, default)

    def keys(self):
        return self._data.keys()

    def as_dict(self) -> dict:
        return dict(self._data)

    def __contains__(self, key):
        return key in self._data

    def __eq__(self, other):
        return isinstance(other, EncryptedSecrets) and other._data == self._data

    def __bool__(self):
        return bool(self._data)

    def __repr__(self):
        return f"<secrets: {', '.join(sorted(self._data)) or 'none'} (hidden)>"

    __str__ = __repr__


class EncryptedSecretsField(models.TextField):
    """A TextField holding an encrypted JSON object of secret strings.

    The Python value is an EncryptedSecrets (hidden repr, so it cannot leak into a
    log line or a traceback's locals by accident); the database holds only the
    Fernet token. Decryption happens lazily on attribute access, and a wrong key
    raises CredentialsUnreadable.
    """

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return EncryptedSecrets()
        return _LazySecrets(value)

    def to_python(self, value):
        if isinstance(value, EncryptedSecrets):
            return value
        if value in (None, ""):
            return EncryptedSecrets()
        if isinstance(value, dict):
            return EncryptedSecrets(value)
        return _LazySecrets(value)

    def get_prep_value(self, value):
        if isinstance(value, _LazySecrets) and value._data is None:
            return value._token  # unchanged: keep the stored token as it is
        if isinstance(value, dict):
            value = EncryptedSecrets(value)
        if not value:
            return ""
        return encrypt_json(value.as_dict())

    def value_to_string(self, obj):
        # dumpdata/serialisation never writes secrets out.
        return ""


class _LazySecrets(EncryptedSecrets):
    __slots__ = ("_token",)

    def __init__(self, token: str):
        self._token = token
        self._data = None

    def _load(self):
        if self._data is None:
            self._data = decrypt_json(self._token)
        return self._data

    def get(self, key, default=None):
        return self._load().get(key, default)

    def keys(self):
        return self._load().keys()

    def as_dict(self):
        return dict(self._load())

    def __contains__(self, key):
        return key in self._load()

    def __eq__(self, other):
        return isinstance(other, EncryptedSecrets) and other.as_dict() == self.as_dict()

    def __bool__(self):
        return bool(self._token)

    def __repr__(self):
        return "<secrets (encrypted, hidden)>"

    __str__ = __repr__
