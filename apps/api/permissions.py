"""Who may call what: a live key for everything, the write scope for writes."""
from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .models import ApiKey, Scope


class HasApiKey(BasePermission):
    """Every endpoint needs a key (without one, DRF answers 401 with WWW-Authenticate)."""

    message = "Send an API key: Authorization: Bearer lh_..."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class WriteScopeForWrites(BasePermission):
    """POST, PUT, PATCH, DELETE need a key with the write scope: 403 otherwise."""

    message = ("This API key is read-only. Ask a dealer admin for a key with the \"read and write\" scope "
               "to create or change anything.")
    code = "read_only_key"

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return isinstance(request.auth, ApiKey) and request.auth.scope == Scope.WRITE
