"""The pull's lookup of leads by vendor key (apps/leads/lookup.py) on PostgreSQL: one
probe of the unique (account, vendor lead id) index per key, also on a table that has
no statistics yet (the first big pull of a new installation)."""
from __future__ import annotations

import pytest
from django.db import connection

from apps.leads import lookup
from apps.leads.models import Lead
from tests.conftest import make_cat_account


def test_it_probes_the_unique_vendor_key_index_on_a_table_without_statistics(dealer_a):
    if connection.vendor != "postgresql":
        pytest.skip("the plans are PostgreSQL's (make test runs this again on PostgreSQL)")
    account = make_cat_account(dealer_a)
    Lead.objects.bulk_create([Lead(dealer=dealer_a, vendor_account=account, vendor_lead_id=f"V{i}")
                              for i in range(2000)], batch_size=1000)
    ran = []

    def keep(execute, sql, params, many, context):
        ran.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        found = lookup.lead_ids_by_vendor_id(account.pk, ["V1", "V2", "missing"])
    assert sorted(found) == ["V1", "V2"]
    sql, params = ran[-1]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Another index holding the account id (the reports' covering index, when it had
    # it as a key column) was chosen with the account alone as its condition, and
    # every probe read the account's leads.
    assert "lead_vendor_id_unique_per_account" in plan and "vendor_lead_id)::text = wanted" in plan.split(
        "Index Cond")[1], plan
