"""CAP Gateway's rules for a lead submission (cap-gateway-lead-submission.txt).

Plain functions over the JSON payload (a dict) returning Violations, used alike
by the payload builder (violations block the submission and are shown on the
lead), the submit screen, `validate_payload cap FILE` and the sandbox server.
Field names are the payload's dotted paths (contactDetail.phoneNumber).

Decisions where the document is unclear (quotes in docs/vendors/cap.md):
- The payload table lost its property names; the example payload gives them,
  and no other property is taken (UNKNOWN: refused, never passed on).
- Required, read from the table's rows (their marks lost their layout) with the
  example as evidence: campaignId, enquiryDateTime, enquiryType, the
  acquisitionChannel (so the enquirySource object), contactDetail with
  firstName, lastName and emailAddress, optInConsents with its four channels
  (each true, false or null), vehicle.name (so the vehicle object). Optional:
  externalReferenceId, ipAddress (the example sends null). phoneNumber and
  postcode are "Required for certain campaigns": the account lists what its
  campaign requires (REQUIRABLE). An empty string is a missing value.
- enquiryDateTime: "ISO 8601 format, Coordinated Universal Time (UTC), to the
  second" with "T" between date and time: YYYY-MM-DDTHH:MM:SS, a real date and
  time, with no offset or Z/+00:00 (UTC); the document's own example carries a
  fraction (".52"), so one is accepted; any other offset is refused (not UTC),
  and so is a time more than FUTURE_SLACK ahead (a clock or time-zone error).
- Phone: "+44 or 0 prefix accepted": spaces and hyphens (the example writes
  "+4420 8759 9036") are ignored; then +44 or 0 and 9 or 10 digits. Anything
  else is refused, brackets and dots included, and so is an empty string (leave
  the property out or send null).
- Postcode: a UK postcode (the special GIR 0AA included) with at most one space
  between its outward and inward codes.
- E-mail: an address without spaces around it.
- ipAddress: an IPv4 or IPv6 literal (no zone, no spaces) or null.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone


from apps.core.formats import is_email_address, is_ip_literal
from apps.core.violations import Violation

ENQUIRY_TYPES = ("Test Drive", "Quotation", "Retailer Contact", "KMI", "Interest Only", "Register Of Interest")
CONSENT_CHANNELS = ("PhoneCall", "Post", "Email", "Sms")
# Fields a campaign may require on top of the always-required ones (account
# setting "required_fields"), by the name the dealer types -> payload path.
REQUIRABLE = {
    "phoneNumber": "contactDetail.phoneNumber",
    "postcode": "contactDetail.address.postcode",
    "ipAddress": "metadata.ipAddress",
    "externalReferenceId": "metadata.externalReferenceId",
    # Always required now (docs/vendors/cap.md); still accepted in the setting.
    "acquisitionChannel": "metadata.enquirySource.acquisitionChannel",
    "vehicle": "vehicle.name",
}
ALWAYS_REQUIRED = ("metadata.campaignId", "metadata.enquiryDateTime", "metadata.enquiryType",
                   "metadata.enquirySource.acquisitionChannel", "contactDetail.firstName", "contactDetail.lastName",
                   "contactDetail.emailAddress", "vehicle.name")
# Every property the document names (the example's), by object: anything else is refused.
PROPERTIES = {
    "": ("metadata", "contactDetail", "optInConsents", "vehicle"),
    "metadata": ("campaignId", "enquiryDateTime", "externalReferenceId", "enquiryType", "ipAddress",
                 "enquirySource"),
    "metadata.enquirySource": ("acquisitionChannel",),
    "contactDetail": ("firstName", "lastName", "emailAddress", "phoneNumber", "address"),
    "contactDetail.address": ("postcode",),
    "optInConsents": CONSENT_CHANNELS,
    "vehicle": ("name",),
}
REQUIRED_OBJECTS = ("metadata", "metadata.enquirySource", "contactDetail", "optInConsents", "vehicle")
STRINGS = ("metadata.externalReferenceId", "metadata.enquiryType", "metadata.ipAddress",
           "metadata.enquirySource.acquisitionChannel", "contactDetail.firstName", "contactDetail.lastName",
           "contactDetail.emailAddress", "contactDetail.phoneNumber", "contactDetail.address.postcode",
           "vehicle.name", "metadata.campaignId", "metadata.enquiryDateTime")
FUTURE_SLACK = timedelta(minutes=5)

# ASCII digits only and \Z, not $ (which also matches before a final newline).
_DATETIME_RE = re.compile(r"(?P<stamp>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,7})?(Z|\+00:00)?\Z")
_OFFSET_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?[+-][0-9]{2}:?[0-9]{2}\Z")
_UK_PHONE_RE = re.compile(r"(\+44|0)[0-9]{9,10}\Z")
# A GUID as text, the form the document's example sends: 8-4-4-4-12 hexadecimal digits.
_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
# What the payload builder removes from a lead's number (people type all of these).
_PHONE_NOISE = re.compile(r"[\s\-().]")
# What a payload's number may contain besides the prefix and digits (the example's spaces, hyphens).
_PHONE_SEPARATORS = re.compile(r"[ \-]")
# UK postcode: outward code, at most one space, inward code; or the special GIR 0AA.
_POSTCODE_RE = re.compile(r"(GIR ?0AA|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})\Z", re.IGNORECASE | re.ASCII)


def parse_required_fields(text: str) -> tuple[list[str], list[str]]:
    """The account's "required_fields" setting ("phoneNumber, postcode") ->
    (payload paths, unknown names)."""
    names = [name.strip() for name in str(text or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in REQUIRABLE]
    return [REQUIRABLE[name] for name in names if name in REQUIRABLE], unknown


def clean_phone(value: str) -> str:
    """A lead's number as the payload builder sends it: spaces, hyphens, brackets
    and dots removed (is_uk_phone then says whether CAP takes it)."""
    return _PHONE_NOISE.sub("", str(value or ""))


def is_uk_phone(value: str) -> bool:
    """A number in a payload as CAP takes it: +44 or 0, then 9-10 digits, with
    spaces and hyphens between them ignored."""
    return isinstance(value, str) and bool(_UK_PHONE_RE.match(_PHONE_SEPARATORS.sub("", value)))


def is_guid(value) -> bool:
    """A GUID written as the document's example writes one (a string, 8-4-4-4-12)."""
    return isinstance(value, str) and bool(_GUID_RE.match(value))


def _get(payload: dict, path: str):
    node = payload
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_submission(payload, *, required: list[str] | tuple[str, ...] = (),
                        now: datetime | None = None) -> list[Violation]:
    """Every rule of the document on one submission. `required`: extra payload
    paths the account's campaign requires (parse_required_fields); `now`: the
    time a future enquiryDateTime is measured against (default: now)."""
    if not isinstance(payload, dict):
        return [Violation("", "not_an_object", f"A submission must be a JSON object, not {type(payload).__name__}.")]
    problems: list[Violation] = []
    problems += _check_shape(payload)
    for path in REQUIRED_OBJECTS:
        if _get(payload, path) is None and not _reported_above(payload, path):
            problems.append(Violation(path, "required", f"{path} is required."))
    for path in (*ALWAYS_REQUIRED, *required):
        if _blank(_get(payload, path)) and not _reported_above(payload, path):
            problems.append(Violation(path, "required", f"{path} is required"
                                      + ("" if path in ALWAYS_REQUIRED else " by this account's campaign") + "."))
    problems += _check_values(payload, now=now or datetime.now(timezone.utc))
    return _unique(problems)


def _reported_above(payload: dict, path: str) -> bool:
    """Whether an object holding `path` is already reported (a required object
    missing, or a value that is not an object), so `path` is not reported again."""
    parts = path.split(".")
    for size in range(1, len(parts)):
        above = ".".join(parts[:size])
        node = _get(payload, above)
        if (node is None and above in REQUIRED_OBJECTS) or (node is not None and not isinstance(node, dict)):
            return True
    return False


def _check_shape(payload: dict) -> list[Violation]:
    """Objects where the document shows objects; no property it does not name."""
    problems = []
    for where, names in PROPERTIES.items():
        node = payload if not where else _get(payload, where)
        if node is None:
            continue
        if not isinstance(node, dict):
            example = {"metadata.enquirySource": '{"acquisitionChannel": "..."}',
                       "contactDetail.address": '{"postcode": "..."}', "vehicle": '{"name": "..."}'}.get(where)
            problems.append(Violation(where, "not_an_object",
                                      f"{where} must be an object" + (f": {example}." if example else ".")))
            continue
        for key in node:
            if key not in names:
                path = f"{where}.{key}" if where else str(key)
                problems.append(Violation(path, "unknown_property",
                                          f"{path}: CAP's document names no such property"
                                          + (f" (known here: {', '.join(names)})." if names else ".")))
    return problems


def _check_values(payload: dict, *, now: datetime) -> list[Violation]:
    problems = []
    for path in STRINGS:
        value = _get(payload, path)
        if value is not None and not isinstance(value, str):
            problems.append(Violation(path, "not_a_string", f"{path} must be a JSON string, not {value!r}."))
    campaign = _get(payload, "metadata.campaignId")
    if isinstance(campaign, str) and campaign.strip() and not is_guid(campaign):
        problems.append(Violation("metadata.campaignId", "invalid_guid",
                                  f"metadata.campaignId {campaign!r} is not a GUID (a string such as "
                                  "966c7488-bfa7-45b5-8510-d26ba3008879)."))
    when = _get(payload, "metadata.enquiryDateTime")
    if isinstance(when, str) and when.strip():
        problems += _check_enquiry_time(when, now)
    kind = _get(payload, "metadata.enquiryType")
    if isinstance(kind, str) and kind.strip() and kind not in ENQUIRY_TYPES:
        problems.append(Violation("metadata.enquiryType", "invalid_choice",
                                  f"metadata.enquiryType {kind!r} is not one of: {', '.join(ENQUIRY_TYPES)}."))
    ip = _get(payload, "metadata.ipAddress")
    if isinstance(ip, str) and not is_ip_literal(ip):
        problems.append(Violation("metadata.ipAddress", "invalid_ip",
                                  f"metadata.ipAddress {ip!r} is not an IPv4 or IPv6 address (leave it null when "
                                  "unknown)."))
    email = _get(payload, "contactDetail.emailAddress")
    if isinstance(email, str) and email.strip() and not is_email_address(email):
        problems.append(Violation("contactDetail.emailAddress", "invalid_email",
                                  f"contactDetail.emailAddress {email!r} is not an e-mail address"
                                  + (" (spaces around it)." if email != email.strip() else ".")))
    phone = _get(payload, "contactDetail.phoneNumber")
    if isinstance(phone, str) and not is_uk_phone(phone):
        problems.append(Violation("contactDetail.phoneNumber", "invalid_phone",
                                  f"contactDetail.phoneNumber {phone!r} must be +44 or 0 and 9-10 digits, spaces "
                                  "or hyphens allowed between them (CAP accepts UK numbers only; leave it out or "
                                  "null when there is none)."))
    postcode = _get(payload, "contactDetail.address.postcode")
    if isinstance(postcode, str) and postcode.strip() and not _POSTCODE_RE.match(postcode):
        problems.append(Violation("contactDetail.address.postcode", "invalid_postcode",
                                  f"contactDetail.address.postcode {postcode!r} is not a UK postcode (such as "
                                  "SW1A 1AA or L39AG, at most one space)."))
    problems += _check_consents(payload.get("optInConsents", None), present="optInConsents" in payload)
    return problems


def _check_enquiry_time(text: str, now: datetime) -> list[Violation]:
    if _OFFSET_RE.match(text) and not _DATETIME_RE.match(text):
        return [Violation("metadata.enquiryDateTime", "not_utc",
                          f"metadata.enquiryDateTime {text!r} must be in UTC (no offset).")]
    moment = _parse_datetime(text)
    if moment is None:
        return [Violation("metadata.enquiryDateTime", "invalid_datetime",
                          f"metadata.enquiryDateTime {text!r} must be a real UTC date and time, ISO 8601 to the "
                          "second, e.g. 2024-09-12T10:20:59.")]
    if moment > now + FUTURE_SLACK:
        return [Violation("metadata.enquiryDateTime", "in_the_future",
                          f"metadata.enquiryDateTime {text!r} is in the future: a clock or time-zone error "
                          "(the time must be UTC).")]
    return []


def _parse_datetime(text: str) -> datetime | None:
    """The shape, and a date and time that exist (not February 30th, not 24:00), as UTC."""
    match = _DATETIME_RE.match(text)
    if not match:
        return None
    try:
        return datetime.strptime(match["stamp"], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None




def _check_consents(consents, *, present: bool) -> list[Violation]:
    """"Accepted values: true, false, null" for each of the four channels, all
    four given (null: not asked), as the example does."""
    if not present or consents is None:
        return [Violation("optInConsents", "required",
                          "optInConsents is required (true, false or null per channel).")]
    if not isinstance(consents, dict):
        return []  # reported as not_an_object
    problems = []
    for channel in CONSENT_CHANNELS:
        path = f"optInConsents.{channel}"
        if channel not in consents:
            problems.append(Violation(path, "required", f"{path} is required (true, false or null)."))
        elif consents[channel] is not None and not isinstance(consents[channel], bool):
            problems.append(Violation(path, "invalid_consent",
                                      f"{path} must be true, false or null, not {consents[channel]!r}."))
    return problems


def _unique(problems: list[Violation]) -> list[Violation]:
    seen, unique = set(), []
    for problem in problems:
        if (problem.field, problem.code) not in seen:
            seen.add((problem.field, problem.code))
            unique.append(problem)
    return unique


def validate_batch(items: list) -> list[list[Violation]]:
    """validate_payload: one list of violations per submission (no campaign
    extras: the file carries no account)."""
    return [validate_submission(item) for item in items]


def parse_answer(data) -> tuple[list[str], dict]:
    """CAP's answer body {"success", "messages", "result": {...}} -> (messages,
    result). Tolerates a missing or odd shape: what is there is kept."""
    if not isinstance(data, dict):
        return [], {}
    messages = data.get("messages")
    if isinstance(messages, str):
        messages = [messages]
    messages = [str(m) for m in messages] if isinstance(messages, list) else []
    result = data.get("result") if isinstance(data.get("result"), dict) else {}
    return messages, result
