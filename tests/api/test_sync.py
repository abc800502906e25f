"""The change feed a syncing client walks: its cursor on every page, resuming
later, filters kept across pages, updated_since inclusive, and the changes that
must reach it (follow-ups, a lead of a shared vendor account)."""
from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from apps.api.pagination import decode_cursor
from apps.leads.models import Lead
from tests.conftest import make_lead


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_it_gives_the_cursor_of_the_last_row_on_every_page_the_last_one_included(world, api_a):
    dealer = world["A100"]["dealer"]
    made = [make_lead(dealer, first_name=f"C{i}") for i in range(2)]
    body = api_a.get(reverse("api:lead-list")).json()
    assert body["next"] is None  # one page only
    last = Lead.objects.get(pk=made[-1].pk)
    assert decode_cursor(body["cursor"]) == (last.updated_at, last.pk)


def test_it_resumes_after_the_last_page_with_its_cursor(world, api_a):
    dealer = world["A100"]["dealer"]
    make_lead(dealer, first_name="Before")
    first = api_a.get(reverse("api:lead-list")).json()
    assert first["next"] is None
    nothing = api_a.get(reverse("api:lead-list"), {"cursor": first["cursor"]}).json()
    assert nothing["results"] == [] and nothing["cursor"] == first["cursor"]  # an empty page keeps the point
    later = make_lead(dealer, first_name="Later")
    changed = world["A100"]["lead"]
    changed.company = "Changed later"
    changed.save()
    resumed = api_a.get(reverse("api:lead-list"), {"cursor": first["cursor"]})
    assert _ids(resumed) == [later.pk, changed.pk]


def test_it_keeps_the_filters_in_next_with_a_cursor(world, api_a):
    dealer = world["A100"]["dealer"]
    fresh = [make_lead(dealer, first_name=f"F{i}") for i in range(3)]
    seen, url = [], reverse("api:lead-list") + "?status=new&vendor=manual&page_size=1"
    while url:
        response = api_a.get(url)
        assert response.status_code == 200
        seen += _ids(response)
        url = response.json()["next"]
        if url:
            assert "status=new" in url and "vendor=manual" in url and "page_size=1" in url
    assert seen == [lead.pk for lead in fresh]  # never the accepted Cat lead of the world


def test_it_treats_updated_since_as_inclusive(world, api_a):
    lead = world["A100"]["lead"]
    stamp = Lead.objects.get(pk=lead.pk).updated_at
    assert _ids(api_a.get(reverse("api:lead-list"), {"updated_since": stamp.isoformat()})) == [lead.pk]
    later = (stamp + timedelta(microseconds=1)).isoformat()
    assert _ids(api_a.get(reverse("api:lead-list"), {"updated_since": later})) == []


def test_it_carries_a_scheduled_followup_in_the_change_feed(world, api_a):
    lead = world["A100"]["lead"]
    before = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(updated_at=before - timedelta(hours=1))
    assert _ids(api_a.get(reverse("api:lead-list"), {"updated_since": before.isoformat()})) == []
    response = api_a.post(reverse("api:lead-followups", args=[lead.pk]),
                          {"scheduled_at": "2030-01-01T10:00:00Z"}, format="json")
    assert response.status_code == 201
    assert _ids(api_a.get(reverse("api:lead-list"), {"updated_since": before.isoformat()})) == [lead.pk]


def test_it_carries_a_completed_followup_in_the_change_feed_when_the_next_date_stays(world, api_a):
    lead, followup = world["A100"]["lead"], world["A100"]["followup"]
    # A later open follow-up: completing it leaves next_follow_up_at as it is.
    later = api_a.post(reverse("api:lead-followups", args=[lead.pk]),
                       {"scheduled_at": "2031-01-01T10:00:00Z"}, format="json").json()
    next_before = Lead.objects.get(pk=lead.pk).next_follow_up_at
    assert next_before is not None and followup.done_at is None
    before = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(updated_at=before - timedelta(hours=1))
    done = api_a.post(reverse("api:lead-complete-followup", args=[lead.pk, later["id"]]),
                      {"outcome_notes": "Rang"}, format="json")
    assert done.status_code == 200, done.content
    assert Lead.objects.get(pk=lead.pk).next_follow_up_at == next_before
    assert _ids(api_a.get(reverse("api:lead-list"), {"updated_since": before.isoformat()})) == [lead.pk]


def test_it_finds_a_lead_of_another_dealers_shared_cat_account_by_vendor(world, api_a):
    # A Cat account of dealer B serving A's dealer code: the lead is A's, the account B's.
    shared = make_lead(world["A100"]["dealer"], first_name="Shared", vendor_account=world["B200"]["account"],
                       vendor_lead_id="CAT-SHARED-1")
    ids = _ids(api_a.get(reverse("api:lead-list"), {"vendor": "cat"}))
    assert shared.pk in ids and world["A100"]["lead"].pk in ids
    assert world["B200"]["lead"].pk not in ids  # still the key's dealer only
    assert shared.pk not in _ids(api_a.get(reverse("api:lead-list"), {"vendor": "manual"}))
