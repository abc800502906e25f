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
