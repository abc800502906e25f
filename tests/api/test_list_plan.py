"""The API's lead list on PostgreSQL: a page is read in (updated_at, id) order from
its one index, the status, owner and no-account (vendor=manual) filters checked in
the index's entries, a vendor kind joined on the way (docs/api.md, "Pagination and syncing")."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse

from apps.leads.models import Lead
from apps.vendors.core.models import VendorAccount


def _plan_of_the_page_query(client, params) -> str:
    ran = []

    def keep(execute, sql, sql_params, many, context):
        ran.append((sql, sql_params))
        return execute(sql, sql_params, many, context)

    with connection.execute_wrapper(keep):
        assert client.get(reverse("api:lead-list"), params).status_code == 200
    sql, sql_params = next((sql, p) for sql, p in ran if "ORDER BY" in sql and Lead._meta.db_table in sql)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, sql_params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("params", [{}, {"vendor": "cat"}, {"vendor": "manual", "owner": "alice"},
                                    {"status": "new", "vendor": "cat"}, {"status": "accepted"}])
def test_it_reads_a_page_in_order_from_a_change_index(world, api_a, params):
    if connection.vendor != "postgresql":
        pytest.skip("the plans are PostgreSQL's (make test runs this again on PostgreSQL)")
    dealer, account = world["A100"]["dealer"], world["A100"]["account"]
    alice = get_user_model().objects.get(username="alice")
    Lead.objects.bulk_create([Lead(dealer=dealer, first_name=f"P{i}", vendor_account=account if i % 3 else None,
                                   vendor_lead_id=f"PLAN-{i}" if i % 3 else None, owner=alice if i % 2 else None,
                                   status="accepted" if i % 4 == 0 else "new")
                              for i in range(6000)], batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Lead._meta.db_table}")
        cursor.execute(f"ANALYZE {VendorAccount._meta.db_table}")
    if params.get("owner") == "alice":
        params = {**params, "owner": alice.pk}
    plan = _plan_of_the_page_query(api_a, params)
    assert "lead_api_list_idx" in plan, plan
    assert f"Seq Scan on {Lead._meta.db_table}" not in plan and "Sort" not in plan, plan
    # A status or an owner is a condition of the index scan itself (checked on its
    # entries), not a filter of the rows read from the table.
    index_conditions = plan.split("Index Cond:")[1].split("\n")[0]
    if "status" in params:
        assert "status" in index_conditions, plan
    if "owner" in params:
        assert "owner_id" in index_conditions, plan
    if params.get("vendor") == "manual":
        assert "vendor_account_id IS NULL" in index_conditions, plan
