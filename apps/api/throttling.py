"""The API's rate limits (DRF's Throttled answers 429 with Retry-After from `wait()`).

- Per key: LEADHUB_API_RATE requests per live key (settings).
- Per client address, for requests without a valid key (no Authorization header,
  or a key that is unknown, revoked or malformed): LEADHUB_API_ANON_RATE. These
  are refused before any work, but each still costs a key lookup, and a flood of
  guesses must not run unchecked. The address is apps.core.client_ip's, as the
  login lockout's. A request with a live key is never counted here, so many
  clients behind one address (a dealer's NAT) keep their own key's rate.
"""
from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from apps.core.client_ip import client_ip

from .models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        # Read per request rather than from DRF's cached THROTTLE_RATES, so the
        # setting is the one place (and tests can override it).
        return settings.LEADHUB_API_RATE

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return None  # no key: counted per address by KeylessRateThrottle
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class KeylessRateThrottle(SimpleRateThrottle):
    """Requests without a valid key, counted per client address."""

    scope = "api_keyless"

    def get_rate(self):
        return settings.LEADHUB_API_ANON_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}


def count_keyless(request) -> None:
    """Count a request that has no valid key against its address; raises
    Throttled (429) past LEADHUB_API_ANON_RATE. Called by the authentication
    (apps/api/authentication.py), which runs before DRF's permissions and
    throttles: a bad key is refused there, so a throttle class would never
    see it."""
    throttle = KeylessRateThrottle()
    if not throttle.allow_request(request, None):
        raise Throttled(wait=throttle.wait())
