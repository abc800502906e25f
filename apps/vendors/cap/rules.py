"""CAP Gateway's rules for a lead submission (cap-gateway-lead-submission.txt).

Plain functions over the JSON payload (a dict) returning Violations, used alike
by the payload builder (violations block the submission and are shown on the
lead), the submit screen, `validate_payload cap FILE` and the sandbox server.
Field names are the payload's dotted paths (contactDetail.phoneNumber).

Decisions where the document is unclear (quotes in docs/vendors/cap.md):
- The payload table lost its property names; the example payload gives them.
- Always required: metadata.campaignId, metadata.enquiryDateTime,
  metadata.enquiryType, contactDetail.firstName/lastName/emailAddress and the
  optInConsents object. phoneNumber and postcode are "Required for certain
  campaigns": the account lists what its campaign requires (REQUIRABLE).
- enquiryDateTime: "ISO 8601 format, Coordinated Universal Time (UTC), to the
  second" with "T" between date and time. The document's own example carries a
  fraction (".52") and no offset, so a fraction and a "Z"/"+00:00" are accepted;
  any other offset is refused (the time must be UTC).
- Phone: "+44 or 0 prefix accepted": spaces, hyphens and brackets are ignored;
  then +44 or 0, then 9 or 10 digits (UK numbers).
"""
from __future__ import annotations

import ipaddress
import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from apps.core.violations import Violation

ENQUIRY_TYPES = ("Test Drive", "Quotation", "Retailer Contact", "KMI", "Interest Only", "Register Of Interest")
CONSENT_CHANNELS = ("PhoneCall", "Post", "Email", "Sms")
# Fields a campaign may require on top of the always-required ones (account
# setting "required_fields"), by the name the dealer types -> payload path.
REQUIRABLE = {
    "phoneNumber": "contactDetail.phoneNumber",
    "postcode": "contactDetail.address.postcode",
    "ipAddress": "metadata.ipAddress",
    "acquisitionChannel": "metadata.enquirySource.acquisitionChannel",
    "vehicle": "vehicle.name",
}
ALWAYS_REQUIRED = ("metadata.campaignId", "metadata.enquiryDateTime", "metadata.enquiryType",
                   "contactDetail.firstName", "contactDetail.lastName", "contactDetail.emailAddress")
TOP_LEVEL = ("metadata", "contactDetail", "optInConsents", "vehicle")

# ASCII digits only and \Z, not $ (which also matches before a final newline).
_DATETIME_RE = re.compile(r"(?P<stamp>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,7})?(Z|\+00:00)?\Z")
_OFFSET_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?[+-][0-9]{2}:?[0-9]{2}\Z")
_UK_PHONE_RE = re.compile(r"(\+44|0)[0-9]{9,10}\Z")
# A GUID as text, the form the document's example sends: 8-4-4-4-12 hexadecimal digits.
_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_PHONE_NOISE = re.compile(r"[\s\-().]")
# UK postcode (outward code, inward code), space optional: "L39AG", "SW1A 1AA".
_POSTCODE_RE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}\Z", re.IGNORECASE | re.ASCII)


def parse_required_fields(text: str) -> tuple[list[str], list[str]]:
    """The account's "required_fields" setting ("phoneNumber, postcode") ->
    (payload paths, unknown names)."""
    names = [name.strip() for name in str(text or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in REQUIRABLE]
    return [REQUIRABLE[name] for name in names if name in REQUIRABLE], unknown


def clean_phone(value: str) -> str:
    """The number as CAP takes it: spaces, hyphens, brackets and dots removed."""
    return _PHONE_NOISE.sub("", str(value or ""))


def is_uk_phone(value: str) -> bool:
    return bool(_UK_PHONE_RE.match(clean_phone(value)))


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


def validate_submission(payload, *, required: list[str] | tuple[str, ...] = ()) -> list[Violation]:
    """Every rule of the document on one submission. `required`: extra payload
    paths the account's campaign requires (parse_required_fields)."""
    if not isinstance(payload, dict):
        return [Violation("", "not_an_object", f"A submission must be a JSON object, not {type(payload).__name__}.")]
    problems: list[Violation] = []
    for key in TOP_LEVEL:
        if key in payload and payload[key] is not None and not isinstance(payload[key], dict):
            problems.append(Violation(key, "not_an_object", f"{key} must be an object."))
    address = _get(payload, "contactDetail.address")
    if address is not None and not isinstance(address, dict):  # the example: "address": {"postcode": ...}
        problems.append(Violation("contactDetail.address", "not_an_object",
                                  'contactDetail.address must be an object: {"postcode": "..."}.'))
    if "metadata" not in payload or "contactDetail" not in payload:
        missing = [k for k in ("metadata", "contactDetail") if k not in payload]
        problems += [Violation(k, "required", f"{k} is required.") for k in missing]
    for path in (*ALWAYS_REQUIRED, *required):
        if _blank(_get(payload, path)):
            problems.append(Violation(path, "required", f"{path} is required"
                                      + ("" if path in ALWAYS_REQUIRED else " by this account's campaign") + "."))
    problems += _check_values(payload)
    return _unique(problems)


def _check_values(payload: dict) -> list[Violation]:
    problems = []
    campaign = _get(payload, "metadata.campaignId")
    if not _blank(campaign) and not is_guid(campaign):
        problems.append(Violation("metadata.campaignId", "invalid_guid",
                                  f"metadata.campaignId {campaign!r} is not a GUID (a string such as "
                                  "966c7488-bfa7-45b5-8510-d26ba3008879)."))
    when = _get(payload, "metadata.enquiryDateTime")
    if not _blank(when):
        text = str(when)
        if _OFFSET_RE.match(text) and not _DATETIME_RE.match(text):
            problems.append(Violation("metadata.enquiryDateTime", "not_utc",
                                      f"metadata.enquiryDateTime {text!r} must be in UTC (no offset)."))
        elif not _is_datetime(text):
            problems.append(Violation("metadata.enquiryDateTime", "invalid_datetime",
                                      f"metadata.enquiryDateTime {text!r} must be ISO 8601 to the second, "
                                      "e.g. 2024-09-12T10:20:59."))
    kind = _get(payload, "metadata.enquiryType")
    if not _blank(kind) and kind not in ENQUIRY_TYPES:
        problems.append(Violation("metadata.enquiryType", "invalid_choice",
                                  f"metadata.enquiryType {kind!r} is not one of: {', '.join(ENQUIRY_TYPES)}."))
    ip = _get(payload, "metadata.ipAddress")
    if not _blank(ip):
        try:
            ipaddress.ip_address(str(ip))
        except ValueError:
            problems.append(Violation("metadata.ipAddress", "invalid_ip", f"metadata.ipAddress {ip!r} is not an IP address."))
    source = _get(payload, "metadata.enquirySource")
    if source is not None and not isinstance(source, dict):
        problems.append(Violation("metadata.enquirySource", "not_an_object",
                                  'metadata.enquirySource must be an object: {"acquisitionChannel": "..."}.'))
    for path in ("metadata.externalReferenceId", "metadata.enquirySource.acquisitionChannel",
                 "contactDetail.firstName", "contactDetail.lastName", "contactDetail.emailAddress",
                 "contactDetail.phoneNumber", "contactDetail.address.postcode", "vehicle.name"):
        value = _get(payload, path)
        if value is not None and not isinstance(value, str):
            problems.append(Violation(path, "not_a_string", f"{path} must be a string."))
    email = _get(payload, "contactDetail.emailAddress")
    if isinstance(email, str) and email.strip():
        try:
            validate_email(email.strip())
        except ValidationError:
            problems.append(Violation("contactDetail.emailAddress", "invalid_email",
                                      f"contactDetail.emailAddress {email!r} is not an e-mail address."))
    phone = _get(payload, "contactDetail.phoneNumber")
    if isinstance(phone, str) and phone.strip() and not is_uk_phone(phone):
        problems.append(Violation("contactDetail.phoneNumber", "invalid_phone",
                                  f"contactDetail.phoneNumber {phone!r} must start with +44 or 0 "
                                  "(CAP accepts UK numbers only)."))
    postcode = _get(payload, "contactDetail.address.postcode")
    if isinstance(postcode, str) and postcode.strip() and not _POSTCODE_RE.match(postcode.strip()):
        problems.append(Violation("contactDetail.address.postcode", "invalid_postcode",
                                  f"contactDetail.address.postcode {postcode!r} is not a UK postcode."))
    problems += _check_consents(payload.get("optInConsents", None), present="optInConsents" in payload)
    return problems


def _is_datetime(text: str) -> bool:
    """The shape, and a date and time that exist (not February 30th, not 25:61)."""
    match = _DATETIME_RE.match(text)
    if not match:
        return False
    try:
        datetime.strptime(match["stamp"], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def _check_consents(consents, *, present: bool) -> list[Violation]:
    """"Accepted values: true, false, null" per channel."""
    if not present or consents is None:
        return [Violation("optInConsents", "required",
                          "optInConsents is required (true, false or null per channel).")]
    if not isinstance(consents, dict):
        return []  # reported as not_an_object
    problems = []
    for channel, value in consents.items():
        path = f"optInConsents.{channel}"
        if channel not in CONSENT_CHANNELS:
            problems.append(Violation(path, "unknown_channel",
                                      f"{path}: unknown channel; CAP's are {', '.join(CONSENT_CHANNELS)}."))
        elif value is not None and not isinstance(value, bool):
            problems.append(Violation(path, "invalid_consent", f"{path} must be true, false or null, not {value!r}."))
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
