"""Signing deliveries, Stripe style (docs/webhooks.md).

Header `LeadHub-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
with a second v1 (the previous secret's) during a rotation's grace period. The
timestamp is signed with the body, so a captured delivery cannot be replayed
later than the receiver's tolerance. Plain standard library: a receiver can copy
verify_signature as it is.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "LeadHub-Signature"
DEFAULT_TOLERANCE = 300  # seconds


class SignatureError(ValueError):
    """The signature header is missing, malformed, wrong, or too old."""


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of f"{timestamp}." + body, keyed with the endpoint's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets: str | Sequence[str], body: bytes, *, timestamp: int | None = None) -> str:
    """The LeadHub-Signature header value for `body`, signed now (or at
    `timestamp`): one v1 per secret, in the order given (the endpoint's current
    secret first, then, during a rotation's grace period, the previous one)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    secrets = [secrets] if isinstance(secrets, str) else list(secrets)
    return f"t={timestamp}," + ",".join(f"v1={compute_signature(s, timestamp, body)}" for s in secrets)


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = DEFAULT_TOLERANCE, *,
                     now: float | None = None) -> int:
    """Check a LeadHub-Signature header against the raw request body.

    Returns the signed timestamp. Raises SignatureError when the header is
    missing or malformed, when no v1 signature matches (a tampered body, a wrong
    secret), or when the timestamp is more than `tolerance` seconds from now (a
    replay). Several v1 values are accepted (any may match): during a rotation's
    grace period a header carries one signature with the new secret and one
    with the old, so a receiver with either secret accepts it.
    """
    if not header:
        raise SignatureError("no LeadHub-Signature header")
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("the timestamp is not a number") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("the header needs t=<timestamp> and v1=<signature>")
    expected = compute_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("the signature does not match the body")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the timestamp is {int(now - timestamp)} s old (tolerance {tolerance} s)")
    return timestamp
