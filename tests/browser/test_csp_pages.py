"""The screens the staff path does not visit, in Chromium under the
Content-Security-Policy: the page fixture fails the test on any refusal."""
import pytest

from apps.leads.models import Reason, ReasonMapping
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_lead, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_my_leads_and_history_pages_need_nothing_the_policy_refuses(page, dealer_a):
    admin = make_user("ada", dealer=dealer_a, role="admin")
    lead = make_lead(dealer_a, first_name="Hattie", owner=admin)
    lead.company, lead._history_user = "Hattie Haulage", admin
    lead.save()
    reason = Reason.objects.create(dealer=dealer_a, kind="rejection", label="Too far")
    ReasonMapping.objects.create(reason=reason, vendor="cat", vendor_value="For Another Dealer")
    log_in(page, "ada", PASSWORD)
    page.goto("/admin/leads/lead/queue/")
    assert "Hattie" in page.inner_text("#content-main")
    page.goto(f"/admin/leads/lead/{lead.pk}/history/")
    assert "Hattie Haulage" in page.inner_text("#change-history")
    page.goto(f"/admin/leads/reason/{reason.pk}/history/")
    assert "For Another Dealer" in page.inner_text("#related-history-1")
    page.goto(f"/admin/leads/lead/{lead.pk}/history/{lead.history.latest().history_id}/")
    assert page.locator("input[name=company]").input_value() == "Hattie Haulage"
