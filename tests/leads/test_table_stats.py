"""PostgreSQL's planner statistics, gathered at once where autovacuum would be late:
the lead table's by the job after a pull and after each import batch when they outgrew them
(apps/leads/table_stats.py: without them the job's foreign-key checks walked another
index holding `id` instead of the primary key), and the vendor account table's when
an account is added (apps/vendors/core/receivers.py: the API's vendor filter)."""
from __future__ import annotations

import io

import pytest
from django.db import connection

from apps.leads.lead_import import import_lead_file
from apps.leads.models import Lead
from apps.leads.table_stats import GROWTH, lead_statistics_refresh
from apps.routing.arrivals import process_arrivals
from tests.conftest import make_cat_account

pytestmark = pytest.mark.django_db


def _reltuples() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Lead._meta.db_table])
        return cursor.fetchone()[0]


def _forget_statistics() -> None:
    """Put the table back in a new installation's state (never analyzed), inside the
    test's transaction: rolled back with it. The throwaway cluster's user is a
    superuser (tests/support/pgcluster.py)."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE pg_class SET reltuples = -1 WHERE oid = %s::regclass", [Lead._meta.db_table])


def _pending_leads(dealer, n: int) -> list[int]:
    account = make_cat_account(dealer)
    leads = Lead.objects.bulk_create([Lead(dealer=dealer, vendor_account=account, vendor_lead_id=f"S{i}")
                                      for i in range(n)], batch_size=1000)
    return [lead.pk for lead in leads]


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner statistics (make test runs this again on PostgreSQL)")


def test_it_analyzes_a_table_without_statistics_before_processing_arrivals(dealer_a, postgresql_only):
    ids = _pending_leads(dealer_a, 1500)
    _forget_statistics()
    assert _reltuples() < 0
    assert process_arrivals() == 1500
    assert _reltuples() >= 1500  # ANALYZE counts the caller's own uncommitted rows as live
    with connection.cursor() as cursor:
        # The shape of the foreign-key check PostgreSQL runs for a row that references a lead.
        cursor.execute(f"EXPLAIN SELECT 1 FROM ONLY {Lead._meta.db_table} x WHERE id = %s FOR KEY SHARE OF x",
                       [ids[700]])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "leads_lead_pkey" in plan, plan


def test_it_leaves_statistics_that_still_describe_the_table(dealer_a, postgresql_only):
    _pending_leads(dealer_a, 500)
    assert lead_statistics_refresh(created=500) in (True, False)  # whatever the state before: now analyzed
    known = _reltuples()
    assert known >= 500
    assert lead_statistics_refresh(created=int(GROWTH * known)) is False
    assert lead_statistics_refresh(created=int(GROWTH * known) + 1) is True


def test_it_does_nothing_without_new_leads_or_on_sqlite(dealer_a, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert lead_statistics_refresh(created=0) is False
    if connection.vendor == "sqlite":
        with django_assert_num_queries(0):
            assert lead_statistics_refresh(created=10_000) is False


def test_it_analyzes_the_vendor_account_table_when_an_account_is_added(dealer_a, postgresql_only,
                                                                       django_capture_on_commit_callbacks):
    table = "vendors_vendoraccount"
    with connection.cursor() as cursor:
        cursor.execute("UPDATE pg_class SET reltuples = -1 WHERE oid = %s::regclass", [table])
    with django_capture_on_commit_callbacks(execute=True):
        make_cat_account(dealer_a)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        assert cursor.fetchone()[0] >= 1


def test_it_analyzes_a_table_without_statistics_after_an_import_batch(dealer_a, alice, postgresql_only):
    _forget_statistics()
    rows = "\n".join(f"A100,ST-{i},Walk,In{i},walk{i}@in.test,,US," for i in range(300))
    source = io.BytesIO(f"dealer,external_ref,first_name,last_name,email,phone,country,owner\n{rows}\n".encode())
    result = import_lead_file(source, user=alice)
    assert result.committed and not result.problems
    assert _reltuples() >= 300
