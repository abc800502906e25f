"""A sandbox Caterpillar PP+ Lead API V2 server: the vendor, faked over real HTTP.

Source: /work/shared/vendor-docs/cat-pp-lead-api-v2.txt ("PP+ Lead API V2
Developer Guide", latest history entry 06/05/2023) and the notes in
/work/shared/vendor-docs/README.md. Where the document is silent the choice made
here is written next to the code and listed in the module's "Decisions" below.

It serves, on 127.0.0.1 only, under ``base_url`` (``http://127.0.0.1:<port><prefix>``):

    POST /as/token.oauth2                                    OAuth2 client credentials (PingFederate)
    GET  /marketing/ecrm/leadManagement/v2/leads?limit=N     destructive read of undelivered leads
    GET  /marketing/ecrm/leadManagement/v2/leads/historic    already delivered leads by date range
    POST /marketing/ecrm/leadManagement/v2/leads             lead updates, checked with rules.py
    POST /_sandbox/leads | /_sandbox/faults | /_sandbox/update, GET /_sandbox/state
                                                             control for other processes (no auth)

Real Cat puts the token endpoint on another host (fedlogin.cat.com); here both
live under one base_url, so LeadHub's account gets base_url and token_url.

POST bodies are checked with ``rules.validate_batch``, the same function
LeadHub uses before sending, so the sandbox and LeadHub can never disagree on a
rule. The module uses the standard library and ``apps.vendors.cat.rules`` only
(no Django), so a launcher can run it as

    python -m sandboxes.cat --port 8001 --generate 150

Python API (tests and launchers)::

    with CatSandbox(client_id="id", client_secret="secret") as sb:
        sb.generate_leads(150, dealer_code="B330")
        sb.inject("timeout", seconds=2)          # the next GET /leads stalls after delivering
        ... point LeadHub at sb.base_url / sb.token_url ...
        assert sb.pending_count() == 0

Decisions where the document is silent (see also each function's docstring):

- Token endpoint: only HTTP Basic client authentication (the document's Step 2);
  client id/secret in the form body are not accepted. Bad or missing Basic
  credentials -> 401 {"error": "invalid_client"}; a body that is not
  x-www-form-urlencoded -> 400 invalid_request; grant_type other than
  client_credentials -> 400 unsupported_grant_type; scope other than exactly
  manage:all -> 400 invalid_scope (RFC 6749 section 5.2 error bodies, since
  PingFederate is an OAuth2 server).
- API authentication: a missing or non-Bearer Authorization header -> 401
  {"message": "Invalid request header."}; an unknown or expired token -> 401
  {"message": "Invalid access token."} (both messages are the document's).
- Empty GET: 200 [] unless ``empty_response="204"`` (vendor-docs README); the
  setting applies to /leads and /leads/historic alike.
- The GET /leads queue is FIFO; an UPDATED lead is queued at the end. A lead
  is delivered with its latest values.
- /leads/historic: a lead qualifies when it was delivered at least once and the
  calendar date written in its dateCreated (in its own offset, not converted
  to UTC) is within [startdate, enddate]; order = first delivery; offset
  default 0, limit default 100 (1..100); startdate after enddate -> 400.
- POST /leads: Content-Type must be application/json (400 "Invalid request
  header." otherwise); JSON with NaN/Infinity is not JSON; an empty array is
  400 (there is nothing to update: a caller bug worth seeing); the same leadId
  twice in one array is 400 for the whole array, as a strict receiver keyed on
  leadId ("The primary key for a Leads is: LeadId") would answer, since the order
  of two updates of one record in one request is not defined; a leadId that GET
  /leads never delivered is 400; success is 200 {"message": "Success"}.
- Any other method/path -> 404 {"message": "Endpoint Not Found"} (the
  document's list of codes has no 405).
- Faults are consumed only by a request that passed authentication (Bearer
  token; for the token endpoint the Basic credentials and the form), except
  expire_token, which is itself about authentication.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import secrets
import sys
import time
import zlib
from collections import Counter, OrderedDict
from datetime import date, datetime, timedelta, timezone
from itertools import islice
from urllib.parse import parse_qs, urlsplit

from apps.vendors.cat import rules
from sandboxes.http import (Fault, Reply, SandboxBase, check_fault, control_body, json_reply, run_cli,
                                       stall_or_reset)

# The document's own paths ("Invoking the Service", "Layout Types").
TOKEN_PATH = "/as/token.oauth2"
LEADS_PATH = "/marketing/ecrm/leadManagement/v2/leads"
HISTORIC_PATH = LEADS_PATH + "/historic"
CONTROL_PREFIX = "/_sandbox"

MAX_LIMIT = 100  # "Max limit will be set to 100" (GET limit row; historic: "Max limit = 100")
DEFAULT_TOKEN_TTL = 3599  # Step 3 sample: "expires_in": 3599 ("All access tokens expire in 60 minutes")
SCOPE = "manage:all"  # Step 2 body

# The document's "Error Architecture" texts.
MSG_INVALID_TOKEN = "Invalid access token."
MSG_INVALID_HEADER = "Invalid request header."
MSG_FORBIDDEN = "You are not authorized to perform that action."
MSG_BAD_REQUEST = "Bad Request - Invalid parameters"
MSG_NOT_FOUND = "Endpoint Not Found"
MSG_SERVER_ERROR = "Internal Server Error - Try again if you like"

# "Response JSON - Leads object": every field of a GET response, with its type
# and MaxLength as the table prints them (None where the table leaves it blank).
# dateCreated/dateRegistered are typed "Date" but their samples are dateTimes
# with an offset, which is what the sandbox sends.
GET_RESPONSE_FIELDS: dict[str, tuple[str, int | None]] = {
    "additionalInformationMaster": ("string", 32768),
    "address1": ("string", 255),
    "address2": ("string", 255),
    "address3": ("string", 255),
    "agreeToContact": ("boolean", None),
    "bcpNewUsedRental": ("enum", None),
    "businessPhone": ("string", 255),
    "businessUnit": ("string", 255),
    "callCenterComments": ("string", 5000),  # 04/05/2021: 255 -> 5000
    "callCenterFollowUpStatus": ("string", 255),
    "callCenterProcessDate1": ("date", None),
    "catCampaignMostRecent": ("string", 255),
    "catDealerCode": ("string", 255),  # renamed from dealerCode 10/27/2020
    "catPrequalificationStatus": ("boolean", None),  # Boolean again since 5/11/2021
    "clFleetSize": ("string", 255),
    "city": ("string", 40),
    "commentsMaster": ("string", 32768),
    "company": ("string", 255),
    "companySize": ("string", 255),
    "contactForQuestions": ("string", 255),
    "contactSourceOriginal": ("string", 255),
    "country": ("string", 100),
    "countryCode": ("string", 10),
    "county": ("string", 100),
    "currentProductMaster": ("string", 32768),
    "dateCreated": ("datetime", None),
    "dateRegistered": ("datetime", None),
    "digitalActivity": ("string", 255),
    "emailAddress": ("string", 80),
    "enginePerformanceNumber": ("string", 255),
    "equipmentNumber": ("string", 255),
    "featureCode": ("string", 255),
    "financingMethod": ("string", 255),
    "firstName": ("string", 40),
    "gender": ("string", 50),
    "industry": ("string", 255),
    "jobRole": ("string", 255),
    "jobsiteAddress1": ("string", 255),
    "jobsiteAddress2": ("string", 255),
    "jobsiteCity": ("string", 255),
    "jobsiteCountry": ("string", 255),
    "jobsiteStateProv": ("string", 255),
    "jobsiteZipPostal": ("string", 255),
    "lastName": ("string", 80),
    "leadId": ("string", 255),
    "leadScore": ("string", 255),
    "leadSourceMostRecent": ("string", 255),
    "leadState": ("string", 10),  # NEW / UPDATED (11/30/2020), SENT on historic (01/26/2021)
    "levelOfInterest": ("string", 255),
    "liftingCapacity": ("string", 255),
    "mobilePhone": ("string", 255),
    "name": ("string", 120),
    "partQuoteNumber": ("string", 255),
    "partShoppingCart": ("string", 32768),
    "powerRating1": ("string", 255),
    "powerRating2": ("string", 255),
    "powerRating3": ("string", 255),
    "productOfInterest": ("string", 1000),
    "productOfInterestList": ("string", 32768),
    "productOfInterestQuantity": ("int", 6),
    "purchaseTimeframe": ("string", 255),
    "rentalEndDate": ("date", None),
    "rentalStartDate": ("date", None),
    "serialNumber": ("string", 255),
    "sfmcActivity": ("string", 255),
    "shippingInformation": ("string", 32768),
    "stateOrProvince": ("string", 255),  # 03/17/2022: 80 -> 255
    "systemFamily": ("string", 255),
    "systemLanguage": ("string", 255),
    "systemModel": ("string", 255),
    "systemModelId": ("string", 255),
    "systemScore": ("string", 255),
    "systemSubFamily": ("string", 255),
    "utmCampaign": ("string", 255),
    "zipOrPostal": ("string", 20),
}

LEAD_STATES = ("NEW", "UPDATED", "SENT")

FAULTS = ("400", "403", "429", "500", "502", "503", "timeout", "reset", "malformed", "truncated",
          "expire_token")
FAULT_PATHS = ("leads", "historic", "post", "token")
_STATUS_FAULTS = ("400", "403", "429", "500", "502", "503")
# The keyword parameters each fault understands; anything else is a typo.
_FAULT_PARAMS = {
    "400": {"message"},
    "429": {"retry_after"},
    "timeout": {"seconds", "deliver"},
    "reset": {"deliver"},
    "malformed": {"deliver"},
    "truncated": {"deliver", "mid_body_reset"},
}
# Whether the request's effect (leads marked delivered, updates recorded, token
# issued) happens when the fault does not say: the server "did the work" for a
# stalled, garbled or cut answer, but not for a connection it dropped.
_DEFAULT_DELIVER = {"timeout": True, "reset": False, "malformed": True, "truncated": True}

_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_INT_RE = re.compile(r"^-?[0-9]+$")
_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# --------------------------------------------------------------------------
# Replies (Reply, Fault and the HTTP plumbing: sandboxes/http.py)
# --------------------------------------------------------------------------


def _message(status: int, text: str, headers: dict | None = None) -> Reply:
    # "Error messages are returned as JSON objects" with a "message" key.
    return json_reply(status, {"message": text}, headers)


# --------------------------------------------------------------------------
# Realistic leads
# --------------------------------------------------------------------------

# (city, stateOrProvince, zipOrPostal, countryCode, country, county, phone
# prefix, systemLanguage, street, [(firstName, lastName, email handle, gender)])
# Non-ASCII names are on purpose: "All character sets (Double byte, Eastern
# European, etc.) are supported in this interface."
_LOCATIONS = (
    ("Peoria", "IL", "61615", "US", "United States of America", "Peoria County", "+1 (309)", "en_US",
     "N. Main St.", (("John", "Doe", "john.doe", "MALE"), ("Emily", "Carter", "emily.carter", "FEMALE"))),
    ("Dallas", "TX", "75201", "US", "United States of America", "Dallas County", "+1 (214)", "es_US",
     "Elm St.", (("Carlos", "Ramírez", "carlos.ramirez", "MALE"), ("Ashley", "Nguyen", "ashley.nguyen", "FEMALE"))),
    ("Sydney", "NSW", "2000", "AU", "Australia", "City of Sydney", "+61 (2)", "en_US",
     "George St.", (("Liam", "O'Connor", "liam.oconnor", "MALE"), ("Chloe", "Smith", "chloe.smith", "FEMALE"))),
    ("São Paulo", "SP", "01310-100", "BR", "Brazil", "São Paulo", "+55 (11)", "pt_BR",
     "Avenida Paulista", (("João", "Conceição", "joao.conceicao", "MALE"),
                          ("Ana", "Ribeiro", "ana.ribeiro", "FEMALE"))),
    ("Shanghai", "Shanghai", "200120", "CN", "China", "Pudong", "+86 (21)", "zh_CN",
     "Century Ave.", (("伟", "王", "wei.wang", "MALE"), ("芳", "李", "fang.li", "FEMALE"))),
    ("Lyon", "UNKNOWN", "69002", "FR", "France", "Rhône", "+33 (4)", "fr_FR",
     "Rue de la République", (("Hugo", "Lefèvre", "hugo.lefevre", "MALE"),
                              ("Léa", "Dubois", "lea.dubois", "FEMALE"))),
    ("Johannesburg", "GP", "2001", "ZA", "South Africa", "Gauteng", "+27 (11)", "en_ZA",
     "Commissioner St.", (("Thabo", "Nkosi", "thabo.nkosi", "MALE"),
                          ("Anneke", "van der Merwe", "anneke.vandermerwe", "FEMALE"))),
)

# (systemFamily, systemSubFamily, systemModel, systemModelId, businessUnit,
# industry, productOfInterestList, liftingCapacity, horsepower, serial prefix)
_PRODUCTS = (
    ("Skid Steer Loaders", "Skid Steer Loaders", "262D3", "10084", "BCP", "Landscaping",
     "Skid Steer Loaders", "2,500-2,999 lbs", 74, "FTL"),
    ("Electric Power Generation", "Diesel Generator Sets", "DE18E3", "20311", "Electric Power", "Electric Power",
     "Diesel Generator Sets", "N/A", 24, "GEN"),
    ("Backhoe Loaders", "Backhoe Loaders", "416F2", "10091", "BCP", "Agriculture",
     "Backhoe Loaders", "7,000-7,999 lbs", 87, "HWD"),
    ("Excavators", "Medium Excavators", "320", "10733", "GCI", "Quarry, Aggregates and Cement",
     "Excavators; Buckets", "10,000-14,000 lbs", 172, "MLW"),
    ("Wheel Loaders", "Medium Wheel Loaders", "950 GC", "10412", "GCI", "Waste Industry",
     "Wheel Loaders", "11,000-12,999 lbs", 225, "M5K"),
    ("Telehandlers", "Telehandlers", "TH255C", "10561", "BCP", "Construction",
     "Telehandlers; Work Tools", "5,000-5,999 lbs", 74, "TBC"),
)

_COMPANIES = ("Future Innovations Inc.", "Prairie Earthworks LLC", "Harbour Civil Pty Ltd",
              "Construtora Horizonte Ltda", "上海建工机械有限公司", "Terrassements Rhône SAS",
              "Highveld Plant Hire (Pty) Ltd", "Summit Aggregates Co.")
_STREETS2 = ("Suite 100", "Unit 4", "Floor 2", "Building B", "PO Box 17")
_CAMPAIGNS = ("Cat.com Request a Quote", "Cat.com Request a Demo", "Rental Spring Promotion",
              "ConExpo Booth Visit")
# Enterprise standard values (callCenterFollowUpStatus row).
_FOLLOW_UPS = ("Contact - No Purchase", "Contact - Nurture", "Contact - Purchased Caterpillar",
               "Contact - Redistribute", "No Contact - No Action", "No Contact - Nurture")
_CALL_CENTER_COMMENTS = ("No plans to purchase at this time", "Customer asked for a call back next week",
                         "Wants a quote including financing options", "Interested in a demo on site")
# contactSourceOriginal row.
_SOURCES = ("Form Submission", "Dealer Upload", "Event List", "Database List", "Purchased List",
            "Call Center Integration")
_FINANCING = ("Buy", "Lease", "Rent", "Finance")
_JOB_ROLES = ("Owner/Operator", "Fleet Manager", "Purchasing Manager", "Project Manager", "Superintendent")
_LEVELS = ("Requesting dealer consultation", "Requesting a quote", "Researching options", "Ready to buy")
# purchaseTimeframe row.
_TIMEFRAMES = ("Less Than A Week", "One Month or Less", "1-3 Months", "4-6 Months", "7-9 Months",
               "10-12 Months", "12-24 Month", "More than 24 Month")
_UTM = ("ep_pd_email1", "bcp_spring_promo", "gci_search_q2", "rental_social_ads")
_LEAD_SOURCES = ("Cat.com", "Call Center", "Trade Show", "NA")
_PARTS = (("376-1410", "Air Filter"), ("1R-0750", "Fuel Filter"), ("7Y-0839", "Bucket Tip"),
          ("322-3155", "Oil Filter"), ("9X-8256", "Washer"))


def _sf18(id15: str) -> str:
    """A Salesforce 15-character id with its case-safe 3-character suffix."""
    suffix = ""
    for chunk in range(3):
        flags = 0
        for pos, char in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << pos
        suffix += _SF_SUFFIX[flags]
    return id15 + suffix


def _lead_id(dealer_code: str, index: int) -> str:
    # "00Q" is Salesforce's Lead key prefix (the document's samples are
    # 18-character Salesforce ids); 3 characters from the dealer code keep two
    # dealers' leads apart; 9 digits of index.
    tag = zlib.crc32(dealer_code.encode("utf-8"))
    tag_chars = "".join(_BASE62[(tag // 62 ** k) % 62] for k in range(3))
    return _sf18(f"00Q{tag_chars}{index:09d}")


def _shopping_cart(index: int) -> str:
    # The partShoppingCart sample is table rows of HTML with sloppy quoting.
    rows = []
    for k in range(1 + index % 3):
        number, label = _PARTS[(index + k) % len(_PARTS)]
        rows.append(
            f'<tr><td style="font:12px Arial;" bgcolor="#dfdfdf">{number}</td>'
            f'<td style="font:12px Arial;" bgcolor="#dfdfdf">{label}</td>'
            f'<td style="font:12px Arial;" align="right" bgcolor="#dfdfdf">{1 + (index + k) % 4}</td></tr>'
        )
    return "<table>" + "".join(rows) + "</table>"


def make_lead(index: int, *, dealer_code: str = "DEMO", created: datetime | None = None) -> dict:
    """One realistic lead with every GET response field of the document filled.

    Deterministic for (index, dealer_code, created); created defaults to now
    (UTC, whole seconds). The lead is NEW. Values respect the table's
    MaxLength and types: catPrequalificationStatus and agreeToContact are JSON
    booleans, productOfInterestQuantity a JSON integer, dates YYYY-MM-DD,
    dateCreated/dateRegistered ISO 8601 dateTimes with an offset.
    """
    created = _aware(created) if created is not None else _now()
    i = index
    (city, state, postal, country_code, country, county, phone, language, street,
     people) = _LOCATIONS[i % len(_LOCATIONS)]
    first, last, handle, gender = people[(i // len(_LOCATIONS)) % len(people)]
    (family, subfamily, model, model_id, unit, industry, poi_list, lifting, hp,
     serial_prefix) = _PRODUCTS[(i * 5 + 1) % len(_PRODUCTS)]
    quantity = 1 + i % 3
    kw = round(hp * 0.7457)
    house = 100 + (i * 37) % 900
    created_day = created.date()
    return {
        "leadId": _lead_id(dealer_code, i),
        "leadState": "NEW",
        "catDealerCode": dealer_code,
        "dateCreated": created.isoformat(timespec="seconds"),
        "dateRegistered": (created - timedelta(days=1 + i % 5)).isoformat(timespec="seconds"),
        "firstName": first,
        "lastName": last,
        "name": f"{first} {last}",
        "gender": gender,
        "emailAddress": f"{handle}{i}@example.com",
        "businessPhone": f"{phone} 555-{(100 + i) % 10000:04d}",
        "mobilePhone": f"{phone} 555-{(5100 + i * 7) % 10000:04d}",
        "company": _COMPANIES[(i * 3) % len(_COMPANIES)],
        "companySize": ("12", "45", "250", "1000", "5000")[i % 5],
        "jobRole": _JOB_ROLES[i % len(_JOB_ROLES)],
        "contactForQuestions": f"{first} {last}",
        "address1": f"{house} {street}",
        "address2": _STREETS2[i % len(_STREETS2)],
        "address3": f"Gate {1 + i % 4}",
        "city": city,
        "county": county,
        "stateOrProvince": state,
        "zipOrPostal": postal,
        "countryCode": country_code,
        "country": country,
        "shippingInformation": f"{house} {street}, {city} {postal}, {country}",
        "jobsiteAddress1": f"{(house * 7) % 9000 + 1000} {street}",
        "jobsiteAddress2": ("Lot 3", "Pit 2", "North yard", "Block C")[i % 4],
        "jobsiteCity": city,
        "jobsiteStateProv": state,
        "jobsiteZipPostal": postal,
        "jobsiteCountry": country_code,
        "systemLanguage": language,
        "industry": industry,
        "businessUnit": unit,
        "systemFamily": family,
        "systemSubFamily": subfamily,
        "systemModel": model,
        "systemModelId": model_id,
        "productOfInterest": f"Selected {family}: Number of units: {quantity}, Model: {model}",
        "productOfInterestList": poi_list,
        "productOfInterestQuantity": quantity,
        "bcpNewUsedRental": ("New", "Used", "Rental")[i % 3],
        "liftingCapacity": lifting,
        "enginePerformanceNumber": str(40 + (i * 11) % 60),
        "powerRating1": f"{hp} hp",
        "powerRating2": f"{kw} kW",
        "powerRating3": f"{round(hp * 1.0139)} PS",
        "equipmentNumber": f"EQ-{10000 + i}",
        "serialNumber": f"{serial_prefix}{i % 100000:05d}",
        "currentProductMaster": f"Serial #: TAW{(5166 + i) % 100000:05d} Box #: 549-3131 Harness #: 532-5452",
        "clFleetSize": str((1, 3, 5, 12, 40)[i % 5]),
        "financingMethod": _FINANCING[i % len(_FINANCING)],
        "purchaseTimeframe": _TIMEFRAMES[i % len(_TIMEFRAMES)],
        "levelOfInterest": _LEVELS[i % len(_LEVELS)],
        "rentalStartDate": (created_day + timedelta(days=14)).isoformat(),
        "rentalEndDate": (created_day + timedelta(days=14 + 30 * (1 + i % 3))).isoformat(),
        "additionalInformationMaster": (
            f"Financing Options:{('Yes', 'No')[i % 2]} Extended Protection or Insurance Options:No "
            f"Parts Information:Yes Service Options:{('Yes', 'No')[(i // 2) % 2]} Training Opportunities:No"
        ),
        "commentsMaster": (
            f"I'm looking for a price on a {model} ({subfamily.lower()}) for a {industry.lower()} job; "
            f"{_LEVELS[i % len(_LEVELS)].lower()}."
        ),
        "callCenterComments": _CALL_CENTER_COMMENTS[i % len(_CALL_CENTER_COMMENTS)],
        "callCenterFollowUpStatus": _FOLLOW_UPS[i % len(_FOLLOW_UPS)],
        "callCenterProcessDate1": created_day.isoformat(),
        "catCampaignMostRecent": _CAMPAIGNS[i % len(_CAMPAIGNS)],
        "utmCampaign": _UTM[i % len(_UTM)],
        "leadSourceMostRecent": _LEAD_SOURCES[i % len(_LEAD_SOURCES)],
        "contactSourceOriginal": _SOURCES[i % len(_SOURCES)],
        "featureCode": f"CI{i % 10}DEC{'ABCDEFGH'[i % 8]}",
        "leadScore": str(40 + (i * 13) % 60),
        "digitalActivity": str((i * 17) % 100),
        "sfmcActivity": str((i * 29) % 100),
        "systemScore": f"{'ABCDE'[i % 5]}{1 + (i * 3) % 5}",
        "partQuoteNumber": str(3572518 + i),
        "partShoppingCart": _shopping_cart(i),
        "agreeToContact": i % 4 != 3,
        # Boolean since 5/11/2021 (rolled back from the text of 04/26/2021).
        "catPrequalificationStatus": i % 3 == 0,
    }


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"created must be a datetime or an ISO 8601 string, not {type(value).__name__}")
    if value.tzinfo is None:
        # The document's dateTime "Composed of date + time + Time Zone".
        raise ValueError("created must carry a UTC offset (the document's dateTime has one)")
    return value


def _created_date(lead: dict) -> date | None:
    """The calendar date written in a lead's dateCreated, or None if unreadable."""
    value = lead.get("dateCreated")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def _json_copy(value):
    # A deep copy that also proves the value is JSON (fails early, in the caller).
    return json.loads(json.dumps(value))


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class CatSandbox(SandboxBase):
    """A fake Cat PP+ Lead API V2 on 127.0.0.1, for tests and local runs.

    State (leads, tokens, faults, logs) is guarded by one lock, so concurrent
    requests are safe: a GET /leads takes its page from the queue atomically,
    so no lead is delivered twice. start() serves from a daemon thread;
    stop() (or leaving the ``with`` block) stops accepting, wakes any handler
    stalled by a "timeout" fault, waits for the handlers and closes the socket.
    """

    log_name = "cat-sandbox"
    server_version = "CatSandbox/1.0"
    # The handler's own 500 and 400 answers use the document's texts.
    SERVER_ERROR_TEXT = MSG_SERVER_ERROR
    BAD_HEADER_TEXT = MSG_INVALID_HEADER

    def __init__(self, *, client_id: str = "sandbox-client", client_secret: str = "sandbox-secret",
                 port: int = 0, token_ttl: float = DEFAULT_TOKEN_TTL, prefix: str = "/cat",
                 empty_response: str = "200", verbose: bool = False):
        if str(empty_response) not in ("200", "204"):
            raise ValueError("empty_response must be '200' (200 []) or '204' (204 No Content)")
        prefix = prefix.rstrip("/")
        if prefix and not prefix.startswith("/"):
            raise ValueError("prefix must be empty or start with '/'")
        self._init_sandbox(port=port, prefix=prefix, verbose=verbose)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.empty_response = str(empty_response)
        self._leads: dict[str, dict] = {}  # leadId -> latest values (leadState as last queued)
        self._queue: OrderedDict[str, str] = OrderedDict()  # undelivered leadId -> leadState, FIFO
        self._deliveries: list[str] = []  # every delivery by GET /leads, in order (repeats for UPDATED)
        self._first_delivery: dict[str, int] = {}  # leadId -> position; insertion order = delivery order
        self._received: list[dict] = []
        self._accepted: Counter[str] = Counter()
        self._tokens: dict[str, float] = {}  # token -> monotonic expiry
        self._next_index = 0  # generate_leads numbering when start is not given

    @property
    def token_url(self) -> str:
        return f"{self.base_url}{TOKEN_PATH}"

    # ---------------------------------------------------------------- leads

    def add_leads(self, leads: list[dict]) -> None:
        """Queue undelivered leads for GET /leads, in the given order.

        Each lead must be a JSON object with a non-blank string leadId not
        already known to the sandbox (leadId is the document's primary key).
        leadState defaults to "NEW" (any given value is kept, so a test can
        queue an UPDATED lead LeadHub never saw); dateCreated defaults to now,
        ISO 8601 with offset. Nothing is queued when any lead is refused
        (ValueError / TypeError).
        """
        if not isinstance(leads, list):
            raise TypeError("leads must be a list of dicts")
        prepared = []
        seen = set()
        for position, lead in enumerate(leads):
            if not isinstance(lead, dict):
                raise TypeError(f"lead {position} is not a dict")
            lead = _json_copy(lead)
            lead_id = lead.get("leadId")
            if not isinstance(lead_id, str) or not lead_id.strip():
                raise ValueError(f"lead {position} needs a leadId (GET table: leadId is required)")
            if lead_id in seen:
                raise ValueError(f"leadId {lead_id!r} appears twice")
            seen.add(lead_id)
            lead.setdefault("leadState", "NEW")
            lead.setdefault("dateCreated", _now().isoformat(timespec="seconds"))
            prepared.append(lead)
        with self._lock:
            for lead in prepared:
                if lead["leadId"] in self._leads:
                    raise ValueError(f"leadId {lead['leadId']!r} is already known to the sandbox")
            for lead in prepared:
                self._leads[lead["leadId"]] = lead
                self._queue[lead["leadId"]] = lead["leadState"]

    def generate_leads(self, n: int, *, dealer_code: str = "DEMO", start: int | None = None,
                       created=None) -> list[dict]:
        """Queue n realistic leads (see make_lead) and return them.

        Lead k has index start + k. start=None continues after the highest
        index generated so far (0 on a fresh sandbox), so repeated calls never
        collide; the same (start, dealer_code, created) always gives the same
        leads. created (an aware datetime or ISO string) is every lead's
        dateCreated; default now.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError("n must be a non-negative integer")
        created = _aware(created) if created is not None else _now()
        with self._lock:
            first = self._next_index if start is None else start
        if not isinstance(first, int) or first < 0:
            raise ValueError("start must be a non-negative integer")
        leads = [make_lead(first + k, dealer_code=dealer_code, created=created) for k in range(n)]
        self.add_leads(leads)
        with self._lock:
            self._next_index = max(self._next_index, first + n)
        return leads  # add_leads stored copies: the caller may change these freely

    def update_lead(self, lead_id: str, **fields) -> None:
        """Change a known lead and queue it again for GET /leads as UPDATED.

        The 11/30/2020 history entry: updated leads come back on GET /leads
        with leadState "UPDATED" ("As of now, only one field
        catPrequalificationStatus will get updated", but any field may be
        given here). A lead still waiting in the queue keeps its place and
        state and is just changed. KeyError for an unknown leadId; ValueError
        for leadId/leadState in fields.
        """
        if "leadId" in fields or "leadState" in fields:
            raise ValueError("update_lead changes a lead's fields; leadId and leadState are the sandbox's")
        fields = _json_copy(fields)
        with self._lock:
            if lead_id not in self._leads:
                raise KeyError(f"unknown leadId {lead_id!r}")
            lead = self._leads[lead_id]
            lead.update(fields)
            if lead_id not in self._queue:
                lead["leadState"] = "UPDATED"
                self._queue[lead_id] = "UPDATED"

    # ---------------------------------------------------------------- faults

    def inject(self, fault, *, times: int = 1, path: str = "leads", **params) -> None:
        """Make the next `times` authenticated requests to `path` misbehave.

        path: "leads" (GET /leads), "historic" (GET /leads/historic), "post"
        (POST /leads) or "token" (POST /as/token.oauth2). Faults queue up in
        order; each request takes the oldest matching one. A fault is taken
        only by a request that passed authentication (a 401 does not use it
        up), except expire_token.

        "500" | "502" | "503": that status, {"message": "Internal Server Error - Try again if you like"};
            nothing happens (no lead delivered, no update recorded).
        "403": 403 {"message": "You are not authorized to perform that action."}.
        "429": 429 with Retry-After: retry_after (default 1).
        "400": 400 {"message": message (default "Bad Request - Invalid parameters")}.
        "timeout": stall `seconds` (default 5) then answer normally. deliver
            (default True): the effect happens before the stall, so a client
            that timed out has lost the leads; False: nothing happens.
        "reset": close the connection with RST (SO_LINGER 0), no answer.
            deliver (default False): whether the effect happened first.
        "malformed": 200 "<html>Service Unavailable</html>" (text/html).
            deliver (default True).
        "truncated": the real answer (200 for an empty 204) with its body cut
            in half and a Content-Length that matches the cut body, so the
            client gets a complete HTTP answer that is not JSON. deliver
            (default True). mid_body_reset=True instead declares the full
            length, sends half and resets (a transport error mid-body).
        "expire_token": invalidate every token now; this request gets 401
            {"message": "Invalid access token."}; a new token works.
        ValueError for an unknown fault, path or parameter.
        """
        name = str(fault)
        if name == "expire_token" and path == "token":
            raise ValueError("expire_token applies to API calls (leads, historic, post), not to the token endpoint")
        check_fault(name, times, params, faults=FAULTS, fault_params=_FAULT_PARAMS, path=path, paths=FAULT_PATHS)
        seconds = params.get("seconds", 5)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError("seconds must be a non-negative number")
        for flag in ("deliver", "mid_body_reset"):
            if flag in params and not isinstance(params[flag], bool):
                raise ValueError(f"{flag} must be true or false")
        with self._lock:
            self._faults.append(Fault(name, path, times, dict(params)))

    def _take_fault(self, kind: str, authenticated) -> tuple[Fault | None, Reply | None]:
        """The fault for this request (consumed) or an auth refusal, atomically."""
        with self._lock:
            fault = next((f for f in self._faults if f.path == kind), None)
            if fault is not None and fault.name == "expire_token":
                self._consume(fault)
                self._tokens.clear()
                return fault, _message(401, MSG_INVALID_TOKEN)
            refusal = authenticated()
            if refusal is not None:
                return None, refusal
            if fault is not None:
                self._consume(fault)
            return fault, None

    # ---------------------------------------------------------------- observations

    def received_updates(self) -> list[dict]:
        """Every POST /leads item accepted (200), in order, as received."""
        with self._lock:
            return _json_copy(self._received)

    def accepted_count(self, lead_id: str) -> int:
        """How many accepted POST items carried this leadId."""
        with self._lock:
            return self._accepted[lead_id]

    def delivered_ids(self) -> list[str]:
        """leadIds delivered by GET /leads, in order (an UPDATED re-delivery appears again)."""
        with self._lock:
            return list(self._deliveries)

    def pending_count(self) -> int:
        """Leads queued for GET /leads and not delivered yet."""
        with self._lock:
            return len(self._queue)

    def state(self) -> dict:
        """What GET /_sandbox/state answers."""
        with self._lock:
            return {
                "pending": len(self._queue),
                "delivered": list(self._deliveries),
                "accepted": dict(self._accepted),
                "received": _json_copy(self._received),
                "faults": [f.as_dict() for f in self._faults],
            }

    # ---------------------------------------------------------------- routing

    def _route(self, method: str, target: str, headers, body: bytes) -> Reply:
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            return _message(404, MSG_NOT_FOUND)
        rel = path[len(self.prefix):]
        api = {
            ("POST", TOKEN_PATH): "token",
            ("GET", LEADS_PATH): "leads",
            ("GET", HISTORIC_PATH): "historic",
            ("POST", LEADS_PATH): "post",
        }.get((method, rel))
        if api is not None:
            return self._api(api, query, headers, body)
        control = {
            ("POST", CONTROL_PREFIX + "/leads"): self._control_leads,
            ("POST", CONTROL_PREFIX + "/faults"): self._control_faults,
            ("POST", CONTROL_PREFIX + "/update"): self._control_update,
            ("GET", CONTROL_PREFIX + "/state"): lambda _body: json_reply(200, self.state()),
        }.get((method, rel))
        if control is not None:
            return control(body)
        return _message(404, MSG_NOT_FOUND)

    def _api(self, kind: str, query: str, headers, body: bytes) -> Reply:
        if kind == "token":
            fault, refusal = self._take_fault(kind, lambda: self._token_refusal(headers, body))
        else:
            fault, refusal = self._take_fault(kind, lambda: self._bearer_refusal(headers))
        if refusal is not None:
            return refusal

        def normal(commit: bool) -> Reply:
            if kind == "token":
                return self._issue_token(commit)
            if kind == "leads":
                return self._get_leads(query, commit)
            if kind == "historic":
                return self._get_historic(query)
            return self._post_updates(headers, body, commit)

        if fault is None:
            return normal(True)
        return self._apply_fault(fault, normal)

    def _apply_fault(self, fault: Fault, normal) -> Reply:
        name, params = fault.name, fault.params
        deliver = params.get("deliver", _DEFAULT_DELIVER.get(name, False))
        if name in ("500", "502", "503"):
            return _message(int(name), MSG_SERVER_ERROR)
        if name == "403":
            return _message(403, MSG_FORBIDDEN)
        if name == "400":
            return _message(400, str(params.get("message", MSG_BAD_REQUEST)))
        if name == "429":
            return _message(429, "Too Many Requests", {"Retry-After": str(params.get("retry_after", 1))})
        if name in ("timeout", "reset"):
            return stall_or_reset(name, params, normal, deliver)
        if name == "malformed":
            if deliver:
                normal(True)
            return Reply(200, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"})
        if name == "truncated":
            reply = normal(deliver)
            text = (reply.body or b"[]").decode("utf-8")
            cut = text[: len(text) // 2].encode("utf-8")
            status = 200 if reply.status == 204 else reply.status
            if params.get("mid_body_reset"):
                full = text.encode("utf-8")
                return Reply(status, full, {"Content-Type": "application/json"}, reset_after_bytes=len(cut))
            return Reply(status, cut, {"Content-Type": "application/json"})
        raise AssertionError(f"unhandled fault {name}")  # pragma: no cover - inject() validates names

    # ---------------------------------------------------------------- auth

    def _token_refusal(self, headers, body: bytes) -> Reply | None:
        """None when the token request is acceptable, else the refusal. Caller holds the lock."""
        # Step 2: "Authorization: Basic <credentials>": client id and secret, Base64.
        if not self._basic_ok(headers.get("Authorization", "")):
            return json_reply(401, {"error": "invalid_client", "error_description": "Client authentication failed."},
                               {"WWW-Authenticate": 'Basic realm="PingFederate"'})
        # Step 2: "Content-Type: application/x-www-form-urlencoded".
        if headers.get_content_type() != "application/x-www-form-urlencoded":
            return json_reply(400, {"error": "invalid_request",
                                     "error_description": "The body must be application/x-www-form-urlencoded."})
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return json_reply(400, {"error": "invalid_request", "error_description": "The body is not UTF-8."})
        grant = form.get("grant_type")
        if grant != ["client_credentials"]:
            error = "invalid_request" if not grant else "unsupported_grant_type"
            return json_reply(400, {"error": error,
                                     "error_description": "grant_type must be client_credentials."})
        scope = form.get("scope")
        if scope is None or len(scope) != 1 or scope[0].split() != [SCOPE]:
            return json_reply(400, {"error": "invalid_scope", "error_description": f"scope must be {SCOPE}."})
        return None

    def _basic_ok(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return False
        client_id, sep, client_secret = decoded.partition(":")
        if not sep:
            return False
        id_ok = secrets.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = secrets.compare_digest(client_secret.encode(), self.client_secret.encode())
        return id_ok and secret_ok

    def _issue_token(self, commit: bool) -> Reply:
        token = secrets.token_urlsafe(32)
        if commit:
            with self._lock:
                self._tokens[token] = time.monotonic() + float(self.token_ttl)
        ttl = self.token_ttl
        expires_in = ttl if isinstance(ttl, int) else max(1, int(-(-float(ttl) // 1)))
        # RFC 6749 5.1: token answers are not cached.
        return json_reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": expires_in},
                           {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _bearer_refusal(self, headers) -> Reply | None:
        """None for a live Bearer token, else the 401. Caller holds the lock."""
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _message(401, MSG_INVALID_HEADER)
        expires = self._tokens.get(token)
        if expires is None:
            return _message(401, MSG_INVALID_TOKEN)
        if time.monotonic() >= expires:
            del self._tokens[token]
            return _message(401, MSG_INVALID_TOKEN)
        return None

    # ---------------------------------------------------------------- GET

    def _empty(self) -> Reply:
        if self.empty_response == "204":
            return Reply(204)
        return json_reply(200, [])

    def _get_leads(self, query: str, commit: bool) -> Reply:
        """Up to `limit` undelivered leads, oldest first; commit marks them delivered."""
        params = parse_qs(query, keep_blank_values=True)
        limit, error = _int_param(params, "limit", default=MAX_LIMIT, low=1, high=MAX_LIMIT)
        if error:
            return error
        with self._lock:
            if commit:
                # Taken from the queue under the lock: two concurrent GETs can
                # never get the same lead ("pulling lead that have not been
                # pulled earlier").
                taken = [self._queue.popitem(last=False) for _ in range(min(limit, len(self._queue)))]
                for lead_id, _state in taken:
                    self._deliveries.append(lead_id)
                    self._first_delivery.setdefault(lead_id, len(self._first_delivery))
            else:
                taken = list(islice(self._queue.items(), limit))
            leads = [dict(self._leads[lead_id], leadState=state) for lead_id, state in taken]
            body = json.dumps(leads, ensure_ascii=False).encode("utf-8") if leads else None
        if body is None:
            return self._empty()
        return Reply(200, body, {"Content-Type": "application/json"})

    def _get_historic(self, query: str) -> Reply:
        """Delivered leads created within [startdate, enddate], as SENT, paginated."""
        params = parse_qs(query, keep_blank_values=True)
        dates = {}
        for name in ("startdate", "enddate"):
            values = params.get(name)
            if not values or len(values) != 1:
                return _message(400, f"{MSG_BAD_REQUEST}: {name} (yyyy-mm-dd) is required, once.")
            dates[name] = _parse_date(values[0])
            if dates[name] is None:
                return _message(400, f"{MSG_BAD_REQUEST}: {name} must be a date yyyy-mm-dd, got {values[0]!r}.")
        if dates["startdate"] > dates["enddate"]:
            return _message(400, f"{MSG_BAD_REQUEST}: startdate is after enddate.")
        offset, error = _int_param(params, "offset", default=0, low=0, high=None)
        if error:
            return error
        limit, error = _int_param(params, "limit", default=MAX_LIMIT, low=1, high=MAX_LIMIT)
        if error:
            return error
        with self._lock:
            matching = [
                lead_id for lead_id in self._first_delivery
                if (day := _created_date(self._leads[lead_id])) is not None
                and dates["startdate"] <= day <= dates["enddate"]
            ]
            # "This end point provides latest snapshot of the lead with all
            # current values"; leadState SENT (01/26/2021).
            page = [dict(self._leads[lead_id], leadState="SENT") for lead_id in matching[offset:offset + limit]]
            body = json.dumps(page, ensure_ascii=False).encode("utf-8") if page else None
        if body is None:
            return self._empty()
        return Reply(200, body, {"Content-Type": "application/json"})

    # ---------------------------------------------------------------- POST

    def _post_updates(self, headers, body: bytes, commit: bool) -> Reply:
        """Validate the whole array with rules.validate_batch; record it only if all items pass."""
        # "CONTENT-TYPE: application/json" (POST layout).
        if headers.get_content_type() != "application/json":
            return _message(400, MSG_INVALID_HEADER)
        try:
            items = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            return _message(400, f"{MSG_BAD_REQUEST}: the body is not valid JSON ({exc}).")
        if not isinstance(items, list):
            return _message(400, f"{MSG_BAD_REQUEST}: the body must be a JSON array of lead updates.")
        if not items:
            return _message(400, f"{MSG_BAD_REQUEST}: the array is empty; send at least one lead update.")
        problems = [
            [f"{v.field}: {v.message}" if v.field else v.message for v in violations]
            for violations in rules.validate_batch(items)
        ]
        first_at: dict[str, int] = {}
        with self._lock:
            for index, item in enumerate(items):
                lead_id = item.get("leadId") if isinstance(item, dict) else None
                if isinstance(lead_id, str) and lead_id.strip():
                    if lead_id in first_at:
                        problems[index].append(f"leadId: {lead_id!r} is also item {first_at[lead_id]} of this "
                                               "request; send one update per lead per request.")
                    first_at.setdefault(lead_id, index)
                if isinstance(lead_id, str) and lead_id.strip() and lead_id not in self._first_delivery:
                    problems[index].append(
                        f"leadId: {lead_id!r} is not a lead this dealer received from GET /leads "
                        "(\"The primary key for a Leads is: LeadId\")."
                    )
            report = [f"{index}: {text}" for index, texts in enumerate(problems) for text in texts]
            if report:
                return _message(400, "; ".join(report))
            if commit:
                for item in items:
                    self._received.append(item)
                    self._accepted[item["leadId"]] += 1
        # The document shows no success body; a "message" object like its errors.
        return json_reply(200, {"message": "Success"})

    # ---------------------------------------------------------------- control

    def _control_leads(self, body: bytes) -> Reply:
        """{"generate": n, "dealer_code": "X", "start": i, "created": iso} or {"leads": [...]}."""
        try:
            data = control_body(body)
            if ("generate" in data) == ("leads" in data):
                raise ValueError("send either generate (with dealer_code) or leads")
            if "leads" in data:
                self.add_leads(data["leads"])
                queued = [lead["leadId"] for lead in data["leads"]]
            else:
                leads = self.generate_leads(data["generate"], dealer_code=str(data.get("dealer_code", "DEMO")),
                                            start=data.get("start"), created=data.get("created"))
                queued = [lead["leadId"] for lead in leads]
        except (TypeError, ValueError) as exc:
            return _message(400, str(exc))
        return json_reply(200, {"queued": queued, "pending": self.pending_count()})

    def _control_faults(self, body: bytes) -> Reply:
        """{"fault": name, "times": n, "path": p, ...params}."""
        try:
            data = control_body(body)
            if "fault" not in data:
                raise ValueError("fault is required")
            params = {k: v for k, v in data.items() if k not in ("fault", "times", "path")}
            self.inject(data["fault"], times=data.get("times", 1), path=data.get("path", "leads"), **params)
        except (TypeError, ValueError) as exc:
            return _message(400, str(exc))
        return json_reply(200, {"faults": self.state()["faults"]})

    def _control_update(self, body: bytes) -> Reply:
        """{"leadId": id, "fields": {...}}: update_lead over HTTP."""
        try:
            data = control_body(body)
            fields = data.get("fields", {})
            if not isinstance(fields, dict):
                raise ValueError("fields must be a JSON object")
            self.update_lead(data.get("leadId"), **fields)
        except KeyError as exc:
            return _message(404, str(exc.args[0]))
        except (TypeError, ValueError) as exc:
            return _message(400, str(exc))
        return json_reply(200, {"pending": self.pending_count()})


def _reject_constant(name: str):
    # Python's json accepts NaN/Infinity; JSON does not.
    raise ValueError(f"{name} is not JSON")


def _parse_date(value: str) -> date | None:
    if not _DATE_RE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _int_param(params: dict, name: str, *, default: int, low: int, high: int | None):
    """(value, None) or (None, 400 reply) for an integer query parameter."""
    values = params.get(name)
    if values is None:
        return default, None
    bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
    if len(values) != 1 or not _INT_RE.match(values[0]) or not (
            low <= int(values[0]) and (high is None or int(values[0]) <= high)):
        shown = values[0] if len(values) == 1 else values
        return None, _message(400, f"{MSG_BAD_REQUEST}: {name} must be an integer {bounds}, got {shown!r}.")
    return int(values[0]), None


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run a sandbox in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m sandboxes.cat",
                                     description="Sandbox Caterpillar PP+ Lead API V2 on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8001, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--client-id", default="sandbox-client")
    parser.add_argument("--client-secret", default="sandbox-secret")
    parser.add_argument("--prefix", default="/cat", help="path prefix of base_url (default /cat)")
    parser.add_argument("--token-ttl", type=int, default=DEFAULT_TOKEN_TTL, help="token lifetime in seconds")
    parser.add_argument("--generate", type=int, default=0, metavar="N", help="queue N generated leads at start")
    parser.add_argument("--dealer-code", default="DEMO", help="catDealerCode of generated leads")
    parser.add_argument("--empty", choices=("200", "204"), default="200",
                        help="answer to an empty GET: 200 [] or 204 No Content")
    parser.add_argument("--verbose", action="store_true", help="print every request on stderr")
    args = parser.parse_args(argv)

    sandbox = CatSandbox(client_id=args.client_id, client_secret=args.client_secret, port=args.port,
                         token_ttl=args.token_ttl, prefix=args.prefix, empty_response=args.empty,
                         verbose=args.verbose)

    def setup() -> None:
        if args.generate:
            sandbox.generate_leads(args.generate, dealer_code=args.dealer_code)

    return run_cli(sandbox, lambda: f"Cat sandbox running: base_url={sandbox.base_url} token_url={sandbox.token_url} "
                                    f"client_id={sandbox.client_id} pending={sandbox.pending_count()}",
                   name="Cat", setup=setup)


if __name__ == "__main__":
    sys.exit(main())
