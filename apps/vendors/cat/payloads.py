"""Cat payloads, both ways.

Inbound: one object of a GET /leads (or /historic) response -> Lead columns. The
whole object is also kept as the lead's raw_payload, so nothing Cat sends is
lost, mapped or not.

Outbound: a lead and the status change being reported -> one item of the POST
/leads array, built from the dealer's mappings ("Dealer Mapping: Rejection
Reason, Disqualification Reason, Closed Lost Reason, Sales Stage") and checked
by rules.validate_update, the same function the form and validate_payload use.
"""
from __future__ import annotations

import functools
import zoneinfo

from datetime import datetime
from decimal import Decimal

from django.utils import timezone
from django_countries import countries

from apps.core.violations import Violation

from . import rules

# Cat GET field -> Lead column (document: "Response JSON - Leads object").
INBOUND_COLUMNS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "company": "company",
    "emailAddress": "email",
    "businessPhone": "phone",
    "mobilePhone": "mobile_phone",
    "address1": "address1",
    "address2": "address2",
    "city": "city",
    "stateOrProvince": "state_province",
    "zipOrPostal": "postal_code",
    "productOfInterest": "product_interest",
    "catCampaignMostRecent": "campaign",
    "leadSourceMostRecent": "source",
}
COLUMN_MAX = {"first_name": 80, "last_name": 80, "company": 255, "email": 254, "phone": 255, "mobile_phone": 255,
              "address1": 255, "address2": 255, "city": 100, "state_province": 255, "postal_code": 20,
              "product_interest": 1000, "campaign": 255, "source": 255}
# The fields Cat may change on an UPDATED lead (11/30/2020: "As of now, only one
# field catPrequalificationStatus will get updated"). Any other change is kept in
# raw_payload and listed on the timeline, but never overwrites dealer columns.
UPDATABLE_FIELDS = ("catPrequalificationStatus",)


def inbound_columns(item: dict) -> tuple[dict, list[str]]:
    """Lead column values for one Cat lead, and notes on anything that needs review."""
    values, notes = {}, []
    for cat_field, column in INBOUND_COLUMNS.items():
        raw = item.get(cat_field)
        if raw is None:
            continue
        text = str(raw).strip()
        if len(text) > COLUMN_MAX[column]:
            notes.append(f"{cat_field} longer than {COLUMN_MAX[column]} characters; the full value is in the raw payload")
            text = text[:COLUMN_MAX[column]]
        values[column] = text
    if values.get("email") and "@" not in values["email"]:
        notes.append(f"emailAddress {values['email']!r} is not an e-mail address")
        values.pop("email")
    if not values.get("product_interest"):
        fallback = item.get("productOfInterestList") or item.get("systemModel") or ""
        values["product_interest"] = str(fallback).strip()[:1000]
    values["brand"] = "Cat"
    code = str(item.get("countryCode") or "").strip().upper()
    if code:
        if code in _country_codes():
            values["country"] = code
        else:
            notes.append(f"countryCode {code!r} is not an ISO country code")
    created = parse_datetime(item.get("dateCreated"))
    if created is not None:
        values["vendor_created_at"] = created
    elif item.get("dateCreated"):
        notes.append(f"dateCreated {item.get('dateCreated')!r} is not a date-time")
    return values, notes


@functools.cache
def _country_codes() -> frozenset[str]:
    # `code in countries` translates the whole list on every call (it was 1/10
    # of a pull's row preparation); the codes themselves never change.
    return frozenset(code for code, _ in countries)


def parse_datetime(value) -> datetime | None:
    """Cat's dateTime "2020-04-19T20:31:04+00:00" (also tolerates the China-lead
    sample's "2020-01-23 T20:31:04+00:00" and a plain date)."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace(" T", "T").replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_fixed_timezone(0))
    return parsed


# ---------------------------------------------------------------------------------------
# Outbound
# ---------------------------------------------------------------------------------------

LEAD_STATUS_FOR = {
    "accepted": rules.ACCEPTED, "closed_won": rules.ACCEPTED, "closed_lost": rules.ACCEPTED,
    "closed_no_deal": rules.ACCEPTED, "rejected": rules.REJECTED, "disqualified": rules.DISQUALIFIED,
}
CLOSED = ("closed_won", "closed_lost", "closed_no_deal")

# Which LeadHub field a Cat payload field comes from, so a form shows Cat's rule
# on the field the person must fill.
FORM_FIELD_FOR = {
    "dealerCustomerNumber": "customer_number", "opportunityAmount": "opportunity_amount",
    "targetDate": "target_date", "probabilityOfClosurePercentage": "probability", "rating": "rating",
    "quoteId": "quote_id", "quoteSentDate": "quote_sent_date", "currencyIsoCode": "currency",
    "rejectedReasonWhy": "reason", "disqualifiedReasonWhy": "reason", "primaryClosedReason": "reason",
    "rejectedReasonComments": "comment", "disqualifiedReasonComments": "comment",
    "closedReasonComments": "comment", "comments": "comment", "dealerSalesRep": "owner",
    "dealerSalesRepNumber": "owner", "customerContacted": "customer_contacted",
    "dateContacted": "customer_contacted", "customerPreviouslyKnown": "customer_previously_known",
    "dealerOpportunityId": "stage",
}


def dealer_lead_id(lead) -> str:
    return f"LH-{lead.pk}"


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("Yes" if value else "No")


def _json_amount(amount: Decimal | None):
    """A JSON number for opportunityAmount (Decimal 16,2); exact, or None if not representable."""
    if amount is None:
        return None
    as_float = float(amount)
    return as_float if Decimal(repr(as_float)) == amount else None


def build_update(*, lead, to_status: str, reason=None, stage=None, comment: str = "", actor=None,
                 at: datetime | None = None, rep_cache: dict | None = None) -> tuple[dict | None, list[Violation]]:
    """The Cat update reporting that `lead` moved to `to_status`, or (None, []) when
    Cat is not told about this status (New, On hold: Cat has no such value).

    Returns (payload, violations): "unmapped" violations mean the dealer admin must
    map a reason or stage before the update can go; the others are Cat's rules.
    `rep_cache`: sales rep numbers already looked up, by (user id, dealer id) (an
    adapter keeps one for its lifetime, so a bulk import asks once per owner).
    """
    if to_status not in LEAD_STATUS_FOR:
        return None, []
    problems: list[Violation] = []
    owner = lead.owner or actor
    rep_name, rep_number = _sales_rep(owner, lead.dealer_id, rep_cache)
    payload: dict = {
        "leadId": lead.vendor_lead_id,
        "dealerLeadId": dealer_lead_id(lead),
        "leadStatus": LEAD_STATUS_FOR[to_status],
        "dealerSalesRep": rep_name,
        "dealerSalesRepNumber": rep_number,
        "currencyIsoCode": lead.currency or lead.dealer.default_currency,
    }
    if lead.customer_previously_known is not None:
        payload["customerPreviouslyKnown"] = _yes_no(lead.customer_previously_known)
    if lead.customer_contacted is not None:
        payload["customerContacted"] = _yes_no(lead.customer_contacted)
        if lead.customer_contacted:
            contacted = lead.first_contacted_at or at or timezone.now()
            payload["dateContacted"] = timezone.localtime(contacted, _zone(lead)).date().isoformat()

    text = (comment or "").strip()
    if to_status in ("rejected", "disqualified"):
        prefix = "rejectedReason" if to_status == "rejected" else "disqualifiedReason"
        payload[prefix + "Why"] = _mapped_reason(reason, problems, prefix + "Why")
        if text:
            payload[prefix + "Comments"] = text
    else:
        if to_status == "accepted" and stage is None and lead.sales_stage_id is None:
            if text:
                payload["comments"] = text
        else:
            _add_opportunity(payload, lead, to_status, stage or lead.sales_stage, problems)
            if to_status in CLOSED:
                _add_closing(payload, lead, to_status, reason, text, problems)
            elif text:
                payload["comments"] = text
    payload = {k: v for k, v in payload.items() if v is not None and v != ""}
    unmapped = {v.field for v in problems if v.code == "unmapped"}
    # A field left out because its mapping is missing is reported once, as unmapped.
    problems += [v for v in rules.validate_update(payload) if v.field not in unmapped]
    return payload, problems


def _zone(lead):

    return zoneinfo.ZoneInfo(lead.dealer.time_zone)


def _sales_rep(user, dealer_id, cache: dict | None = None) -> tuple[str | None, str | None]:
    if user is None:
        return None, None
    key = (user.pk, dealer_id)
    if cache is None or key not in cache:
        membership = user.memberships.filter(dealer_id=dealer_id).first()
        number = (membership.sales_rep_number if membership else "") or user.get_username()
        if cache is None:
            cache = {}
        cache[key] = number
    # Cut to the table's lengths (dealerSalesRep 50, dealerSalesRepNumber 100), then
    # stripped: a cut that ends on a space must not make the update refusable.
    name = (user.get_full_name() or user.get_username())[:50].strip()
    return name, cache[key][:100].strip()


def _mapped_reason(reason, problems, cat_field) -> str | None:
    if reason is None:
        return None
    mapping = reason.mappings.filter(vendor="cat").first()
    if mapping is None:
        problems.append(Violation(cat_field, "unmapped",
                                  f"The reason '{reason.label}' has no Cat mapping; a dealer admin must map it to "
                                  f"a Cat {cat_field} value before this update can be sent."))
        return None
    return mapping.vendor_value


def _add_opportunity(payload, lead, to_status, stage, problems) -> None:
    payload["dealerOpportunityId"] = dealer_lead_id(lead)
    payload["opportunityAmount"] = _json_amount(lead.opportunity_amount)
    if lead.opportunity_amount is not None and payload["opportunityAmount"] is None:
        problems.append(Violation("opportunityAmount", "decimal_places",
                                  "The amount cannot be sent exactly: a JSON number carries 15 significant "
                                  "digits, so amounts of 10,000,000,000,000 or more must be whole units."))
    payload["targetDate"] = lead.target_date.isoformat() if lead.target_date else None
    payload["rating"] = lead.rating or None
    payload["quoteId"] = lead.quote_id or None
    payload["quoteSentDate"] = lead.quote_sent_date.isoformat() if lead.quote_sent_date else None
    if to_status == "closed_won":
        payload["probabilityOfClosurePercentage"] = 100
    elif to_status in ("closed_lost", "closed_no_deal"):
        payload["probabilityOfClosurePercentage"] = 0
    else:
        payload["probabilityOfClosurePercentage"] = _stage_probability(lead, stage, problems)


def _stage_probability(lead, stage, problems) -> int | None:
    """The dealer's stage mapped to a Cat stage: the lead's own probability, which
    must lie in the Cat stage's range (Caterpillar Opportunity Stages) — outside it
    the update is refused on the probability field, never sent with another number
    put in silently; a lead with no probability takes the mapping's, else the
    range's lowest."""
    if stage is None:
        return lead.probability
    mapping = stage.mappings.filter(vendor="cat").first()
    if mapping is None:
        problems.append(Violation("probabilityOfClosurePercentage", "unmapped",
                                  f"The sales stage '{stage.name}' has no Cat opportunity stage mapping; a dealer "
                                  "admin must map it before this update can be sent."))
        return None
    low, high = rules.probability_range(mapping.vendor_value)
    if lead.probability is not None:
        if not low <= lead.probability <= high:
            problems.append(Violation(
                "probabilityOfClosurePercentage", "out_of_range",
                f"Enter a probability from {low} to {high} %: Cat's stage '{mapping.vendor_value}' (the dealer's "
                f"'{stage.name}') takes no other; {lead.probability} % was given."))
        return lead.probability
    return mapping.probability if mapping.probability is not None else low


def _add_closing(payload, lead, to_status, reason, text, problems) -> None:
    payload["dealerCustomerNumber"] = lead.customer_number or None
    if to_status != "closed_won":
        payload["closedNoDeal"] = 1 if to_status == "closed_no_deal" else 0
    if reason is not None:
        payload["primaryClosedReason"] = _mapped_reason(reason, problems, "primaryClosedReason")
    if text:
        payload["closedReasonComments"] = text
