"""Aimbase payloads without HTTP: JSON and XML encoding, reading answers, and
refusing unsafe XML."""
from __future__ import annotations

import pytest

from apps.vendors.aimbase import payloads
from apps.vendors.aimbase.payloads import LeadResponse, ResponseUnreadable

LEAD = {"LeadApiIdentifier": "44b07d7b-1677-4bb8-84c0-9846b9d5bec1", "LeadSourceName": "Website",
        "LeadTypeName": "Request Brochure", "LeadCategoryName": "Referral Traffic", "LeadDate": None,
        "FirstName": "Allen", "LastName": "Hall & Sons <Marine>", "CountryCode": "US", "IsCommunicationOptIn": False,
        "SMSOptIn": True, "Dealers": [{"DealerNumber": "100", "DealerLocation": "1", "DealerName": "Bob's Boats"}],
        "Products": [{"ProductCode": "100", "ProductModelYear": "2014", "BrandCode": "FLXR"}],
        "Customs": [{"FieldName": "BuyTimeFrame", "FieldValue": "1-3 months"}]}

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Leads><Lead><Id>&lol3;</Id><Status>Success</Status></Lead></Leads>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Leads><Lead><Id>1</Id><StatusMessage>&xxe;</StatusMessage></Lead></Leads>"""


def test_xml_is_built_as_the_documents_example_and_read_back_the_same():
    body = payloads.to_xml([LEAD])
    assert b'<LeadDate xsi:nil="true" />' in body and b"<Dealers><Dealer><DealerNumber>100</DealerNumber>" in body
    assert b"Hall &amp; Sons &lt;Marine&gt;" in body and b"<IsCommunicationOptIn>false</IsCommunicationOptIn>" in body
    assert payloads.leads_from_xml(body) == [LEAD]


def test_json_is_an_array_of_leads():
    assert payloads.to_json([LEAD]).startswith(b'[{"LeadApiIdentifier":"44b07d7b')


@pytest.mark.parametrize("encode", [payloads.response_to_json, payloads.response_to_xml])
def test_answers_are_read_in_both_formats(encode):
    answer = LeadResponse(None, [
        {"LeadApiIdentifier": "a", "Id": "17", "Status": "Success", "StatusMessage": "Lead successfully received",
         "Messages": []},
        {"LeadApiIdentifier": "b", "Id": None, "Status": "Failure", "StatusMessage": "Lead failed validation",
         "Messages": [{"Field": "LeadSourceName", "Message": "The LeadSourceName field is required."}]}])
    read = payloads.parse_lead_response(encode(answer))
    assert read == answer
    assert payloads.record_message(read.records[1]) == (
        "Lead failed validation: LeadSourceName: The LeadSourceName field is required.")


def test_the_documents_sample_answers_are_read():
    xml = (b'<?xml version="1.0"?> <Leads xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           b'xmlns:xsd="http://www.w3.org/2001/XMLSchema"> <Lead> <Id>0</Id> <Status>Success</Status> '
           b"<StatusMessage>Lead successfully received</StatusMessage> <Messages /> "
           b"<LeadApiIdentifier>44b07d7b-1677-4bb8-84c0-9846b9d5bec1</LeadApiIdentifier> </Lead> </Leads>")
    record, = payloads.parse_lead_response(xml).records
    assert (record["Id"], record["Status"], record["Messages"]) == ("0", "Success", [])
    top = payloads.parse_lead_response(b'{"TopLevelError": "Bad manufacturer", "LeadResponseRecords": null}')
    assert top == LeadResponse("Bad manufacturer", [])


@pytest.mark.parametrize("body, reason", [
    (BOMB, "unsafe XML"), (EXTERNAL, "unsafe XML"), (b"<Leads><Lead><Id>1</Id>", "not well-formed"),
    (b'{"TopLevelError": null, "LeadResponseRec', "not JSON"), (b"<html>Service Unavailable</html>", "unexpected"),
    (b"[1, 2]", "expected an object"),
])
def test_unsafe_or_unreadable_answers_are_refused(body, reason):
    with pytest.raises(ResponseUnreadable, match=reason):
        payloads.parse_lead_response(body)


def test_an_xml_bomb_in_a_request_is_refused_by_the_reader_the_sandbox_uses():
    with pytest.raises(ResponseUnreadable, match="unsafe XML"):
        payloads.leads_from_xml(BOMB)
