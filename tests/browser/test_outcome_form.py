"""The outcome form in Chromium (issue 17): switching the outcome resets what the
fields of the previous choice held once they are hidden."""
from __future__ import annotations

import pytest

from tests.browser.conftest import log_in
from tests.browser.test_widths import world  # noqa: F401 - the same lead and people
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_switching_the_outcome_clears_the_previous_choices_hidden_values(page, world):  # noqa: F811
    log_in(page, "sam", PASSWORD)
    page.goto(f"/admin/leads/lead/{world['lead'].pk}/work/")
    page.click("a.wb-action[data-status=rejected]")
    page.fill("#id_comment", "Wrong territory")
    page.select_option("#id_reason", index=1)
    page.click("a.wb-action[data-status=accepted]")  # a rejection's reason and comment are hidden now
    assert page.locator("#id_reason").evaluate("e => e.closest('.form-row').classList.contains('wb-hidden')")
    assert page.input_value("#id_reason") == ""  # the rejection's reason is gone
    assert page.input_value("#id_comment") == "Wrong territory"  # a comment belongs to both: kept
    page.click("a.wb-action[data-status=rejected]")
    assert page.input_value("#id_reason") == ""  # not brought back either


def test_an_accepted_leads_amount_is_not_kept_when_rejecting_instead(page, world):  # noqa: F811
    log_in(page, "sam", PASSWORD)
    page.goto(f"/admin/leads/lead/{world['lead'].pk}/work/")
    page.click("a.wb-action[data-status=accepted]")
    page.check("#show-all-fields")  # the amount is Cat's for an opportunity: shown on demand here
    page.fill("#id_opportunity_amount", "125000")
    page.uncheck("#show-all-fields")
    page.click("a.wb-action[data-status=rejected]")
    row_hidden = "e => e.closest('.form-row').classList.contains('wb-hidden')"
    assert page.locator("#id_opportunity_amount").evaluate(row_hidden)
    assert page.input_value("#id_opportunity_amount") == ""  # reset to what the page came with
