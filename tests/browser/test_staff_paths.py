"""What dealer staff do every day, in a real browser: log in, find a lead, record
an outcome that Cat's rules check, see it on the lead, follow up, export."""
import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.leads.models import Lead, ReasonMapping
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_cat_account, make_lead, make_reasons, make_user

pytestmark = pytest.mark.django_db(transaction=True)


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
                     vendor_account=account, vendor_lead_id="00QBROWSER1", owner=staff)
    make_lead(dealer_a, first_name="Other", email="other@acme.test")
    make_lead(dealer_b, first_name="Hidden", email="quinn@elsewhere.test")
    return {"staff": staff, "lead": lead, "reason": reason}


def test_staff_work_a_cat_lead_end_to_end(page, setup):
    lead = setup["lead"]
    log_in(page, "sam", PASSWORD)
    page.goto("/admin/leads/lead/")
    assert page.locator("#result_list tbody tr").count() == 2  # never dealer B's lead
    page.fill("#searchbar", "quinn@quarry.test")
    page.press("#searchbar", "Enter")
    page.click(f"text=Quinn Quarry")
    assert f"/admin/leads/lead/{lead.pk}/change/" in page.url

    # Reject with a reason Cat requires a comment for, without one: Cat's rule is named.
    page.click("text=Change status")
    page.select_option("#id_to_status", "rejected")
    assert "required" in page.get_attribute("label[for=id_reason]", "class")  # marked as the status is picked
    page.select_option("#id_reason", label=str(setup["reason"]))
    page.click("input[type=submit]")
    error = page.locator(".errorlist").first.inner_text()
    assert "rejectedReasonComments" in error and "For Another Dealer" in error
    assert Lead.objects.get(pk=lead.pk).status == "new"

    # Fix it and save: the status log on the lead shows the change.
    page.fill("#id_comment", "Customer is in Dealer B's territory")
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: f"/admin/leads/lead/{lead.pk}/change/" in url)
    assert "now Rejected" in page.locator(".messagelist").inner_text()
    log_rows = page.locator("#status_logs-group tbody tr").all_inner_texts()
    assert any("rejected" in row.lower() and "Not our territory" in row for row in log_rows)

    # Schedule a follow-up, then complete it.
    when = timezone.localtime() + timedelta(days=1)
    page.click("#followups-group .add-row a")
    page.fill("#id_followups-0-scheduled_at_0", when.strftime("%Y-%m-%d"))
    page.fill("#id_followups-0-scheduled_at_1", "10:00:00")
    page.fill("#id_followups-0-notes", "Call back about the excavator")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    assert Lead.objects.get(pk=lead.pk).next_follow_up_at is not None
    page.fill("#id_followups-0-done_at_0", timezone.localtime().strftime("%Y-%m-%d"))
    page.fill("#id_followups-0-done_at_1", timezone.localtime().strftime("%H:%M:%S"))
    page.fill("#id_followups-0-outcome_notes", "Left a voicemail")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    lead.refresh_from_db()
    assert lead.next_follow_up_at is None
    assert lead.followups.get().done_by == setup["staff"]

    # Export the filtered list and check the file.
    page.goto("/admin/leads/lead/?q=quarry")
    with page.expect_download() as download:
        page.click("a.download-csv")
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert [(r["email"], r["status"], r["vendor_lead_id"]) for r in rows] == [
        ("quinn@quarry.test", "rejected", "00QBROWSER1")]
