"""Every change to a lead, follow-up, reason, stage, mapping and vendor account is
recorded (django-simple-history) with who, when and what changed, on every path:
the admin, bulk actions, the services, both CSV imports and vendor sync.
Each test fails when its path writes no history row."""
import re
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.leads import services
from apps.leads.models import Lead, Reason, ReasonMapping, SalesStage, StageMapping, StatusMapping
from apps.leads.outcomes_import import import_outcomes
from apps.sync import engine
from apps.vendors.core.models import VendorAccount
from tests.conftest import LEAD_INLINES, make_lead


def changes(obj, pk=None):
    """(type, user, reason, changed field names) of each history row, oldest first."""
    rows = list(type(obj).history.filter(id=pk or obj.pk).order_by("history_date", "history_id"))
    out = []
    for previous, row in zip([None, *rows], rows):
        # The editable fields, as the admin's history page lists them (the row holds every field).
        changed = sorted(c.field for c in row.diff_against(previous).changes) if previous else []
        user = row.history_user.username if row.history_user_id else None
        out.append((row.history_type, user, row.history_change_reason, changed))
    return out


def test_an_admin_edit_records_who_and_which_fields(client, alice, dealer_a):
    lead = make_lead(dealer_a, company="Old Co")
    client.force_login(alice)
    response = client.post(f"/admin/leads/lead/{lead.pk}/change/", {
        "dealer": dealer_a.pk, "origin": "manual", "first_name": "Jane", "last_name": "Doe", "company": "New Co",
        "email": "jane@example.com", "owner": "", "country": "", **LEAD_INLINES})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert changes(lead)[-1][:2] == ("~", "alice") and "company" in changes(lead)[-1][3]


def test_the_history_page_shows_the_user_and_the_change_and_stays_in_scope(client, alice, bob, dealer_a):
    lead = make_lead(dealer_a, company="Old Co")
    lead.company, lead._history_user = "New Co", alice
    lead.save()
    client.force_login(alice)
    body = client.get(f"/admin/leads/lead/{lead.pk}/history/").content.decode()
    assert "alice" in body and "Old Co" in body and "New Co" in body
    client.force_login(bob)
    assert client.get(f"/admin/leads/lead/{lead.pk}/history/").status_code in (403, 404)
    version = lead.history.latest().history_id
    assert client.get(f"/admin/leads/lead/{lead.pk}/history/{version}/").status_code in (403, 404)
    client.force_login(alice)
    assert client.get(f"/admin/leads/lead/{lead.pk}/history/{version}/").status_code == 200
    # A past version is for reading: posting it restores nothing.
    assert client.post(f"/admin/leads/lead/{lead.pk}/history/{version}/", {"company": "X"}).status_code == 405


def test_bulk_assign_records_one_row_per_lead_with_the_acting_user(client, alice, dealer_a):
    leads = [make_lead(dealer_a, email=f"l{i}@example.com") for i in range(3)]
    client.force_login(alice)
    response = client.post("/admin/leads/lead/", {"action": "assign_to_me", "_selected_action": [l.pk for l in leads]})
    assert response.status_code == 302
    for lead in leads:
        assert changes(lead)[-1] == ("~", "alice", "Assigned", ["owner"])


def test_a_status_change_and_follow_ups_are_recorded(alice, dealer_a):
    lead = make_lead(dealer_a)
    assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice).ok
    assert changes(lead)[-1][:3] == ("~", "alice", "Status new → accepted (admin)")
    followup = services.followup_schedule(lead=lead, scheduled_at=timezone.now() + timedelta(days=1), actor=alice).followup
    services.followup_complete(followup=followup, actor=alice, outcome_notes="done")
    assert [c[0] for c in changes(followup)] == ["+", "~"] and "done_at" in changes(followup)[-1][3]
    # The lead's next follow-up (kept by UPDATE) is recorded both times it moved.
    moved = [c for c in changes(lead) if c[3] == ["next_follow_up_at"]]
    assert len(moved) == 2 and all(c[2] == "Next follow-up set from its follow-ups" for c in moved)


def test_a_csv_lead_import_records_creation_by_the_importing_user(client, alice, dealer_a):
    client.force_login(alice)
    csv_file = SimpleUploadedFile("leads.csv", b"dealer,external_ref,first_name,email\nA100,EV-1,Walk,w@in.test\n",
                                  content_type="text/csv")
    job_page = client.post("/admin/leads/lead/import/", {"kind": "leads", "file": csv_file}).url
    assert client.post(job_page).status_code == 302  # "Import now" after the check
    assert changes(Lead.objects.get(external_ref="EV-1"))[0][:2] == ("+", "alice")


def test_an_outcome_import_records_each_change_as_the_importing_user(alice, dealer_a, cat_account):
    leads = [make_lead(dealer_a, vendor_account=cat_account, vendor_lead_id=f"L{i}", email=f"{i}@x.test")
             for i in range(2)]
    data = "lead_id,status,customer_contacted\n" + "".join(f"{l.pk},accepted,yes\n" for l in leads)
    assert import_outcomes(data, actor=alice).changed == 2
    for lead in leads:
        assert changes(lead)[-1][:3] == ("~", "alice", "Status new → accepted (import)")


def test_a_vendor_pull_records_every_new_lead_in_one_batch_named_after_the_run(sandbox, cat_account):
    sandbox.generate_leads(250, dealer_code="A100")
    engine.pull(cat_account)
    run = cat_account.sync_runs.get(kind="pull")
    history = Lead.history.filter(vendor_account=cat_account)
    assert history.count() == Lead.objects.filter(vendor_account=cat_account).count() == 250
    assert set(history.values_list("history_type", "history_user", "history_change_reason")) == {
        ("+", None, f"sync a100-cat run {run.pk}")}
    row = history.first()
    assert row.instance.raw_payload == Lead.objects.get(pk=row.id).raw_payload  # the lead as stored


def test_a_vendor_update_is_recorded_with_the_run(sandbox, cat_account):
    [sent] = sandbox.generate_leads(1, dealer_code="A100")
    engine.pull(cat_account)
    sandbox.update_lead(sent["leadId"], phone="3095550199")
    engine.pull(cat_account)
    lead = Lead.objects.get()
    last_run = cat_account.sync_runs.filter(kind="pull").order_by("-id").first()
    assert changes(lead)[-1][:3] == ("~", None, f"sync a100-cat run {last_run.pk}")
    assert lead.history.count() == 2  # created by the first pull, changed by the second
    # What the vendor changed is on the timeline, field by field; history rows do
    # not copy the raw payload (docs/architecture.md, "Audit history").
    event = lead.events.get(kind="vendor_update")
    assert event.details["changed"]["phone"][1] == "3095550199"
    assert not hasattr(lead.history.first(), "raw_payload")


def test_reasons_stages_and_mappings_record_create_change_delete(adam, dealer_a):
    reason = Reason.objects.create(dealer=dealer_a, kind="rejection", label="Too far")
    stage = SalesStage.objects.create(dealer=dealer_a, name="Quote", position=1)
    mappings = [ReasonMapping.objects.create(reason=reason, vendor="cat", vendor_value="For Another Dealer"),
                StageMapping.objects.create(stage=stage, vendor="cat", vendor_value="Qualification", probability=10),
                StatusMapping.objects.create(dealer=dealer_a, status="new", vendor="capillary", vendor_value="OPEN")]
    for obj in [*mappings, reason, stage]:
        obj._history_user = adam
        obj.save()
        pk = obj.pk
        obj.delete()
        assert [c[0] for c in changes(obj, pk)] == ["+", "~", "-"], type(obj).__name__


def test_an_admin_change_of_a_status_mapping_records_the_user(client, adam, dealer_a):
    mapping = StatusMapping.objects.create(dealer=dealer_a, status="new", vendor="capillary", vendor_value="OPEN")
    client.force_login(adam)
    response = client.post(f"/admin/leads/statusmapping/{mapping.pk}/change/", {
        "dealer": dealer_a.pk, "status": "new", "vendor": "capillary", "vendor_value": "OPEN",
        "vendor_sub_status": "Fresh"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert changes(mapping)[-1][:2] == ("~", "adam") and changes(mapping)[-1][3] == ["vendor_sub_status"]


def test_vendor_account_history_never_holds_a_secret_but_shows_it_changed(cat_account, adam):
    account = VendorAccount.objects.get(pk=cat_account.pk)
    account.pull_interval_minutes = 30
    account.save()
    account.set_settings({"client_secret": "rotated-secret"})
    account._history_user = adam
    account.save()
    rows = list(account.history.order_by("history_id"))
    assert not any(f.name == "secrets" for f in type(rows[0])._meta.fields)
    for row in rows:
        dumped = repr(row.__dict__)
        assert "lh-secret" not in dumped and "rotated-secret" not in dumped and "gAAAA" not in dumped
    markers = [row.secrets_marker for row in rows]
    assert markers[0] == markers[1] != markers[2] and markers[2].startswith("set, version ")
    assert changes(account)[1][3] == ["pull_interval_minutes"]
    assert changes(account)[2][:2] == ("~", "adam")
    adam.is_superuser = True  # the history page shows the marker column, never a secret
    adam.save()
    from django.test import Client
    client = Client()
    client.force_login(adam)
    body = client.get(f"/admin/vendors/vendoraccount/{account.pk}/history/").content.decode()
    assert markers[2] in body and "rotated-secret" not in body and "lh-secret" not in body


def test_inline_objects_changes_show_on_their_parents_history_page(client, adam, bob, dealer_a):
    reason = Reason.objects.create(dealer=dealer_a, kind="rejection", label="Too far")
    mapping = ReasonMapping.objects.create(reason=reason, vendor="cat", vendor_value="For Another Dealer")
    mapping.vendor_value, mapping._history_user = "Bad Contact Information", adam
    mapping.save()
    lead = make_lead(dealer_a)
    followup = services.followup_schedule(lead=lead, scheduled_at=timezone.now() + timedelta(days=1), actor=adam,
                                          notes="Call about the loader").followup
    client.force_login(adam)
    body = client.get(f"/admin/leads/reason/{reason.pk}/history/").content.decode()
    assert "reason mappings: changes" in body.lower()
    assert "For Another Dealer &rarr; Bad Contact Information" in body and "adam" in body
    body = client.get(f"/admin/leads/lead/{lead.pk}/history/").content.decode()
    assert "follow ups: changes" in body.lower() and str(followup) in body
    client.force_login(bob)  # another dealer: neither page, nor its related rows
    assert client.get(f"/admin/leads/reason/{reason.pk}/history/").status_code in (403, 404)
    # Models without audit history keep Django's own History page.
    client.force_login(adam)
    assert client.get(f"/admin/accounts/dealer/{dealer_a.pk}/history/").status_code == 200
