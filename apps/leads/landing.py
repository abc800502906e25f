"""Where people land after logging in: dealer staff on "My leads" (the queue: what
to do next), dealer admins on the dealer's dashboard (the reports app's index, when
installed; else My leads), not on the admin's list of models. IT (superusers
without a dealer) keeps the admin index. A link to the index stays in the
breadcrumbs ("Home"), so a dealer admin still reaches reasons and mappings."""
from __future__ import annotations

from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

from apps.accounts.models import Role
from apps.accounts.scoping import dealer_ids_for

LANDING_KEY = "leadhub_landing"
QUEUE, DASHBOARD = "admin:leads_lead_queue", "admin:reports_leadreport_changelist"


def _landing_url(name) -> str:
    try:
        return reverse(name if name in (QUEUE, DASHBOARD) else QUEUE)
    except NoReverseMatch:  # no reports app installed: the queue
        return reverse(QUEUE)


def remember_landing(sender, request, user, **kwargs) -> None:
    """user_logged_in (connected in LeadsConfig.ready): a dealer's person lands on
    the queue after this login."""
    if request is not None and hasattr(request, "session") and not user.is_superuser and dealer_ids_for(user):
        request.session[LANDING_KEY] = DASHBOARD if dealer_ids_for(user, role=Role.ADMIN) else QUEUE


class LandingMiddleware:
    """The login's redirect to the admin index becomes the queue, once, right after
    logging in (a later visit to the index shows the index; a login that was on its
    way to another page goes there)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(LANDING_KEY) and request.method == "GET":
            # The first page after logging in decides: the login's own redirect to
            # the index lands on the queue; a `next` page the person asked for wins.
            session_value = session.pop(LANDING_KEY)
            if request.path == reverse("admin:index"):
                return HttpResponseRedirect(_landing_url(session_value))
        return self.get_response(request)

