"""Submitting dealer leads to Aimbase's Lead API over real HTTP: batches, per-lead
records, refusals shown on the lead, resubmission of only what failed."""
from __future__ import annotations

import json

import pytest
from django.utils import timezone

from apps.leads.models import EventKind, LeadEvent
from apps.sync import engine
from apps.sync.models import OutboxItem, OutboxState
from apps.sync.outbox import queue_submission
from apps.vendors.aimbase.adapter import aimbase_id

from .conftest import boat_lead, make_account, submit


def lead_posts(sandbox):
    return [r for r in sandbox.requests if r[0] == "POST" and "/marketing/api/lead" in r[1]]


def state_of(lead):
    return OutboxItem.objects.get(lead=lead, kind="submit").state


def test_it_submits_a_batch_in_one_request_and_keeps_each_aimbase_id(sandbox, aimbase_account, dealer_a):
    leads = [boat_lead(dealer_a, last_name=f"Hall{i}", email=f"hall{i}@example.com") for i in range(3)]
    assert all(problems == [] for _, problems in submit(aimbase_account, *leads))
    summary = engine.push(aimbase_account)
    assert (summary.pushed, summary.failed) == (3, 0)
    assert len(lead_posts(sandbox)) == 1  # one request for the batch
    created = sandbox.leads()
    assert [row["lead"]["ExternalId"] for row in created] == [str(lead.pk) for lead in leads]
    first = created[0]["lead"]
    assert first["LeadSourceName"] == "Dealer Walk-in" and first["CountryCode"] == "US"
    assert first["Dealers"] == [{"DealerNumber": "A100", "DealerName": "Acme Marine"}]
    assert {"FieldName": "UtmSource", "FieldValue": "google"} in first["Customs"] and first["Medium"] == "cpc"
    assert first["IsCommunicationOptIn"] is False and first["Comment"] == "Wants a test ride"
    # A fresh LeadApiIdentifier per lead of the request.
    assert len({row["lead"]["LeadApiIdentifier"] for row in created}) == 3
    for lead, row in zip(leads, created):
        assert aimbase_id(lead, aimbase_account) == str(row["Id"])
        event = LeadEvent.objects.get(lead=lead, kind=EventKind.PUSH_SENT)
        assert f"Aimbase Id {row['Id']}" in event.summary  # visible on the lead's timeline
    assert engine.push(aimbase_account).pushed == 0 and len(lead_posts(sandbox)) == 1


def test_it_sends_only_the_leads_aimbase_refused_again_once_they_are_fixed(sandbox, aimbase_account, dealer_a):
    leads = [boat_lead(dealer_a, last_name=f"Ng{i}") for i in range(3)]
    submit(aimbase_account, *leads)
    sandbox.inject("partial", fail=[1], message="The LeadSourceName field is not a valid Lead Source.")
    summary = engine.push(aimbase_account)
    assert (summary.pushed, summary.failed) == (2, 1)
    assert [state_of(lead) for lead in leads] == [OutboxState.SENT, OutboxState.FAILED, OutboxState.SENT]
    refused = OutboxItem.objects.get(lead=leads[1], kind="submit")
    assert refused.response["Status"] == "Failure"
    shown = LeadEvent.objects.get(lead=leads[1], kind=EventKind.PUSH_FAILED).summary
    assert "LeadSourceName: The LeadSourceName field is not a valid Lead Source." in shown
    # Queueing all three again: the accepted ones are refused, the failed one goes.
    again = {lead.pk: queue_submission(aimbase_account.adapter(), lead)[1] for lead in leads}
    assert [v[0].code for v in (again[leads[0].pk], again[leads[2].pk])] == ["already_submitted"] * 2
    assert again[leads[1].pk] == []
    assert engine.push(aimbase_account).pushed == 1
    assert [sandbox.created_count(lead.pk) for lead in leads] == [1, 1, 1]
    assert [state_of(lead) for lead in leads] == [OutboxState.SENT] * 3


def test_it_blocks_a_lead_that_breaks_aimbase_rules_until_it_is_fixed(sandbox, aimbase_account, dealer_a):
    lead = boat_lead(dealer_a, last_name="", opt_in_email=True, state_province="Missouri")
    (item, problems), = submit(aimbase_account, lead)
    assert {(p.field, p.code) for p in problems} == {
        ("LastName", "required"), ("State", "max_length"), ("CommunicationOptInIpAddress", "required_for_opt_in")}
    assert item.state == OutboxState.BLOCKED
    shown = LeadEvent.objects.get(lead=lead, kind=EventKind.PUSH_BLOCKED).summary
    assert "LastName is required by Aimbase. (LeadHub: the lead's last name.)" in shown
    assert "CommunicationOptInIpAddress is required when IsCommunicationOptIn is true. (LeadHub: the lead's IP " \
           "address.)" in shown
    assert engine.push(aimbase_account).pushed == 0 and lead_posts(sandbox) == []
    lead.last_name, lead.state_province, lead.ip_address = "Hall", "MO", "203.0.113.9"
    lead.save()
    assert engine.push(aimbase_account).pushed == 1
    sent = sandbox.leads()[0]["lead"]
    assert sent["IsCommunicationOptIn"] is True and sent["CommunicationOptInIpAddress"] == "203.0.113.9"
    assert sent["CommunicationOptInSource"] == "Boat show"
    assert sent["CommunicationOptInDate"] == lead.created_at.date().isoformat()


def test_submission_extras_fill_fields_without_a_column(sandbox, aimbase_account, dealer_a):
    lead = boat_lead(dealer_a, submission_extras={"aimbase": {
        "Products": [{"ProductCode": "GTX170", "BrandCode": "SEADOO", "ProductModelYear": "2025"}],
        "Customs": [{"FieldName": "BuyTimeFrame", "FieldValue": "1-3 months"}], "SendLead": "N",
        "LeadSourceName": "Boat Show"}})
    submit(aimbase_account, lead)
    assert engine.push(aimbase_account).pushed == 1
    sent = sandbox.leads()[0]["lead"]
    assert sent["Products"][0]["ProductCode"] == "GTX170" and sent["SendLead"] == "N"
    assert sent["LeadSourceName"] == "Boat Show"  # the lead's own value wins over the account's
    assert {"FieldName": "BuyTimeFrame", "FieldValue": "1-3 months"} in sent["Customs"]


@pytest.mark.parametrize("fault, params, shown", [
    ("top_level_error", {"message": "Manufacturer import is disabled."}, "TopLevelError): Manufacturer import"),
    ("400", {"message": "The request is invalid."}, "400 The request is invalid."),
])
def test_a_top_level_error_or_a_400_fails_every_lead_of_the_batch_visibly(sandbox, aimbase_account, dealer_a,
                                                                            fault, params, shown):
    leads = [boat_lead(dealer_a, last_name=f"Ox{i}") for i in range(2)]
    submit(aimbase_account, *leads)
    sandbox.inject(fault, **params)
    summary = engine.push(aimbase_account)
    assert (summary.pushed, summary.failed) == (0, 2)
    for lead in leads:
        assert state_of(lead) == OutboxState.FAILED
        assert shown in LeadEvent.objects.get(lead=lead, kind=EventKind.PUSH_FAILED).summary
    assert sandbox.leads() == []
    for lead in leads:  # fixed on Aimbase's side: resubmitted, created once
        queue_submission(aimbase_account.adapter(), lead)
    assert engine.push(aimbase_account).pushed == 2
    assert [sandbox.created_count(lead.pk) for lead in leads] == [1, 1]


def test_it_submits_xml_when_the_account_says_so(sandbox, xml_account, dealer_a):
    leads = [boat_lead(dealer_a, last_name="Hall", opt_in_sms=True), boat_lead(dealer_a, last_name="")]
    leads[1].last_name = ""  # blocked before sending: only the first goes
    submit(xml_account, *leads)
    sandbox.inject("partial", fail=[0], message="Unknown brand")
    OutboxItem.objects.filter(lead=leads[1]).update(state=OutboxState.PENDING, last_error="")  # force it out
    summary = engine.push(xml_account)
    assert (summary.pushed, summary.failed) == (0, 2)
    assert "LastName: LastName is required by Aimbase." in OutboxItem.objects.get(lead=leads[1]).last_error
    queue_submission(xml_account.adapter(), leads[0])
    assert engine.push(xml_account).pushed == 1
    sent = sandbox.leads()[0]["lead"]
    assert sent["ExternalId"] == str(leads[0].pk) and sent["SMSOptIn"] is True
    assert sent["Customs"][0] == {"FieldName": "UtmSource", "FieldValue": "google"}
    assert aimbase_id(leads[0], xml_account) == str(sandbox.leads()[0]["Id"])


def test_wrong_credentials_fail_the_batch_say_so_and_alert(sandbox, dealer_a, fast_retries, mailoutbox):
    account = make_account(dealer_a, sandbox, token="wrong")
    lead = boat_lead(dealer_a)
    submit(account, lead)
    summary = engine.push(account)
    assert summary.failed == 1 and state_of(lead) == OutboxState.FAILED
    assert "check the account's username and token" in OutboxItem.objects.get(lead=lead).last_error
    assert len(mailoutbox) == 1 and "refused the credentials" in mailoutbox[0].subject
    assert "wrong" not in mailoutbox[0].body  # never the token


def test_the_sync_command_submits_what_is_queued_and_prints_the_summary(sandbox, aimbase_account, dealer_a,
                                                                          capsys):
    from django.core.management import call_command

    leads = [boat_lead(dealer_a, last_name="Sync"), boat_lead(dealer_a, last_name="Cmd")]
    submit(aimbase_account, *leads)
    call_command("sync", "a100-aimbase")
    summary = json.loads(capsys.readouterr().out)
    assert (summary["pushed"], summary["failed"], summary["errors"]) == (2, 0, [])
    assert [sandbox.created_count(lead.pk) for lead in leads] == [1, 1]
    sandbox.inject("partial", fail=[0])
    submit(aimbase_account, boat_lead(dealer_a, last_name="Refused"))
    with pytest.raises(SystemExit) as exited:
        call_command("sync", "a100-aimbase")
    assert exited.value.code == 1  # a refused lead fails the run
    assert json.loads(capsys.readouterr().out)["failed"] == 1


def test_the_lead_page_shows_aimbases_id_or_its_field_messages(client, sandbox, aimbase_account, dealer_a, alice):
    accepted, refused = boat_lead(dealer_a, last_name="Shown"), boat_lead(dealer_a, last_name="Refused")
    submit(aimbase_account, accepted, refused)
    sandbox.inject("partial", fail=[1], field="LeadTypeName", message="The LeadTypeName is not a valid Lead Type.")
    engine.push(aimbase_account)
    client.force_login(alice)
    page = client.get(f"/admin/leads/lead/{accepted.pk}/change/").content.decode()
    assert f"Aimbase Id {aimbase_id(accepted, aimbase_account)}" in page
    page = client.get(f"/admin/leads/lead/{refused.pk}/change/").content.decode()
    assert "LeadTypeName: The LeadTypeName is not a valid Lead Type." in page


def test_records_beside_a_top_level_error_decide_each_lead(sandbox, aimbase_account, dealer_a):
    accepted, refused, unanswered = leads = [boat_lead(dealer_a, last_name=n) for n in ("Ok", "", "Late")]
    submit(aimbase_account, *leads)
    OutboxItem.objects.filter(lead=refused).update(state=OutboxState.PENDING, last_error="")  # force it out
    sandbox.inject("top_level_error", message="Some leads were not imported.", with_records=True, keep=2)
    summary = engine.push(aimbase_account)
    assert (summary.pushed, summary.failed) == (1, 1)
    # A Success record is a lead Aimbase created: kept, never sent again.
    assert state_of(accepted) == OutboxState.SENT and aimbase_id(accepted, aimbase_account)
    assert queue_submission(aimbase_account.adapter(), accepted)[1][0].code == "already_submitted"
    failed = OutboxItem.objects.get(lead=refused)
    assert failed.state == OutboxState.FAILED and "LastName: LastName is required by Aimbase." in failed.last_error
    assert "(TopLevelError: Some leads were not imported.)" in failed.last_error
    # No record: looked up by ExternalId (Aimbase did create it) rather than failed or resent.
    waiting = OutboxItem.objects.get(lead=unanswered)
    assert waiting.state == OutboxState.PENDING and "no record for this lead (TopLevelError" in waiting.last_error
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert engine.push(aimbase_account).pushed == 1
    assert len(lead_posts(sandbox)) == 1
    assert [sandbox.created_count(lead.pk) for lead in leads] == [1, 0, 1]


@pytest.mark.parametrize("at", [[1], None])
def test_records_without_an_identifier_are_matched_by_position_when_every_lead_has_one(sandbox, aimbase_account,
                                                                                       dealer_a, at):
    leads = [boat_lead(dealer_a, last_name=f"Pos{i}") for i in range(3)]
    submit(aimbase_account, *leads)
    sandbox.inject("no_identifier", **({} if at is None else {"at": at}))
    assert engine.push(aimbase_account).pushed == 3
    ids = {row["lead"]["ExternalId"]: str(row["Id"]) for row in sandbox.leads()}
    assert [aimbase_id(lead, aimbase_account) for lead in leads] == [ids[str(lead.pk)] for lead in leads]
    assert not [r for r in sandbox.requests if "/odata/" in r[1]]  # no lookup needed


def test_a_record_without_an_identifier_is_not_guessed_when_the_counts_differ():
    from apps.vendors.aimbase.outbound import match_records as _match_records

    named = {"LeadApiIdentifier": "B", "Status": "Success"}
    anonymous = {"LeadApiIdentifier": None, "Status": "Success"}
    assert _match_records([anonymous, named], ["a", "b"]) == [anonymous, named]  # "B": GUIDs ignore case
    assert _match_records([anonymous], ["a", "b"]) == [None, None]
    assert _match_records([named, anonymous], ["a", "b", "c"]) == [None, named, None]
    assert _match_records([named, anonymous], ["a", "c"]) == [None, anonymous]  # "B" names another lead


def test_the_opt_in_proofs_go_only_with_a_lead_that_opted_in(sandbox, dealer_a, fast_retries):
    account = make_account(dealer_a, sandbox, opt_in_source="Website form")
    silent, unasked, opted = (boat_lead(dealer_a, last_name=n, opt_in_email=o, ip_address="203.0.113.9")
                              for n, o in (("Silent", False), ("Unasked", None), ("Opted", True)))
    submit(account, silent, unasked, opted)
    assert engine.push(account).pushed == 3
    sent = {row["lead"]["LastName"]: row["lead"] for row in sandbox.leads()}
    for name in ("Silent", "Unasked"):
        assert sent[name]["IsCommunicationOptIn"] is False
        assert not {"CommunicationOptInIpAddress", "CommunicationOptInDate", "CommunicationOptInSource"} & set(
            sent[name])
    assert (sent["Opted"]["IsCommunicationOptIn"], sent["Opted"]["CommunicationOptInSource"]) == (True, "Website form")
