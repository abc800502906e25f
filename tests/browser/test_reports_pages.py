"""The report pages in Chromium (issue 18): each renders its chart (Chart.js, under
the Content-Security-Policy) and fits 1366, 768 and 390 px, for a dealer admin and
for IT; with LEADHUB_SCREENSHOTS=1 the screenshots go to docs/screenshots/."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.leads import services
from apps.leads.models import FollowUp, Lead, StageMapping
from tests.browser.conftest import _page, log_in
from tests.browser.test_widths import SHOTS, WIDTHS, _fits
from tests.conftest import PASSWORD, make_cat_account, make_lead, make_reasons, make_stages, make_user

pytestmark = pytest.mark.django_db(transaction=True)
REPORTS = ["funnel", "speed", "outcomes", "pipeline", "followups", "feedback"]


@pytest.fixture
def history(settings, dealer_a):
    """Eight weeks of leads, worked at different speeds, some reported to Cat."""
    settings.LEADHUB_PUSH_ON_COMMIT = False
    sam = make_user("sam", dealer=dealer_a)
    make_user("ada", dealer=dealer_a, role="admin")
    make_user("it", superuser=True)
    reasons = make_reasons(dealer_a)
    stages = make_stages(dealer_a)
    StageMapping.objects.create(stage=stages[0], vendor="cat", vendor_value="Qualification", probability=10)
    account = make_cat_account(dealer_a)
    now = timezone.now()
    for i in range(40):
        received = now - timedelta(days=56 - i * 1.4, hours=i % 7)
        lead = make_lead(dealer_a, first_name=f"Lead{i}", vendor_account=account if i % 2 else None,
                         vendor_lead_id=f"CAT{i}" if i % 2 else None, owner=sam, created_at=received,
                         source=["cat.com", "Walk-in", "Website"][i % 3])
        if i % 5 == 4:
            continue  # never worked
        at = received + timedelta(minutes=15 * (i % 9 + 1))
        if i % 4 == 0:
            services.lead_change_status(lead=lead, to_status="rejected", actor=sam, reason=reasons["rejection"],
                                        comment="not ours", at=at)
        else:
            services.lead_change_status(lead=lead, to_status="accepted", actor=sam, stage=stages[0], at=at,
                                        updates={"opportunity_amount": 1000 * i, "target_date": at.date()})
            if i % 3 == 0:
                services.lead_change_status(lead=lead, to_status="closed_won", actor=sam, at=at + timedelta(days=3),
                                            updates={"customer_number": f"C{i}"})
        if i % 2:
            Lead.objects.filter(pk=lead.pk).update(first_reported_at=at + timedelta(hours=i % 30))
        FollowUp.objects.create(lead=lead, scheduled_at=at + timedelta(days=1), assigned_to=sam,
                                done_at=at + timedelta(days=1, hours=i % 30) if i % 3 else None)


@pytest.mark.parametrize("username", ["ada", "it"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_report_draws_its_chart_and_fits(browser, live_server, history, width, username):
    gen = _page(browser, live_server, width, WIDTHS[width])
    page = next(gen)
    try:
        log_in(page, username, PASSWORD)
        page.goto("/admin/reports/leadreport/")
        assert page.locator(".report-index li").count() == len(REPORTS)
        assert page.locator(".dash-tile").count() >= 7  # the dashboard above the reports
        problems = {}
        if _fits(page):
            problems["dashboard"] = _fits(page)
        if os.environ.get("LEADHUB_SCREENSHOTS") and username == "ada":
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"dashboard-{width}.png"), full_page=False)
        for name in REPORTS:
            page.goto(f"/admin/reports/leadreport/{name}/")
            page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('report-chart'))")
            assert page.locator("#report-table tbody tr").count() > 0, name
            found = _fits(page)
            if found:
                problems[name] = found
            if os.environ.get("LEADHUB_SCREENSHOTS") and username == "ada" and name in ("funnel", "speed", "feedback"):
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / f"report-{name}-{width}.png"), full_page=False)
        assert not problems, problems
    finally:
        next(gen, None)
