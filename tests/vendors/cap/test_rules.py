"""CAP's rules (rules.py) and the payload built from a lead (payloads.py)."""
import copy
from datetime import datetime, timezone

import pytest

from apps.vendors.cap import payloads, rules
from tests.vendors.cap.test_commands import VALID


def _with(path, value):
    payload = copy.deepcopy(VALID)
    node = payload
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    if value is _DROP:
        node.pop(last)
    else:
        node[last] = value
    return payload


_DROP = object()


def _codes(payload, **kwargs):
    return {(v.field, v.code) for v in rules.validate_submission(payload, **kwargs)}


def test_the_documents_example_passes_once_its_time_is_to_the_second():
    assert rules.validate_submission(VALID) == []
    assert _codes(_with("metadata.enquiryDateTime", "2024-09-12T10:20:59.52")) == set()  # the example's own form


@pytest.mark.parametrize("path", ["metadata.campaignId", "metadata.enquiryDateTime", "metadata.enquiryType",
                                  "contactDetail.firstName", "contactDetail.lastName", "contactDetail.emailAddress"])
def test_the_always_required_fields_are_required(path):
    assert (path, "required") in _codes(_with(path, None))
    assert (path, "required") in _codes(_with(path, _DROP))


def test_a_campaign_can_require_phone_and_postcode():
    bare = _with("contactDetail.phoneNumber", None)
    assert _codes(bare) == set()
    required, unknown = rules.parse_required_fields("phoneNumber, postcode, fax")
    assert unknown == ["fax"]
    assert ("contactDetail.phoneNumber", "required") in _codes(bare, required=required)


@pytest.mark.parametrize("value,ok", [("2024-09-12T10:20:59", True), ("2024-09-12T10:20:59Z", True),
                                      ("2024-09-12T10:20:59+00:00", True), ("2024-09-12T11:20:59+01:00", False),
                                      ("2024-09-12 10:20:59", False), ("2024-09-12T10:20", False),
                                      ("12/09/2024 10:20", False),
                                      # the shape, but no such date or time, or not ISO 8601's ASCII digits
                                      ("2024-02-30T10:20:59", False), ("2024-13-45T25:61:61", False),
                                      ("2024-09-12T10:20:59\n", False), ("２０２４-09-12T10:20:59", False),
                                      ("2024-02-29T23:59:59", True)])
def test_the_enquiry_time_is_iso_8601_utc_to_the_second(value, ok):
    assert (not _codes(_with("metadata.enquiryDateTime", value))) is ok


@pytest.mark.parametrize("value,ok", [("+4420 8759 9036", True), ("020 8759 9036", True), ("07700 900123", True),
                                      ("+44 (0)20", False), ("+1 309 555 0101", False), ("4420 8759 9036", False),
                                      ("0800 CALL NOW", False), ("+44٢٠٨٧٥٩٩٠٣٦", False)])
def test_phone_numbers_take_a_plus_44_or_0_prefix(value, ok):
    assert (not _codes(_with("contactDetail.phoneNumber", value))) is ok


def test_values_from_the_accepted_lists_only():
    assert ("metadata.enquiryType", "invalid_choice") in _codes(_with("metadata.enquiryType", "test drive"))
    for kind in rules.ENQUIRY_TYPES:
        assert _codes(_with("metadata.enquiryType", kind)) == set()
    assert ("metadata.campaignId", "invalid_guid") in _codes(_with("metadata.campaignId", "campaign-1"))
    # a GUID is text in the example's 8-4-4-4-12 form, not a number or another spelling
    assert ("metadata.campaignId", "not_a_string") in _codes(_with("metadata.campaignId",
                                                                    96612345678901234567890123456789))
    for odd in ("966c7488bfa745b58510d26ba3008879", "urn:uuid:966c7488-bfa7-45b5-8510-d26ba3008879"):
        assert ("metadata.campaignId", "invalid_guid") in _codes(_with("metadata.campaignId", odd))
    assert ("metadata.ipAddress", "invalid_ip") in _codes(_with("metadata.ipAddress", "300.1.1.1"))
    assert _codes(_with("metadata.ipAddress", "2001:db8::1")) == set()
    assert ("contactDetail.address.postcode", "invalid_postcode") in _codes(
        _with("contactDetail.address", {"postcode": "61602"}))
    assert ("contactDetail.emailAddress", "invalid_email") in _codes(_with("contactDetail.emailAddress", "nope"))


def test_consents_are_true_false_or_null_per_known_channel():
    assert _codes(_with("optInConsents", {"PhoneCall": None, "Post": None, "Email": True, "Sms": False})) == set()
    assert _codes(_with("optInConsents", {"PhoneCall": None, "Post": None, "Email": "true", "Sms": None,
                                          "Fax": True})) == {
        ("optInConsents.Email", "invalid_consent"), ("optInConsents.Fax", "unknown_property")}
    # all four channels, as the example sends them (null: not asked)
    assert ("optInConsents.Sms", "required") in _codes(_with("optInConsents", {"PhoneCall": True, "Post": None,
                                                                              "Email": None}))
    assert ("optInConsents", "required") in _codes(_with("optInConsents", _DROP))


def test_shapes_that_are_not_objects_are_refused():
    assert _codes([VALID]) == {("", "not_an_object")}
    assert ("metadata.enquirySource", "not_an_object") in _codes(_with("metadata.enquirySource", "Google"))
    for odd in ("L3 9AG", ["L39AG"]):  # the example: "address": {"postcode": "L39AG"}
        assert ("contactDetail.address", "not_an_object") in _codes(_with("contactDetail.address", odd))


def test_the_account_campaign_guid_is_sent_in_the_documents_form(dealer_a):
    from tests.conftest import make_lead

    lead = make_lead(dealer_a, first_name="Ada", last_name="Lovelace", email="ada@example.co.uk")
    for typed in ("966C7488BFA745B58510D26BA3008879", "{966c7488-bfa7-45b5-8510-d26ba3008879}",
                  "urn:uuid:966c7488-bfa7-45b5-8510-d26ba3008879"):
        payload, problems = payloads.build_submission(lead, {"campaign_id": typed, "enquiry_type": "KMI"})
        assert payload["metadata"]["campaignId"] == "966c7488-bfa7-45b5-8510-d26ba3008879"
        assert not [p for p in problems if p.field == "metadata.campaignId"]


@pytest.mark.parametrize("status, body, kind", [
    (202, {"success": True, "messages": [], "result": {"requestReferenceId": "r", "enquiryReferenceCode": "E1"}},
     "accepted"),
    # the document's "Failed response example", whatever 2xx it comes with: no enquiry was made
    (200, {"success": False, "messages": ["ERROR_INVALID_CAMPAIGN"],
           "result": {"requestReferenceId": "r", "enquiryReferenceCode": None}}, "refused"),
    (202, {"success": False, "messages": ["WARN"], "result": {"enquiryReferenceCode": "E2"}}, "accepted"),
    (400, {"success": False, "messages": ["ERROR_X"], "result": {}}, "refused"),
])
def test_an_answer_is_read_by_its_status_and_its_success_flag(status, body, kind):
    import json

    from apps.vendors.cap.client import read_answer
    from apps.vendors.core.http import RawResponse

    answer = read_answer(RawResponse(status_code=status, body=json.dumps(body).encode(), headers={},
                                     request="POST /lead-submission/v1/external"))
    assert answer.kind == kind
    assert answer.messages == body["messages"]


def test_the_payload_from_a_lead_names_the_lead_fields_to_fix(dealer_a):
    from tests.conftest import make_lead

    lead = make_lead(dealer_a, first_name="Ada", last_name="", email="ada@example.co.uk", phone="+1 309 555 0101",
                     brand="Audi", product_interest="Audi A3", utm_source="Google", source="Website",
                     ip_address="192.0.2.1", submission_extras={"cap": {"enquiryType": "Test Drive"}})
    lead.created_at = datetime(2024, 9, 12, 10, 20, 59, 520000, tzinfo=timezone.utc)
    payload, problems = payloads.build_submission(lead, {"campaign_id": "not-a-guid", "enquiry_type": "KMI",
                                                         "required_fields": "postcode"})
    assert payload["metadata"]["enquiryDateTime"] == "2024-09-12T10:20:59"
    assert payload["metadata"]["enquiryType"] == "Test Drive"  # the lead's own wins over the account's
    assert payload["metadata"]["enquirySource"] == {"acquisitionChannel": "Google"}
    assert payload["metadata"]["ipAddress"] == "192.0.2.1"
    assert payload["vehicle"] == {"name": "Audi A3"}  # the brand is not repeated
    assert {(p.field, p.code) for p in problems} == {
        ("last_name", "required"), ("phone", "invalid_phone"), ("postal_code", "required"),
        ("metadata.campaignId", "invalid_guid")}
    assert any("account setting: campaign_id" in p.message for p in problems)
