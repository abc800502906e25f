"""Dealer isolation of the API: every /api/v1/ URL, with dealer A's key, for
dealer B's objects, answers 404 and changes nothing; the lists hold A's only.

The URLs come from the URL resolver, so an endpoint added later is walked (or
fails test_it_walks_every_api_url until taught its arguments)."""
from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.api.scoping import DEALER_PATH
from apps.leads.models import FollowUp, Lead, LeadEvent, Reason, SalesStage, StatusLog
from tests.api.conftest import client_with

# A body for each write, valid for the object's own dealer (so only scoping refuses it).
BODIES = {
    "lead-change-status": {"to_status": "on_hold"},
    "lead-followups": {"scheduled_at": "2030-01-01T10:00:00Z"},
    "lead-complete-followup": {"outcome_notes": "Rang"},
    "lead-notes": {"text": "from another dealer"},
}
PUBLIC = {"schema", "docs"}


def _api_urls():
    """(name, argument names) of every named URL in the api namespace."""
    def walk(patterns, groups, namespace):
        for pattern in patterns:
            arguments = groups | set(pattern.pattern.regex.groupindex)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, arguments, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name and namespace == "api":
                yield pattern.name, frozenset(arguments - {"format"})
    return sorted(set(walk(get_resolver().url_patterns, frozenset(), None)))


def _their_urls(world, code):
    lead, followup = world[code]["lead"], world[code]["followup"]
    values = {"pk": lead.pk, "followup_id": followup.pk}
    urls = []
    for name, arguments in _api_urls():
        if name in PUBLIC or not arguments:
            continue
        urls.append((name, reverse(f"api:{name}", kwargs={a: values[a] for a in arguments})))
    return urls


def _writes() -> set[str]:
    """The names of the api URLs that take a POST, from the viewsets' own method
    maps (DRF's router puts `actions` on each view), so a write added later is
    known here without being listed."""
    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            elif namespace == "api" and pattern.name and "post" in (getattr(pattern.callback, "actions", None) or {}):
                yield pattern.name
    return set(walk(get_resolver().url_patterns, None))


def test_it_walks_every_api_url(world):
    names = {name for name, _ in _api_urls()}
    assert names >= {"lead-list", "lead-detail", "lead-change-status", "lead-followups", "lead-complete-followup",
                     "lead-notes", "reason-list", "stage-list", "schema", "docs"}
    assert {name for name, _ in _their_urls(world, "B200")} == names - PUBLIC - {"lead-list", "reason-list",
                                                                               "stage-list"}


def test_it_has_a_body_for_every_write_on_an_object():
    on_objects = {name for name, arguments in _api_urls() if arguments}
    writes = _writes() & on_objects
    assert writes >= {"lead-change-status", "lead-followups", "lead-complete-followup", "lead-notes"}
    assert writes == set(BODIES), "give each write on an object a body in BODIES"


def test_it_never_opens_nor_changes_another_dealers_objects(world, api_a):
    lead_b, followup_b = world["B200"]["lead"], world["B200"]["followup"]
    before = (Lead.objects.filter(pk=lead_b.pk).values().get(), FollowUp.objects.filter(pk=followup_b.pk).values().get(),
              StatusLog.objects.filter(lead=lead_b).count(), LeadEvent.objects.filter(lead=lead_b).count(),
              FollowUp.objects.filter(lead=lead_b).count())
    walked, posted = set(), set()
    for name, url in _their_urls(world, "B200"):
        assert api_a.get(url).status_code in (404, 405), f"GET {name}"
        walked.add(name)
        if name in _writes():
            response = api_a.post(url, BODIES[name], format="json")
            assert response.status_code == 404, f"POST {name}: {response.status_code}"
            assert "B200" not in response.content.decode() and lead_b.email not in response.content.decode()
            posted.add(name)
    assert walked == {name for name, arguments in _api_urls() if arguments and name not in PUBLIC}
    assert posted == _writes() & walked == set(BODIES)
    after = (Lead.objects.filter(pk=lead_b.pk).values().get(), FollowUp.objects.filter(pk=followup_b.pk).values().get(),
             StatusLog.objects.filter(lead=lead_b).count(), LeadEvent.objects.filter(lead=lead_b).count(),
             FollowUp.objects.filter(lead=lead_b).count())
    assert after == before


def test_it_does_the_same_requests_for_the_own_dealer(world, api_a):
    """The walk's bodies are valid: only the dealer made the difference above."""
    for name, url in _their_urls(world, "A100"):
        assert api_a.get(url).status_code in (200, 405), name
        if name in BODIES:
            assert api_a.post(url, BODIES[name], format="json").status_code in (200, 201), name


def test_it_does_not_find_a_followup_of_another_dealers_lead_under_an_own_lead(world, api_a):
    url = reverse("api:lead-complete-followup", args=[world["A100"]["lead"].pk, world["B200"]["followup"].pk])
    assert api_a.post(url, {"outcome_notes": "x"}, format="json").status_code == 404
    FollowUp.objects.get(pk=world["B200"]["followup"].pk, done_at__isnull=True)


@pytest.mark.parametrize("name, model", [("lead-list", Lead), ("reason-list", Reason), ("stage-list", SalesStage)])
def test_it_lists_only_the_keys_dealers_rows(world, name, model):
    for code in ("A100", "B200"):
        rows = client_with(world[code]["apikey_text"]).get(reverse(f"api:{name}")).json()
        ids = {row["id"] for row in (rows["results"] if isinstance(rows, dict) else rows)}
        own = set(model.objects.filter(**{DEALER_PATH[model]: world[code]["dealer"]}).values_list("pk", flat=True))
        assert own and ids == own, (name, code)


def test_it_never_reaches_another_dealers_leads_by_a_filter(world, api_a):
    bob_id = world["B200"]["lead"].owner_id
    rows = api_a.get(reverse("api:lead-list"), {"owner": bob_id}).json()["results"]
    assert rows == []


def test_it_scopes_keys_by_the_admins_dealer_field():
    for model, path in DEALER_PATH.items():
        if model in admin.site._registry:
            assert admin.site._registry[model].dealer_field == path, model
