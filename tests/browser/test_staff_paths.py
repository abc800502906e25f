"""What dealer staff do every day, in a real browser: log in, open the queue, work a
lead on the workbench (an outcome Cat's rules check as they type, the timeline, a
follow-up), export the filtered list; and what a dealer admin does: map a reason."""
import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.leads.models import Lead, ReasonMapping
from apps.sync.models import OutboxItem
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_cat_account, make_lead, make_reasons, make_user

pytestmark = pytest.mark.django_db(transaction=True)

# Cat's partShoppingCart as its document shows it (bare table rows, sloppy quoting),
# with a script and an event handler slipped in.
CART = ('<tr > <td style="font:12px Arial; bgcolor="#dfdfd"376-1410 </td> <td style="font:12px Arial;" > 376-1410 '
        '</td> </tr><script>window.pwned = "script"</script><img src=x onerror="window.pwned = \'img\'">')


@pytest.fixture
def setup(settings, dealer_a, dealer_b):
    settings.LEADHUB_PUSH_ON_COMMIT = False
    staff = make_user("sam", dealer=dealer_a)
    reasons = make_reasons(dealer_a)
    reason = reasons["rejection"]
    reason.label, reason.requires_comment = "Not our territory", False
    reason.save()
    ReasonMapping.objects.create(reason=reason, vendor="cat", vendor_value="For Another Dealer")
    account = make_cat_account(dealer_a)
    lead = make_lead(dealer_a, first_name="Quinn", last_name="Quarry", email="quinn@quarry.test",
                     vendor_account=account, vendor_lead_id="00QBROWSER1", owner=staff,
                     product_interest="Used 320 excavator, " + "long description " * 20,
                     raw_payload={"leadId": "00QBROWSER1", "partShoppingCart": CART,
                                  "comments": "Call after 5pm " + "x" * 300})
    make_lead(dealer_a, first_name="Other", email="other@acme.test")
    make_lead(dealer_b, first_name="Hidden", email="quinn@elsewhere.test")
    return {"staff": staff, "lead": lead, "reason": reason, "reasons": reasons, "account": account}


def test_staff_work_a_cat_lead_on_the_workbench(page, setup):
    lead = setup["lead"]
    log_in(page, "sam", PASSWORD)
    page.click("#user-tools >> text=My leads")
    page.click(f"#new >> text=Quinn Quarry")
    page.wait_for_url(f"**/admin/leads/lead/{lead.pk}/work/")
    assert "Used 320 excavator" in page.locator("#contact").inner_text()

    # Reject with a reason Cat wants a comment for: the rule shows as staff type...
    page.click("a.wb-action[data-status=rejected]")
    assert "required" in page.get_attribute("label[for=id_reason]", "class")  # marked as the status is picked
    assert page.locator(".field-stage").is_hidden()  # a rejection has no sales stage
    page.select_option("#id_reason", label=str(setup["reason"]))
    live = page.locator("#outcome-form .live-errors").first
    live.wait_for()
    assert "rejectedReasonComments" in live.inner_text()
    # ...and saving anyway is refused with the same rule, nothing recorded.
    page.click("#outcome-form input[type=submit]")
    page.wait_for_load_state()
    page.locator("#outcome-form .live-errors").first.wait_for()  # the page's errors, then the live check's
    error = page.locator("#outcome-form .errorlist").first.inner_text()
    assert "rejectedReasonComments" in error and "For Another Dealer" in error
    shown = page.locator("#outcome-form .errorlist li", has_text="rejectedReasonComments")
    assert shown.count() == 1  # each error once, not the page's and the live check's
    assert Lead.objects.get(pk=lead.pk).status == "new"

    # Fix it and save: the timeline shows the change with its reason.
    page.fill("#id_comment", "Customer is in Dealer B's territory")
    page.wait_for_selector("#outcome-form .live-errors", state="detached")  # the live check is satisfied
    page.click("#outcome-form input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "now Rejected" in page.locator(".messagelist").inner_text()
    first = page.locator("#timeline tbody tr").first.inner_text()
    assert "New → Rejected" in first and "Not our territory" in first
    assert "final" in page.locator("#outcome").inner_text()
    assert OutboxItem.objects.filter(lead=lead).count() == 1  # queued for Cat

    # Schedule a follow-up, then complete it with notes.
    when = timezone.localtime() + timedelta(days=1)
    page.select_option("#id_schedule-kind", "call")
    page.fill("#id_schedule-scheduled_at", when.strftime("%Y-%m-%dT10:00"))
    page.fill("#id_schedule-notes", "Call back about the excavator")
    page.click("#schedule-form input[type=submit]")
    page.wait_for_selector("text=Follow-up scheduled.")
    assert Lead.objects.get(pk=lead.pk).next_follow_up_at is not None
    page.click(".wb-complete summary")
    page.fill("#id_complete-outcome_notes", "Left a voicemail")
    page.click(".complete-form input[type=submit]")
    page.wait_for_selector("text=Follow-up done.")
    lead.refresh_from_db()
    assert lead.next_follow_up_at is None
    assert lead.followups.get().done_by == setup["staff"]
    assert "Call done" in page.locator("#timeline").inner_text()

    # Export the filtered list and check the file.
    page.goto("/admin/leads/lead/?q=quarry")
    with page.expect_download() as download:
        page.click("a.download-csv")
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert [(r["email"], r["status"], r["vendor_lead_id"]) for r in rows] == [
        ("quinn@quarry.test", "rejected", "00QBROWSER1")]


def test_vendor_html_in_the_raw_fields_never_runs(page, setup):
    lead = setup["lead"]
    log_in(page, "sam", PASSWORD)
    page.goto(f"/admin/leads/lead/{lead.pk}/work/")
    page.click("#raw-fields summary")
    cart = page.locator(".wb-raw tr", has_text="partShoppingCart")
    assert "376-1410" in cart.locator(".wb-rendered").inner_text()  # the table, rendered without its markup tricks
    cart.locator("details summary").click()
    assert "<script>window.pwned" in cart.locator("pre").inner_text()  # the source, as text
    assert page.evaluate("window.pwned") is None
    assert page.locator(".wb-raw img, .wb-raw script").count() == 0


def test_the_workbench_fits_a_tablet_without_sideways_scrolling(tablet_page, setup):
    log_in(tablet_page, "sam", PASSWORD)
    tablet_page.goto(f"/admin/leads/lead/{setup['lead'].pk}/work/")
    tablet_page.click("#raw-fields summary")
    tablet_page.click("a.wb-action[data-status=accepted]")
    widths = tablet_page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    box = tablet_page.locator("#timeline").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 768  # one column: the timeline below, not beside


def test_a_dealer_admin_maps_a_reason_and_the_blocked_update_can_go(page, setup, dealer_a):
    staff, lead = setup["staff"], setup["lead"]
    make_user("ada", dealer=dealer_a, role="admin")
    unmapped = setup["reasons"]["disqualification"]
    from apps.leads import services

    assert services.lead_change_status(lead=lead, to_status="disqualified", reason=unmapped, actor=staff,
                                       comment="duplicate").ok
    assert OutboxItem.objects.get(lead=lead).state == "blocked"  # Cat cannot receive an unmapped reason

    log_in(page, "ada", PASSWORD)
    page.goto("/admin/leads/reason/?unmapped=cat")
    page.click(f"text={unmapped.label}")
    page.select_option("#id_mappings-0-vendor", "cat")
    page.select_option("#id_mappings-0-vendor_value", "No budget")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    assert ReasonMapping.objects.get(reason=unmapped).vendor_value == "No budget"
    assert unmapped.label not in page.goto("/admin/leads/reason/?unmapped=cat").text()
    from apps.sync.engine import rebuild_blocked

    rebuild_blocked(setup["account"])
    assert OutboxItem.objects.get(lead=lead).state == "pending"
