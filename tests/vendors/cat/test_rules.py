"""Caterpillar PP+ Lead API V2 outbound-update rules (apps/vendors/cat/rules.py).

Pure Python, no Django. Each case is named for the behaviour it pins and asserts
the exact (field, code) pairs validate_update produces. The document's samples
appear twice: as printed (their quirks must be reported) and corrected per the
decisions in docs/vendors/cat.md (they must be valid).
"""
from __future__ import annotations

import ast
import math
from decimal import Decimal
from pathlib import Path

import pytest

from apps.core.violations import Violation
from apps.vendors.cat import rules
from apps.vendors.cat.rules import (
    CLOSED_REASONS,
    DISQUALIFICATION_REASONS,
    DISQUALIFICATION_REASONS_REQUIRING_COMMENT,
    LEAD_STATUSES,
    MAX_LENGTHS,
    OPPORTUNITY_STAGES,
    POST_FIELDS,
    RATINGS,
    REJECTION_REASONS,
    REJECTION_REASONS_REQUIRING_COMMENT,
    RETIRED_FIELDS,
    YES_NO,
    is_opportunity,
    probability_range,
    required_fields,
    stage_for,
    validate_batch,
    validate_update,
)

DROP = object()  # marks a key to remove from a built payload

END_USER = "End-user, end-use or end-destination may be restricted"
BASE_REQUIRED = {"leadId", "dealerLeadId", "leadStatus", "dealerSalesRep", "dealerSalesRepNumber", "currencyIsoCode"}
OPP_REQUIRED = {"dealerOpportunityId", "opportunityAmount", "targetDate", "probabilityOfClosurePercentage"}


def lead(**changes):
    """A valid Accepted lead update (not an opportunity); keyword args override, DROP removes."""
    base = {
        "leadId": "00Q1W00001SmV5oUAF",
        "dealerLeadId": "A123VSDFDFF",
        "customerPreviouslyKnown": "Yes",
        "customerContacted": "No",
        "dealerSalesRep": "JOHN DOE",
        "dealerSalesRepNumber": "AB12496",
        "leadStatus": "Accepted",
        "currencyIsoCode": "USD",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


def rejected(reason="Bad Contact Information", **changes):
    return lead(leadStatus="Rejected", rejectedReasonWhy=reason, **changes)


def disqualified(reason="No budget", **changes):
    return lead(leadStatus="Disqualified", disqualifiedReasonWhy=reason, **changes)


def opportunity(probability, **changes):
    fields = {
        "dealerOpportunityId": "B23445232ASSDDV",
        "targetDate": "2021-09-23",
        "probabilityOfClosurePercentage": probability,
        "opportunityAmount": 1999.45,
        "rating": "High",
    }
    fields.update(changes)
    return lead(**fields)


def closed_won(**changes):
    return opportunity(100, **{"dealerCustomerNumber": "123433", **changes})


def closed_lost(**changes):
    fields = {
        "dealerCustomerNumber": "123433",
        "closedNoDeal": 0,
        "primaryClosedReason": "Competitive Financial (Term/Rates/Scope)",
    }
    return opportunity(0, **{**fields, **changes})


def closed_no_deal(**changes):
    return opportunity(0, **{"dealerCustomerNumber": "123433", "closedNoDeal": 1, **changes})


def pairs(violations):
    return sorted((v.field, v.code) for v in violations)


# --------------------------------------------------------------------------
# The document's samples
# --------------------------------------------------------------------------

# As printed (keys, values and types exactly as in the document; only the
# missing commas that made some of them invalid JSON are restored).
RAW_SAMPLES = {
    "rejected_no_comment": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFF", "customerPreviouslyKnown": "Yes",
        "customerContacted": "No", "dealerCustomerNumber": "A012CD", "leadStatus": "Rejected",
        "rejectedReasonWhy": "Bad Contact Information", "currencyIsoCode": "USD",
    },
    "rejected_with_comment": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "customerPreviouslyKnown": "Yes",
        "customerContacted": "No", "dealerCustomerNumber ": "A012CD", "leadStatus": "Rejected",
        "rejectedReasonWhy": " For Another Dealer ", "rejectedReasonComments": " Incorrectly routed to our dealership",
        "currencyIsoCode": "USD",
    },
    "rejected_with_comment_and_nulls": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "customerPreviouslyKnown": "Yes",
        "customerContacted": "No", "dealerCustomerNumber ": "123433", "dealerOpportunityId": None,
        "targetDate": None, "probabilityOfClosurePercentage": None, "rating": None, "dealerSalesRep": "JOHN DOE",
        "opportunityAmount": 0, "leadStatus": "Rejected", "rejectedReasonWhy": " For Another Dealer ",
        "rejectedReasonComments": " Incorrectly routed to our dealership", "currencyIsoCode": "USD", "comments": None,
    },
    "accepted": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "customerPreviouslyKnown": "Yes",
        "customerContacted": "Yes", "dateContacted": "2020-04-19", "dealerCustomerNumber ": "123433",
        "dealerSalesRep": "JOHN DOE", "leadStatus": "Accepted", "currencyIsoCode ": "CNY",
    },
    "disqualified_contacted": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "customerPreviouslyKnown": "Yes",
        "customerContacted": True, "dateContacted": "2020-04-19", "dealerCustomerNumber ": "123433",
        "dealerSalesRep": "JOHN DOE", "leadStatus": "Disqualified", "disqualifiedReasonWhy": "No budget",
        "currencyIsoCode ": "CNY",
    },
    "disqualified_with_nulls": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "customerPreviouslyKnown": "Yes",
        "customerContacted": "No", "dealerCustomerNumber ": "123433", "dealerOpportunityId": None,
        "targetDate": None, "probabilityOfClosurePercentage": None, "rating": None, "dealerSalesRep": "JOHN DOE",
        "opportunityAmount": 0, "leadStatus": "Disqualified", "currencyIsoCode": "USD",
        "disqualifiedReasonWhy": "No budget", "comments": None,
    },
    "disqualified_other": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "customerPreviouslyKnown": "Yes",
        "customerContacted": True, "dateContacted": "2020-04-19", "dealerCustomerNumber ": "123433",
        "dealerSalesRep": "JOHN DOE", "leadStatus": "Disqualified", "disqualifiedReasonWhy": "Other",
        "disqualifiedReasonComments": "After discussing with customer requirements\ncouldn't be met",
        "currencyIsoCode ": "CNY",
    },
    "qualification": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "dealerOpportunityId": "B23445232ASSDDV",
        "customerPreviouslyKnown": "Yes", "customerContacted": "No", "dealerCustomerNumber ": "123433",
        "targetDate": "2021-09-23", "probabilityOfClosurePercentage": 10, "rating": "Low",
        "dealerSalesRep": "JOHN DOE", "opportunityAmount": 1999.45, "leadStatus": " Accepted ",
        "currencyIsoCode": "USD",
    },
    "develop_solution": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "dealerOpportunityId": "B23445232ASSDDV",
        "customerPreviouslyKnown": "Yes", "customerContacted": "No", "dealerCustomerNumber ": "123433",
        "targetDate": "2021-09-23", "probabilityOfClosurePercentage": 35, "rating": "Medium",
        "dealerSalesRep": "JOHN DOE", "opportunityAmount": 1999.45, "leadStatus": " Accepted ",
        "currencyIsoCode": "USD",
    },
    "proposal_negotiation": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "dealerOpportunityId": "B23445232ASSDDV",
        "customerPreviouslyKnown": "Yes", "customerContacted": "No", "dealerCustomerNumber ": "123433",
        "targetDate": "2021-09-23", "probabilityOfClosurePercentage": 70, "rating": "High",
        "dealerSalesRep": "JOHN DOE", "opportunityAmount": 1999.45, "leadStatus": " Accepted",
        "quoteSentDate": "2020-08-18", "quoteId": "12AS223", "currencyIsoCode": "USD",
    },
    "closed_won": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "dealerOpportunityId": "B23445232ASSDDV",
        "customerPreviouslyKnown": "Yes", "customerContacted": "No", "dealerCustomerNumber": "123433",
        "targetDate": "2021-09-23", "probabilityOfClosurePercentage": 100, "rating": "High",
        "dealerSalesRep": "JOHN DOE", "opportunityAmount": 1999.45, "leadStatus": " Accepted",
        "quoteSentDate": "2020-08-18", "quoteId": "12AS223", "currencyIsoCode": "USD",
        "primaryClosedReason": "Warranty Term (Term/Rate/Scope)",
        "secondayClosedReason": "Deal was closed with additional discount",
        "closedReasonComments": "Customer negotiated for additional discount",
    },
    "closed_no_deal": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "dealerOpportunityId": "B23445232ASSDDV",
        "customerPreviouslyKnown": "Yes", "customerContacted": "No", "dealerCustomerNumber ": "123433",
        "targetDate": "2021-09-23", "probabilityOfClosurePercentage": 0, "rating": "low",
        "dealerSalesRep": "JOHN DOE", "opportunityAmount": 1999.45, "leadStatus": " Accepted",
        "currencyIsoCode": "USD", "closedNoDeal": 1, "quoteSentDate": "2020-08-18", "quoteId": "12AS223",
        "primaryClosedReason": "Products/Parts Not in Cat Network",
        "secondayClosedReason": "Products were not available within CAT Network\nsince they were discontinued",
    },
    "closed_lost": {
        "leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123VSDFDFF", "dealerOpportunityId": "B23445232ASSDDV",
        "customerPreviouslyKnown": "Yes", "customerContacted": "No", "dealerCustomerNumber ": "123433",
        "targetDate": "2019-09-23", "probabilityOfClosurePercentage": 0, "rating": "low",
        "dealerSalesRep": "JOHN DOE", "opportunityAmount": 1999.45, "leadStatus": " Accepted",
        "currencyIsoCode": "USD", "closedNoDeal": 0, "quoteSentDate": "2020-08-18", "quoteId": "12AS223",
        "primaryClosedReason": "Competitive Financial (Term/Rates/Scope)", "secondayClosedReason": "None",
    },
}

# What each printed sample gets wrong.
RAW_SAMPLE_VIOLATIONS = {
    "rejected_no_comment": [("dealerSalesRep", "required"), ("dealerSalesRepNumber", "required")],
    "rejected_with_comment": [
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRep", "required"),
        ("dealerSalesRepNumber", "required"),
        ("rejectedReasonComments", "surrounding_whitespace"),
        ("rejectedReasonWhy", "surrounding_whitespace"),
    ],
    "rejected_with_comment_and_nulls": [
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRepNumber", "required"),
        ("rejectedReasonComments", "surrounding_whitespace"),
        ("rejectedReasonWhy", "surrounding_whitespace"),
    ],
    "accepted": [
        ("currencyIsoCode", "required"),
        ("currencyIsoCode ", "unknown_field"),
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRepNumber", "required"),
    ],
    "disqualified_contacted": [
        ("currencyIsoCode", "required"),
        ("currencyIsoCode ", "unknown_field"),
        ("customerContacted", "invalid_type"),
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRepNumber", "required"),
    ],
    "disqualified_with_nulls": [("dealerCustomerNumber ", "unknown_field"), ("dealerSalesRepNumber", "required")],
    "disqualified_other": [
        ("currencyIsoCode", "required"),
        ("currencyIsoCode ", "unknown_field"),
        ("customerContacted", "invalid_type"),
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRepNumber", "required"),
    ],
    "qualification": [
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRepNumber", "required"),
        ("leadStatus", "surrounding_whitespace"),
    ],
    "develop_solution": [
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRepNumber", "required"),
        ("leadStatus", "surrounding_whitespace"),
    ],
    "proposal_negotiation": [
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRepNumber", "required"),
        ("leadStatus", "surrounding_whitespace"),
    ],
    "closed_won": [
        ("dealerSalesRepNumber", "required"),
        ("leadStatus", "surrounding_whitespace"),
        ("secondayClosedReason", "unknown_field"),
    ],
    "closed_no_deal": [
        ("dealerCustomerNumber", "required"),
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRepNumber", "required"),
        ("leadStatus", "surrounding_whitespace"),
        ("rating", "invalid_choice"),
        ("secondayClosedReason", "unknown_field"),
    ],
    "closed_lost": [
        ("dealerCustomerNumber", "required"),
        ("dealerCustomerNumber ", "unknown_field"),
        ("dealerSalesRepNumber", "required"),
        ("leadStatus", "surrounding_whitespace"),
        ("rating", "invalid_choice"),
        ("secondayClosedReason", "unknown_field"),
    ],
}


def corrected(sample: dict) -> dict:
    """A printed sample corrected per docs/vendors/cat.md: keys and values
    stripped, the typo'd key renamed, customerContacted true -> "Yes", rating
    in table case, and the table's required dealerSalesRep/dealerSalesRepNumber
    added."""
    fixed = {}
    for key, value in sample.items():
        key = {"secondayClosedReason": "secondaryClosedReason"}.get(key.strip(), key.strip())
        fixed[key] = value.strip() if isinstance(value, str) else value
    if fixed.get("customerContacted") is True:
        fixed["customerContacted"] = "Yes"
    if fixed.get("rating") == "low":
        fixed["rating"] = "Low"
    fixed.setdefault("dealerSalesRep", "JOHN DOE")
    fixed.setdefault("dealerSalesRepNumber", "AB12496")
    return fixed


@pytest.mark.parametrize("name", list(RAW_SAMPLES), ids=[f"reports_quirks_of_printed_sample_{n}" for n in RAW_SAMPLES])
def test_printed_samples_report_their_quirks(name):
    assert pairs(validate_update(RAW_SAMPLES[name])) == sorted(RAW_SAMPLE_VIOLATIONS[name])


@pytest.mark.parametrize("name", list(RAW_SAMPLES), ids=[f"accepts_corrected_sample_{n}" for n in RAW_SAMPLES])
def test_corrected_samples_are_valid(name):
    assert validate_update(corrected(RAW_SAMPLES[name])) == []


def test_corrected_samples_cover_every_stage():
    stages = {
        stage_for(s["probabilityOfClosurePercentage"], s.get("closedNoDeal"))
        for s in map(corrected, RAW_SAMPLES.values())
        if s.get("probabilityOfClosurePercentage") is not None
    }
    assert stages == set(OPPORTUNITY_STAGES)


# --------------------------------------------------------------------------
# Valid payloads
# --------------------------------------------------------------------------

VALID = [
    ("accepts_accepted_lead", lead()),
    ("accepts_accepted_lead_without_optional_yes_no_fields", lead(customerContacted=DROP, customerPreviouslyKnown=DROP)),
    ("accepts_contacted_customer_with_date", lead(customerContacted="Yes", dateContacted="2020-04-19")),
    ("accepts_uncontacted_customer_without_date", lead(customerContacted="No")),
    ("accepts_date_contacted_without_customer_contacted", lead(customerContacted=DROP, dateContacted="2020-04-19")),
    ("accepts_leap_day_date", lead(customerContacted="Yes", dateContacted="2024-02-29")),
    ("accepts_customer_previously_known_no", lead(customerPreviouslyKnown="No")),
    ("accepts_optional_fields_as_null", lead(comments=None, rating=None, quoteId=None, dealerCustomerNumber=None)),
    ("accepts_dealer_customer_number_on_open_lead", lead(dealerCustomerNumber="A012CD")),
    ("accepts_quote_fields_without_opportunity", lead(quoteId="12AS223", quoteSentDate="2020-08-18")),
    ("accepts_comments_and_current_product", lead(comments="Phone Consultation", currentProductOfInterestDetails="Excavator:2; Dozer:3")),
    ("accepts_zero_amount_on_accepted_lead_that_is_not_an_opportunity", lead(opportunityAmount=0)),
    ("accepts_other_currency_cny", lead(currencyIsoCode="CNY")),
    ("accepts_other_currency_eur", lead(currencyIsoCode="EUR")),
    ("accepts_rejected_bad_contact_without_comment", rejected("Bad Contact Information")),
    ("accepts_rejected_duplicate_without_comment", rejected("Duplicate Lead Received")),
    ("accepts_rejected_spam_without_comment", rejected("Spam/Inappropriate Lead Submission")),
    ("accepts_rejected_optional_comment_for_reason_not_requiring_it", rejected("Bad Contact Information", rejectedReasonComments="Phone number disconnected")),
    ("accepts_rejected_for_another_dealer_with_comment", rejected("For Another Dealer", rejectedReasonComments="Incorrectly routed to our dealership")),
    ("accepts_rejected_end_user_with_comment", rejected(END_USER, rejectedReasonComments="Contact: Jane Roe, compliance")),
    ("accepts_rejected_product_not_offered_with_comment", rejected("Product/Service Not Offered at Dealership", rejectedReasonComments="We do not sell marine engines")),
    ("accepts_rejected_with_null_opportunity_fields_and_zero_amount", rejected(dealerOpportunityId=None, targetDate=None, probabilityOfClosurePercentage=None, rating=None, opportunityAmount=0, comments=None)),
    ("accepts_disqualified_no_budget", disqualified("No budget")),
    ("accepts_disqualified_contacted", disqualified("No budget", customerContacted="Yes", dateContacted="2020-04-19")),
    ("accepts_disqualified_other_with_comment", disqualified("Other", disqualifiedReasonComments="Requirements couldn't be met")),
    ("accepts_disqualified_lead_already_known_with_comment", disqualified("Lead Already Known", disqualifiedReasonComments="Customer already in our CRM")),
    ("accepts_disqualified_end_user_with_comment", disqualified(END_USER, disqualifiedReasonComments="Contact: Jane Roe")),
    ("accepts_disqualified_with_null_opportunity_fields_and_zero_amount", disqualified(dealerOpportunityId=None, targetDate=None, probabilityOfClosurePercentage=None, opportunityAmount=0)),
    ("accepts_qualification_at_1", opportunity(1)),
    ("accepts_qualification_at_20", opportunity(20)),
    ("accepts_develop_solution_at_21", opportunity(21)),
    ("accepts_develop_solution_at_40", opportunity(40)),
    ("accepts_proposal_negotiation_at_41", opportunity(41)),
    ("accepts_proposal_negotiation_at_99", opportunity(99, quoteId="12AS223", quoteSentDate="2020-08-18")),
    ("accepts_open_opportunity_without_dealer_customer_number", opportunity(50, dealerCustomerNumber=DROP)),
    ("accepts_open_opportunity_without_rating", opportunity(50, rating=DROP)),
    ("accepts_opportunity_amount_integer", opportunity(50, opportunityAmount=142410)),
    ("accepts_opportunity_amount_decimal", opportunity(50, opportunityAmount=Decimal("142410.00"))),
    ("accepts_opportunity_amount_zero_on_opportunity", opportunity(50, opportunityAmount=0)),
    ("accepts_opportunity_amount_at_16_2_limit", opportunity(50, opportunityAmount=Decimal("99999999999999.99"))),
    ("accepts_closed_won_without_primary_reason", closed_won()),
    ("accepts_closed_won_with_primary_reason_and_comments", closed_won(primaryClosedReason="Warranty Term (Term/Rate/Scope)", secondaryClosedReason="Deal was closed with additional discount", closedReasonComments="Customer negotiated for additional discount")),
    ("accepts_closed_won_with_quote", closed_won(quoteId="12AS223", quoteSentDate="2020-08-18")),
    ("accepts_closed_lost_with_primary_reason", closed_lost()),
    ("accepts_closed_lost_with_secondary_reason_and_comments", closed_lost(secondaryClosedReason="None", closedReasonComments="Lost on price")),
    ("accepts_closed_no_deal_without_primary_reason", closed_no_deal()),
    ("accepts_closed_no_deal_with_primary_reason", closed_no_deal(primaryClosedReason="Products/Parts Not in Cat Network")),
]


@pytest.mark.parametrize("payload", [p for _, p in VALID], ids=[i for i, _ in VALID])
def test_valid_payloads(payload):
    assert validate_update(payload) == []


@pytest.mark.parametrize("reason", DISQUALIFICATION_REASONS)
def test_accepts_every_disqualification_reason(reason):
    payload = disqualified(reason)
    if reason in DISQUALIFICATION_REASONS_REQUIRING_COMMENT:
        payload["disqualifiedReasonComments"] = "Details for Caterpillar"
    assert validate_update(payload) == []


@pytest.mark.parametrize("reason", REJECTION_REASONS)
def test_accepts_every_rejection_reason(reason):
    payload = rejected(reason)
    if reason in REJECTION_REASONS_REQUIRING_COMMENT:
        payload["rejectedReasonComments"] = "Details for Caterpillar"
    assert validate_update(payload) == []


@pytest.mark.parametrize("reason", CLOSED_REASONS)
def test_accepts_every_standard_closed_reason(reason):
    assert validate_update(closed_lost(primaryClosedReason=reason)) == []


@pytest.mark.parametrize("value", RATINGS)
def test_accepts_every_rating(value):
    assert validate_update(opportunity(50, rating=value)) == []


FREE_TEXT = [
    "closedReasonComments", "comments", "currentProductOfInterestDetails", "dealerCustomerNumber", "dealerLeadId",
    "dealerOpportunityId", "dealerSalesRep", "dealerSalesRepNumber", "leadId", "quoteId", "secondaryClosedReason",
]


@pytest.mark.parametrize("key", FREE_TEXT, ids=[f"accepts_{k}_at_max_length" for k in FREE_TEXT])
def test_accepts_free_text_at_max_length(key):
    assert validate_update(closed_won(**{key: "x" * MAX_LENGTHS[key]})) == []


def test_accepts_comments_at_max_length_for_reasons():
    assert validate_update(rejected(END_USER, rejectedReasonComments="x" * 1000)) == []
    assert validate_update(disqualified("Other", disqualifiedReasonComments="x" * 255)) == []


# --------------------------------------------------------------------------
# Invalid payloads: exact (field, code) pairs
# --------------------------------------------------------------------------

INVALID = [
    # -- required (Y) fields
    *[
        (f"rejects_missing_{key}", lead(**{key: DROP}), [(key, "required")])
        for key in sorted(BASE_REQUIRED)
    ],
    ("rejects_null_lead_id", lead(leadId=None), [("leadId", "required")]),
    ("rejects_blank_dealer_lead_id", lead(dealerLeadId=""), [("dealerLeadId", "required")]),
    ("rejects_whitespace_only_dealer_sales_rep", lead(dealerSalesRep="   "), [("dealerSalesRep", "required"), ("dealerSalesRep", "surrounding_whitespace")]),
    ("rejects_empty_item", {}, sorted((k, "required") for k in BASE_REQUIRED)),
    # -- leadStatus
    ("rejects_upper_case_lead_status", lead(leadStatus="ACCEPTED"), [("leadStatus", "invalid_choice")]),
    ("rejects_lower_case_lead_status", lead(leadStatus="accepted"), [("leadStatus", "invalid_choice")]),
    ("rejects_unknown_lead_status", lead(leadStatus="Closed"), [("leadStatus", "invalid_choice")]),
    ("rejects_lead_status_with_surrounding_spaces", lead(leadStatus=" Accepted "), [("leadStatus", "surrounding_whitespace")]),
    ("rejects_lead_status_too_long", lead(leadStatus="A" * 21), [("leadStatus", "max_length")]),
    ("rejects_lead_status_number", lead(leadStatus=1), [("leadStatus", "invalid_type")]),
    # -- rejection
    ("rejects_rejected_without_reason", lead(leadStatus="Rejected"), [("rejectedReasonWhy", "required")]),
    ("rejects_rejected_for_another_dealer_without_comment", rejected("For Another Dealer"), [("rejectedReasonComments", "comment_required_for_reason")]),
    ("rejects_rejected_end_user_without_comment", rejected(END_USER), [("rejectedReasonComments", "comment_required_for_reason")]),
    ("rejects_rejected_product_not_offered_without_comment", rejected("Product/Service Not Offered at Dealership"), [("rejectedReasonComments", "comment_required_for_reason")]),
    ("rejects_rejected_blank_comment_for_reason_requiring_it", rejected("For Another Dealer", rejectedReasonComments=""), [("rejectedReasonComments", "comment_required_for_reason")]),
    ("rejects_rejected_reason_other_removed_01_27_2021", rejected("Other"), [("rejectedReasonWhy", "invalid_choice")]),
    ("rejects_rejected_reason_old_spelling_before_03_18_2021", rejected("Product / Service not offered at dealership", rejectedReasonComments="x"), [("rejectedReasonWhy", "invalid_choice")]),
    ("rejects_rejected_reason_from_disqualification_list", rejected("No budget"), [("rejectedReasonWhy", "invalid_choice")]),
    ("rejects_rejected_reason_with_surrounding_spaces", rejected(" For Another Dealer ", rejectedReasonComments="Routed to us by mistake"), [("rejectedReasonWhy", "surrounding_whitespace")]),
    ("rejects_rejected_reason_too_long", rejected("x" * 1001), [("rejectedReasonWhy", "max_length")]),
    ("rejects_rejected_comment_too_long", rejected(END_USER, rejectedReasonComments="x" * 1001), [("rejectedReasonComments", "max_length")]),
    ("rejects_rejected_reason_on_accepted_lead", lead(rejectedReasonWhy="Bad Contact Information"), [("rejectedReasonWhy", "not_allowed")]),
    ("rejects_rejected_comment_on_accepted_lead", lead(rejectedReasonComments="x"), [("rejectedReasonComments", "not_allowed")]),
    ("rejects_rejected_reason_on_disqualified_lead", disqualified(rejectedReasonWhy="Bad Contact Information"), [("rejectedReasonWhy", "not_allowed")]),
    # -- disqualification
    ("rejects_disqualified_without_reason", lead(leadStatus="Disqualified"), [("disqualifiedReasonWhy", "required")]),
    ("rejects_disqualified_other_without_comment", disqualified("Other"), [("disqualifiedReasonComments", "comment_required_for_reason")]),
    ("rejects_disqualified_lead_already_known_without_comment", disqualified("Lead Already Known"), [("disqualifiedReasonComments", "comment_required_for_reason")]),
    ("rejects_disqualified_end_user_without_comment", disqualified(END_USER), [("disqualifiedReasonComments", "comment_required_for_reason")]),
    ("rejects_disqualified_reason_not_in_list", disqualified("Too expensive"), [("disqualifiedReasonWhy", "invalid_choice")]),
    ("rejects_disqualified_reason_wrong_case", disqualified("no budget"), [("disqualifiedReasonWhy", "invalid_choice")]),
    ("rejects_disqualified_reason_from_rejection_list", disqualified("Bad Contact Information"), [("disqualifiedReasonWhy", "invalid_choice")]),
    ("rejects_disqualified_comment_too_long", disqualified("Other", disqualifiedReasonComments="x" * 256), [("disqualifiedReasonComments", "max_length")]),
    ("rejects_disqualified_reason_too_long", disqualified("x" * 256), [("disqualifiedReasonWhy", "max_length")]),
    ("rejects_disqualified_reason_on_accepted_lead", lead(disqualifiedReasonWhy="No budget"), [("disqualifiedReasonWhy", "not_allowed")]),
    ("rejects_disqualified_comment_on_rejected_lead", rejected(disqualifiedReasonComments="x"), [("disqualifiedReasonComments", "not_allowed")]),
    # -- customerContacted / customerPreviouslyKnown / dateContacted
    ("rejects_customer_contacted_boolean_true", lead(customerContacted=True), [("customerContacted", "invalid_type")]),
    ("rejects_customer_contacted_boolean_false", lead(customerContacted=False), [("customerContacted", "invalid_type")]),
    ("rejects_customer_contacted_y", lead(customerContacted="Y"), [("customerContacted", "invalid_choice")]),
    ("rejects_customer_contacted_lower_case", lead(customerContacted="yes", dateContacted="2020-04-19"), [("customerContacted", "invalid_choice")]),
    ("rejects_customer_contacted_too_long", lead(customerContacted="Maybe"), [("customerContacted", "max_length")]),
    ("rejects_customer_previously_known_boolean", lead(customerPreviouslyKnown=True), [("customerPreviouslyKnown", "invalid_type")]),
    ("rejects_customer_previously_known_n", lead(customerPreviouslyKnown="N"), [("customerPreviouslyKnown", "invalid_choice")]),
    ("rejects_contacted_yes_without_date", lead(customerContacted="Yes"), [("dateContacted", "required")]),
    ("rejects_padded_contacted_yes_without_date", lead(customerContacted=" Yes"), [("customerContacted", "surrounding_whitespace"), ("dateContacted", "required")]),
    ("rejects_date_contacted_when_not_contacted", lead(customerContacted="No", dateContacted="2020-04-19"), [("dateContacted", "not_allowed")]),
    # -- dates
    ("rejects_date_with_slashes", lead(customerContacted="Yes", dateContacted="2020/04/19"), [("dateContacted", "invalid_date")]),
    ("rejects_date_day_first", lead(customerContacted="Yes", dateContacted="19-04-2020"), [("dateContacted", "invalid_date")]),
    ("rejects_date_time_instead_of_date", lead(customerContacted="Yes", dateContacted="2020-04-19T20:31:04+00:00"), [("dateContacted", "invalid_date")]),
    ("rejects_date_without_dashes", lead(customerContacted="Yes", dateContacted="20200419"), [("dateContacted", "invalid_date")]),
    ("rejects_impossible_date", lead(customerContacted="Yes", dateContacted="2021-02-30"), [("dateContacted", "invalid_date")]),
    ("rejects_date_as_number", lead(customerContacted="Yes", dateContacted=20200419), [("dateContacted", "invalid_type")]),
    ("rejects_invalid_target_date", opportunity(50, targetDate="09/23/2021"), [("targetDate", "invalid_date")]),
    ("rejects_invalid_quote_sent_date", lead(quoteSentDate="2020-13-01"), [("quoteSentDate", "invalid_date")]),
    # -- currency
    ("rejects_lower_case_currency", lead(currencyIsoCode="usd"), [("currencyIsoCode", "invalid_choice")]),
    ("rejects_unknown_currency", lead(currencyIsoCode="XYZ"), [("currencyIsoCode", "invalid_choice")]),
    ("rejects_two_letter_currency", lead(currencyIsoCode="US"), [("currencyIsoCode", "invalid_choice")]),
    ("rejects_currency_too_long", lead(currencyIsoCode="USDX"), [("currencyIsoCode", "max_length")]),
    ("rejects_currency_number", lead(currencyIsoCode=840), [("currencyIsoCode", "invalid_type")]),
    ("rejects_currency_with_surrounding_space", lead(currencyIsoCode=" USD"), [("currencyIsoCode", "surrounding_whitespace")]),
    ("rejects_null_currency_no_usd_default", lead(currencyIsoCode=None), [("currencyIsoCode", "required")]),
    # -- string types and lengths
    ("rejects_dealer_customer_number_as_number", lead(dealerCustomerNumber=123433), [("dealerCustomerNumber", "invalid_type")]),
    ("rejects_lead_id_as_number", lead(leadId=12345), [("leadId", "invalid_type")]),
    ("rejects_comments_as_list", lead(comments=["a"]), [("comments", "invalid_type")]),
    ("rejects_dealer_sales_rep_with_trailing_space", lead(dealerSalesRep="JOHN DOE "), [("dealerSalesRep", "surrounding_whitespace")]),
    ("rejects_comment_with_leading_space", rejected("For Another Dealer", rejectedReasonComments=" Incorrectly routed"), [("rejectedReasonComments", "surrounding_whitespace")]),
    # -- rating
    ("rejects_lower_case_rating", opportunity(50, rating="low"), [("rating", "invalid_choice")]),
    ("rejects_unknown_rating", opportunity(50, rating="Hot"), [("rating", "invalid_choice")]),
    ("rejects_rating_too_long", opportunity(50, rating="x" * 21), [("rating", "max_length")]),
    ("rejects_capitalised_rating_key", opportunity(50, rating=DROP, Rating="High"), [("Rating", "unknown_field")]),
    # -- probabilityOfClosurePercentage
    ("rejects_probability_as_string", opportunity("50"), [("probabilityOfClosurePercentage", "invalid_type")]),
    ("rejects_probability_as_float", opportunity(50.0), [("probabilityOfClosurePercentage", "invalid_type")]),
    ("rejects_probability_as_fraction", opportunity(50.5), [("probabilityOfClosurePercentage", "invalid_type")]),
    ("rejects_probability_as_boolean", opportunity(True), [("probabilityOfClosurePercentage", "invalid_type")]),
    ("rejects_probability_above_100", opportunity(101), [("probabilityOfClosurePercentage", "out_of_range")]),
    ("rejects_probability_below_0", opportunity(-1), [("probabilityOfClosurePercentage", "out_of_range")]),
    # -- opportunityAmount
    ("rejects_amount_as_string", opportunity(50, opportunityAmount="142410.00"), [("opportunityAmount", "invalid_type")]),
    ("rejects_amount_as_boolean", opportunity(50, opportunityAmount=True), [("opportunityAmount", "invalid_type")]),
    ("rejects_amount_nan", opportunity(50, opportunityAmount=math.nan), [("opportunityAmount", "invalid_type")]),
    ("rejects_amount_infinite", opportunity(50, opportunityAmount=math.inf), [("opportunityAmount", "invalid_type")]),
    ("rejects_amount_with_three_decimals", opportunity(50, opportunityAmount=1999.456), [("opportunityAmount", "decimal_places")]),
    ("rejects_amount_decimal_with_three_places", opportunity(50, opportunityAmount=Decimal("1.001")), [("opportunityAmount", "decimal_places")]),
    ("rejects_amount_over_14_integer_digits", opportunity(50, opportunityAmount=10 ** 14), [("opportunityAmount", "max_digits")]),
    ("rejects_negative_amount", opportunity(50, opportunityAmount=-5), [("opportunityAmount", "out_of_range")]),
    # -- opportunity conversion
    *[
        (f"rejects_opportunity_without_{key}", opportunity(50, **{key: DROP}), [(key, "required")])
        for key in sorted(OPP_REQUIRED)
    ],
    ("rejects_opportunity_with_null_probability", opportunity(None), [("probabilityOfClosurePercentage", "required")]),
    ("rejects_opportunity_signalled_only_by_target_date", lead(targetDate="2021-09-23"), [("dealerOpportunityId", "required"), ("opportunityAmount", "required"), ("probabilityOfClosurePercentage", "required")]),
    ("rejects_opportunity_signalled_only_by_opportunity_id", lead(dealerOpportunityId="OPP-1"), [("opportunityAmount", "required"), ("probabilityOfClosurePercentage", "required"), ("targetDate", "required")]),
    ("rejects_opportunity_signalled_only_by_nonzero_amount", lead(opportunityAmount=10), [("dealerOpportunityId", "required"), ("probabilityOfClosurePercentage", "required"), ("targetDate", "required")]),
    ("rejects_opportunity_id_on_rejected_lead", rejected(dealerOpportunityId="OPP-1"), [("dealerOpportunityId", "not_allowed")]),
    ("rejects_probability_on_disqualified_lead", disqualified(probabilityOfClosurePercentage=0), [("probabilityOfClosurePercentage", "not_allowed")]),
    ("rejects_target_date_on_rejected_lead", rejected(targetDate="2021-09-23"), [("targetDate", "not_allowed")]),
    ("rejects_nonzero_amount_on_rejected_lead", rejected(opportunityAmount=500), [("opportunityAmount", "not_allowed")]),
    ("rejects_closed_no_deal_on_disqualified_lead", disqualified(closedNoDeal=1), [("closedNoDeal", "not_allowed")]),
    ("rejects_primary_closed_reason_on_rejected_lead", rejected(primaryClosedReason="Cat Price too High"), [("primaryClosedReason", "not_allowed")]),
    # -- closed opportunities
    ("rejects_closed_lost_without_primary_reason", closed_lost(primaryClosedReason=DROP), [("primaryClosedReason", "required")]),
    ("rejects_closed_lost_with_null_primary_reason", closed_lost(primaryClosedReason=None), [("primaryClosedReason", "required")]),
    ("rejects_probability_0_without_closed_no_deal", closed_no_deal(closedNoDeal=DROP), [("closedNoDeal", "required")]),
    ("rejects_closed_won_without_dealer_customer_number", closed_won(dealerCustomerNumber=DROP), [("dealerCustomerNumber", "required")]),
    ("rejects_closed_lost_without_dealer_customer_number", closed_lost(dealerCustomerNumber=DROP), [("dealerCustomerNumber", "required")]),
    ("rejects_closed_no_deal_without_dealer_customer_number", closed_no_deal(dealerCustomerNumber=DROP), [("dealerCustomerNumber", "required")]),
    ("rejects_closed_won_with_padded_dealer_customer_number_key", closed_won(dealerCustomerNumber=DROP, **{"dealerCustomerNumber ": "123433"}), [("dealerCustomerNumber", "required"), ("dealerCustomerNumber ", "unknown_field")]),
    ("rejects_dealer_customer_number_too_long", closed_won(dealerCustomerNumber="x" * 41), [("dealerCustomerNumber", "max_length")]),
    ("rejects_closed_no_deal_value_2", closed_no_deal(closedNoDeal=2), [("closedNoDeal", "invalid_choice")]),
    ("rejects_closed_no_deal_as_string", closed_no_deal(closedNoDeal="1"), [("closedNoDeal", "invalid_type")]),
    ("rejects_closed_no_deal_as_boolean", closed_no_deal(closedNoDeal=True), [("closedNoDeal", "invalid_type")]),
    ("rejects_closed_no_deal_on_open_stage", opportunity(50, closedNoDeal=0), [("closedNoDeal", "not_allowed")]),
    ("rejects_closed_no_deal_on_closed_won", closed_won(closedNoDeal=1), [("closedNoDeal", "not_allowed")]),
    ("rejects_closed_no_deal_without_opportunity", lead(closedNoDeal=1), [("closedNoDeal", "not_allowed")]),
    ("rejects_primary_closed_reason_on_open_stage", opportunity(70, primaryClosedReason="Cat Price too High"), [("primaryClosedReason", "not_allowed")]),
    ("rejects_secondary_closed_reason_on_open_stage", opportunity(70, secondaryClosedReason="x"), [("secondaryClosedReason", "not_allowed")]),
    ("rejects_closed_reason_comments_without_opportunity", lead(closedReasonComments="x"), [("closedReasonComments", "not_allowed")]),
    ("rejects_non_standard_primary_closed_reason", closed_lost(primaryClosedReason="Too expensive"), [("primaryClosedReason", "invalid_choice")]),
    ("rejects_half_of_split_closed_reason_cat_value_story", closed_lost(primaryClosedReason="Cat Value story"), [("primaryClosedReason", "invalid_choice")]),
    ("rejects_half_of_split_closed_reason_not_available", closed_lost(primaryClosedReason="Not available"), [("primaryClosedReason", "invalid_choice")]),
    ("rejects_primary_closed_reason_too_long", closed_won(primaryClosedReason="x" * 256), [("primaryClosedReason", "max_length")]),
    ("rejects_secondary_closed_reason_too_long", closed_won(secondaryClosedReason="x" * 2501), [("secondaryClosedReason", "max_length")]),
    ("rejects_closed_reason_comments_too_long", closed_won(closedReasonComments="x" * 256), [("closedReasonComments", "max_length")]),
    ("rejects_secondary_closed_reason_typo_key", closed_won(secondayClosedReason="x"), [("secondayClosedReason", "unknown_field")]),
    # -- lengths of the other strings
    ("rejects_lead_id_over_80", lead(leadId="x" * 81), [("leadId", "max_length")]),
    ("rejects_dealer_lead_id_over_80", lead(dealerLeadId="x" * 81), [("dealerLeadId", "max_length")]),
    ("rejects_dealer_opportunity_id_over_80", opportunity(50, dealerOpportunityId="x" * 81), [("dealerOpportunityId", "max_length")]),
    ("rejects_dealer_sales_rep_over_50", lead(dealerSalesRep="x" * 51), [("dealerSalesRep", "max_length")]),
    ("rejects_dealer_sales_rep_number_over_100", lead(dealerSalesRepNumber="x" * 101), [("dealerSalesRepNumber", "max_length")]),
    ("rejects_comments_over_1000", lead(comments="x" * 1001), [("comments", "max_length")]),
    ("rejects_current_product_over_255", lead(currentProductOfInterestDetails="x" * 256), [("currentProductOfInterestDetails", "max_length")]),
    ("rejects_quote_id_over_255", lead(quoteId="x" * 256), [("quoteId", "max_length")]),
    # -- keys
    ("rejects_unknown_key", lead(foo="bar"), [("foo", "unknown_field")]),
    ("rejects_get_only_key", lead(leadState="NEW"), [("leadState", "unknown_field")]),
    ("rejects_opportunity_id_key_from_lead_id_sample", lead(opportunityId="ab0b1G00000EuLYGQ2"), [("opportunityId", "unknown_field")]),
    ("rejects_key_with_trailing_space", lead(**{"dealerCustomerNumber ": "123433"}), [("dealerCustomerNumber ", "unknown_field")]),
    ("rejects_required_key_with_trailing_space", lead(currencyIsoCode=DROP, **{"currencyIsoCode ": "CNY"}), [("currencyIsoCode", "required"), ("currencyIsoCode ", "unknown_field")]),
    ("rejects_key_with_leading_space", lead(**{" comments": "x"}), [(" comments", "unknown_field")]),
    ("rejects_deprecated_lead_already_known", lead(leadAlreadyKnown="Yes"), [("leadAlreadyKnown", "deprecated_field")]),
    ("rejects_removed_primary_closed_lost_reason", closed_lost(primaryClosedLostReason="Cat Price too High"), [("primaryClosedLostReason", "removed_field")]),
    ("rejects_removed_primary_closed_won_reason", closed_won(primaryClosedWonReason="x"), [("primaryClosedWonReason", "removed_field")]),
    ("rejects_removed_primary_closed_won_reason_comments", closed_won(PrimaryClosedWonReasonComments="x"), [("PrimaryClosedWonReasonComments", "removed_field")]),
    ("rejects_removed_closed_disqualified", closed_lost(closedDisqualified=True), [("closedDisqualified", "removed_field")]),
    ("rejects_renamed_customer_already_known", lead(customerAlreadyKnown=True), [("customerAlreadyKnown", "removed_field")]),
    ("rejects_renamed_opportunity_already_known", lead(opportunityAlreadyKnown=False), [("opportunityAlreadyKnown", "removed_field")]),
    ("rejects_renamed_dealer_contact_date_time", lead(customerContacted="Yes", dateContacted="2020-04-19", dealerContactDateTime="2020-04-19T09:30:10-06:00"), [("dealerContactDateTime", "removed_field")]),
    ("rejects_renamed_quote_date_time", lead(quoteDateTime="2020-08-18T09:30:10-06:00"), [("quoteDateTime", "removed_field")]),
    ("rejects_renamed_iso_currency_code", lead(currencyIsoCode=DROP, isoCurrencyCode="USD"), [("currencyIsoCode", "required"), ("isoCurrencyCode", "removed_field")]),
    # -- whole item
    ("rejects_string_item", "not an object", [("", "invalid_type")]),
    ("rejects_list_item", [lead()], [("", "invalid_type")]),
    ("rejects_null_item", None, [("", "invalid_type")]),
]


@pytest.mark.parametrize("payload, expected", [(p, e) for _, p, e in INVALID], ids=[i for i, _, _ in INVALID])
def test_invalid_payloads(payload, expected):
    assert pairs(validate_update(payload)) == sorted(expected)


def test_invalid_case_ids_are_unique():
    ids = [i for i, _, _ in INVALID] + [i for i, _ in VALID]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("payload", [p for _, p, _ in INVALID], ids=[f"message_names_rule_{i}" for i, _, _ in INVALID])
def test_every_message_names_the_field_and_the_document(payload):
    for violation in validate_update(payload):
        assert isinstance(violation, Violation)
        assert "Cat PP+ V2" in violation.message
        assert violation.field.strip() in violation.message
        assert violation.message.endswith(".")


# --------------------------------------------------------------------------
# Messages a dealer can act on
# --------------------------------------------------------------------------


def _message(payload, field, code):
    [message] = [v.message for v in validate_update(payload) if (v.field, v.code) == (field, code)]
    return message


def test_message_for_comment_required_names_the_reason():
    assert _message(rejected("For Another Dealer"), "rejectedReasonComments", "comment_required_for_reason") == (
        "rejectedReasonComments is required when rejectedReasonWhy is 'For Another Dealer' "
        "(Cat PP+ V2, rejectedReasonComments)."
    )


@pytest.mark.parametrize(
    "key, replacement",
    [
        ("primaryClosedLostReason", "primaryClosedReason"),
        ("primaryClosedWonReason", "primaryClosedReason"),
        ("PrimaryClosedWonReasonComments", "closedReasonComments"),
        ("closedDisqualified", "closedNoDeal"),
        ("customerAlreadyKnown", "customerPreviouslyKnown"),
        ("opportunityAlreadyKnown", "Lead Already Known"),
        ("dealerContactDateTime", "dateContacted"),
        ("quoteDateTime", "quoteSentDate"),
        ("isoCurrencyCode", "currencyIsoCode"),
        ("leadAlreadyKnown", "Lead Already Known"),
    ],
)
def test_retired_key_message_names_the_replacement_and_date(key, replacement):
    code, when, _ = RETIRED_FIELDS[key]
    message = _message(lead(**{key: "x"}), key, code)
    assert replacement in message
    assert when in message


def test_message_for_padded_key_names_the_correct_key():
    message = _message(lead(**{"dealerCustomerNumber ": "1"}), "dealerCustomerNumber ", "unknown_field")
    assert "'dealerCustomerNumber'" in message and "whitespace" in message


def test_message_for_typo_key_suggests_the_real_key():
    assert "'secondaryClosedReason'" in _message(closed_won(secondayClosedReason="x"), "secondayClosedReason", "unknown_field")


def test_message_for_wrong_case_rating_suggests_table_value():
    assert "'Low'" in _message(opportunity(50, rating="low"), "rating", "invalid_choice")


def test_message_for_old_rejection_spelling_suggests_new_spelling():
    message = _message(rejected("Product / Service not offered at dealership"), "rejectedReasonWhy", "invalid_choice")
    assert "did you mean 'Product/Service Not Offered at Dealership'" in message


def test_message_for_boolean_customer_contacted_asks_for_yes_no():
    message = _message(lead(customerContacted=True), "customerContacted", "invalid_type")
    assert "'Yes'" in message and "01/29/2021" in message


def test_message_for_missing_currency_says_there_is_no_usd_default():
    message = _message(lead(currencyIsoCode=DROP), "currencyIsoCode", "required")
    assert "USD" in message and "6/21/2021" in message


def test_message_for_closed_lost_without_reason_names_the_condition():
    message = _message(closed_lost(primaryClosedReason=DROP), "primaryClosedReason", "required")
    assert "Closed Lost" in message and "closedNoDeal 0" in message


# --------------------------------------------------------------------------
# required_fields
# --------------------------------------------------------------------------

REQUIRED_CASES = [
    ("requires_base_fields_for_empty_update", {}, BASE_REQUIRED),
    ("requires_base_fields_for_non_dict", "x", BASE_REQUIRED),
    ("requires_base_fields_for_accepted_lead", lead(), BASE_REQUIRED),
    ("requires_date_contacted_when_contacted_yes", lead(customerContacted="Yes"), BASE_REQUIRED | {"dateContacted"}),
    ("requires_date_contacted_when_padded_yes", lead(customerContacted=" Yes "), BASE_REQUIRED | {"dateContacted"}),
    ("requires_no_date_when_contacted_is_boolean", lead(customerContacted=True), BASE_REQUIRED),
    ("requires_no_date_when_contacted_no", lead(customerContacted="No"), BASE_REQUIRED),
    ("requires_reason_when_rejected", {"leadStatus": "Rejected"}, BASE_REQUIRED | {"rejectedReasonWhy"}),
    ("requires_reason_when_padded_rejected", {"leadStatus": " Rejected "}, BASE_REQUIRED | {"rejectedReasonWhy"}),
    ("requires_no_comment_for_bad_contact", rejected("Bad Contact Information"), BASE_REQUIRED | {"rejectedReasonWhy"}),
    ("requires_no_comment_for_duplicate", rejected("Duplicate Lead Received"), BASE_REQUIRED | {"rejectedReasonWhy"}),
    ("requires_no_comment_for_spam", rejected("Spam/Inappropriate Lead Submission"), BASE_REQUIRED | {"rejectedReasonWhy"}),
    ("requires_comment_for_another_dealer", rejected("For Another Dealer"), BASE_REQUIRED | {"rejectedReasonWhy", "rejectedReasonComments"}),
    ("requires_comment_for_end_user_rejection", rejected(END_USER), BASE_REQUIRED | {"rejectedReasonWhy", "rejectedReasonComments"}),
    ("requires_comment_for_product_not_offered", rejected("Product/Service Not Offered at Dealership"), BASE_REQUIRED | {"rejectedReasonWhy", "rejectedReasonComments"}),
    ("requires_reason_when_disqualified", {"leadStatus": "Disqualified"}, BASE_REQUIRED | {"disqualifiedReasonWhy"}),
    ("requires_no_comment_for_no_budget", disqualified("No budget"), BASE_REQUIRED | {"disqualifiedReasonWhy"}),
    ("requires_comment_for_disqualified_other", disqualified("Other"), BASE_REQUIRED | {"disqualifiedReasonWhy", "disqualifiedReasonComments"}),
    ("requires_comment_for_lead_already_known", disqualified("Lead Already Known"), BASE_REQUIRED | {"disqualifiedReasonWhy", "disqualifiedReasonComments"}),
    ("requires_comment_for_end_user_disqualification", disqualified(END_USER), BASE_REQUIRED | {"disqualifiedReasonWhy", "disqualifiedReasonComments"}),
    ("requires_opportunity_fields_for_qualification", opportunity(10), BASE_REQUIRED | OPP_REQUIRED),
    ("requires_opportunity_fields_for_develop_solution", opportunity(30), BASE_REQUIRED | OPP_REQUIRED),
    ("requires_opportunity_fields_for_proposal", opportunity(70), BASE_REQUIRED | OPP_REQUIRED),
    ("requires_opportunity_fields_from_opportunity_id_alone", {"leadStatus": "Accepted", "dealerOpportunityId": "OPP-1"}, BASE_REQUIRED | OPP_REQUIRED),
    ("requires_dcn_but_no_primary_reason_for_closed_won", opportunity(100), BASE_REQUIRED | OPP_REQUIRED | {"dealerCustomerNumber"}),
    ("requires_closed_no_deal_and_dcn_at_probability_0", opportunity(0), BASE_REQUIRED | OPP_REQUIRED | {"dealerCustomerNumber", "closedNoDeal"}),
    ("requires_primary_reason_for_closed_lost", opportunity(0, closedNoDeal=0), BASE_REQUIRED | OPP_REQUIRED | {"dealerCustomerNumber", "closedNoDeal", "primaryClosedReason"}),
    ("requires_no_primary_reason_for_closed_no_deal", opportunity(0, closedNoDeal=1), BASE_REQUIRED | OPP_REQUIRED | {"dealerCustomerNumber", "closedNoDeal"}),
    ("requires_nothing_from_probability_as_string", opportunity("0", closedNoDeal=0), BASE_REQUIRED | OPP_REQUIRED),
    ("requires_no_opportunity_fields_for_zero_amount", lead(opportunityAmount=0), BASE_REQUIRED),
    ("requires_no_opportunity_fields_for_null_opportunity_keys", rejected(dealerOpportunityId=None, targetDate=None, probabilityOfClosurePercentage=None), BASE_REQUIRED | {"rejectedReasonWhy"}),
    ("requires_no_opportunity_fields_for_rejected_with_probability", rejected(probabilityOfClosurePercentage=0), BASE_REQUIRED | {"rejectedReasonWhy"}),
]


@pytest.mark.parametrize("update, expected", [(u, e) for _, u, e in REQUIRED_CASES], ids=[i for i, _, _ in REQUIRED_CASES])
def test_required_fields(update, expected):
    assert required_fields(update) == expected


@pytest.mark.parametrize(
    "update, expected",
    [
        (lead(), False),
        (lead(opportunityAmount=0), False),
        (lead(opportunityAmount=0.0, dealerOpportunityId=None, targetDate=None, probabilityOfClosurePercentage=None), False),
        (lead(dealerOpportunityId=""), False),
        (lead(dealerOpportunityId="OPP-1"), True),
        (lead(targetDate="2021-09-23"), True),
        (lead(probabilityOfClosurePercentage=0), True),
        (lead(opportunityAmount=1.5), True),
        (lead(leadStatus=" Accepted ", probabilityOfClosurePercentage=50), True),
        (rejected(dealerOpportunityId="OPP-1"), False),
        (disqualified(probabilityOfClosurePercentage=50), False),
        ("x", False),
    ],
    ids=[
        "not_opportunity_plain_accepted", "not_opportunity_zero_amount", "not_opportunity_nulls_and_zero_float",
        "not_opportunity_blank_id", "opportunity_from_id", "opportunity_from_target_date",
        "opportunity_from_probability_0", "opportunity_from_nonzero_amount", "opportunity_with_padded_status",
        "not_opportunity_when_rejected", "not_opportunity_when_disqualified", "not_opportunity_non_dict",
    ],
)
def test_is_opportunity(update, expected):
    assert is_opportunity(update) is expected


# --------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "probability, closed_no_deal, expected",
    [
        (1, None, "Qualification"),
        (20, None, "Qualification"),
        (21, None, "Develop Solution"),
        (40, None, "Develop Solution"),
        (41, None, "Proposal/Negotiation"),
        (99, None, "Proposal/Negotiation"),
        (100, None, "Closed Won"),
        (0, 0, "Closed Lost"),
        (0, 1, "Closed No Deal"),
        (0, None, None),
        (0, 2, None),
        (0, True, None),
        (101, None, None),
        (-1, None, None),
        ("50", None, None),
        (50.0, None, None),
        (True, None, None),
        (None, None, None),
    ],
    ids=[
        "qualification_min", "qualification_max", "develop_min", "develop_max", "proposal_min", "proposal_max",
        "closed_won", "closed_lost", "closed_no_deal", "zero_without_closed_no_deal_is_unknown",
        "zero_with_bad_closed_no_deal_is_unknown", "zero_with_boolean_closed_no_deal_is_unknown",
        "above_100_is_unknown", "negative_is_unknown", "string_is_unknown", "float_is_unknown",
        "boolean_is_unknown", "none_is_unknown",
    ],
)
def test_stage_for(probability, closed_no_deal, expected):
    assert stage_for(probability, closed_no_deal) == expected


@pytest.mark.parametrize(
    "stage, expected",
    [
        ("Qualification", (1, 20)),
        ("Develop Solution", (21, 40)),
        ("Proposal/Negotiation", (41, 99)),
        ("Closed Won", (100, 100)),
        ("Closed Lost", (0, 0)),
        ("Closed No Deal", (0, 0)),
    ],
)
def test_probability_range(stage, expected):
    assert probability_range(stage) == expected


@pytest.mark.parametrize("stage", ["ClosedDisqualified", "qualification", ""], ids=["removed_stage", "wrong_case", "blank"])
def test_probability_range_rejects_unknown_stage(stage):
    with pytest.raises(ValueError, match="not a Cat opportunity stage"):
        probability_range(stage)


def test_stage_for_agrees_with_probability_range_for_every_probability():
    for probability in range(1, 101):
        low, high = probability_range(stage_for(probability, None))
        assert low <= probability <= high


# --------------------------------------------------------------------------
# Batch
# --------------------------------------------------------------------------


def test_validate_batch_returns_one_list_per_item():
    result = validate_batch([lead(), rejected("For Another Dealer"), "x"])
    assert [pairs(r) for r in result] == [
        [],
        [("rejectedReasonComments", "comment_required_for_reason")],
        [("", "invalid_type")],
    ]


def test_validate_batch_of_empty_list_is_empty():
    assert validate_batch([]) == []


@pytest.mark.parametrize("body", [lead(), "[]", None, (lead(),)], ids=["object", "string", "null", "tuple"])
def test_validate_batch_rejects_non_list(body):
    with pytest.raises(ValueError, match="JSON array"):
        validate_batch(body)


# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------


def test_lead_statuses_are_regular_case():
    assert LEAD_STATUSES == ("Accepted", "Rejected", "Disqualified")


def test_rejection_reasons():
    assert set(REJECTION_REASONS) == {
        "Bad Contact Information",
        "For Another Dealer",
        "Product/Service Not Offered at Dealership",
        END_USER,
        "Duplicate Lead Received",
        "Spam/Inappropriate Lead Submission",
    }
    assert len(REJECTION_REASONS) == 6
    assert "Other" not in REJECTION_REASONS


def test_rejection_reasons_requiring_comment():
    assert set(REJECTION_REASONS_REQUIRING_COMMENT) == {
        END_USER, "For Another Dealer", "Product/Service Not Offered at Dealership",
    }


def test_disqualification_reasons():
    assert set(DISQUALIFICATION_REASONS) == {
        "Cannot reach/no response from customer",
        "Purchase time frame changed",
        "No budget",
        "No longer a product need/want",
        "Customer already purchased",
        END_USER,
        "Dealer not interested in pursuing",
        "Lead Already Known",
        "Other",
    }
    assert len(DISQUALIFICATION_REASONS) == 9


def test_disqualification_reasons_requiring_comment():
    assert set(DISQUALIFICATION_REASONS_REQUIRING_COMMENT) == {END_USER, "Other", "Lead Already Known"}


def test_closed_reasons_parsed_from_the_run_together_table():
    assert CLOSED_REASONS == (
        "Products/Parts Not in Cat Network",
        "Products/Parts Not in Dealer's Network",
        "Inconvenient Service Location",
        "Dealer Operating hours",
        "Dealer Service Capability",
        "Sales Capability (Expertise/ Coverage / Participation / SFM)",
        "Quote Processing Time",
        "Competitive Financial (Term/Rates/Scope)",
        "Warranty Term (Term/Rate/Scope)",
        "Product Durability",
        "Product Family Quality",
        "Application Fit",
        "Product Serviceability (access, ease of maintenance)",
        "Product Specification",
        "Mixed/Full Fleet Solution Not Available",
        "Used Parts/Equipment not Available",
        "Cat Price too High",
        "Cat Value story not Convincing",
        "Cat Value story - Not available",
        "Competition lifetime value superior",
    )


def test_opportunity_stages_in_document_order():
    assert list(OPPORTUNITY_STAGES.items()) == [
        ("Qualification", (1, 20)),
        ("Develop Solution", (21, 40)),
        ("Proposal/Negotiation", (41, 99)),
        ("Closed Won", (100, 100)),
        ("Closed Lost", (0, 0)),
        ("Closed No Deal", (0, 0)),
    ]


def test_ratings_and_yes_no():
    assert set(RATINGS) == {"High", "Medium", "Low"}
    assert set(YES_NO) == {"Yes", "No"}


def test_post_fields_are_the_request_table():
    assert set(POST_FIELDS) == {
        "closedNoDeal", "closedReasonComments", "comments", "currencyIsoCode", "currentProductOfInterestDetails",
        "customerPreviouslyKnown", "customerContacted", "dateContacted", "dealerCustomerNumber", "dealerLeadId",
        "dealerOpportunityId", "dealerSalesRep", "dealerSalesRepNumber", "disqualifiedReasonComments",
        "disqualifiedReasonWhy", "leadId", "leadStatus", "opportunityAmount", "primaryClosedReason",
        "probabilityOfClosurePercentage", "quoteSentDate", "quoteId", "rating", "rejectedReasonComments",
        "rejectedReasonWhy", "secondaryClosedReason", "targetDate",
    }
    assert not set(RETIRED_FIELDS) & set(POST_FIELDS)


@pytest.mark.parametrize(
    "key, length",
    [
        ("closedReasonComments", 255), ("comments", 1000), ("currencyIsoCode", 3),
        ("currentProductOfInterestDetails", 255), ("dealerCustomerNumber", 40), ("dealerLeadId", 80),
        ("dealerOpportunityId", 80), ("dealerSalesRep", 50), ("dealerSalesRepNumber", 100),
        ("disqualifiedReasonComments", 255), ("disqualifiedReasonWhy", 255), ("leadId", 80), ("leadStatus", 20),
        ("primaryClosedReason", 255), ("quoteId", 255), ("rating", 20), ("rejectedReasonComments", 1000),
        ("rejectedReasonWhy", 1000), ("secondaryClosedReason", 2500), ("customerContacted", 3),
        ("customerPreviouslyKnown", 3), ("opportunityAmount", 16), ("probabilityOfClosurePercentage", 3),
        ("closedNoDeal", 1),
    ],
)
def test_max_lengths(key, length):
    assert MAX_LENGTHS[key] == length


def test_max_lengths_cover_every_post_field():
    assert set(MAX_LENGTHS) == set(POST_FIELDS)


def test_rules_module_imports_only_stdlib_pycountry_and_violations():
    tree = ast.parse(Path(rules.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"__future__", "difflib", "re", "datetime", "decimal", "pycountry", "apps.core.violations"}
