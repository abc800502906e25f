"""One error format for every API answer that is not a success:

    {"errors": [{"field": "reason", "code": "required", "message": "Rejected needs a reason."}]}

`field` is "" when the error is not about one input field (a bad key, a missing
scope, too many requests). A refusal of the lead services (their Violations)
comes out with exactly the services' field names and messages, as the workbench
shows them.
"""
from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.violations import Violation


def _entries(detail, field: str = "") -> list[dict]:
    """DRF's error detail (a dict by field, a list, or one message) as entries."""
    if isinstance(detail, dict):
        found = []
        for name, value in detail.items():
            name = "" if name in ("non_field_errors", "__all__", "detail") else str(name)
            found += _entries(value, f"{field}.{name}" if field and name else (name or field))
        return found
    if isinstance(detail, list):
        return [entry for item in detail for entry in _entries(item, field)]
    code = getattr(detail, "code", None) or "invalid"
    return [{"field": field, "code": str(code), "message": str(detail)}]


def exception_handler(exc, context):
    """DRF's handler (status, WWW-Authenticate, Retry-After), then its body in
    the one format."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    # Http404 and Django's PermissionDenied have no detail: DRF's body has it.
    response.data = {"errors": _entries(getattr(exc, "detail", response.data))}
    return response


def violations_response(violations: list[Violation], status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    """A service's refusal: its Violations, field, code and message as they are."""
    return Response({"errors": [{"field": v.field, "code": v.code, "message": v.message}
                                | ({"detail": v.detail} if v.detail else {}) for v in violations]},
                    status=status_code)


def error_response(field: str, code: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"errors": [{"field": field, "code": code, "message": message}]}, status=status_code)
