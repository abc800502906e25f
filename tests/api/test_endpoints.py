"""Every endpoint's happy path and its refusals, as a dealer's system meets them."""
from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.leads.models import FollowUp, Lead, LeadEvent, Source, StatusLog
from apps.routing.models import AssignmentRule
from tests.api.conftest import error_fields
from tests.conftest import make_lead


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# --- leads: list ---------------------------------------------------------------------

def test_it_lists_the_dealers_leads_oldest_change_first(world, api_a):
    dealer = world["A100"]["dealer"]
    newer = make_lead(dealer, first_name="Newer")
    response = api_a.get(reverse("api:lead-list"))
    assert response.status_code == 200
    body = response.json()
    assert _ids(response) == [world["A100"]["lead"].pk, newer.pk]
    assert body["next"] is None
    row = body["results"][0]
    assert row["vendor"] == "cat" and row["owner_username"] == "alice" and row["status"] == "accepted"
    assert body["results"][1]["vendor"] == "manual"
    assert "count" not in body  # no COUNT(*) at millions of leads


def test_it_pages_with_a_cursor_without_skipping_or_repeating(world, api_a):
    dealer = world["A100"]["dealer"]
    made = [make_lead(dealer, first_name=f"P{i}") for i in range(7)]
    # Leads stamped with one time (a bulk change): the id breaks the tie.
    Lead.objects.filter(pk__in=[lead.pk for lead in made[:4]]).update(updated_at=timezone.now())
    seen, url, pages = [], reverse("api:lead-list") + "?page_size=3", 0
    while url:
        response = api_a.get(url)
        assert response.status_code == 200
        seen += _ids(response)
        url, pages = response.json()["next"], pages + 1
    expected = list(Lead.objects.filter(dealer=dealer).order_by("updated_at", "id").values_list("pk", flat=True))
    assert seen == expected and len(seen) == 8 and pages == 3


def test_it_brings_a_lead_changed_while_paging_again_at_the_end(world, api_a):
    dealer = world["A100"]["dealer"]
    first, second = make_lead(dealer, first_name="One"), make_lead(dealer, first_name="Two")
    page = api_a.get(reverse("api:lead-list") + "?page_size=2").json()
    assert [row["id"] for row in page["results"]] == [world["A100"]["lead"].pk, first.pk]
    first.company = "Changed meanwhile"
    first.save()
    rest = api_a.get(page["next"]).json()
    assert [row["id"] for row in rest["results"]] == [second.pk, first.pk]


def test_it_filters_the_list(world, api_a):
    dealer = world["A100"]["dealer"]
    alice = get_user_model().objects.get(username="alice")
    manual = make_lead(dealer, first_name="Walk-in")
    url = reverse("api:lead-list")
    vendor_lead = world["A100"]["lead"].pk
    assert _ids(api_a.get(url, {"status": "accepted"})) == [vendor_lead]
    assert _ids(api_a.get(url, {"status": "new"})) == [manual.pk]
    assert _ids(api_a.get(url, {"vendor": "cat"})) == [vendor_lead]
    assert _ids(api_a.get(url, {"vendor": "manual"})) == [manual.pk]
    assert _ids(api_a.get(url, {"vendor": "aimbase"})) == []
    assert _ids(api_a.get(url, {"owner": alice.pk})) == [vendor_lead]
    Lead.objects.filter(pk=vendor_lead).update(updated_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert _ids(api_a.get(url, {"updated_since": since})) == [manual.pk]
    assert _ids(api_a.get(url, {"updated_since": "2000-01-01"})) == [vendor_lead, manual.pk]


def test_it_refuses_bad_filters_with_a_clear_400(world, api_a):
    url = reverse("api:lead-list")
    for params, field in [({"updated_since": "yesterday"}, "updated_since"), ({"status": "won"}, "status"),
                          ({"vendor": "acme"}, "vendor"), ({"owner": "alice"}, "owner"),
                          ({"page_size": "501"}, "page_size"), ({"cursor": "garbage!"}, "cursor")]:
        response = api_a.get(url, params)
        assert response.status_code == 400, params
        errors = error_fields(response)
        assert list(errors) == [field], params
    assert "ISO 8601" in error_fields(api_a.get(url, {"updated_since": "yesterday"}))["updated_since"][0]


def test_it_refuses_numbers_python_or_the_database_cannot_take_with_a_400(world, api_a):
    # "²" passes str.isdigit() but not int(); 10**20 overflows a bigint.
    url = reverse("api:lead-list")
    for params, field in [({"owner": "²"}, "owner"), ({"page_size": "²"}, "page_size"),
                          ({"owner": "99999999999999999999"}, "owner"), ({"owner": "0"}, "owner"),
                          ({"page_size": "0"}, "page_size"), ({"owner": "1" * 2000}, "owner")]:
        response = api_a.get(url, params)
        assert response.status_code == 400, params
        assert list(error_fields(response)) == [field], params
    lead = world["A100"]["lead"]
    for body, field in [({"to_status": "on_hold", "reason": 10**20}, "reason"),
                        ({"to_status": "accepted", "stage": "²"}, "stage")]:
        response = api_a.post(reverse("api:lead-change-status", args=[lead.pk]), body, format="json")
        assert response.status_code == 400 and list(error_fields(response)) == [field], body
    response = api_a.post(reverse("api:lead-followups", args=[lead.pk]),
                          {"scheduled_at": "2030-01-01T10:00:00Z", "assigned_to": 10**20}, format="json")
    assert response.status_code == 400 and list(error_fields(response)) == ["assigned_to"]


def test_it_answers_a_non_numeric_lead_id_and_an_unknown_path_with_the_apis_404(world):
    # As a DMS sends it: a key, no session, no CSRF token (which Django's CSRF check would want).
    dms = APIClient(enforce_csrf_checks=True)
    dms.credentials(HTTP_AUTHORIZATION=f"Bearer {world['A100']['apikey_text']}")
    for method, path in [("get", "/api/v1/leads/abc/"), ("post", "/api/v1/leads/abc/notes/"),
                         ("get", "/api/v1/leads/²/"), ("get", "/api/v1/leads/99999999999999999999/"),
                         ("post", "/api/v1/leads/1/followups/99999999999999999999/complete/"),
                         ("get", "/api/v1/nothing-here/"), ("get", "/api/v1/")]:
        response = dms.post(path, {"text": "x"}, format="json") if method == "post" else dms.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json", path
        assert response.json()["errors"][0]["code"] == "not_found", path


# --- leads: one -------------------------------------------------------------------------

def test_it_reads_a_list_page_in_a_fixed_number_of_queries(world, api_a, django_assert_num_queries):
    dealer = world["A100"]["dealer"]
    stage = world["A100"]["stages"][0]
    for i in range(6):
        make_lead(dealer, first_name=f"Q{i}", owner=world["A100"]["lead"].owner, sales_stage=stage,
                  vendor_account=world["A100"]["account"] if i % 2 else None)
    api_a.get(reverse("api:lead-list"))  # the key's last use is stamped once a minute: not in the count
    # The key (with its dealer), then the page with owner, stage and account joined.
    with django_assert_num_queries(2):
        response = api_a.get(reverse("api:lead-list"))
    assert len(response.json()["results"]) == 7


def test_it_reads_the_lead_and_its_followups_once_for_the_detail(world, api_a, django_assert_num_queries):
    lead = world["A100"]["lead"]
    for day in (2, 3, 4):
        api_a.post(reverse("api:lead-followups", args=[lead.pk]),
                   {"scheduled_at": f"2030-01-0{day}T10:00:00Z"}, format="json")
    api_a.get(reverse("api:lead-detail", args=[lead.pk]))
    # The key; the lead with its related rows; its follow-ups (used by the
    # timeline too); the timeline's status logs and events.
    with django_assert_num_queries(5):
        response = api_a.get(reverse("api:lead-detail", args=[lead.pk]))
    assert len(response.json()["followups"]) == 4


def test_it_caps_the_timeline_at_its_newest_entries(world, api_a, monkeypatch):
    monkeypatch.setattr("apps.api.views.TIMELINE_LIMIT", 2)
    lead = world["A100"]["lead"]
    for text in ("one", "two", "three"):
        api_a.post(reverse("api:lead-notes", args=[lead.pk]), {"text": text}, format="json")
    timeline = api_a.get(reverse("api:lead-detail", args=[lead.pk])).json()["timeline"]
    assert [entry["detail"] for entry in timeline] == ["three", "two"]


def test_it_shows_one_lead_with_its_timeline_and_followups(world, api_a):
    lead, followup = world["A100"]["lead"], world["A100"]["followup"]
    response = api_a.get(reverse("api:lead-detail", args=[lead.pk]))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == lead.pk and body["email"] == lead.email
    assert [f["id"] for f in body["followups"]] == [followup.pk]
    kinds = [entry["kind"] for entry in body["timeline"]]
    assert "status" in kinds and "received" in kinds and "followup" in kinds


# --- leads: create ----------------------------------------------------------------------

def test_it_creates_a_lead_as_hand_entry_does_with_origin_api(world, api_a):
    response = api_a.post(reverse("api:lead-list"), {
        "first_name": "Wendy", "last_name": "Web", "email": "wendy@example.com", "phone": "(309) 555-0199",
        "country": "US", "product_interest": "Mini excavator", "source": "website"}, format="json")
    assert response.status_code == 201, response.content
    lead = Lead.objects.get(pk=response.json()["id"])
    assert lead.dealer == world["A100"]["dealer"] and lead.origin == "api" and lead.status == "new"
    assert lead.phone_normalized == "+13095550199"  # normalised like every lead
    assert lead.arrival_processed_at is not None  # arrivals ran: assignment rules and customer matching
    assert lead.history.first().history_change_reason == "Created by API key A100 DMS"


def test_it_lets_an_assignment_rule_assign_a_lead_created_through_the_api(world, api_a):
    dealer = world["A100"]["dealer"]
    alice = get_user_model().objects.get(username="alice")
    rule = AssignmentRule.objects.create(dealer=dealer, name="Website leads", vendors="manual", position=0)
    rule.reps.set([alice])
    response = api_a.post(reverse("api:lead-list"), {"first_name": "Rita", "email": "rita@example.com"},
                          format="json")
    assert response.status_code == 201
    assert Lead.objects.get(pk=response.json()["id"]).owner == alice
    assert response.json()["owner_username"] == "alice"


def test_it_recognises_the_same_customer_on_create(world, api_a):
    dealer = world["A100"]["dealer"]
    earlier = make_lead(dealer, email="same@example.com", first_name="Sam")
    response = api_a.post(reverse("api:lead-list"), {"first_name": "Sam", "email": "same@example.com"},
                          format="json")
    assert response.status_code == 201
    created = Lead.objects.get(pk=response.json()["id"])
    earlier.refresh_from_db()
    assert created.customer_id is not None and created.customer_id == earlier.customer_id


def test_it_refuses_an_invalid_lead_naming_each_field(world, api_a):
    bob = get_user_model().objects.get(username="bob")
    response = api_a.post(reverse("api:lead-list"), {"email": "not-an-email", "country": "XX", "owner": bob.pk,
                                                     "first_name": "x" * 81}, format="json")
    assert response.status_code == 400
    errors = error_fields(response)
    assert set(errors) == {"email", "country", "owner", "first_name"}
    assert errors["owner"] == [f"There is no person with id {bob.pk} at this dealer."]
    assert not Lead.objects.filter(first_name="x" * 81).exists()


def test_it_refuses_a_second_lead_with_the_same_reference(world, api_a):
    url = reverse("api:lead-list")
    assert api_a.post(url, {"first_name": "A", "external_ref": "web-17"}, format="json").status_code == 201
    response = api_a.post(url, {"first_name": "B", "external_ref": "web-17"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]
    assert Lead.objects.filter(external_ref="web-17").count() == 1


# --- status and stage -----------------------------------------------------------------

def test_it_changes_the_stage_through_the_status_service(world, api_a):
    stage = world["A100"]["stages"][1]
    lead = make_lead(world["A100"]["dealer"], status="accepted")  # a lead of no vendor: LeadHub's rules only
    response = api_a.post(reverse("api:lead-change-status", args=[lead.pk]),
                          {"to_status": "accepted", "stage": stage.pk}, format="json")
    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert lead.sales_stage == stage and response.json()["sales_stage"] == stage.pk
    log = StatusLog.objects.filter(lead=lead).order_by("-id").first()
    assert log.actor_label == "API key A100 DMS" and log.source == Source.API and log.actor is None
    assert response.json()["timeline"][0]["who"] == "API key A100 DMS"


def test_it_applies_the_vendors_rules_with_its_field_and_message(world, api_a):
    lead, stage = world["A100"]["lead"], world["A100"]["stages"][1]  # a Cat lead
    response = api_a.post(reverse("api:lead-change-status", args=[lead.pk]),
                          {"to_status": "accepted", "stage": stage.pk}, format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "opportunity_amount" and error["message"].startswith("Enter the opportunity amount")
    assert "Cat" in error["detail"]  # the vendor's own wording, as the workbench's second line
    response = api_a.post(reverse("api:lead-change-status", args=[lead.pk]), {
        "to_status": "accepted", "stage": stage.pk, "opportunity_amount": "50000", "currency": "USD",
        "target_date": "2030-06-30"}, format="json")
    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert lead.sales_stage == stage and lead.opportunity_amount == 50000


def test_it_closes_a_lead_with_its_outcome_facts(world, api_a):
    lead, reasons = world["A100"]["lead"], world["A100"]["reasons"]
    response = api_a.post(reverse("api:lead-change-status", args=[lead.pk]), {
        "to_status": "closed_won", "reason": reasons["closed_won"].pk, "opportunity_amount": "125000.00",
        "currency": "usd", "customer_number": "C-42", "target_date": "2030-06-30"}, format="json")
    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert (lead.status, lead.probability, lead.currency, lead.customer_number) == ("closed_won", 100, "USD", "C-42")


def test_it_answers_a_refused_change_with_a_400_of_the_services_fields_and_messages(world, api_a):
    lead, reasons = world["A100"]["lead"], world["A100"]["reasons"]
    new_lead = make_lead(world["A100"]["dealer"])
    response = api_a.post(reverse("api:lead-change-status", args=[new_lead.pk]),
                          {"to_status": "rejected", "reason": reasons["rejection"].pk}, format="json")
    assert response.status_code == 400
    # The rejection reason requires a comment: the rule's own field and words.
    assert {"field": "comment", "code": "comment_required_for_reason",
            "message": f"A comment is required with the reason '{reasons['rejection'].label}'."} \
        in response.json()["errors"]
    response = api_a.post(reverse("api:lead-change-status", args=[lead.pk]), {"to_status": "new"}, format="json")
    assert response.status_code == 400
    assert error_fields(response)["to_status"][0].startswith("A lead cannot go from Accepted to New")
    new_lead.refresh_from_db()
    assert new_lead.status == "new"
    assert not StatusLog.objects.filter(lead=new_lead).exists()


def test_it_refuses_another_dealers_reason_as_unknown(world, api_a):
    lead = make_lead(world["A100"]["dealer"])
    theirs = world["B200"]["reasons"]["on_hold"]
    response = api_a.post(reverse("api:lead-change-status", args=[lead.pk]),
                          {"to_status": "on_hold", "reason": theirs.pk}, format="json")
    assert response.status_code == 400
    assert error_fields(response) == {"reason": [f"There is no reason {theirs.pk} at this dealer "
                                                 "(see GET /api/v1/reasons/)."]}


def test_it_refuses_another_dealers_stage_as_unknown(world, api_a):
    lead = make_lead(world["A100"]["dealer"], status="accepted")
    theirs = world["B200"]["stages"][1]
    response = api_a.post(reverse("api:lead-change-status", args=[lead.pk]),
                          {"to_status": "accepted", "stage": theirs.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "stage", "code": "does_not_exist",
                                          "message": f"There is no stage {theirs.pk} at this dealer "
                                                     "(see GET /api/v1/stages/)."}]
    lead.refresh_from_db()
    assert lead.sales_stage is None and not StatusLog.objects.filter(lead=lead).exists()


def test_it_words_a_bad_status_and_probability_as_the_workbench_does(world, api_a):
    lead = make_lead(world["A100"]["dealer"])
    url = reverse("api:lead-change-status", args=[lead.pk])
    response = api_a.post(url, {"to_status": "won"}, format="json")
    assert response.status_code == 400
    assert {"field": "to_status", "code": "invalid_choice", "message": "'won' is not a lead status."} \
        in response.json()["errors"]
    response = api_a.post(url, {"to_status": "accepted", "probability": 150}, format="json")
    assert response.status_code == 400
    assert error_fields(response)["probability"] == ["Probability is a percentage from 0 to 100."]


# --- follow-ups and notes ----------------------------------------------------------------

def test_it_lists_and_schedules_followups(world, api_a):
    lead = world["A100"]["lead"]
    url = reverse("api:lead-followups", args=[lead.pk])
    assert [f["id"] for f in api_a.get(url).json()] == [world["A100"]["followup"].pk]
    when = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    response = api_a.post(url, {"kind": "visit", "scheduled_at": when.isoformat(), "notes": "Bring brochure"},
                          format="json")
    assert response.status_code == 201, response.content
    followup = FollowUp.objects.get(pk=response.json()["id"])
    assert followup.kind == "visit" and followup.assigned_to.username == "alice"  # the lead's owner
    lead.refresh_from_db()
    assert lead.next_follow_up_at == when
    assert followup.history.first().history_change_reason == "Scheduled by API key A100 DMS"


def test_it_refuses_a_followup_for_another_dealers_person(world, api_a):
    bob = get_user_model().objects.get(username="bob")
    response = api_a.post(reverse("api:lead-followups", args=[world["A100"]["lead"].pk]),
                          {"scheduled_at": "2030-01-01T10:00:00Z", "assigned_to": bob.pk}, format="json")
    assert response.status_code == 400
    assert list(error_fields(response)) == ["assigned_to"]


def test_it_completes_a_followup_once_and_schedules_the_next(world, api_a):
    lead, followup = world["A100"]["lead"], world["A100"]["followup"]
    url = reverse("api:lead-complete-followup", args=[lead.pk, followup.pk])
    nxt = (timezone.now() + timedelta(days=7)).isoformat()
    response = api_a.post(url, {"outcome_notes": "Quoted", "next_at": nxt, "next_kind": "call"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["followup"]["done_at"] and body["next"]["kind"] == "call"
    followup.refresh_from_db()
    assert followup.outcome_notes == "Quoted"
    again = api_a.post(url, {"outcome_notes": "Twice"}, format="json")
    assert again.status_code == 400
    assert again.json()["errors"] == [{"field": "followup", "code": "already_done",
                                       "message": "This follow-up is already done."}]


def test_it_names_the_key_on_the_timeline_for_followups_it_schedules_and_completes(world, api_a):
    lead, followup = world["A100"]["lead"], world["A100"]["followup"]
    when = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    scheduled = api_a.post(reverse("api:lead-followups", args=[lead.pk]),
                           {"kind": "visit", "scheduled_at": when.isoformat()}, format="json")
    assert scheduled.status_code == 201, scheduled.content
    done = api_a.post(reverse("api:lead-complete-followup", args=[lead.pk, followup.pk]),
                      {"outcome_notes": "Quoted", "next_at": (when + timedelta(days=7)).isoformat(),
                       "next_kind": "email"}, format="json")
    assert done.status_code == 200, done.content
    timeline = api_a.get(reverse("api:lead-detail", args=[lead.pk])).json()["timeline"]

    def who(title_start):
        return [entry["who"] for entry in timeline if entry["kind"] == "followup"
                and entry["title"].startswith(title_start)]

    key = "API key A100 DMS"
    assert who("Visit scheduled") == [key]
    assert who(f"{followup.get_kind_display()} done") == [key]
    assert who("E-mail scheduled") == [key]  # the next one, scheduled with the completion
    followup.refresh_from_db()
    assert followup.done_by is None and followup.done_by_label == key  # a key is no user


def test_it_adds_a_note_by_the_key(world, api_a):
    lead = world["A100"]["lead"]
    response = api_a.post(reverse("api:lead-notes", args=[lead.pk]), {"text": "Called from the DMS"},
                          format="json")
    assert response.status_code == 201
    note = LeadEvent.objects.get(lead=lead, kind="note")
    assert note.summary == "Called from the DMS" and note.actor_label == "API key A100 DMS"
    assert response.json()[0]["detail"] == "Called from the DMS"


def test_it_refuses_an_empty_note_in_the_services_words(world, api_a):
    response = api_a.post(reverse("api:lead-notes", args=[world["A100"]["lead"].pk]), {"text": "  "},
                          format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "text", "code": "required", "message": "Write the note first."}]


# --- reasons and stages -------------------------------------------------------------------

def test_it_lists_the_dealers_reasons_with_their_mappings(world, api_a):
    response = api_a.get(reverse("api:reason-list"))
    assert response.status_code == 200
    labels = {row["label"] for row in response.json()}
    assert labels == {reason.label for reason in world["A100"]["reasons"].values()}
    rejection = next(row for row in response.json() if row["kind"] == "rejection")
    assert rejection["mappings"] == [{"vendor": "cat", "vendor_value": "Bad Contact Information", "vendor_code": ""}]


def test_it_lists_the_dealers_stages_with_their_mappings(world, api_a):
    response = api_a.get(reverse("api:stage-list"))
    assert response.status_code == 200
    assert [row["name"] for row in response.json()] == ["Discovery", "Quote"]
    assert response.json()[0]["mappings"] == [{"vendor": "cat", "vendor_value": "Qualification", "probability": 10}]
