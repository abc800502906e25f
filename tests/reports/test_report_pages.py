"""The report pages: dealer admins only, scoped to their dealers, a chart with the
table's numbers, links to the leads behind a number, CSV, bad filters said plainly."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.leads import services
from apps.reports import views
from tests.conftest import make_cat_account, make_lead

REPORT_NAMES = ["funnel", "speed", "outcomes", "pipeline", "followups", "feedback"]


def page(name):
    return reverse("admin:reports_leadreport_report", args=[name])


@pytest.fixture
def worked(dealer_a, dealer_b, alice, reasons_a):
    mine = [make_lead(dealer_a, first_name=f"A{i}", owner=alice) for i in range(3)]
    assert services.lead_change_status(lead=mine[0], to_status="rejected", actor=alice, reason=reasons_a["rejection"],
                                       comment="x").ok
    make_lead(dealer_b, first_name="Theirs")
    return mine


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_report_renders_for_a_dealer_admin(client, adam, worked, name):
    client.force_login(adam)
    response = client.get(page(name))
    assert response.status_code == 200
    body = response.content.decode()
    if response.context["report"].rows:
        chart = json.loads(re.search(r'id="report-chart-data"[^>]*>(.*?)</script>', body, re.S).group(1))
        assert chart == response.context["report"].chart  # the chart draws the numbers the table shows


def test_staff_have_no_reports_and_no_menu_entry(client, alice, worked):
    client.force_login(alice)
    assert client.get(page("funnel")).status_code == 403
    assert client.get(reverse("admin:reports_leadreport_changelist")).status_code == 403
    assert "/admin/reports/" not in client.get(reverse("admin:index")).content.decode()


def test_a_report_never_counts_another_dealers_leads_nor_in_its_csv(client, adam, worked, dealer_b):
    client.force_login(adam)
    rows = client.get(page("funnel")).context["report"].rows
    assert rows[0]["leads"] == 3
    downloaded = client.get(page("funnel"), {"format": "csv"})
    assert downloaded["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(downloaded.content.decode("utf-8-sig"))))
    assert table[0]["step"] == "received" and table[0]["leads"] == "3"
    other = client.get(page("funnel"), {"dealer": dealer_b.pk})  # not a choice for adam
    assert other.context["form"].errors["dealer"] and other.context["report"] is None


def test_a_number_links_to_the_leads_behind_it(client, adam, worked):
    client.force_login(adam)
    response = client.get(page("funnel"))
    [(_, rejected_link)] = [(cells, link) for cells, link in response.context["rows"] if cells[0][1] == "Rejected"]
    listed = client.get(rejected_link)
    assert [lead.pk for lead in listed.context["cl"].result_list] == [worked[0].pk]
    [(_, received_link)] = [(cells, link) for cells, link in response.context["rows"] if cells[0][1] == "Received"]
    assert client.get(received_link).context["cl"].result_count == 3


def test_bad_filters_are_said_next_to_their_field(client, adam, worked):
    client.force_login(adam)
    response = client.get(page("speed"), {"since": "2026-12-01", "until": "2026-11-01"})
    assert response.context["form"].errors["until"] == ["Choose a day on or after the first one."]
    response = client.get(page("speed"), {"since": "2020-01-01", "until": "2026-11-01"})
    assert "at most three years" in response.context["form"].errors["since"][0]
    response = client.get(page("speed"), {"since": "not a date", "until": "2026-11-01"})
    assert response.context["form"].errors["since"]
    assert client.get(page("nonsense")).status_code == 404


def test_it_superuser_sees_every_dealer(client, root, worked):
    client.force_login(root)
    assert client.get(page("funnel")).context["report"].rows[0]["leads"] == 4


def test_the_feedback_page_shows_the_most_urgent_leads_and_the_totals_the_csv_has_every_lead(
        client, adam, dealer_a, monkeypatch):
    account = make_cat_account(dealer_a)
    long_ago = timezone.now() - timedelta(days=10)
    for i in range(3):
        make_lead(dealer_a, vendor_account=account, vendor_lead_id=f"OLD{i}", created_at=long_ago)
    make_lead(dealer_a, vendor_account=account, vendor_lead_id="FRESH")
    monkeypatch.setattr(views, "SHOWN_ROWS", 2)
    client.force_login(adam)
    response = client.get(page("feedback"))
    body = response.content.decode()
    assert [r["vendor_lead_id"] for r in response.context["report"].rows] == ["OLD0", "OLD1"]  # breaching now
    assert "the first 2 rows (the CSV has all 4)" in body
    assert response.context["summary"] == [[("Account", account.name), ("Target (business hours)", 9),
                                            ("Leads", 4), ("Breaching now", 3), ("Waiting, in time", 1),
                                            ("Reported late", 0), ("Reported in time", 0)]]
    downloaded = client.get(page("feedback"), {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(downloaded.content.decode("utf-8-sig"))))
    assert [r["vendor_lead_id"] for r in rows] == ["OLD0", "OLD1", "OLD2", "FRESH"]
