"""Capillary's lists and links moved from the shared vendors app into the
Capillary app (capillary 0001, vendors 0004): every row, its id and the
permissions granted on the models survive the move, and it can be undone."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("vendors", "0003_audit_history"), ("capillary", None)]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_it_keeps_every_row_and_permission_when_capillary_leaves_the_vendors_app(dealer_a):
    try:
        _moved_and_back(dealer_a)
    finally:
        _migrate(_latest())  # the next tests need the current schema whatever happened here


def _moved_and_back(dealer_a):
    old = _migrate(BEFORE)
    VendorAccount = old.get_model("vendors", "VendorAccount")
    Lead = old.get_model("leads", "Lead")
    account = VendorAccount.objects.create(name="cap-old", vendor="capillary", dealer_id=dealer_a.pk,
                                           base_url="http://127.0.0.1:9/x")
    lead = Lead.objects.create(dealer_id=dealer_a.pk, first_name="Old", last_name="Row")
    reason = old.get_model("vendors", "CapillaryReason").objects.create(account=account, reason_id=7, reason="Price")
    old.get_model("vendors", "CapillarySubStatus").objects.create(account=account, status="LOST", sub_status="X")
    link = old.get_model("vendors", "CapillaryLink").objects.create(account=account, kind="lead", capillary_id="99",
                                                                   lead=lead, payload={"id": 99})
    content_type, _ = ContentType.objects.get_or_create(app_label="vendors", model="capillaryreason")
    permission, _ = Permission.objects.get_or_create(content_type=content_type, codename="view_capillaryreason",
                                                     defaults={"name": "Can view capillary reason"})
    group = Group.objects.create(name="readers")
    group.permissions.add(permission)

    new = _migrate(_latest())

    moved = new.get_model("capillary", "CapillaryReason").objects.get(pk=reason.pk)
    assert (moved.account_id, moved.reason_id, moved.reason) == (account.pk, 7, "Price")
    assert new.get_model("capillary", "CapillarySubStatus").objects.filter(account_id=account.pk).count() == 1
    kept = new.get_model("capillary", "CapillaryLink").objects.get(pk=link.pk)
    assert (kept.lead_id, kept.capillary_id, kept.payload) == (lead.pk, "99", {"id": 99})
    tables = connection.introspection.table_names()
    assert "capillary_capillaryreason" in tables and "vendors_capillaryreason" not in tables
    ContentType.objects.clear_cache()
    granted = Group.objects.get(name="readers").permissions.get()
    assert (granted.content_type.app_label, granted.codename) == ("capillary", "view_capillaryreason")
    assert not ContentType.objects.filter(app_label="vendors", model="capillaryreason").exists()

    back = _migrate(BEFORE)  # and it can be undone, rows included
    assert back.get_model("vendors", "CapillaryReason").objects.get(pk=reason.pk).reason == "Price"
