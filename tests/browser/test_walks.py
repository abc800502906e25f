"""Issue 17, walked in Chromium as dealer staff (sam) and as a dealer admin (ada):
landing on My leads, the queue's switch and its links to the list, an outcome that
shows what it needs at once, errors in plain words once with the vendor's wording
as a secondary line, a probability out of the stage's range, a closed lead's
closing, a change Cat cannot take yet (said at save, re-checked when the reason is
mapped, completed on the lead), notes, a call that counts as contact, taking an
unassigned lead, bulk outcomes from the list, and the import preview's plain words.
"""
from __future__ import annotations

from datetime import date

import pytest

from apps.leads import services
from apps.leads.models import Lead, LeadEvent, Reason, ReasonMapping, StageMapping
from apps.sync.models import OutboxItem, OutboxState
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_cat_account, make_lead, make_reasons, make_stages, make_user

pytestmark = pytest.mark.django_db(transaction=True)
PEOPLE = ["sam", "ada"]  # dealer staff, dealer admin


@pytest.fixture
def shop(settings, dealer_a):
    settings.LEADHUB_PUSH_ON_COMMIT = False
    sam = make_user("sam", dealer=dealer_a)
    ada = make_user("ada", dealer=dealer_a, role="admin")
    reasons = make_reasons(dealer_a)
    other_dealer = reasons["rejection"]
    other_dealer.label, other_dealer.requires_comment = "Another dealer's area", False
    other_dealer.save()
    ReasonMapping.objects.create(reason=other_dealer, vendor="cat", vendor_value="For Another Dealer")
    stages = make_stages(dealer_a)
    StageMapping.objects.create(stage=stages[0], vendor="cat", vendor_value="Qualification", probability=10)
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, first_name="Quinn", last_name="Quarry", vendor_account=account,
                     vendor_lead_id="00QWALK1", owner=sam, product_interest="Used 320 excavator")
    return {"sam": sam, "ada": ada, "reasons": reasons, "stages": stages, "account": account, "lead": lead,
            "people": {"sam": sam, "ada": ada}}


def workbench(page, lead):
    page.goto(f"/admin/leads/lead/{lead.pk}/work/")


def row_hidden(page, selector) -> bool:
    return page.locator(selector).evaluate("e => e.closest('.form-row').classList.contains('wb-hidden')")


@pytest.mark.parametrize("username", PEOPLE)
def test_they_land_on_my_leads_switch_whose_and_open_a_bucket_as_a_list(page, shop, dealer_a, username):
    make_lead(dealer_a, first_name="Unowned", email="unowned@acme.test")
    make_lead(dealer_a, first_name="Mine", last_name="Only", email="mine@acme.test", owner=shop["people"][username])
    log_in(page, username, PASSWORD)
    if username == "ada":  # a dealer admin lands on the dealer's dashboard, My leads a click away
        assert page.url.endswith("/admin/reports/leadreport/")
        page.click("#user-tools >> text=My leads")
    assert page.url.endswith("/admin/leads/lead/queue/")  # where the work is, not the model index
    assert "Unowned" in page.inner_text("#new")  # mine and unassigned by default
    page.click("text=Only mine")
    page.wait_for_url("**whose=mine")
    assert "Unowned" not in page.inner_text("#new") and "Mine Only" in page.inner_text("#new")
    page.click("#new a.queue-all")
    page.wait_for_url("**/admin/leads/lead/?*todo=new*")
    listed = page.inner_text("#result_list")
    assert "whose=mine" in page.url and "Mine" in listed and "Unowned" not in listed


@pytest.mark.parametrize("username", PEOPLE)
def test_advancing_a_stage_shows_every_field_it_needs_at_once(page, shop, username):
    lead = shop["lead"]
    assert services.lead_change_status(lead=lead, to_status="accepted", actor=shop["sam"]).ok  # no stage yet
    log_in(page, username, PASSWORD)
    workbench(page, lead)
    page.click("a.wb-action[data-status=accepted]")  # "Advance stage"
    assert row_hidden(page, "#id_opportunity_amount")  # no stage picked: Cat has no opportunity yet
    page.select_option("#id_stage", label=str(shop["stages"][0]))
    for field in ("opportunity_amount", "target_date"):  # shown and marked before any save
        assert not row_hidden(page, f"#id_{field}"), field
        assert "required" in (page.get_attribute(f"label[for=id_{field}]", "class") or ""), field
    assert Lead.objects.get(pk=lead.pk).sales_stage is None  # nothing was saved to find that out


@pytest.mark.parametrize("username", PEOPLE)
def test_a_vendor_rule_is_said_once_in_plain_words_with_the_vendors_own_below(page, shop, username):
    log_in(page, username, PASSWORD)
    workbench(page, shop["lead"])
    page.click("a.wb-action[data-status=rejected]")
    page.select_option("#id_reason", label=str(shop["reasons"]["rejection"]))
    error = page.locator(".field-comment .errorlist li")
    error.first.wait_for()
    assert error.count() == 1
    detail = error.locator(".error-detail").inner_text()
    message = error.inner_text().replace(detail, "").strip()
    assert message == "Add a comment: Cat needs one when the reason is 'Another dealer's area'."
    assert detail.startswith("Cat: rejectedReasonComments is required")  # the vendor's words, secondary
    page.click("#outcome-form input[type=submit]")  # saving anyway: refused, the same message once
    page.wait_for_load_state()
    page.locator(".field-comment .errorlist li").first.wait_for()
    assert page.locator("#outcome-form li", has_text="Add a comment").count() == 1
    assert Lead.objects.get(pk=shop["lead"].pk).status == "new"


@pytest.mark.parametrize("username", PEOPLE)
def test_a_probability_outside_the_stages_range_is_refused_on_its_field(page, shop, username):
    log_in(page, username, PASSWORD)
    workbench(page, shop["lead"])
    page.click("a.wb-action[data-status=accepted]")
    page.select_option("#id_stage", label=str(shop["stages"][0]))  # Cat Qualification: 1-20 %
    page.fill("#id_probability", "90")
    page.fill("#id_opportunity_amount", "1000")
    page.fill("#id_target_date", "2027-03-01")
    page.click("#outcome-form input[type=submit]")
    page.wait_for_load_state()
    error = page.locator(".field-probability .errorlist li").first
    error.wait_for()
    assert "Enter a probability from 1 to 20 %" in error.inner_text()
    assert Lead.objects.get(pk=shop["lead"].pk).status == "new" and not OutboxItem.objects.exists()


@pytest.mark.parametrize("username", PEOPLE)
def test_a_closed_lead_shows_its_closing(page, shop, username):
    lead, sam = shop["lead"], shop["sam"]
    assert services.lead_change_status(lead=lead, to_status="accepted", stage=shop["stages"][0], actor=sam,
                                       updates={"opportunity_amount": 1000, "target_date": date(2027, 3, 1)}).ok
    assert services.lead_change_status(lead=lead, to_status="closed_no_deal", actor=sam,
                                       updates={"customer_number": "C-1"}).ok
    log_in(page, username, PASSWORD)
    workbench(page, lead)
    closing = page.inner_text(".wb-closing")
    assert "Closed no deal" in closing and "its last stage was Discovery" in closing
    assert "final" in page.inner_text("#outcome")


@pytest.mark.parametrize("username", PEOPLE)
def test_a_change_cat_cannot_take_yet_is_said_then_completed_once_mapped(page, shop, dealer_a, username):
    lead = shop["lead"]
    quiet = Reason.objects.create(dealer=dealer_a, kind="rejection", label="Gone quiet", requires_comment=False)
    log_in(page, username, PASSWORD)
    workbench(page, lead)
    page.click("a.wb-action[data-status=rejected]")
    page.select_option("#id_reason", label=str(quiet))
    page.click("#outcome-form input[type=submit]")
    page.wait_for_selector(".messagelist .warning")
    notice = page.inner_text(".messagelist .warning")
    assert "Not sent to Cat yet: A dealer admin must map the reason 'Gone quiet' to a Cat reason" in notice
    assert ("You are a dealer admin" in notice) if username == "ada" else ("Dealer admins here: ada." in notice)
    assert "A dealer admin must map" in page.inner_text("#held")  # and the lead keeps saying it

    if username == "ada":  # the dealer admin maps it in the browser...
        page.goto(f"/admin/leads/reason/{quiet.pk}/change/")
        page.select_option("#id_mappings-0-vendor", "cat")
        page.select_option("#id_mappings-0-vendor_value", "For Another Dealer")  # a value that needs a comment
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist")
    else:  # ...or did so while staff worked
        ReasonMapping.objects.create(reason=quiet, vendor="cat", vendor_value="For Another Dealer")
    item = OutboxItem.objects.get(lead=lead)
    assert item.state == OutboxState.BLOCKED and "rejectedReasonComments" in item.last_error  # re-checked at once

    workbench(page, lead)
    held = page.inner_text("#held")
    assert "Add a comment: Cat needs one when the reason is 'Gone quiet'." in held
    page.fill("#id_held-comment", "Moved to their Peoria branch")
    page.click(".held-form input[type=submit]")
    page.wait_for_selector("text=Added. The update is on its way to the vendor.")
    item.refresh_from_db()
    assert item.state == OutboxState.PENDING and item.payload["rejectedReasonComments"] == "Moved to their Peoria branch"
    assert page.locator("#held").count() == 0
    assert "Held report completed" in page.inner_text("#timeline")


def test_retry_now_on_a_held_update_says_why_it_was_not_queued(page, shop, dealer_a):
    quiet = Reason.objects.create(dealer=dealer_a, kind="rejection", label="Gone quiet", requires_comment=False)
    assert services.lead_change_status(lead=shop["lead"], to_status="rejected", reason=quiet, actor=shop["sam"]).ok
    log_in(page, "ada", PASSWORD)
    page.goto("/admin/sync/outboxitem/")
    page.check("input.action-select")
    page.select_option("select[name=action]", "retry_now")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist .warning")
    assert "was not queued: it is held until its cause is fixed. A dealer admin must map the reason 'Gone quiet'" \
        in page.inner_text(".messagelist")


def test_staff_have_no_retry_now(page, shop):
    log_in(page, "sam", PASSWORD)
    page.goto("/admin/sync/outboxitem/")
    assert page.locator("select[name=action] option[value=retry_now]").count() == 0


@pytest.mark.parametrize("username", PEOPLE)
def test_notes_a_call_that_counts_as_contact_and_taking_an_unowned_lead(page, shop, dealer_a, username):
    unowned = make_lead(dealer_a, first_name="Walk-in", email="walkin@acme.test")
    log_in(page, username, PASSWORD)
    workbench(page, unowned)
    page.fill("#id_note-text", "Asked for the brochure at the counter")
    page.click("#note-form input[type=submit]")
    page.wait_for_selector("text=Note added.")
    assert "Asked for the brochure at the counter" in page.inner_text("#timeline")

    page.select_option("#id_schedule-kind", "call")
    page.fill("#id_schedule-scheduled_at", "2026-01-05T10:00")
    page.click("#schedule-form input[type=submit]")
    page.wait_for_selector("text=Follow-up scheduled.")
    page.click(".wb-complete summary")
    page.fill("#id_complete-outcome_notes", "Spoke to them, wants a quote")
    page.click(".complete-form input[type=submit]")
    page.wait_for_selector("text=Follow-up done.")
    assert Lead.objects.get(pk=unowned.pk).first_contacted_at is not None  # left "not yet contacted"

    page.click("a.wb-action[data-status=accepted]")
    page.click("#outcome-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert "It had no owner, so it is now yours." in page.inner_text(".messagelist")
    assert Lead.objects.get(pk=unowned.pk).owner == shop["people"][username]


@pytest.mark.parametrize("username", PEOPLE)
def test_bulk_outcomes_from_the_list_report_each_lead(page, shop, dealer_a, username):
    first = make_lead(dealer_a, first_name="Bulkone", email="b1@acme.test")
    second = make_lead(dealer_a, first_name="Bulktwo", email="b2@acme.test")
    log_in(page, username, PASSWORD)
    page.goto("/admin/leads/lead/?q=bulk")
    for lead in (first, second):
        page.check(f"input.action-select[value='{lead.pk}']")
    page.select_option("select[name=action]", "hold_selected")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist .success")
    assert "2 lead(s) put on hold." in page.inner_text(".messagelist")  # on hold takes no lead (accepting does)
    assert set(Lead.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {"on_hold"}


@pytest.mark.parametrize("username", PEOPLE)
def test_the_import_preview_names_every_rows_problem_in_plain_words(page, shop, tmp_path, username):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"dealer,first_name,email\nZ999,Jo,jo@example.com\nA100,Al,not-an-email\n")
    log_in(page, username, PASSWORD)
    page.goto("/admin/leads/lead/import/")
    page.set_input_files("#id_file", str(bad))
    page.click("input[value='Check the file']")
    page.wait_for_selector("ul.import-problems")
    problems = page.inner_text("ul.import-problems")
    assert "Z999" in problems and "email" in problems.lower()  # both rows, at once
    assert "matching query does not exist" not in problems
    assert not LeadEvent.objects.exists() and Lead.objects.count() == 1


@pytest.mark.parametrize("username", PEOPLE)
def test_several_problems_are_summed_up_above_the_form_with_links_to_their_fields(page, shop, username):
    log_in(page, username, PASSWORD)
    workbench(page, shop["lead"])
    page.click("a.wb-action[data-status=accepted]")
    page.select_option("#id_stage", label=str(shop["stages"][0]))
    page.fill("#id_probability", "90")  # out of range, and no amount nor target date
    summary = page.locator("#outcome-form .error-summary")
    summary.locator("li").nth(2).wait_for()
    links = summary.locator("a")
    assert {links.nth(i).get_attribute("href") for i in range(links.count())} == {
        "#id_probability", "#id_opportunity_amount", "#id_target_date"}
    assert page.locator("#outcome-form .errorlist li").count() == 3  # each next to its field, once
    page.fill("#id_probability", "15")
    page.fill("#id_opportunity_amount", "1000")
    page.fill("#id_target_date", "2027-03-01")
    page.wait_for_selector("#outcome-form .error-summary", state="hidden")
