"""A LeadHub lead -> the CAP Gateway submission (the document's example payload),
checked by rules.validate_submission with the account's campaign requirements."""
from __future__ import annotations

import uuid
from datetime import timezone as dt_timezone

from apps.core.violations import Violation

from . import rules

# Payload path -> the lead's field a dealer fixes (violations are shown on the lead).
LEAD_FIELD_FOR = {
    "metadata.enquiryDateTime": "created_at",
    "metadata.ipAddress": "ip_address",
    "metadata.enquirySource.acquisitionChannel": "source",
    "contactDetail.firstName": "first_name",
    "contactDetail.lastName": "last_name",
    "contactDetail.emailAddress": "email",
    "contactDetail.phoneNumber": "phone",
    "contactDetail.address.postcode": "postal_code",
    "optInConsents.PhoneCall": "opt_in_phone",
    "optInConsents.Post": "opt_in_post",
    "optInConsents.Email": "opt_in_email",
    "optInConsents.Sms": "opt_in_sms",
    "vehicle.name": "product_interest",
}
ACCOUNT_SETTING_FOR = {"metadata.campaignId": "campaign_id", "metadata.enquiryType": "enquiry_type"}


def enquiry_datetime(value) -> str:
    """UTC, ISO 8601, to the second, "T" between date and time, no offset (as the
    document's example)."""
    return value.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def vehicle_name(lead) -> str:
    """"Name of the vehicle the user is interested in", e.g. "Audi Q6 e-tron": the
    brand is put in front of the product when the product does not name it."""
    product, brand = (lead.product_interest or "").strip(), (lead.brand or "").strip()
    if brand and product and not product.lower().startswith(brand.lower()):
        return f"{brand} {product}"
    return product or brand


def _phone(lead) -> str | None:
    for number in (lead.phone, lead.mobile_phone):
        if number and number.strip():
            return rules.clean_phone(number)
    return None


def _text(value) -> str | None:
    value = (value or "").strip()
    return value or None


def _campaign(value) -> str | None:
    """The account's campaign GUID in the document's form (8-4-4-4-12): a GUID typed
    without hyphens, in braces or as a urn is the same GUID; anything else is sent
    to the rules as typed, which refuse it naming the account setting."""
    text = _text(value)
    if text is None:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


def build_submission(lead, options: dict) -> tuple[dict, list[Violation]]:
    """The payload submitting `lead`, and CAP's rules it breaks. `options`: the
    account's non-secret settings (campaign_id, enquiry_type, acquisition_channel,
    required_fields). A lead's own enquiry type wins over the account's:
    lead.submission_extras["cap"]["enquiryType"]."""
    extras = (lead.submission_extras or {}).get("cap") or {}
    payload = {
        "metadata": {
            "campaignId": _campaign(options.get("campaign_id")),
            "enquiryDateTime": enquiry_datetime(lead.created_at),
            "externalReferenceId": str(lead.pk),
            "enquiryType": _text(extras.get("enquiryType")) or _text(options.get("enquiry_type")),
            "ipAddress": lead.ip_address or None,
            "enquirySource": {"acquisitionChannel": _text(lead.utm_source) or _text(lead.source)
                              or _text(options.get("acquisition_channel"))},
        },
        "contactDetail": {
            "firstName": _text(lead.first_name),
            "lastName": _text(lead.last_name),
            "emailAddress": _text(lead.email),
            "phoneNumber": _phone(lead),
            "address": {"postcode": _text(lead.postal_code)},
        },
        "optInConsents": {"PhoneCall": lead.opt_in_phone, "Post": lead.opt_in_post, "Email": lead.opt_in_email,
                          "Sms": lead.opt_in_sms},
        "vehicle": {"name": _text(vehicle_name(lead))},
    }
    required, unknown = rules.parse_required_fields(options.get("required_fields", ""))
    problems = [Violation("required_fields", "unknown_field",
                          f"The account's required_fields names {name!r}, which CAP submissions do not have "
                          f"(known: {', '.join(rules.REQUIRABLE)}).") for name in unknown]
    problems += [_for_dealer(v) for v in rules.validate_submission(payload, required=required)]
    return payload, problems


def _for_dealer(violation: Violation) -> Violation:
    """Name the lead's field (or the account setting) the dealer has to fix."""
    where = LEAD_FIELD_FOR.get(violation.field)
    if where:
        return Violation(where, violation.code, f"CAP: {violation.message} (lead field: {where})")
    setting = ACCOUNT_SETTING_FOR.get(violation.field)
    if setting:
        return Violation(violation.field, violation.code,
                         f"CAP: {violation.message} (account setting: {setting})")
    return Violation(violation.field, violation.code, f"CAP: {violation.message}")
