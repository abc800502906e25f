"""Aimbase's field rules, as plain functions over plain data.

Every function takes a message as LeadHub sends it (a dict keyed by the field
names of shared/vendor-docs/aimbase-lead-api.txt, "Lead Data Schema", or of the
ProspectActivity of aimbase-related-apis.md) and returns [Violation]. The payload
builder (payloads.build_lead), `validate_payload aimbase`, and the sandbox
server all call these, so a lead LeadHub would send is exactly a lead the
sandbox accepts. Decisions where the document is ambiguous: docs/vendors/aimbase.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pycountry

from apps.core.formats import is_email_address, is_ip_literal
from apps.core.violations import Violation

STRING, BOOL, GUID, LEAD_DATE, DATE, LIST, YN, CONDITION, YEAR, ID_LIST, IP, EMAIL = (
    "string", "bool", "guid", "lead_date", "date", "list", "yn", "condition", "year", "id_list", "ip", "email")
# A lead or opt-in date later than this is a clock or time-zone error, not a plan.
FUTURE_SLACK = timedelta(minutes=5)
MAX_OFFSET = timedelta(hours=14)  # ISO 8601 / .NET DateTimeOffset: offsets run from -14:00 to +14:00


@dataclass(frozen=True)
class Field:
    name: str
    max_length: int | None = None
    required: bool = False
    kind: str = STRING


def _table(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


# "Lead Data Schema", in the document's order. Brands carries an X but its own
# description says "If no brand value is provided, the lead will be assigned to
# all of the manufacturer's brands" and the JSON example sends "Brands": null:
# optional here (docs/vendors/aimbase.md). Email's row lost its name in the
# document's extraction ("| Max Length: 80 |||" after Fax); the examples name it.
LEAD_FIELDS = _table(
    Field("LeadSourceName", 50, True), Field("LeadTypeName", 50, True), Field("LeadCategoryName", 50, True),
    Field("LeadCampaignName", 50), Field("Brands", 100), Field("LeadUid", kind=GUID), Field("Program"),
    Field("EventName", 100), Field("LeadDate", kind=LEAD_DATE), Field("FirstName", 50),
    Field("LastName", 50, True), Field("Address1", 64), Field("Address2", 64), Field("City", 64),
    Field("State", 3), Field("PostalCode", 10), Field("Zip4", 4), Field("CompanyName", 50),
    Field("CompanyTitle", 50), Field("CompanyExternalId", 20), Field("CompanyUid", kind=GUID),
    Field("County", 25), Field("Country", 50), Field("HomePhone", 20), Field("WorkPhone", 20),
    Field("MobilePhone", 20), Field("Fax", 20), Field("Email", 80, kind=EMAIL), Field("CountryCode", 2, True),
    Field("DealerIds", 100, kind=ID_LIST), Field("Dealers", kind=LIST), Field("ProductIds", 100, kind=ID_LIST),
    Field("Products", kind=LIST),
    Field("Customs", kind=LIST), Field("ProspectExternalId", 20), Field("ExternalId", 50),
    Field("LeadApiIdentifier", 100), Field("SMSOptIn", kind=BOOL), Field("ConditionCode", kind=CONDITION),
    Field("IsCommunicationOptIn", required=True, kind=BOOL), Field("CommunicationOptInIpAddress", 50, kind=IP),
    Field("CommunicationOptInDate", kind=DATE), Field("CommunicationOptInSource", 50),
    Field("SendAutoresponder", kind=BOOL), Field("SendLead", kind=YN), Field("SendNurture", kind=BOOL),
    Field("ScoreProspect", kind=BOOL), Field("UserUid", kind=GUID), Field("SessionUid", kind=GUID),
    Field("ListCodes", 128), Field("LeadReroute", kind=BOOL), Field("Medium", 200), Field("Term", 200),
    Field("Content", 200), Field("Comment", 2048),
)
CUSTOM_FIELDS = _table(Field("FieldName", 50, True), Field("FieldValue", 2048, True))
DEALER_FIELDS = _table(Field("DealerNumber", 20, True), Field("DealerLocation", 10), Field("DealerName", 80),
                       Field("OemManufactureCode", 20), Field("OemDealerNumber", 20))
PRODUCT_FIELDS = _table(Field("ProductCode", 50, True), Field("ProductName", 100),
                        Field("ProductModelYear", kind=YEAR), Field("BrandCode", 100, True),
                        Field("BrandName", 100))
LIST_ITEMS = {"Dealers": ("Dealer", DEALER_FIELDS), "Products": ("Product", PRODUCT_FIELDS),
              "Customs": ("Custom", CUSTOM_FIELDS)}
# "This field is required if IsCommunicationOptIn is true."
OPT_IN_REQUIRES = ("CommunicationOptInIpAddress", "CommunicationOptInDate", "CommunicationOptInSource")

# aimbase-related-apis.md, Lead Disposition API, body ProspectActivity.
DISPOSITION_FIELDS = _table(Field("EntryDate", required=True, kind="datetime"), Field("EntryType", 50, True),
                            Field("EntryDetail", 50, True), Field("DealershipUser", 50),
                            Field("PCHProspectId", 50, True), Field("SourceProspectId", 50, True))
ENTRY_TYPES = ("StageChanged", "StatusChanged", "FollowUp", "Activity")
DISPOSITION_STATUSES = ("Viewed", "Assigned", "Working", "Sold", "Lost", "Abandoned")
ACTIVITY_TYPES = ("Email", "Call", "Text", "Note", "Appointment", "Quote")

# ASCII digits and \Z (not $, which also matches before a final newline).
_GUID = re.compile(r"\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?\Z")
# "YYYY-MM-dd ±hh:mm ... Optionally can provide DateTime Offset": a date, an
# optional time, an optional offset (T or a space between the parts).
_LEAD_DATE = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
                        r"([T ](?P<time>[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,7})?)?))?"
                        r"( ?(?P<offset>[+-][0-9]{2}:[0-9]{2}|Z))?\Z")
_DATE = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})\Z")
_DATETIME = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?P<time>[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,7})?)?)"
                       r"(?P<offset>[+-][0-9]{2}:[0-9]{2}|Z)?\Z")
# "A comma delimited string list of Aimbase ... Id values": numeric ids, commas only.
_ID_LIST = re.compile(r"[0-9]+(,[0-9]+)*\Z")


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_value(name: str, field: Field, value, label: str, now: datetime) -> list[Violation]:
    """The type and format rules of one present, non-blank value."""
    kind = field.kind
    if kind == BOOL:
        return [] if isinstance(value, bool) else [Violation(name, "invalid", f"{label} must be true or false.")]
    if kind == LIST:
        return []  # checked item by item by the caller
    if kind == YEAR:
        # "Number, 1000-9999"; the document's JSON example sends "2014" as text: both are taken.
        text = str(value).strip()
        if isinstance(value, (bool, float)) or not (isinstance(value, (int, str)) and text.isascii()
                                                      and text.isdigit() and 1000 <= int(text) <= 9999):
            return [Violation(name, "invalid", f"{label} must be a year from 1000 to 9999.")]
        return []
    if not isinstance(value, str):
        # The schema types every other field as text (a string in JSON): 100 is not "100".
        return [Violation(name, "not_a_string", f"{label} must be a JSON string, not {value!r}.")]
    text = value
    if field.max_length and len(text) > field.max_length:
        return [Violation(name, "max_length",
                          f"{label} is {len(text)} characters long; Aimbase takes at most {field.max_length}.")]
    if kind in (LEAD_DATE, DATE, "datetime"):
        return _check_moment(name, kind, text, label, now)
    checks = {
        GUID: (_GUID.match, "a GUID"),
        YN: ({"Y", "N"}.__contains__, "Y or N"),
        CONDITION: ({"N", "U", "S"}.__contains__, "N (new), U (used) or S (showroom)"),
        ID_LIST: (_ID_LIST.match, "Aimbase ids separated by commas (such as 12,345), with no spaces or empty items"),
        IP: (is_ip_literal, "an IPv4 or IPv6 address"),
        EMAIL: (is_email_address, "an e-mail address with no spaces around it"),
    }
    if kind in checks:
        test, wanted = checks[kind]
        if not test(text):
            return [Violation(name, "invalid", f"{label} must be {wanted}; got {text[:60]!r}.")]
    return []


def _check_moment(name: str, kind: str, text: str, label: str, now: datetime) -> list[Violation]:
    """A date (and time, and offset) that exists, with an offset within ±14:00, and
    not later than now (a lead or opt-in date ahead is a clock or time-zone error)."""
    pattern, wanted = {LEAD_DATE: (_LEAD_DATE, "a date YYYY-MM-dd with an optional time and ±hh:mm offset"),
                       DATE: (_DATE, "a date yyyy-MM-dd"),
                       "datetime": (_DATETIME, "a date and time (ISO 8601)")}[kind]
    match = pattern.match(text)
    moment = _moment(match) if match else None
    if moment is None:
        return [Violation(name, "invalid", f"{label} must be {wanted} that exists; got {text[:60]!r}.")]
    if isinstance(moment, str):
        return [Violation(name, "invalid_offset", f"{label}: {moment}; got {text[:60]!r}.")]
    if kind == DATE:
        # A date has no zone: it may be today anywhere on Earth, up to 14 hours ahead of UTC.
        if moment.date() > (now + MAX_OFFSET).date():
            return [Violation(name, "in_the_future", f"{label} {text!r} is in the future: a clock or "
                                                     "time-zone error.")]
        return []
    if moment > now + FUTURE_SLACK:
        return [Violation(name, "in_the_future", f"{label} {text!r} is in the future: a clock or time-zone "
                                                 "error (give the offset it was taken in).")]
    return []


def _moment(match) -> datetime | str | None:
    """The matched date/time as an aware datetime (no offset: UTC, no time: midnight),
    a reason when the offset is out of range, or None when no such date or time exists."""
    try:
        day = date.fromisoformat(match["date"])
        clock = (match.groupdict().get("time") or "00:00")
        parts = clock.split(":")
        hour, minute = int(parts[0]), int(parts[1])
        second = float(parts[2]) if len(parts) > 2 else 0.0
        if not (hour < 24 and minute < 60 and second < 60):
            return None
        moment = datetime(day.year, day.month, day.day, hour, minute, int(second), tzinfo=timezone.utc)
    except ValueError:
        return None
    offset = match.groupdict().get("offset")
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        delta = timedelta(hours=hours, minutes=minutes)
        if minutes >= 60 or delta > MAX_OFFSET:
            return "the offset must be within -14:00 and +14:00"
        moment -= sign * delta
    return moment




def _check_record(record, table: dict[str, Field], prefix: str, now: datetime) -> list[Violation]:
    """Required, unknown, type and length rules of one object against its table."""
    if not isinstance(record, dict):
        where = prefix.rstrip(".")
        return [Violation(where, "invalid", f"{where or 'The lead'} must be an object.")]
    found = []
    for key in record:
        if key not in table:
            found.append(Violation(prefix + key, "unknown_field",
                                   f"{prefix}{key} is not a field of Aimbase's schema (names are case-sensitive)."))
    for name, field in table.items():
        value = record.get(name)
        label = prefix + name
        if _blank(value):
            if field.required:
                found.append(Violation(label, "required", f"{label} is required by Aimbase."))
            continue
        found += _check_value(label, field, value, label, now)
    return found


def lead_violations(lead: dict, *, now: datetime | None = None) -> list[Violation]:
    """Every rule of the Lead Data Schema one lead breaks (field names as sent);
    `now`: what a future date is measured against (default: now)."""
    now = now or datetime.now(timezone.utc)
    found = _check_record(lead, LEAD_FIELDS, "", now)
    if not isinstance(lead, dict):
        return found
    for list_name, (item_name, table) in LIST_ITEMS.items():
        items = lead.get(list_name)
        if items is None:
            continue
        if not isinstance(items, list):
            found.append(Violation(list_name, "invalid", f"{list_name} must be a list of {item_name} objects."))
            continue
        for index, item in enumerate(items):
            found += _check_record(item, table, f"{list_name}[{index}].", now)
    code = lead.get("CountryCode")
    if isinstance(code, str) and code.strip() and not _is_iso_country(code):
        found.append(Violation("CountryCode", "invalid",
                               f"CountryCode {code!r} is not an ISO two-letter country code (upper case)."))
    if lead.get("IsCommunicationOptIn") is True:
        for name in OPT_IN_REQUIRES:
            if _blank(lead.get(name)):
                found.append(Violation(name, "required_for_opt_in",
                                       f"{name} is required when IsCommunicationOptIn is true."))
    return found


def _is_iso_country(code: str) -> bool:
    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


def batch_violations(leads) -> list[list[Violation]]:
    """One list per lead of a batch (a JSON array of leads)."""
    return [lead_violations(lead) for lead in leads]


def disposition_violations(activity: dict, *, now: datetime | None = None) -> list[Violation]:
    """The rules of one ProspectActivity (aimbase-related-apis.md, Lead Disposition API)."""
    found = _check_record(activity, DISPOSITION_FIELDS, "", now or datetime.now(timezone.utc))
    if not isinstance(activity, dict):
        return found
    entry_type = activity.get("EntryType")
    if isinstance(entry_type, str) and entry_type and entry_type not in ENTRY_TYPES:
        found.append(Violation("EntryType", "invalid_choice",
                               f"EntryType {entry_type!r} is not one of {', '.join(ENTRY_TYPES)}."))
    return found
