"""`Authorization: Bearer <key>`: DRF authentication by API key (apps/api/keys.py)."""
from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from . import keys
from .throttling import count_keyless


class ApiKeyAuthentication(BaseAuthentication):
    """A request without the header is anonymous (the permission then answers 401);
    a header with a key that is unknown, revoked or malformed is a 401 at once.
    Both carry `WWW-Authenticate: Bearer` (authenticate_header). Both are counted
    against the client's address first (throttling.count_keyless): past its
    rate, 429."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            count_keyless(request)
            return None
        if len(parts) != 2:
            count_keyless(request)
            raise AuthenticationFailed("Send the key as one word after Bearer: Authorization: Bearer lh_...")
        try:
            text = parts[1].decode("ascii")
        except UnicodeDecodeError:
            count_keyless(request)
            raise AuthenticationFailed("This API key is not valid.") from None
        key = keys.authenticate(text)
        if key is None:
            count_keyless(request)
            raise AuthenticationFailed("This API key is not valid, or it was revoked.")
        # No person made the request: request.user stays anonymous (so nothing, the
        # audit history included, mistakes the key for a user); request.auth is the key.
        return AnonymousUser(), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="LeadHub API"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """The key in the OpenAPI schema: an HTTP bearer scheme (Swagger UI's Authorize)."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "lh_<prefix>_<secret>",
                "description": "A dealer's API key, created by a dealer admin (docs/api.md)."}
