"""CAP's rules, one table row per documented field rule, both sides of each
(shared/vendor-docs/cap-gateway-lead-submission.txt; decisions quoted in
docs/vendors/cap.md). Each case starts from the document's example payload and
changes one thing; it is checked by rules.validate_submission, the function the
payload builder, the submit screen, `validate_payload cap` and the sandbox run."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from apps.vendors.cap import rules
from tests.vendors.cap.test_commands import VALID

DROP = object()
NOW = datetime(2024, 9, 12, 12, 0, tzinfo=timezone.utc)  # the example's day, after its enquiry


def changed(path: str, value):
    payload = copy.deepcopy(VALID)
    node = payload
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    if value is DROP:
        node.pop(last)
    else:
        node[last] = value
    return payload


def codes(payload, **kwargs) -> set[tuple[str, str]]:
    return {(v.field, v.code) for v in rules.validate_submission(payload, now=NOW, **kwargs)}


# (path, value, the (field, code) it breaks or None when the document allows it)
TABLE = [
    # --- required: the rows (marks lost) read with the example; empty strings are missing
    ("metadata", DROP, ("metadata", "required")),
    ("metadata.campaignId", DROP, ("metadata.campaignId", "required")),
    ("metadata.campaignId", "", ("metadata.campaignId", "required")),
    ("metadata.enquiryDateTime", DROP, ("metadata.enquiryDateTime", "required")),
    ("metadata.enquiryType", " ", ("metadata.enquiryType", "required")),
    ("metadata.enquirySource", DROP, ("metadata.enquirySource", "required")),
    ("metadata.enquirySource.acquisitionChannel", "", ("metadata.enquirySource.acquisitionChannel", "required")),
    ("contactDetail", DROP, ("contactDetail", "required")),
    ("contactDetail.firstName", "", ("contactDetail.firstName", "required")),
    ("contactDetail.lastName", DROP, ("contactDetail.lastName", "required")),
    ("contactDetail.emailAddress", None, ("contactDetail.emailAddress", "required")),
    ("optInConsents", DROP, ("optInConsents", "required")),
    ("optInConsents.Sms", DROP, ("optInConsents.Sms", "required")),
    ("vehicle", DROP, ("vehicle", "required")),
    ("vehicle.name", "", ("vehicle.name", "required")),
    # optional ones may be left out or null
    ("metadata.externalReferenceId", DROP, None),
    ("metadata.ipAddress", DROP, None),
    ("metadata.ipAddress", None, None),
    ("contactDetail.phoneNumber", DROP, None),
    ("contactDetail.phoneNumber", None, None),
    ("contactDetail.address", DROP, None),
    ("optInConsents.PhoneCall", None, None),  # "Accepted values: true, false, null"
    # --- JSON types: strings are strings, booleans booleans, objects objects
    ("metadata.campaignId", 966, ("metadata.campaignId", "not_a_string")),
    ("metadata.externalReferenceId", 9, ("metadata.externalReferenceId", "not_a_string")),
    ("metadata.enquiryDateTime", 1726136459, ("metadata.enquiryDateTime", "not_a_string")),
    ("contactDetail.firstName", ["test"], ("contactDetail.firstName", "not_a_string")),
    ("contactDetail.address.postcode", 12345, ("contactDetail.address.postcode", "not_a_string")),
    ("optInConsents.Email", "false", ("optInConsents.Email", "invalid_consent")),
    ("optInConsents.Post", 0, ("optInConsents.Post", "invalid_consent")),
    ("metadata.enquirySource", "Google", ("metadata.enquirySource", "not_an_object")),
    ("contactDetail.address", "L39AG", ("contactDetail.address", "not_an_object")),
    ("vehicle", "Audi Q6 e-tron", ("vehicle", "not_an_object")),
    # --- unknown properties: refused, never passed on
    ("metadata.leadSource", "web", ("metadata.leadSource", "unknown_property")),
    ("contactDetail.mobile", "07700900123", ("contactDetail.mobile", "unknown_property")),
    ("vehicle.model", "Q6", ("vehicle.model", "unknown_property")),
    ("optInConsents.Fax", True, ("optInConsents.Fax", "unknown_property")),
    ("dealer", {"code": "X"}, ("dealer", "unknown_property")),
    # --- campaignId: "guid"
    ("metadata.campaignId", "966c7488bfa745b58510d26ba3008879", ("metadata.campaignId", "invalid_guid")),
    ("metadata.campaignId", "966C7488-BFA7-45B5-8510-D26BA3008879", None),
    # --- enquiryDateTime: ISO 8601, UTC, to the second, "T" between
    ("metadata.enquiryDateTime", "2024-09-12T10:20:59", None),
    ("metadata.enquiryDateTime", "2024-09-12T10:20:59.52", None),  # the example's own form
    ("metadata.enquiryDateTime", "2024-09-12T10:20:59Z", None),
    ("metadata.enquiryDateTime", "2024-09-12T11:20:59+01:00", ("metadata.enquiryDateTime", "not_utc")),
    ("metadata.enquiryDateTime", "2024-09-12 10:20:59", ("metadata.enquiryDateTime", "invalid_datetime")),
    ("metadata.enquiryDateTime", "2024-09-12T10:20", ("metadata.enquiryDateTime", "invalid_datetime")),
    ("metadata.enquiryDateTime", "2024-02-30T10:20:59", ("metadata.enquiryDateTime", "invalid_datetime")),
    ("metadata.enquiryDateTime", "2024-09-12T24:00:00", ("metadata.enquiryDateTime", "invalid_datetime")),
    ("metadata.enquiryDateTime", "2024-09-12T12:04:59", None),  # within a few minutes of now
    ("metadata.enquiryDateTime", "2024-09-12T13:00:00", ("metadata.enquiryDateTime", "in_the_future")),
    # --- enquiryType: "Accepted Values"
    ("metadata.enquiryType", "Register Of Interest", None),
    ("metadata.enquiryType", "test drive", ("metadata.enquiryType", "invalid_choice")),
    # --- ipAddress: "The IP address of the user"
    ("metadata.ipAddress", "203.0.113.7", None),
    ("metadata.ipAddress", "2001:db8::1", None),
    ("metadata.ipAddress", "999.1.1.1", ("metadata.ipAddress", "invalid_ip")),
    ("metadata.ipAddress", "localhost", ("metadata.ipAddress", "invalid_ip")),
    ("metadata.ipAddress", "fe80::1%eth0", ("metadata.ipAddress", "invalid_ip")),
    ("metadata.ipAddress", " 203.0.113.7", ("metadata.ipAddress", "invalid_ip")),
    ("metadata.ipAddress", "", ("metadata.ipAddress", "invalid_ip")),
    # --- emailAddress
    ("contactDetail.emailAddress", "ada@example.co.uk", None),
    ("contactDetail.emailAddress", " ada@example.co.uk", ("contactDetail.emailAddress", "invalid_email")),
    ("contactDetail.emailAddress", "ada@", ("contactDetail.emailAddress", "invalid_email")),
    # --- phoneNumber: "+44 or 0 prefix accepted"
    ("contactDetail.phoneNumber", "+4420 8759 9036", None),  # the example
    ("contactDetail.phoneNumber", "020 8759 9036", None),
    ("contactDetail.phoneNumber", "07700-900-123", None),
    ("contactDetail.phoneNumber", "(020) 8759 9036", ("contactDetail.phoneNumber", "invalid_phone")),
    ("contactDetail.phoneNumber", "020.8759.9036", ("contactDetail.phoneNumber", "invalid_phone")),
    ("contactDetail.phoneNumber", "+44 (0)20 8759 9036", ("contactDetail.phoneNumber", "invalid_phone")),
    ("contactDetail.phoneNumber", "+1 309 555 0101", ("contactDetail.phoneNumber", "invalid_phone")),
    ("contactDetail.phoneNumber", "0208759", ("contactDetail.phoneNumber", "invalid_phone")),
    ("contactDetail.phoneNumber", "", ("contactDetail.phoneNumber", "invalid_phone")),
    # --- postcode: a UK postcode
    ("contactDetail.address.postcode", "L39AG", None),  # the example
    ("contactDetail.address.postcode", "SW1A 1AA", None),
    ("contactDetail.address.postcode", "GIR 0AA", None),
    ("contactDetail.address.postcode", "SW1A  1AA", ("contactDetail.address.postcode", "invalid_postcode")),
    ("contactDetail.address.postcode", "90210", ("contactDetail.address.postcode", "invalid_postcode")),
]


@pytest.mark.parametrize("path, value, broken", TABLE,
                         ids=[f"{path}={'<absent>' if value is DROP else repr(value)}" for path, value, _ in TABLE])
def test_the_documents_rule(path, value, broken):
    found = codes(changed(path, value))
    if broken is None:
        assert found == set()
    else:
        assert broken in found


def test_the_documents_example_passes():
    assert codes(VALID) == set()


@pytest.mark.parametrize("name, path", [("phoneNumber", "contactDetail.phoneNumber"),
                                        ("postcode", "contactDetail.address.postcode")])
def test_a_campaign_that_requires_it_refuses_a_missing_one(name, path):
    required, _ = rules.parse_required_fields(name)
    missing = changed("contactDetail.address", DROP) if name == "postcode" else changed(path, None)
    assert (path, "required") in codes(missing, required=required)
    assert codes(missing) == set()


def test_the_sandbox_refuses_exactly_what_the_table_refuses():
    """The sandbox CAP runs the same rules: a 400 for every broken row, an enquiry
    for every allowed one (rows measured against this test's fixed clock aside)."""
    import requests

    from apps.vendors.cap.client import SUBMIT_PATH
    from sandboxes.cap import CapSandbox

    rows = [row for row in TABLE if not (row[2] and row[2][1] == "in_the_future")]
    with CapSandbox(api_key="k") as sandbox:
        for path, value, broken in rows:
            answer = requests.post(sandbox.base_url + SUBMIT_PATH, json=changed(path, value),
                                   headers={"X-API-Key": "k"}, timeout=5)
            assert answer.status_code == (400 if broken else 202), (path, value, answer.text)
