"""The sandbox Cat PP+ Lead API V2 server (sandboxes/cat.py), over real HTTP.

No Django: every test starts a CatSandbox on 127.0.0.1 and talks to it with
`requests`, as LeadHub does. Each test is named for the behaviour it pins.
Run alone with:

    .venv/bin/python -m pytest -p no:django -p no:cacheprovider -o addopts="" --noconftest \
        tests/vendors/cat/test_sandbox.py -q
"""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import requests

from apps.vendors.cat import rules
from sandboxes.cat import GET_RESPONSE_FIELDS, CatSandbox, make_lead

ROOT = Path(__file__).resolve().parents[3]
DOC = Path("/work/shared/vendor-docs/cat-pp-lead-api-v2.txt")
LEADS = "/marketing/ecrm/leadManagement/v2/leads"
HISTORIC = LEADS + "/historic"
FORM = {"grant_type": "client_credentials", "scope": "manage:all"}
SERVER_ERROR = {"message": "Internal Server Error - Try again if you like"}
INVALID_TOKEN = {"message": "Invalid access token."}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


@pytest.fixture
def sb():
    with CatSandbox() as sandbox:
        yield sandbox


def token(sb: CatSandbox) -> str:
    r = requests.post(sb.token_url, auth=(sb.client_id, sb.client_secret), data=FORM, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(tok: str) -> dict:
    return {"Authorization": f"Bearer {tok}"}


def get_leads(sb: CatSandbox, tok: str, limit=None, timeout=5) -> requests.Response:
    params = {} if limit is None else {"limit": limit}
    return requests.get(sb.base_url + LEADS, headers=bearer(tok), params=params, timeout=timeout)


def get_historic(sb: CatSandbox, tok: str, **params) -> requests.Response:
    return requests.get(sb.base_url + HISTORIC, headers=bearer(tok), params=params, timeout=5)


def post_updates(sb: CatSandbox, tok: str, items, timeout=5) -> requests.Response:
    return requests.post(sb.base_url + LEADS, headers=bearer(tok), json=items, timeout=timeout)


def rejected(lead_id: str, **extra) -> dict:
    item = {
        "leadId": lead_id, "dealerLeadId": f"DL-{lead_id[-6:]}", "customerPreviouslyKnown": "Yes",
        "customerContacted": "No", "leadStatus": "Rejected", "rejectedReasonWhy": "Bad Contact Information",
        "dealerSalesRep": "John Doe", "dealerSalesRepNumber": "AB12496", "currencyIsoCode": "USD", **extra,
    }
    assert rules.validate_update(item) == [], "the helper must build a valid update"
    return item


def accepted(lead_id: str) -> dict:
    item = {
        "leadId": lead_id, "dealerLeadId": f"DL-{lead_id[-6:]}", "customerPreviouslyKnown": "No",
        "customerContacted": "Yes", "dateContacted": "2024-03-05", "leadStatus": "Accepted",
        "dealerSalesRep": "Li Wei", "dealerSalesRepNumber": "AB12497", "currencyIsoCode": "CNY",
    }
    assert rules.validate_update(item) == []
    return item


def deliver_all(sb: CatSandbox, tok: str) -> list[dict]:
    leads = []
    while True:
        page = get_leads(sb, tok).json()
        if not page:
            return leads
        leads += page


# --------------------------------------------------------------------------
# Token endpoint (document: "Invoking the Service", steps 1-3)
# --------------------------------------------------------------------------


def test_it_issues_a_bearer_token_for_basic_credentials_and_the_documented_form():
    with CatSandbox(client_id="b330-client", client_secret="s3cr3t", token_ttl=1800) as sb:
        r = requests.post(sb.token_url, auth=("b330-client", "s3cr3t"), data=FORM, timeout=5)
        assert r.status_code == 200
        body = r.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 1800
        assert len(body["access_token"]) >= 32
        assert r.headers["Cache-Control"] == "no-store"
        assert get_leads(sb, body["access_token"]).status_code == 200
        assert token(sb) != body["access_token"]  # each request gets its own random token


@pytest.mark.parametrize("kwargs", [
    {"auth": ("sandbox-client", "wrong")},
    {"auth": ("someone-else", "sandbox-secret")},
    {},
    {"headers": {"Authorization": "Basic not-base64!!"}},
    {"headers": {"Authorization": "Bearer abc"}},
], ids=["wrong-secret", "wrong-id", "no-credentials", "bad-base64", "not-basic"])
def test_it_refuses_wrong_or_missing_client_credentials_with_401_invalid_client(sb, kwargs):
    r = requests.post(sb.token_url, data=FORM, timeout=5, **kwargs)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_it_refuses_credentials_sent_in_the_form_instead_of_basic_auth(sb):
    form = {**FORM, "client_id": sb.client_id, "client_secret": sb.client_secret}
    r = requests.post(sb.token_url, data=form, timeout=5)
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")


@pytest.mark.parametrize("form, error", [
    ({"grant_type": "password", "scope": "manage:all"}, "unsupported_grant_type"),
    ({"scope": "manage:all"}, "invalid_request"),
    ({"grant_type": "client_credentials", "scope": "read:all"}, "invalid_scope"),
    ({"grant_type": "client_credentials"}, "invalid_scope"),
    ({"grant_type": "client_credentials", "scope": "manage:all openid"}, "invalid_scope"),
])
def test_it_refuses_a_wrong_grant_type_or_scope_with_400(sb, form, error):
    r = requests.post(sb.token_url, auth=(sb.client_id, sb.client_secret), data=form, timeout=5)
    assert (r.status_code, r.json()["error"]) == (400, error)


def test_it_refuses_a_token_request_whose_body_is_not_form_encoded(sb):
    r = requests.post(sb.token_url, auth=(sb.client_id, sb.client_secret), json=FORM, timeout=5)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


def test_it_expires_tokens_after_token_ttl():
    with CatSandbox(token_ttl=0.3) as sb:
        tok = token(sb)
        assert get_leads(sb, tok).status_code == 200
        time.sleep(0.4)
        r = get_leads(sb, tok)
        assert (r.status_code, r.json()) == (401, INVALID_TOKEN)
        assert get_leads(sb, token(sb)).status_code == 200


def test_it_refuses_api_calls_without_a_valid_bearer_token(sb):
    sb.generate_leads(2)
    r = requests.get(sb.base_url + LEADS, timeout=5)
    assert (r.status_code, r.json()) == (401, {"message": "Invalid request header."})
    r = get_leads(sb, "made-up-token")
    assert (r.status_code, r.json()) == (401, INVALID_TOKEN)
    r = requests.post(sb.base_url + LEADS, json=[rejected("x")], timeout=5)
    assert r.status_code == 401
    assert sb.pending_count() == 2  # a refused call delivers nothing


# --------------------------------------------------------------------------
# GET /leads: destructive read
# --------------------------------------------------------------------------


def test_it_delivers_150_leads_in_pages_of_100_then_50_then_empty(sb):
    # The document's own example (GET limit row): 150 leads -> 100, 50, none.
    generated = sb.generate_leads(150)
    tok = token(sb)
    pages = [get_leads(sb, tok, limit=100) for _ in range(4)]
    assert [p.status_code for p in pages] == [200] * 4
    assert [len(p.json()) for p in pages] == [100, 50, 0, 0]
    ids = [lead["leadId"] for p in pages for lead in p.json()]
    assert ids == [lead["leadId"] for lead in generated]  # oldest first, each exactly once
    assert sb.delivered_ids() == ids
    assert sb.pending_count() == 0
    assert all(lead["leadState"] == "NEW" for lead in pages[0].json())
    assert pages[0].headers["Content-Type"] == "application/json"


def test_it_defaults_limit_to_100_and_honours_a_smaller_one(sb):
    sb.generate_leads(120)
    tok = token(sb)
    assert len(get_leads(sb, tok).json()) == 100
    assert len(get_leads(sb, tok, limit=7).json()) == 7
    assert sb.pending_count() == 13


def test_it_answers_an_empty_queue_with_204_when_configured():
    with CatSandbox(empty_response="204") as sb:
        sb.generate_leads(1)
        tok = token(sb)
        assert len(get_leads(sb, tok).json()) == 1
        r = get_leads(sb, tok)
        assert (r.status_code, r.content) == (204, b"")
        r = get_historic(sb, tok, startdate="2000-01-01", enddate="2000-01-02")
        assert (r.status_code, r.content) == (204, b"")
        assert len(get_historic(sb, tok, startdate="2000-01-01", enddate="2100-01-01").json()) == 1


def test_it_refuses_an_unknown_empty_response_setting():
    with pytest.raises(ValueError):
        CatSandbox(empty_response="404")


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", ""])
def test_it_rejects_invalid_limits_with_400_and_delivers_nothing(sb, limit):
    sb.generate_leads(3)
    r = get_leads(sb, token(sb), limit=limit)
    assert r.status_code == 400
    assert "limit" in r.json()["message"]
    assert sb.pending_count() == 3 and sb.delivered_ids() == []


def test_it_delivers_leads_added_by_hand_with_defaults(sb):
    sb.add_leads([{"leadId": "00Q000000000001AAA", "firstName": "Zoë"}])
    lead, = get_leads(sb, token(sb)).json()
    assert lead["leadId"] == "00Q000000000001AAA" and lead["firstName"] == "Zoë"
    assert lead["leadState"] == "NEW"
    created = datetime.fromisoformat(lead["dateCreated"])
    assert created.tzinfo is not None  # dateTime with offset (Field Types table)
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60


def test_it_refuses_leads_without_leadid_or_with_a_known_one_and_queues_none(sb):
    sb.add_leads([{"leadId": "A"}])
    with pytest.raises(ValueError):
        sb.add_leads([{"leadId": "B"}, {"firstName": "no id"}])
    with pytest.raises(ValueError):
        sb.add_leads([{"leadId": "C"}, {"leadId": "A"}])
    assert sb.pending_count() == 1


def test_it_fills_every_get_response_field_of_the_document_plausibly(sb):
    # The field list and MaxLengths are read from the document itself, so the
    # sandbox cannot drift from "Response JSON - Leads object".
    text = DOC.read_text()
    section = text[text.index("Response JSON - Leads object"):text.index("When we send Marketing Opportunity")]
    rows = [line.split("\t") for line in section.splitlines() if "\t" in line]
    table = {cells[0]: cells for cells in rows if cells[0] != "Parameter"}
    assert set(GET_RESPONSE_FIELDS) == set(table)
    for name, cells in table.items():
        if cells[2].isdigit():
            assert GET_RESPONSE_FIELDS[name][1] == int(cells[2]), name

    leads = sb.generate_leads(12, dealer_code="B330")
    for lead in leads:
        assert set(lead) == set(table)
        for name, (kind, max_length) in GET_RESPONSE_FIELDS.items():
            value = lead[name]
            if kind == "boolean":
                assert isinstance(value, bool), name
            elif kind == "int":
                assert isinstance(value, int) and not isinstance(value, bool) and len(str(value)) <= max_length
            elif kind == "date":
                date.fromisoformat(value)
            elif kind == "datetime":
                assert datetime.fromisoformat(value).tzinfo is not None, name
            else:
                assert isinstance(value, str) and value.strip(), name
                assert max_length is None or len(value) <= max_length, name
        assert lead["catDealerCode"] == "B330" and lead["leadState"] == "NEW"
        assert len(lead["leadId"]) == 18 and lead["leadId"].startswith("00Q")  # Salesforce Lead ids
        assert "<td" in lead["partShoppingCart"]
        assert lead["bcpNewUsedRental"] in ("New", "Used", "Rental")
        assert lead["name"] == f"{lead['firstName']} {lead['lastName']}"
    assert {lead["catPrequalificationStatus"] for lead in leads} == {True, False}
    assert len({lead["leadId"] for lead in leads}) == 12
    assert len({lead["countryCode"] for lead in leads}) > 3
    assert any(not lead["lastName"].isascii() for lead in leads)  # "All character sets ... are supported"


def test_it_generates_the_same_leads_for_the_same_start():
    created = datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc)
    with CatSandbox() as one, CatSandbox() as two:
        assert one.generate_leads(5, start=40, created=created) == two.generate_leads(5, start=40, created=created)
        again = one.generate_leads(5, created=created)  # continues after 44: no collision
        assert again[0] == make_lead(45, created=created)
        assert one.pending_count() == 10
        other_dealer = two.generate_leads(1, start=40, dealer_code="X999", created=created)[0]
        assert other_dealer["leadId"] != make_lead(40, created=created)["leadId"]


def test_it_redelivers_an_updated_lead_once_as_updated_with_the_new_values(sb):
    # 11/30/2020: updated leads come back on GET /leads with leadState UPDATED.
    first, second = sb.generate_leads(2)
    tok = token(sb)
    deliver_all(sb, tok)
    sb.update_lead(first["leadId"], catPrequalificationStatus=not first["catPrequalificationStatus"])
    assert sb.pending_count() == 1
    lead, = get_leads(sb, tok).json()
    assert lead["leadId"] == first["leadId"] and lead["leadState"] == "UPDATED"
    assert lead["catPrequalificationStatus"] is (not first["catPrequalificationStatus"])
    assert lead["firstName"] == first["firstName"]  # the rest of the lead comes too
    assert get_leads(sb, tok).json() == []
    assert sb.delivered_ids() == [first["leadId"], second["leadId"], first["leadId"]]
    with pytest.raises(KeyError):
        sb.update_lead("00Qnever", catPrequalificationStatus=True)


def test_it_updates_a_lead_still_in_the_queue_in_place(sb):
    lead, = sb.generate_leads(1)
    sb.update_lead(lead["leadId"], city="Decatur")
    delivered, = get_leads(sb, token(sb)).json()
    assert (delivered["leadState"], delivered["city"]) == ("NEW", "Decatur")
    assert sb.pending_count() == 0


def test_it_never_delivers_a_lead_twice_to_concurrent_clients(sb):
    generated = {lead["leadId"] for lead in sb.generate_leads(400)}
    tok = token(sb)
    got, errors = [], []

    def pull():
        try:
            while True:
                page = get_leads(sb, tok, limit=9).json()
                if not page:
                    return
                got.extend(lead["leadId"] for lead in page)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=pull) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(got) == len(set(got)) == 400
    assert set(got) == generated
    assert sorted(sb.delivered_ids()) == sorted(got)


# --------------------------------------------------------------------------
# GET /leads/historic
# --------------------------------------------------------------------------


def _dated(lead_id: str, day: str) -> dict:
    return {"leadId": lead_id, "dateCreated": f"{day}T23:30:00-06:00", "city": "Peoria"}


def test_it_returns_delivered_leads_created_in_the_date_range_as_sent(sb):
    sb.add_leads([_dated("L1", "2024-03-01"), _dated("L2", "2024-03-02"), _dated("L3", "2024-03-03"),
                  _dated("L4", "2024-03-04")])
    tok = token(sb)
    assert len(get_leads(sb, tok, limit=3).json()) == 3  # L4 stays undelivered
    sb.add_leads([_dated("L5", "2024-03-02")])  # never delivered
    r = get_historic(sb, tok, startdate="2024-03-02", enddate="2024-03-04")
    assert r.status_code == 200
    # Inclusive range, on the date as written (23:30-06:00 is the next day in UTC),
    # only leads already pulled ("only returns already Pulled Leads"), state SENT.
    assert [(lead["leadId"], lead["leadState"]) for lead in r.json()] == [("L2", "SENT"), ("L3", "SENT")]
    one_day = get_historic(sb, tok, startdate="2024-03-01", enddate="2024-03-01").json()
    assert [lead["leadId"] for lead in one_day] == ["L1"]
    assert sb.pending_count() == 2  # historic is not destructive and does not deliver
    assert get_historic(sb, tok, startdate="2024-03-01", enddate="2024-03-01").json() == one_day


def test_it_paginates_historic_with_offset_and_limit_and_shows_latest_values(sb):
    # Ids and dates in neither alphabetical nor date order: the order is delivery order.
    sb.add_leads([_dated(f"H{k}", f"2024-05-{20 - k}") for k in (3, 1, 4, 0, 2)])
    tok = token(sb)
    deliver_all(sb, tok)
    sb.update_lead("H0", catPrequalificationStatus=True)  # not re-pulled yet
    pages = [get_historic(sb, tok, startdate="2024-05-01", enddate="2024-05-31", offset=o, limit=2).json()
             for o in (0, 2, 4, 6)]
    assert [[lead["leadId"] for lead in page] for page in pages] == [["H3", "H1"], ["H4", "H0"], ["H2"], []]
    assert pages[1][1]["catPrequalificationStatus"] is True  # "latest snapshot of the lead"
    assert pages[1][1]["leadState"] == "SENT"
    assert len(get_historic(sb, tok, startdate="2024-05-01", enddate="2024-05-31").json()) == 5  # defaults


@pytest.mark.parametrize("params", [
    {"enddate": "2024-03-01"},
    {"startdate": "2024-03-01"},
    {"startdate": "2024-13-01", "enddate": "2024-12-31"},
    {"startdate": "20240301", "enddate": "2024-03-02"},
    {"startdate": "2024-03-01T00:00:00", "enddate": "2024-03-02"},
    {"startdate": "2024-03-05", "enddate": "2024-03-01"},
    {"startdate": "2024-03-01", "enddate": "2024-03-02", "limit": "101"},
    {"startdate": "2024-03-01", "enddate": "2024-03-02", "offset": "-1"},
    {"startdate": "2024-03-01", "enddate": "2024-03-02", "offset": "x"},
])
def test_it_rejects_missing_or_invalid_historic_parameters_with_400(sb, params):
    r = get_historic(sb, token(sb), **params)
    assert r.status_code == 400
    assert r.json()["message"].startswith("Bad Request - Invalid parameters")


# --------------------------------------------------------------------------
# POST /leads
# --------------------------------------------------------------------------


def test_it_accepts_a_valid_batch_and_counts_each_update(sb):
    a, b = sb.generate_leads(2)
    tok = token(sb)
    deliver_all(sb, tok)
    items = [rejected(a["leadId"]), accepted(b["leadId"])]
    r = post_updates(sb, tok, items)
    assert (r.status_code, r.json()) == (200, {"message": "Success"})
    assert post_updates(sb, tok, [accepted(a["leadId"])]).status_code == 200
    assert sb.received_updates() == [*items, accepted(a["leadId"])]
    assert (sb.accepted_count(a["leadId"]), sb.accepted_count(b["leadId"])) == (2, 1)
    assert sb.accepted_count("00Qother") == 0


def test_it_refuses_a_batch_naming_one_lead_twice_and_records_nothing(sb):
    a, b = sb.generate_leads(2)
    tok = token(sb)
    deliver_all(sb, tok)
    r = post_updates(sb, tok, [accepted(a["leadId"]), accepted(b["leadId"]), rejected(a["leadId"])])
    assert r.status_code == 400
    assert f"2: leadId: {a['leadId']!r} is also item 0 of this request" in r.json()["message"]
    assert sb.received_updates() == []


def test_it_rejects_a_batch_with_one_invalid_item_and_records_nothing(sb):
    a, b = sb.generate_leads(2)
    tok = token(sb)
    deliver_all(sb, tok)
    bad = accepted(b["leadId"])
    del bad["dealerSalesRepNumber"]
    bad["customerContacted"] = True  # the Disqualified samples' Boolean (01/29/2021 made it a string)
    r = post_updates(sb, tok, [rejected(a["leadId"]), bad])
    assert r.status_code == 400
    # The same rules as LeadHub's: the message is rules.validate_update's, item by item.
    expected = "; ".join(f"1: {v.field}: {v.message}" for v in rules.validate_update(bad))
    assert r.json() == {"message": expected}
    assert "1: dealerSalesRepNumber:" in expected and "1: customerContacted:" in expected
    assert sb.received_updates() == []
    assert sb.accepted_count(a["leadId"]) == 0  # atomic: the valid item 0 is not recorded either


def test_it_rejects_an_update_for_a_lead_it_never_delivered(sb):
    a, queued = sb.generate_leads(2)
    tok = token(sb)
    get_leads(sb, tok, limit=1)
    r = post_updates(sb, tok, [rejected(a["leadId"]), rejected("00Qunknown00000AAA"), rejected(queued["leadId"])])
    assert r.status_code == 400
    message = r.json()["message"]
    assert message.startswith("1: leadId: ") and "; 2: leadId: " in message
    assert "0: " not in message
    assert sb.received_updates() == []


@pytest.mark.parametrize("body, content_type", [
    (b"not json", "application/json"),
    (b'{"leadId": "x"}', "application/json"),
    (b"[]", "application/json"),
    (b'[{"leadId": "x", "opportunityAmount": NaN}]', "application/json"),
    (b"", "application/json"),
    (b"[]", "text/plain"),
], ids=["not-json", "object", "empty-array", "nan", "no-body", "wrong-content-type"])
def test_it_rejects_a_body_that_is_not_a_json_array_of_updates(sb, body, content_type):
    r = requests.post(sb.base_url + LEADS, data=body, timeout=5,
                      headers={**bearer(token(sb)), "Content-Type": content_type})
    assert r.status_code == 400
    assert r.json()["message"]
    assert sb.received_updates() == []


# --------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_it_answers_server_error_faults_without_delivering(sb, status):
    sb.generate_leads(3)
    tok = token(sb)
    sb.inject(str(status))
    r = get_leads(sb, tok)
    assert (r.status_code, r.json()) == (status, SERVER_ERROR)
    assert sb.pending_count() == 3
    assert len(get_leads(sb, tok).json()) == 3  # times=1: the next call is normal


def test_it_answers_429_with_retry_after(sb):
    tok = token(sb)
    sb.inject("429", retry_after=7)
    sb.inject("429")
    first, second = get_leads(sb, tok), get_leads(sb, tok)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
    assert (second.status_code, second.headers["Retry-After"]) == (429, "1")
    assert get_leads(sb, tok).status_code == 200


def test_it_answers_400_and_403_faults_with_their_messages(sb):
    tok = token(sb)
    sb.inject("400", message="limit is broken today")
    sb.inject("400")
    sb.inject("403")
    assert get_leads(sb, tok).json() == {"message": "limit is broken today"}
    assert get_leads(sb, tok).json() == {"message": "Bad Request - Invalid parameters"}
    r = get_leads(sb, tok)
    assert (r.status_code, r.json()) == (403, {"message": "You are not authorized to perform that action."})


def test_it_stalls_on_timeout_and_still_delivers_the_leads_the_client_never_got(sb):
    sb.generate_leads(8)
    tok = token(sb)
    sb.inject("timeout", seconds=3)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        get_leads(sb, tok, limit=5, timeout=0.3)
    assert time.monotonic() - started < 2
    # The server did the work: those 5 leads are gone from GET /leads.
    assert sb.pending_count() == 3
    assert len(sb.delivered_ids()) == 5
    rest = get_leads(sb, tok).json()
    assert {lead["leadId"] for lead in rest}.isdisjoint(sb.delivered_ids()[:5])


def test_it_stalls_without_delivering_when_timeout_deliver_is_false(sb):
    sb.generate_leads(4)
    tok = token(sb)
    sb.inject("timeout", seconds=3, deliver=False)
    with pytest.raises(requests.Timeout):
        get_leads(sb, tok, timeout=0.3)
    assert sb.pending_count() == 4 and sb.delivered_ids() == []


def test_it_answers_normally_after_the_stall_when_the_client_waits(sb):
    sb.generate_leads(2)
    tok = token(sb)
    sb.inject("timeout", seconds=0.3)
    started = time.monotonic()
    r = get_leads(sb, tok, timeout=5)
    assert time.monotonic() - started >= 0.3
    assert (r.status_code, len(r.json())) == (200, 2)


def test_it_resets_the_connection_without_delivering_by_default(sb):
    sb.generate_leads(3)
    tok = token(sb)
    sb.inject("reset")
    with pytest.raises(requests.ConnectionError) as caught:
        get_leads(sb, tok)
    assert "reset" in str(caught.value).lower()
    assert sb.pending_count() == 3
    assert sb.requests[-1] == ("GET", "/cat" + LEADS, 0)


def test_it_resets_after_delivering_when_asked(sb):
    sb.generate_leads(3)
    tok = token(sb)
    sb.inject("reset", deliver=True)
    with pytest.raises(requests.ConnectionError):
        get_leads(sb, tok)
    assert sb.pending_count() == 0 and len(sb.delivered_ids()) == 3


def test_it_sends_a_malformed_body_and_still_delivers(sb):
    sb.generate_leads(3)
    tok = token(sb)
    sb.inject("malformed")
    r = get_leads(sb, tok)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html"
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    assert sb.pending_count() == 0


def test_it_sends_a_truncated_json_array_and_still_delivers(sb):
    sb.generate_leads(3)
    tok = token(sb)
    sb.inject("truncated")
    r = get_leads(sb, tok)
    assert r.status_code == 200
    assert r.text.startswith('[{"leadId": ')
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    assert sb.pending_count() == 0 and len(sb.delivered_ids()) == 3


def test_it_truncates_even_an_empty_answer(sb):
    sb.inject("truncated")
    r = get_leads(sb, token(sb))
    assert (r.status_code, r.text) == (200, "[")


def test_it_can_cut_the_connection_mid_body(sb):
    sb.generate_leads(3)
    tok = token(sb)
    sb.inject("truncated", mid_body_reset=True)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        get_leads(sb, tok)
    assert sb.pending_count() == 0


def test_it_expires_every_token_on_expire_token_and_a_new_token_works(sb):
    sb.generate_leads(1)
    old = token(sb)
    sb.inject("expire_token")
    r = get_leads(sb, old)
    assert (r.status_code, r.json()) == (401, INVALID_TOKEN)
    assert get_leads(sb, old).status_code == 401  # invalidated, not just one refused call
    assert sb.pending_count() == 1
    r = get_leads(sb, token(sb))
    assert (r.status_code, len(r.json())) == (200, 1)


def test_it_applies_a_fault_to_its_path_only_and_only_after_authentication(sb):
    a, = sb.generate_leads(1)
    tok = token(sb)
    sb.inject("500", path="post")
    assert get_leads(sb, tok).status_code == 200  # GET /leads is another path
    unauthenticated = requests.post(sb.base_url + LEADS, json=[rejected(a["leadId"])], timeout=5)
    assert unauthenticated.status_code == 401  # a 401 does not use the fault up
    assert post_updates(sb, tok, [rejected(a["leadId"])]).status_code == 500
    assert sb.received_updates() == []
    assert post_updates(sb, tok, [rejected(a["leadId"])]).status_code == 200
    assert sb.accepted_count(a["leadId"]) == 1


def test_it_repeats_a_fault_the_given_number_of_times(sb):
    tok = token(sb)
    sb.inject("503", times=2)
    assert [get_leads(sb, tok).status_code for _ in range(3)] == [503, 503, 200]


def test_it_applies_faults_to_the_token_endpoint(sb):
    sb.inject("503", path="token")
    r = requests.post(sb.token_url, auth=(sb.client_id, sb.client_secret), data=FORM, timeout=5)
    assert (r.status_code, r.json()) == (503, SERVER_ERROR)
    sb.inject("malformed", path="token")
    r = requests.post(sb.token_url, auth=(sb.client_id, sb.client_secret), data=FORM, timeout=5)
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    assert get_leads(sb, token(sb)).status_code == 200


def test_it_applies_faults_to_historic(sb):
    sb.add_leads([_dated("H1", "2024-05-10")])
    tok = token(sb)
    deliver_all(sb, tok)
    sb.inject("truncated", path="historic")
    r = get_historic(sb, tok, startdate="2024-05-10", enddate="2024-05-10")
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    assert len(get_historic(sb, tok, startdate="2024-05-10", enddate="2024-05-10").json()) == 1


def test_it_records_a_post_answered_garbled_but_not_one_reset_or_refused(sb):
    a, = sb.generate_leads(1)
    tok = token(sb)
    deliver_all(sb, tok)
    sb.inject("reset", path="post")
    with pytest.raises(requests.ConnectionError):
        post_updates(sb, tok, [rejected(a["leadId"])])
    assert sb.accepted_count(a["leadId"]) == 0
    sb.inject("malformed", path="post")
    r = post_updates(sb, tok, [rejected(a["leadId"])])
    assert r.status_code == 200 and not r.text.startswith("{")
    assert sb.accepted_count(a["leadId"]) == 1  # the server applied it; the client cannot tell
    sb.inject("truncated", path="post", deliver=False)
    r = post_updates(sb, tok, [rejected(a["leadId"])])
    assert r.status_code == 200 and r.text == '{"message":'
    assert sb.accepted_count(a["leadId"]) == 1  # deliver=False: the server did not apply it
    sb.inject("timeout", path="post", seconds=3)
    with pytest.raises(requests.Timeout):
        post_updates(sb, tok, [accepted(a["leadId"])], timeout=0.3)
    assert sb.accepted_count(a["leadId"]) == 2


@pytest.mark.parametrize("args, kwargs", [
    (("explode",), {}),
    (("500",), {"path": "elsewhere"}),
    (("expire_token",), {"path": "token"}),
    (("500",), {"times": 0}),
    (("timeout",), {"second": 3}),
    (("timeout",), {"seconds": -1}),
    (("reset",), {"deliver": "yes"}),
    (("500",), {"retry_after": 3}),
])
def test_it_refuses_unknown_faults_paths_and_parameters(sb, args, kwargs):
    with pytest.raises(ValueError):
        sb.inject(*args, **kwargs)
    assert sb.state()["faults"] == []


# --------------------------------------------------------------------------
# HTTP control for other processes
# --------------------------------------------------------------------------


def test_it_is_driven_over_the_http_control_endpoints(sb):
    control = sb.base_url + "/_sandbox"
    r = requests.post(control + "/leads", json={"generate": 3, "dealer_code": "B330"}, timeout=5)
    assert r.status_code == 200 and len(r.json()["queued"]) == 3
    r = requests.post(control + "/leads", json={"leads": [{"leadId": "00QHAND000000001AA"}]}, timeout=5)
    assert r.json() == {"queued": ["00QHAND000000001AA"], "pending": 4}
    r = requests.post(control + "/faults", json={"fault": "429", "retry_after": 2, "path": "leads"}, timeout=5)
    assert r.status_code == 200

    tok = token(sb)
    limited = get_leads(sb, tok)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    leads = get_leads(sb, tok).json()
    assert [lead["catDealerCode"] for lead in leads[:3]] == ["B330"] * 3
    assert post_updates(sb, tok, [rejected(leads[0]["leadId"])]).status_code == 200
    r = requests.post(control + "/update", json={"leadId": leads[1]["leadId"],
                                                 "fields": {"catPrequalificationStatus": True}}, timeout=5)
    assert r.json() == {"pending": 1}

    state = requests.get(control + "/state", timeout=5).json()
    assert state["pending"] == 1
    assert state["delivered"] == [lead["leadId"] for lead in leads]
    assert state["accepted"] == {leads[0]["leadId"]: 1}
    assert state["received"] == [rejected(leads[0]["leadId"])]
    assert state["faults"] == []


@pytest.mark.parametrize("endpoint, body", [
    ("/leads", {"generate": 2, "leads": []}),
    ("/leads", {}),
    ("/leads", {"generate": -1}),
    ("/leads", {"leads": [{"firstName": "no id"}]}),
    ("/faults", {"fault": "explode"}),
    ("/faults", {"times": 2}),
    ("/update", {"leadId": "00Qnever", "fields": {"city": "X"}}),
    ("/leads", "not an object"),
])
def test_it_refuses_bad_control_requests(sb, endpoint, body):
    r = requests.post(sb.base_url + "/_sandbox" + endpoint, json=body, timeout=5)
    assert r.status_code in (400, 404)
    assert r.json()["message"]
    assert sb.pending_count() == 0 and sb.state()["faults"] == []


# --------------------------------------------------------------------------
# Routing, logging, lifecycle
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("GET", "/cat/unknown"),
    ("GET", LEADS),  # outside the prefix
    ("PUT", "/cat" + LEADS),
    ("DELETE", "/cat" + LEADS),
    ("GET", "/cat/as/token.oauth2"),
    ("GET", "/cat" + LEADS + "/"),
    ("POST", "/cat" + HISTORIC),
])
def test_it_answers_other_endpoints_with_404_endpoint_not_found(sb, method, path):
    r = requests.request(method, f"http://127.0.0.1:{sb.port}{path}", headers=bearer(token(sb)), timeout=5)
    assert (r.status_code, r.json()) == (404, {"message": "Endpoint Not Found"})


def test_it_logs_every_request_with_method_path_and_status(sb):
    tok = token(sb)
    get_leads(sb, tok, limit=5)
    get_leads(sb, tok, limit=500)
    requests.get(sb.base_url + "/nowhere", timeout=5)
    assert sb.requests == [
        ("POST", "/cat/as/token.oauth2", 200),
        ("GET", f"/cat{LEADS}?limit=5", 200),
        ("GET", f"/cat{LEADS}?limit=500", 400),
        ("GET", "/cat/nowhere", 404),
    ]


def test_it_serves_on_loopback_only_and_honours_the_prefix():
    with CatSandbox(prefix="/vendors/cat/") as sb:
        assert sb.base_url == f"http://127.0.0.1:{sb.port}/vendors/cat"
        assert sb.token_url == sb.base_url + "/as/token.oauth2"
        assert sb._server.server_address[0] == "127.0.0.1"
        assert get_leads(sb, token(sb)).status_code == 200


def test_it_stops_cleanly_even_while_stalling_and_frees_the_port(sb):
    tok = token(sb)
    sb.inject("timeout", seconds=30)
    with pytest.raises(requests.Timeout):
        get_leads(sb, tok, timeout=0.2)
    started = time.monotonic()
    sb.stop()
    assert time.monotonic() - started < 3  # the stalled handler is woken, not waited for 30 s
    alive = [t.name for t in threading.enumerate() if t.name.startswith(f"cat-sandbox-{sb.port}")]
    assert alive == []  # server and handler threads are all finished
    sb.stop()  # twice is harmless
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", sb.port)) != 0  # nothing listens any more
    with CatSandbox(port=sb.port) as again:  # the port is free to bind again
        assert again.port == sb.port


def test_it_imports_and_runs_without_django():
    code = ("import sys; import sandboxes.cat as s; "
            "sb = s.CatSandbox().start(); sb.stop(); "
            "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, timeout=30, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_it_runs_from_the_command_line_until_a_signal(signum):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandboxes.cat", "--port", "0", "--generate", "3",
         "--dealer-code", "CLI1", "--client-id", "cli-id", "--client-secret", "cli-secret", "--empty", "204"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "the CLI printed nothing within 20 s"
        line = proc.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        base_url, token_url = fields["base_url"], fields["token_url"]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/cat")
        assert token_url == base_url + "/as/token.oauth2"

        r = requests.post(token_url, auth=("cli-id", "cli-secret"), data=FORM, timeout=5)
        tok = r.json()["access_token"]
        leads = requests.get(base_url + LEADS, headers=bearer(tok), timeout=5).json()
        assert [lead["catDealerCode"] for lead in leads] == ["CLI1"] * 3
        assert requests.get(base_url + LEADS, headers=bearer(tok), timeout=5).status_code == 204

        proc.send_signal(signum)
        assert proc.wait(timeout=10) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(base_url + LEADS, timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
