"""Aimbase's field rules: one table of cases, asserted against rules.py, the
`validate_payload aimbase` command and the sandbox server (which all use it),
and against the payload LeadHub builds from a lead."""
from __future__ import annotations

import json

import pytest
import requests

from apps.vendors.aimbase import rules
from apps.vendors.aimbase.payloads import build_lead
from tests.support.processes import validate_payload

from .conftest import OPTIONS, boat_lead

VALID = {"LeadSourceName": "Website", "LeadTypeName": "Request Brochure", "LeadCategoryName": "Referral Traffic",
         "LastName": "Hall", "CountryCode": "US", "IsCommunicationOptIn": False, "Email": "ahall@example.com",
         "ExternalId": "42"}
OPTED_IN = {"IsCommunicationOptIn": True, "CommunicationOptInIpAddress": "203.0.113.9",
            "CommunicationOptInDate": "2026-11-20", "CommunicationOptInSource": "Boat show"}

# (case, changes to VALID (None deletes), the (field, code) pairs expected)
CASES = [
    ("valid", {}, set()),
    ("valid opted in", OPTED_IN, set()),
    ("valid with the documents example lists", {
        "Dealers": [{"DealerNumber": "100", "DealerLocation": "1", "DealerName": "Bob's Boats"}],
        "Products": [{"ProductCode": "100", "ProductName": "Fast Boat", "ProductModelYear": "2014",
                      "BrandCode": "FLXR", "BrandName": "Falcon XR"}],
        "Customs": [{"FieldName": "BuyTimeFrame", "FieldValue": "1-3 months"}],
        "Brands": None, "LeadDate": "2026-11-20 -06:00", "SendLead": "Y", "ConditionCode": "U"}, set()),
    ("required fields missing", {"LeadSourceName": None, "LeadTypeName": "", "LeadCategoryName": None,
                                 "LastName": "  ", "CountryCode": None, "IsCommunicationOptIn": None},
     {("LeadSourceName", "required"), ("LeadTypeName", "required"), ("LeadCategoryName", "required"),
      ("LastName", "required"), ("CountryCode", "required"), ("IsCommunicationOptIn", "required")}),
    ("max lengths", {"LastName": "x" * 51, "State": "Missouri", "Comment": "c" * 2049, "ExternalId": "e" * 51,
                     "Medium": "m" * 201},
     {("LastName", "max_length"), ("State", "max_length"), ("Comment", "max_length"), ("ExternalId", "max_length"),
      ("Medium", "max_length")}),
    ("opted in without its proofs", {"IsCommunicationOptIn": True},
     {("CommunicationOptInIpAddress", "required_for_opt_in"), ("CommunicationOptInDate", "required_for_opt_in"),
      ("CommunicationOptInSource", "required_for_opt_in")}),
    ("formats", {"CountryCode": "us", "Email": "not-an-address", "CommunicationOptInDate": "20/11/2026",
                 "IsCommunicationOptIn": "yes", "SendLead": "yes", "LeadDate": "yesterday", "UserUid": "abc",
                 "ConditionCode": "X"},
     {("CountryCode", "invalid"), ("Email", "invalid"), ("CommunicationOptInDate", "invalid"),
      ("IsCommunicationOptIn", "invalid"), ("SendLead", "invalid"), ("LeadDate", "invalid"), ("UserUid", "invalid"),
      ("ConditionCode", "invalid")}),
    ("unknown country and field", {"CountryCode": "XX", "Emial": "a@b.example"},
     {("CountryCode", "invalid"), ("Emial", "unknown_field")}),
    ("list items", {"Dealers": [{"DealerLocation": "1"}], "Products": [{"ProductCode": "P", "BrandCode": "B",
                                                                         "ProductModelYear": "99"}],
                    "Customs": [{"FieldName": "f" * 51, "FieldValue": "v"}]},
     {("Dealers[0].DealerNumber", "required"), ("Products[0].ProductModelYear", "invalid"),
      ("Customs[0].FieldName", "max_length")}),
]


def case(changes: dict) -> dict:
    lead = dict(VALID)
    for key, value in changes.items():
        lead[key] = value
    return lead


@pytest.mark.parametrize("name, changes, expected", CASES, ids=[c[0] for c in CASES])
def test_the_rules_find_each_broken_rule(name, changes, expected):
    found = rules.lead_violations(case(changes))
    assert {(v.field, v.code) for v in found} == expected
    assert all(v.message for v in found)


def test_validate_payload_aimbase_reports_the_same_rules(tmp_path):
    result = validate_payload(tmp_path, "aimbase", [case(changes) for _, changes, _ in CASES], "leads.json")
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["index"] for line in lines] == list(range(len(CASES)))
    for line, (_, _, expected) in zip(lines, CASES):
        assert line["valid"] is (not expected)
        assert {e["field"] for e in line["errors"]} == {field for field, _ in expected}


def test_validate_payload_aimbase_exits_0_when_all_are_valid(tmp_path):
    result = validate_payload(tmp_path, "aimbase", [VALID, case(OPTED_IN)], "leads.json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["valid"] for line in result.stdout.splitlines()] == [True, True]


def test_the_sandbox_refuses_with_the_same_rules(sandbox):
    batch = [case(changes) for _, changes, _ in CASES]
    answer = requests.post(f"{sandbox.base_url}/marketing/api/lead", params={"manufacturer": "BRP"}, json=batch,
                           headers={"Authenticate": "Avala-Api lh-user:lh-token"}, timeout=5)
    assert answer.status_code == 201
    records = answer.json()["LeadResponseRecords"]
    for record, (_, _, expected) in zip(records, CASES, strict=True):
        assert record["Status"] == ("Failure" if expected else "Success")
        assert {m["Field"] for m in record["Messages"]} == {field for field, _ in expected}
    assert len(sandbox.leads()) == sum(1 for _, _, expected in CASES if not expected)


def test_a_lead_with_its_account_constants_builds_a_valid_payload(dealer_a):
    lead = boat_lead(dealer_a, opt_in_email=True, ip_address="203.0.113.9", opt_in_sms=False, utm_term="jet ski",
                     customer_number="C-77", mobile_phone="+1 314 555 0199")
    payload, problems = build_lead(lead, OPTIONS)
    assert problems == []
    assert payload["ExternalId"] == str(lead.pk) and payload["ProspectExternalId"] == "C-77"
    assert payload["Country"] == "United States of America" and payload["MobilePhone"] == "+1 314 555 0199"
    assert payload["SMSOptIn"] is False and payload["Term"] == "jet ski"
    assert payload["LeadDate"] == lead.created_at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert "LeadApiIdentifier" not in payload  # chosen per request when sent


def test_a_lead_without_country_uses_the_accounts_default_or_is_blocked(dealer_a):
    lead = boat_lead(dealer_a, country="")
    assert [(v.field, v.code) for v in build_lead(lead, OPTIONS)[1]] == [("CountryCode", "required")]
    assert build_lead(lead, {**OPTIONS, "default_country": "CA"})[0]["CountryCode"] == "CA"


def test_the_opt_in_proofs_are_built_only_for_a_lead_that_opted_in(dealer_a):
    # "This field is required if IsCommunicationOptIn is true": never sent otherwise.
    options = {**OPTIONS, "opt_in_source": "Website form"}
    for opt_in in (False, None):
        payload, problems = build_lead(boat_lead(dealer_a, opt_in_email=opt_in, ip_address="203.0.113.9"), options)
        assert problems == [] and payload["IsCommunicationOptIn"] is False
        assert not set(rules.OPT_IN_REQUIRES) & set(payload)
    opted = boat_lead(dealer_a, opt_in_email=True, ip_address="203.0.113.9")
    payload, problems = build_lead(opted, options)
    assert problems == [] and payload["CommunicationOptInSource"] == "Website form"  # the account's, else the lead's
    assert build_lead(opted, OPTIONS)[0]["CommunicationOptInSource"] == "Boat show"
    # Submission extras that say "not opted in" take the proofs away too.
    opted.submission_extras = {"aimbase": {"IsCommunicationOptIn": False}}
    assert not set(rules.OPT_IN_REQUIRES) & set(build_lead(opted, options)[0])
