"""Aimbase messages: a LeadHub lead -> a Lead API lead (JSON or XML), the Lead
API's per-lead answers, and the Disposition API's ProspectActivity.

Pure functions apart from build_lead reading the lead's related rows. XML is
built with the standard library (building is safe) and parsed only with
defusedxml, which refuses entity expansion (the "billion laughs" bomb), external
entities and DTDs (GUIDE: "XML from or to Aimbase: parse with defusedxml").
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # noqa: S405 - building only; parsing goes through defusedxml
from dataclasses import dataclass, field
from datetime import timezone as dt_timezone

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from apps.core.violations import Violation

from . import rules

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
ET.register_namespace("xsi", XSI)
ET.register_namespace("xsd", XSD)

# Account options whose value is a Lead API field sent with every lead (constants
# the manufacturer issues: "A valid Lead Source's Name in the system"...).
OPTION_FIELDS = {"lead_source": "LeadSourceName", "lead_type": "LeadTypeName", "lead_category": "LeadCategoryName",
                 "campaign": "LeadCampaignName", "brands": "Brands", "dealer_ids": "DealerIds",
                 "product_ids": "ProductIds", "list_codes": "ListCodes"}
BOOL_FIELDS = {name for name, f in rules.LEAD_FIELDS.items() if f.kind == rules.BOOL}
# A LeadHub follow-up kind -> the Disposition API's activity (aimbase-related-apis.md:
# "Email, Call, Text, Note, Appointment, Quote"). A visit is an appointment kept
# in person; LeadHub's kinds are a fixed list, so the mapping is code, not data.
FOLLOWUP_ACTIVITY = {"call": "Call", "email": "Email", "text": "Text", "visit": "Appointment",
                     "appointment": "Appointment", "quote": "Quote", "note": "Note"}


class ResponseUnreadable(Exception):
    """A Lead API answer LeadHub cannot read (malformed, truncated, unsafe XML)."""


# --------------------------------------------------------------------------------------
# Lead -> Lead API lead
# --------------------------------------------------------------------------------------

def external_id(lead, options: dict) -> str:
    """ExternalId: "The unique identifier for a lead that matches a unique
    identifier in an external system" -- LeadHub's lead id, behind the
    account's optional prefix."""
    return f"{options.get('external_id_prefix', '')}{lead.pk}"


def _text(value) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def build_lead(lead, options: dict) -> tuple[dict, list[Violation]]:
    """The Lead API record for `lead` and the rules it breaks.

    Layers, later wins: the account's constants (OPTION_FIELDS, one Dealers
    entry from dealer_number/dealer_location/dealer_name), the lead's columns,
    then lead.submission_extras["aimbase"] (any schema field by its Aimbase name,
    for values LeadHub has no column for: Products, WorkPhone, EventName...).
    LeadApiIdentifier is not set here: it is chosen per request by the adapter.
    """
    payload: dict = {}
    for option, name in OPTION_FIELDS.items():
        if _text(options.get(option)):
            payload[name] = _text(options.get(option))
    for name in ("DealerIds", "ProductIds"):
        if name in payload:
            # A dealer admin types "12, 345"; Aimbase's list is "12,345" (an empty
            # item or another delimiter stays, for the rules to refuse).
            payload[name] = ",".join(part.strip() for part in payload[name].split(","))
    if _text(options.get("dealer_number")):
        dealer = {"DealerNumber": _text(options["dealer_number"])}
        for option, name in (("dealer_location", "DealerLocation"), ("dealer_name", "DealerName")):
            if _text(options.get(option)):
                dealer[name] = _text(options[option])
        payload["Dealers"] = [dealer]
    country = str(lead.country) if lead.country else (_text(options.get("default_country")) or "")
    created = lead.created_at.astimezone(dt_timezone.utc)
    columns = {
        "ExternalId": external_id(lead, options),
        # UTC with its offset: "DateTime Offset passed should account for daylight
        # savings time" -- +00:00 never has any.
        "LeadDate": created.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "FirstName": _text(lead.first_name), "LastName": _text(lead.last_name),
        "Address1": _text(lead.address1), "Address2": _text(lead.address2), "City": _text(lead.city),
        "State": _text(lead.state_province), "PostalCode": _text(lead.postal_code),
        "CompanyName": _text(lead.company), "Email": _text(lead.email),
        "CountryCode": country.upper() or None,
        "Country": lead.country.name if lead.country else None,
        "HomePhone": _text(lead.phone), "MobilePhone": _text(lead.mobile_phone),
        "ProspectExternalId": _text(lead.customer_number),
        "Comment": _text(lead.comments),
        # Required by the table; a customer never asked has not opted in.
        "IsCommunicationOptIn": lead.opt_in_email is True,
        "SMSOptIn": lead.opt_in_sms,
        "Medium": _text(lead.utm_medium), "Term": _text(lead.utm_term), "Content": _text(lead.utm_content),
    }
    if lead.opt_in_email is True:
        # "This field is required if IsCommunicationOptIn is true": sent only then.
        columns["CommunicationOptInIpAddress"] = _text(lead.ip_address)
        columns["CommunicationOptInDate"] = lead.created_at.date().isoformat()
        columns["CommunicationOptInSource"] = _text(options.get("opt_in_source")) or _text(lead.source)
    payload.update({k: v for k, v in columns.items() if v is not None})
    customs = [{"FieldName": name, "FieldValue": value} for name, value in (
        # The schema has UTM Medium/Term/Content only; source and campaign travel as
        # customs ("the field name and value will be added to the lead's generic metadata").
        ("UtmSource", _text(lead.utm_source)), ("UtmCampaign", _text(lead.utm_campaign)),
        ("ProductInterest", _text(lead.product_interest)), ("Brand", _text(lead.brand)),
    ) if value]
    extras = dict((lead.submission_extras or {}).get("aimbase") or {})
    customs += list(extras.pop("Customs", None) or [])
    if customs:
        payload["Customs"] = customs
    payload.update(extras)
    if payload.get("IsCommunicationOptIn") is not True:
        # Not opted in (the extras may say so too): the opt-in proofs are not sent
        # at all, absent as every other empty value.
        for name in rules.OPT_IN_REQUIRES:
            payload.pop(name, None)
    return payload, [_with_hint(v, extras) for v in rules.lead_violations(payload)]


# Where a dealer fixes a field LeadHub fills from a lead column (or an account setting).
LEAD_COLUMN_FOR = {
    "FirstName": "first name", "LastName": "last name", "Address1": "address 1", "Address2": "address 2",
    "City": "city", "State": "state/province (a code of at most 3 letters)", "PostalCode": "postal code",
    "CompanyName": "company", "Email": "email", "CountryCode": "country", "HomePhone": "phone",
    "MobilePhone": "mobile phone", "ProspectExternalId": "dealer customer number", "Comment": "comments",
    "CommunicationOptInIpAddress": "IP address", "CommunicationOptInSource": "source", "Medium": "UTM medium",
    "Term": "UTM term", "Content": "UTM content",
}
ACCOUNT_SETTING_FOR = {name: option for option, name in OPTION_FIELDS.items()}


def _with_hint(violation: Violation, extras: dict) -> Violation:
    """The rule's message plus where in LeadHub the value comes from."""
    name = violation.field
    if name in extras or name not in LEAD_COLUMN_FOR and name not in ACCOUNT_SETTING_FOR:
        return violation
    where = (f"the lead's {LEAD_COLUMN_FOR[name]}" if name in LEAD_COLUMN_FOR
             else f"the account's {ACCOUNT_SETTING_FOR[name]} setting")
    return Violation(name, violation.code, f"{violation.message} (LeadHub: {where}.)")


# --------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------

def to_json(leads: list[dict]) -> bytes:
    return json.dumps(leads, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_xml(leads: list[dict]) -> bytes:
    """<Leads><Lead>...</Lead></Leads> as in the document's "XML Example Post";
    None becomes xsi:nil="true", lists nest as Dealers/Dealer, Products/Product,
    Customs/Custom."""
    root = ET.Element("Leads")
    root.set("xmlns:xsd", XSD)  # as the example writes it (xsi is declared by its use)
    for lead in leads:
        element = ET.SubElement(root, "Lead")
        for name, value in lead.items():
            child = ET.SubElement(element, name)
            if value is None:
                child.set(f"{{{XSI}}}nil", "true")
            elif name in rules.LIST_ITEMS and isinstance(value, list):
                item_name = rules.LIST_ITEMS[name][0]
                for item in value:
                    node = ET.SubElement(child, item_name)
                    for key, sub in (item or {}).items():
                        ET.SubElement(node, key).text = _scalar(sub) if sub is not None else None
            else:
                child.text = _scalar(value)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def safe_xml(body: bytes):
    """The root element of an XML body, parsed with defusedxml; ResponseUnreadable
    for malformed XML and for what defusedxml refuses (DTDs, entities)."""
    try:
        return safe_fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ResponseUnreadable(f"unsafe XML refused ({exc.__class__.__name__})") from None
    except ET.ParseError as exc:
        raise ResponseUnreadable(f"not well-formed XML ({exc})") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_value(node, name: str | None = None):
    if node.get(f"{{{XSI}}}nil") == "true":
        return None
    if name in rules.LIST_ITEMS:
        return [{_local(c.tag): (c.text or "") for c in item} for item in node]
    if name in BOOL_FIELDS and node.text is not None:
        return {"true": True, "false": False}.get(node.text.strip().lower(), node.text)
    return node.text if node.text is not None else ""


def leads_from_xml(body: bytes) -> list[dict]:
    """A Lead API XML request body as a list of dicts (the sandbox reads with it)."""
    root = safe_xml(body)
    if _local(root.tag) != "Leads":
        raise ResponseUnreadable(f"expected <Leads>, got <{_local(root.tag)}>")
    return [{_local(child.tag): _xml_value(child, _local(child.tag)) for child in lead}
            for lead in root if _local(lead.tag) == "Lead"]


# --------------------------------------------------------------------------------------
# Lead API answers
# --------------------------------------------------------------------------------------

@dataclass
class LeadResponse:
    """A 201's content: TopLevelError, and one record per lead in submission order."""

    top_level_error: str | None
    records: list[dict] = field(default_factory=list)


def _record(data: dict) -> dict:
    messages = data.get("Messages") or []
    if not isinstance(messages, list):
        raise ResponseUnreadable("Messages is not a list")
    return {"LeadApiIdentifier": data.get("LeadApiIdentifier"), "Id": data.get("Id"),
            "Status": data.get("Status"), "StatusMessage": data.get("StatusMessage"),
            "Messages": [{"Field": m.get("Field"), "Message": m.get("Message")} for m in messages
                         if isinstance(m, dict)]}


def parse_lead_response(body: bytes) -> LeadResponse:
    """Read a Lead API answer, JSON ({"TopLevelError", "LeadResponseRecords"}) or
    XML (<Leads><Lead><Id/><Status/>... as in "Sample Success Response", plus an
    optional <TopLevelError>). Raises ResponseUnreadable."""
    text = body.lstrip()
    if text.startswith(b"<"):
        root = safe_xml(body)
        if _local(root.tag) not in ("Leads", "LeadResponse"):
            raise ResponseUnreadable(f"unexpected XML root <{_local(root.tag)}>")
        top = None
        records = []
        for child in root.iter():
            name = _local(child.tag)
            if name == "TopLevelError" and child.get(f"{{{XSI}}}nil") != "true" and (child.text or "").strip():
                top = child.text.strip()
            elif name == "Lead":
                data = {_local(c.tag): c.text for c in child if _local(c.tag) != "Messages"}
                messages = [m for c in child if _local(c.tag) == "Messages" for m in c]
                data["Messages"] = [{_local(c.tag): c.text for c in m} for m in messages]
                records.append(_record(data))
        return LeadResponse(top, records)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResponseUnreadable(f"not JSON ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("LeadResponseRecords") or [], list):
        raise ResponseUnreadable(f"expected an object with LeadResponseRecords, got {str(data)[:200]}")
    top = data.get("TopLevelError")
    records = [_record(r) for r in data.get("LeadResponseRecords") or [] if isinstance(r, dict)]
    return LeadResponse(str(top) if top not in (None, "") else None, records)


def response_to_json(response: LeadResponse) -> bytes:
    return json.dumps({"TopLevelError": response.top_level_error, "LeadResponseRecords": response.records},
                      ensure_ascii=False).encode("utf-8")


def response_to_xml(response: LeadResponse) -> bytes:
    root = ET.Element("Leads")
    if response.top_level_error:
        ET.SubElement(root, "TopLevelError").text = response.top_level_error
    for record in response.records:
        lead = ET.SubElement(root, "Lead")
        for name in ("Id", "Status", "StatusMessage"):
            if record.get(name) is not None:
                ET.SubElement(lead, name).text = str(record[name])
        messages = ET.SubElement(lead, "Messages")
        for message in record.get("Messages") or []:
            node = ET.SubElement(messages, "Message")
            ET.SubElement(node, "Field").text = message.get("Field")
            ET.SubElement(node, "Message").text = message.get("Message")
        ET.SubElement(lead, "LeadApiIdentifier").text = record.get("LeadApiIdentifier")
    return b'<?xml version="1.0"?>' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def record_message(record: dict) -> str:
    """A Failure record as one line: its StatusMessage and each field's message."""
    parts = [f"{m.get('Field') or 'lead'}: {m.get('Message')}" for m in record.get("Messages") or []]
    head = record.get("StatusMessage") or record.get("Status") or "Failure"
    return f"{head}: " + "; ".join(parts) if parts else str(head)


# --------------------------------------------------------------------------------------
# Disposition API
# --------------------------------------------------------------------------------------

def build_activity(*, at, entry_type: str, detail: str, user: str, lead_id, aimbase_id: str,
                   detail_from: str = "") -> tuple[dict, list]:
    """A ProspectActivity: PCHProspectId is the CRM's (LeadHub's) lead id,
    SourceProspectId the lead's Id in Aimbase (docs/vendors/aimbase.md).

    EntryDetail is sent as it is: one over 50 characters is a violation (the
    activity is blocked and the message shown on the lead), never cut, since a
    cut "Old Stage: New Stage" or name would tell Aimbase something else.
    `detail_from` names where LeadHub took it, added to that message.
    DealershipUser (who did it, a label) is cut to 50."""
    activity = {"EntryDate": at.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "EntryType": entry_type, "EntryDetail": detail, "DealershipUser": (user or "")[:50] or None,
                "PCHProspectId": str(lead_id), "SourceProspectId": str(aimbase_id)}
    activity = {k: v for k, v in activity.items() if v is not None}
    problems = rules.disposition_violations(activity)
    if detail_from:
        problems = [Violation(v.field, v.code, f"{v.message} (LeadHub: {detail_from}.)") if v.field == "EntryDetail"
                    else v for v in problems]
    return activity, problems
