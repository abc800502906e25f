"""Middleware that keeps every page answering: a busy database is a 503 "try
again" page, and a tampered admin action is a 400, never a 500."""
from __future__ import annotations

import sys

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponse, HttpResponseBadRequest
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error

from .busy import RETRY_AFTER_SECONDS, is_busy_error

# The widest integer SQLite and PostgreSQL's bigint hold: a larger "id" is not
# an id (SQLite raises OverflowError on it, PostgreSQL an out-of-range error).
BIGINT_MIN, BIGINT_MAX = -(2 ** 63), 2 ** 63 - 1


class DatabaseBusyMiddleware:
    """Turns the database's "busy, try again" errors (apps.core.busy) into a 503
    page with Retry-After. The page is rendered from a template that reads
    nothing from the database (the database is what is busy)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return busy_response() if is_busy_error(exception) else None


def _admin_model_for(url_name: str):
    for model in admin.site._registry:
        if url_name == f"{model._meta.app_label}_{model._meta.model_name}_changelist":
            return model
    return None


def _valid_pk(field, value: str) -> bool:
    try:
        python_value = field.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return False
    if isinstance(field, (models.AutoField, models.IntegerField)) and python_value is not None:
        return BIGINT_MIN <= python_value <= BIGINT_MAX
    return True


class AdminActionGuardMiddleware:
    """A POST of an admin action whose selection is not a list of this model's
    ids (a tampered form, a bot) gets a 400 with a plain sentence. Django's admin
    would pass the values to the database and fail with a 500 (ValueError for
    "1x", OverflowError for a 30-digit number). One place for every admin,
    LeadHub's and the third-party ones (auth, django-q2, axes)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or "_selected_action" not in request.POST:
            return None
        match = request.resolver_match
        if match is None or match.namespace != "admin" or not (match.url_name or "").endswith("_changelist"):
            return None
        model = _admin_model_for(match.url_name)
        if model is None:
            return None
        field = model._meta.pk
        if all(_valid_pk(field, value) for value in request.POST.getlist("_selected_action")):
            return None
        return HttpResponseBadRequest("The selection sent with this action is not a list of this list's items. "
                                      "Reload the list, select again and retry.", content_type="text/plain")


def busy_response() -> HttpResponse:
    """The 503 "LeadHub is busy, try again" page with Retry-After. Rendered
    without the request, so no context processor reads the session or the user
    from the busy database; the admin's header and look come from admin.site."""
    body = render_to_string("leadhub/busy.html", {
        "retry_after": RETRY_AFTER_SECONDS, "site_header": admin.site.site_header,
        "site_title": admin.site.site_title, "site_url": admin.site.site_url})
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request, *args, **kwargs):
    """handler500: a busy database raised outside a view (a middleware saving the
    session, a template) is still the "try again" page, not a 500. Anything else
    is Django's own 500 page."""
    exc = sys.exc_info()[1]
    if exc is not None and is_busy_error(exc):
        return busy_response()
    return django_server_error(request, *args, **kwargs)
