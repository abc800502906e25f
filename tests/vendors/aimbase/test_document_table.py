"""Aimbase's Lead Data Schema, one row per documented rule, both sides of each
(shared/vendor-docs/aimbase-lead-api.txt; decisions in docs/vendors/aimbase.md):
JSON types, real dates with offsets within ±14:00 and not in the future, IP
addresses, e-mail addresses and Aimbase id lists. Each case changes one field of
a valid lead; rules.lead_violations is what the payload builder, the submit
screen, `validate_payload aimbase` and the sandbox run."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from apps.vendors.aimbase import rules

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)
VALID = {"LeadSourceName": "Website", "LeadTypeName": "Request Brochure", "LeadCategoryName": "Referral Traffic",
         "LastName": "Hall", "CountryCode": "US", "IsCommunicationOptIn": True, "Email": "ahall@example.com",
         "CommunicationOptInIpAddress": "203.0.113.9", "CommunicationOptInDate": "2026-11-20",
         "CommunicationOptInSource": "Boat show", "ExternalId": "42"}

TABLE = [
    # --- JSON types: text is a JSON string, booleans JSON booleans
    ("ExternalId", 42, ("ExternalId", "not_a_string")),
    ("LastName", ["Hall"], ("LastName", "not_a_string")),
    ("Dealers", [{"DealerNumber": 100}], ("Dealers[0].DealerNumber", "not_a_string")),
    ("Dealers", [{"DealerNumber": "100"}], None),
    ("Customs", [{"FieldName": "Financing", "FieldValue": 3}], ("Customs[0].FieldValue", "not_a_string")),
    ("Customs", [{"FieldName": "Financing", "FieldValue": "3"}], None),
    ("SMSOptIn", "true", ("SMSOptIn", "invalid")),
    ("SMSOptIn", True, None),
    ("Products", [{"ProductCode": "100", "BrandCode": "FLXR", "ProductModelYear": 2014}], None),  # "Number"
    ("Products", [{"ProductCode": "100", "BrandCode": "FLXR", "ProductModelYear": "2014"}], None),  # the example
    ("Products", [{"ProductCode": "100", "BrandCode": "FLXR", "ProductModelYear": 2014.5}],
     ("Products[0].ProductModelYear", "invalid")),
    ("Dealers", {"DealerNumber": "100"}, ("Dealers", "invalid")),
    # --- LeadDate: "YYYY-MM-dd ±hh:mm", a real date and time, offset within ±14:00, not ahead
    ("LeadDate", "2026-11-20 -06:00", None),
    ("LeadDate", "2026-11-20T09:30:00+01:00", None),
    ("LeadDate", "2026-02-30 -06:00", ("LeadDate", "invalid")),
    ("LeadDate", "2026-11-20T24:00:00-06:00", ("LeadDate", "invalid")),
    ("LeadDate", "2026-11-20 +15:00", ("LeadDate", "invalid_offset")),
    ("LeadDate", "2026-11-20 -14:00", None),
    ("LeadDate", "2026-11-20T17:03:00+00:00", None),  # a few minutes' clock difference is allowed
    ("LeadDate", "2026-11-21T09:00:00+00:00", ("LeadDate", "in_the_future")),
    ("LeadDate", "2026-11-20", None),
    # --- CommunicationOptInDate: "yyyy-MM-dd", a real date, not after today anywhere
    ("CommunicationOptInDate", "2026-11-21", None),  # already the 21st east of UTC
    ("CommunicationOptInDate", "2026-11-23", ("CommunicationOptInDate", "in_the_future")),
    ("CommunicationOptInDate", "2026-02-29", ("CommunicationOptInDate", "invalid")),
    ("CommunicationOptInDate", "2026-11-20T10:00", ("CommunicationOptInDate", "invalid")),
    # --- CommunicationOptInIpAddress: "The IP Address of the lead"
    ("CommunicationOptInIpAddress", "2001:db8::9", None),
    ("CommunicationOptInIpAddress", "999.1.1.1", ("CommunicationOptInIpAddress", "invalid")),
    ("CommunicationOptInIpAddress", "localhost", ("CommunicationOptInIpAddress", "invalid")),
    # --- Email (Max Length: 80): an address, no spaces around it
    ("Email", " ahall@example.com", ("Email", "invalid")),
    ("Email", "ahall@example", ("Email", "invalid")),
    # --- DealerIds / ProductIds: "A comma delimited string list of Aimbase ... Id values"
    ("DealerIds", "12,345", None),
    ("DealerIds", "12", None),
    ("DealerIds", "12, 345", ("DealerIds", "invalid")),
    ("DealerIds", "12;345", ("DealerIds", "invalid")),
    ("DealerIds", "12,,345", ("DealerIds", "invalid")),
    ("ProductIds", "A7", ("ProductIds", "invalid")),
    ("ProductIds", "7,", ("ProductIds", "invalid")),
    # --- unknown properties are refused, never passed on
    ("Emial", "a@b.example", ("Emial", "unknown_field")),
]


@pytest.mark.parametrize("field, value, broken", TABLE, ids=[f"{f}={v!r}" for f, v, _ in TABLE])
def test_the_documents_rule(field, value, broken):
    found = {(v.field, v.code) for v in rules.lead_violations({**VALID, field: value}, now=NOW)}
    if broken is None:
        assert found == set()
    else:
        assert broken in found


def test_the_valid_lead_passes():
    assert rules.lead_violations(VALID, now=NOW) == []


def test_the_sandbox_refuses_exactly_what_the_table_refuses():
    """The sandbox Aimbase runs the same rules, one record per lead of the batch
    (rows measured against this test's fixed clock aside)."""
    import requests

    from sandboxes.aimbase import AimbaseSandbox

    rows = [row for row in TABLE if not (row[2] and row[2][1] == "in_the_future")]
    with AimbaseSandbox(username="u", token="t", manufacturer="BRP") as sandbox:
        answer = requests.post(f"{sandbox.base_url}/marketing/api/lead", params={"manufacturer": "BRP"},
                               json=[{**VALID, field: value} for field, value, _ in rows],
                               headers={"Authenticate": "Avala-Api u:t"}, timeout=5)
    assert answer.status_code == 201
    records = answer.json()["LeadResponseRecords"]
    assert [r["Status"] for r in records] == ["Failure" if broken else "Success" for _, _, broken in rows]


# Every "Max Length" of the document's tables (Lead, Custom, Dealer and Product Data
# Schema), copied from aimbase-lead-api.txt: each is taken at its length and refused
# one character over it.
MAX_LENGTHS = {
    "": {"LeadSourceName": 50, "LeadTypeName": 50, "LeadCategoryName": 50, "LeadCampaignName": 50, "Brands": 100,
         "EventName": 100, "FirstName": 50, "LastName": 50, "Address1": 64, "Address2": 64, "City": 64, "State": 3,
         "PostalCode": 10, "Zip4": 4, "CompanyName": 50, "CompanyTitle": 50, "CompanyExternalId": 20, "County": 25,
         "Country": 50, "HomePhone": 20, "WorkPhone": 20, "MobilePhone": 20, "Fax": 20, "Email": 80,
         "CountryCode": 2, "DealerIds": 100, "ProductIds": 100, "ProspectExternalId": 20, "ExternalId": 50,
         "LeadApiIdentifier": 100, "CommunicationOptInIpAddress": 50, "CommunicationOptInSource": 50,
         "ListCodes": 128, "Medium": 200, "Term": 200, "Content": 200, "Comment": 2048},
    "Customs": {"FieldName": 50, "FieldValue": 2048},
    "Dealers": {"DealerNumber": 20, "DealerLocation": 10, "DealerName": 80, "OemManufactureCode": 20,
                "OemDealerNumber": 20},
    "Products": {"ProductCode": 50, "ProductName": 100, "BrandCode": 100, "BrandName": 100},
}
LIST_BASE = {"Customs": {"FieldName": "Financing", "FieldValue": "Yes"}, "Dealers": {"DealerNumber": "100"},
             "Products": {"ProductCode": "100", "BrandCode": "FLXR"}}
LENGTH_ROWS = [(where, field, size) for where, fields in MAX_LENGTHS.items() for field, size in fields.items()]


def _of_length(field: str, size: int) -> str | None:
    """A value of exactly `size` characters that is valid for the field's format."""
    if field == "CountryCode":
        return "US"[:size] if size == 2 else None
    if field == "Email":
        return "a" * (size - len("@example.com")) + "@example.com"
    if field in ("DealerIds", "ProductIds"):
        return "1" * size
    if field == "CommunicationOptInIpAddress":
        return None  # no IP address is 50 characters long (IPv6 text is at most 45)
    return "x" * size


def _lead_with(where: str, field: str, value) -> dict:
    if not where:
        return {**VALID, field: value}
    return {**VALID, where: [{**LIST_BASE[where], field: value}]}


@pytest.mark.parametrize("where, field, size", LENGTH_ROWS, ids=[f"{w or 'Lead'}.{f}<={s}" for w, f, s in LENGTH_ROWS])
def test_every_max_length_of_the_document(where, field, size):
    label = f"{where}[0].{field}" if where else field
    fits = _of_length(field, size)
    if fits is not None:
        assert rules.lead_violations(_lead_with(where, field, fits), now=NOW) == []
    over = (fits or "1" * size) + ("1" if field in ("DealerIds", "ProductIds") else "x")
    found = {(v.field, v.code) for v in rules.lead_violations(_lead_with(where, field, over), now=NOW)}
    assert (label, "max_length") in found


# The other formats of the Lead Data Schema, each field both ways: (field, allowed, refused).
FORMAT_ROWS = (
    [(name, "44b07d7b-1677-4bb8-84c0-9846b9d5bec1", "44b07d7b-1677") for name in
     ("LeadUid", "CompanyUid", "UserUid", "SessionUid")]  # "Guid"
    + [(name, False, "false") for name in
       ("SMSOptIn", "SendAutoresponder", "SendNurture", "ScoreProspect", "LeadReroute")]  # "Boolean"
    + [("SendLead", "N", "No"), ("ConditionCode", "S", "X"),  # "Y or N"; "New (N), Used (U) or Showroom (S)"
       ("CountryCode", "GB", "UK"), ("CountryCode", "CA", "ca")]  # "the ISO two-letter country codes"
)


@pytest.mark.parametrize("field, allowed, refused", FORMAT_ROWS, ids=[f"{f}:{a!r}/{r!r}" for f, a, r in FORMAT_ROWS])
def test_every_format_of_the_document(field, allowed, refused):
    assert rules.lead_violations({**VALID, field: allowed}, now=NOW) == []
    assert field in {v.field for v in rules.lead_violations({**VALID, field: refused}, now=NOW)}


@pytest.mark.parametrize("year, ok", [(1000, True), (9999, True), ("2014", True), (999, False), (10000, False),
                                      ("20l4", False), (True, False)])
def test_product_model_year_is_1000_to_9999(year, ok):
    lead = {**VALID, "Products": [{"ProductCode": "100", "BrandCode": "FLXR", "ProductModelYear": year}]}
    assert (rules.lead_violations(lead, now=NOW) == []) is ok


@pytest.mark.parametrize("where, field", [("", name) for name in ("LeadSourceName", "LeadTypeName", "LeadCategoryName",
                                                                   "LastName", "CountryCode", "IsCommunicationOptIn")]
                         + [("Customs", "FieldName"), ("Customs", "FieldValue"), ("Dealers", "DealerNumber"),
                            ("Products", "ProductCode"), ("Products", "BrandCode")])
def test_every_required_field_of_the_document(where, field):
    """"X" in the Required column: missing, null and blank are refused."""
    label = f"{where}[0].{field}" if where else field
    for missing in (None, "", "  "):
        lead = _lead_with(where, field, missing)
        assert (label, "required") in {(v.field, v.code) for v in rules.lead_violations(lead, now=NOW)}


ACTIVITY = {"EntryDate": "2026-11-20T10:00:00-06:00", "EntryType": "StatusChanged", "EntryDetail": "Working",
            "DealershipUser": "Sam Staff", "PCHProspectId": "123", "SourceProspectId": "42"}


@pytest.mark.parametrize("field, value, broken", [
    ("EntryType", "Activity", None), ("EntryType", "Visit", ("EntryType", "invalid_choice")),
    ("EntryDate", "2026-11-20T25:00:00-06:00", ("EntryDate", "invalid")),
    ("EntryDate", "2026-11-20T10:00:00+15:00", ("EntryDate", "invalid_offset")),
    ("EntryDate", "2026-12-20T10:00:00-06:00", ("EntryDate", "in_the_future")),
    ("PCHProspectId", 123, ("PCHProspectId", "not_a_string")),
    ("SourceProspectId", None, ("SourceProspectId", "required")),
    ("DealershipUser", "u" * 50, None), ("DealershipUser", "u" * 51, ("DealershipUser", "max_length")),
])
def test_the_disposition_apis_rules(field, value, broken):
    found = {(v.field, v.code) for v in rules.disposition_violations({**ACTIVITY, field: value}, now=NOW)}
    assert found == set() if broken is None else broken in found
