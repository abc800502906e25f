"""The speed report's two engines give the same numbers: Python's (SQLite, the
embedded default) and PostgreSQL's one query (apps/reports/reports.py)."""
from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.db import connection

from apps.leads.models import Lead
from apps.reports import reports
from apps.reports.reports import ReportScope
from tests.conftest import make_cat_account, make_lead

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


@pytest.fixture
def varied_leads(dealer_a, dealer_b, alice, bob):
    """Leads of two dealers in two time zones, over three weeks, with and without a
    vendor and an owner, some never contacted, one stamped before it arrived."""
    cat_a, cat_b = make_cat_account(dealer_a), make_cat_account(dealer_b)
    start = datetime(2026, 11, 1, 23, 30, tzinfo=CHICAGO)  # Sunday night: Monday in London
    for i in range(60):
        dealer, account, owner = (dealer_a, cat_a, alice) if i % 2 else (dealer_b, cat_b, bob)
        received = start + timedelta(hours=7 * i, minutes=i)
        lead = make_lead(dealer, created_at=received, owner=owner if i % 3 else None,
                         vendor_account=account if i % 4 else None, vendor_lead_id=f"V{i}" if i % 4 else None)
        stamps = {}
        if i % 5:
            stamps["first_contacted_at"] = received + timedelta(minutes=(i * 37) % 500, seconds=i)
        if i % 7:
            stamps["first_outcome_at"] = received + timedelta(minutes=(i * 53) % 3000)
        if i % 4 and i % 3:
            stamps["first_reported_at"] = received + timedelta(hours=(i * 11) % 90)
        if i == 13:
            stamps["first_contacted_at"] = received - timedelta(minutes=3)  # a clock ahead: counted as 0
        Lead.objects.filter(pk=lead.pk).update(**stamps)


@pytest.mark.parametrize("narrow", [{}, {"vendor": "cat"}, {"owner": True}])
def test_postgresql_and_python_agree(varied_leads, dealer_a, dealer_b, alice, narrow):
    if connection.vendor != "postgresql":
        pytest.skip("the database engine is PostgreSQL's (make test runs this again on PostgreSQL)")
    scope = ReportScope((dealer_a, dealer_b), date(2026, 10, 25), date(2026, 11, 30), vendor=narrow.get("vendor", ""),
                        owner_id=alice.pk if narrow.get("owner") else None)
    in_python, spread_python = reports.speed_stats(scope)
    in_database, spread_database = reports.speed_stats_in_database(scope)
    assert set(in_database) == set(in_python) and len(in_python) > 12
    for key, stat in in_python.items():
        other = in_database[key]
        assert (other.leads, other.reached) == (stat.leads, stat.reached), key
        for mine, theirs in ((stat.median, other.median), (stat.p90, other.p90)):
            assert (mine is None and theirs is None) or abs(mine - theirs) < 1e-6, key
    assert spread_database == spread_python


def test_no_leads_no_statistics(dealer_a):
    scope = ReportScope((dealer_a,), date(2026, 11, 1), date(2026, 11, 30))
    engine = reports.speed_stats_in_database if connection.vendor == "postgresql" else reports.speed_stats
    stats, spread = engine(scope)
    assert stats == {} and sum(spread.values()) == 0


@pytest.mark.django_db(transaction=True)
def test_a_large_scope_runs_in_two_halves_at_once_with_the_same_numbers(varied_leads, dealer_a, dealer_b,
                                                                        monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the database engine is PostgreSQL's (make test runs this again on PostgreSQL)")
    monkeypatch.setattr(reports, "PARALLEL_FROM_ROWS", 0)  # every scope is "large"
    threads = []
    real = reports._speed_rows_in_thread
    monkeypatch.setattr(reports, "_speed_rows_in_thread", lambda *a: threads.append(a[1]) or real(*a))
    scope = ReportScope((dealer_a, dealer_b), date(2026, 10, 25), date(2026, 11, 30))
    in_database, spread_database = reports.speed_stats_in_database(scope)
    assert len(threads) == 2  # the two halves, each on its own connection
    in_python, spread_python = reports.speed_stats(scope)
    assert set(in_database) == set(in_python) and spread_database == spread_python
    for key, stat in in_python.items():
        other = in_database[key]
        assert (other.leads, other.reached) == (stat.leads, stat.reached), key
        for mine, theirs in ((stat.median, other.median), (stat.p90, other.p90)):
            assert (mine is None and theirs is None) or abs(mine - theirs) < 1e-6, key
