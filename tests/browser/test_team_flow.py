"""Issue 19 in Chromium: a dealer admin previews an assignment rule; a rep sees the
assignment's notification in the header, opens it and lands on the lead; a pair of
leads of the same customer from two vendors links both ways."""
from __future__ import annotations

import pytest

from apps.leads.models import Lead
from apps.routing import arrivals
from apps.routing.models import AssignmentRule
from apps.vendors.core.models import VendorAccount
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_cat_account, make_lead, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team(settings, dealer_a):
    settings.LEADHUB_PUSH_ON_COMMIT = False
    sam = make_user("sam", dealer=dealer_a)
    ada = make_user("ada", dealer=dealer_a, role="admin")
    rule = AssignmentRule.objects.create(dealer=dealer_a, name="Illinois walk-ins", states="IL", sources="Walk-in")
    rule.reps.set([sam])
    return {"sam": sam, "ada": ada, "rule": rule}


def test_a_dealer_admin_previews_a_rule(page, team, dealer_a):
    make_lead(dealer_a, first_name="Ida", state_province="IL", source="Walk-in", owner=team["ada"])
    make_lead(dealer_a, first_name="Wes", state_province="WI", source="Walk-in", owner=team["ada"])
    log_in(page, "ada", PASSWORD)
    page.goto(f"/admin/routing/assignmentrule/{team['rule'].pk}/change/")
    preview = page.locator(".field-preview")
    assert "1 lead(s) of the last 30 days match" in preview.inner_text()
    assert "Ida" in preview.inner_text() and "Wes" not in preview.inner_text()
    assert "sam: available (0 new leads)" in preview.inner_text()


def test_a_rep_is_told_of_an_assignment_and_opens_the_lead(page, team, dealer_a):
    lead = make_lead(dealer_a, first_name="Nora", last_name="Newlead", state_province="IL", source="Walk-in")
    assert Lead.objects.get(pk=lead.pk).owner == team["sam"]  # the rule, in the lead's own transaction
    log_in(page, "sam", PASSWORD)
    badge = page.locator("#user-tools .unread-count")
    assert badge.inner_text() == "1"
    page.click("#user-tools .notifications-link")
    page.click("text=Nora Newlead")
    assert page.url.endswith(f"/admin/leads/lead/{lead.pk}/work/")
    assert page.locator("#user-tools .unread-count").count() == 0  # read now


def test_a_linked_pair_links_both_ways(page, team, dealer_a):
    cat = make_cat_account(dealer_a)
    capillary = VendorAccount(name="a100-capillary", vendor="capillary", dealer=dealer_a,
                              base_url="http://127.0.0.1:9/")
    capillary.set_settings({"username": "u", "password": "p", "created_by": "1", "default_reason_id": "4"})
    capillary.save()
    first = make_lead(dealer_a, first_name="Pat", vendor_account=cat, vendor_lead_id="C1", email="pat@pair.test",
                      owner=team["sam"])
    second = make_lead(dealer_a, first_name="Pat", vendor_account=capillary, vendor_lead_id="K1",
                       email="PAT@pair.test", owner=team["sam"])
    arrivals.process_arrivals()
    log_in(page, "sam", PASSWORD)
    page.goto(f"/admin/leads/lead/{first.pk}/work/")
    same = page.locator("#same-customer")
    assert "Also from Capillary" in same.inner_text()
    same.locator(f"a:has-text('#{second.pk}')").click()
    assert page.url.endswith(f"/admin/leads/lead/{second.pk}/work/")
    assert "Also from Cat" in page.locator("#same-customer").inner_text()
    page.click("#unlink-form input[type=submit]")
    assert page.locator("#same-customer").count() == 0
    assert Lead.objects.get(pk=first.pk).customer_id is None
