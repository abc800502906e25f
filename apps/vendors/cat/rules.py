"""Caterpillar PP+ Lead API V2: the rules for one outbound lead update (POST /leads).

Source: /work/shared/vendor-docs/cat-pp-lead-api-v2.txt, "Request JSON - Leads
object" table and the Modification History (the latest entry wins where the
document contradicts itself; tables and history win over the sample bodies).
Every decision taken where the document is ambiguous is recorded in
docs/vendors/cat.md, "Decisions where the document is ambiguous".

This module is pure Python (standard library + pycountry) so the admin form, the
CSV outcome import, the payload builder, ``validate_payload`` and the sandbox Cat
server all enforce the same rules and show the same messages.

Public API:
    LEAD_STATUSES, REJECTION_REASONS, REJECTION_REASONS_REQUIRING_COMMENT,
    DISQUALIFICATION_REASONS, DISQUALIFICATION_REASONS_REQUIRING_COMMENT,
    CLOSED_REASONS, OPPORTUNITY_STAGES, RATINGS, YES_NO, MAX_LENGTHS,
    POST_FIELDS, ALWAYS_REQUIRED, OPPORTUNITY_FIELDS, RETIRED_FIELDS
    stage_for(probability, closed_no_deal) -> str | None
    probability_range(stage) -> tuple[int, int]
    is_opportunity(update) -> bool
    required_fields(update) -> set[str]
    validate_update(update) -> list[Violation]
    validate_batch(items) -> list[list[Violation]]
"""
from __future__ import annotations

import difflib
import re
from datetime import date
from decimal import Decimal, InvalidOperation

import pycountry

from apps.core.violations import Violation

# --------------------------------------------------------------------------
# Value lists
# --------------------------------------------------------------------------

# leadStatus: regular case since 01/27/2021 (was ACCEPTED/REJECTED/DISQUALIFIED).
LEAD_STATUSES = ("Accepted", "Rejected", "Disqualified")
ACCEPTED, REJECTED, DISQUALIFIED = LEAD_STATUSES

# rejectedReasonWhy: "Other" removed 01/27/2021; "Product/Service Not Offered at
# Dealership" spelled so since 03/18/2021; "Duplicate Lead Received" added
# 7/21/2021; "Spam/Inappropriate Lead Submission" added 10/01/2021.
REJECTION_REASONS = (
    "Bad Contact Information",
    "For Another Dealer",
    "Product/Service Not Offered at Dealership",
    "End-user, end-use or end-destination may be restricted",
    "Duplicate Lead Received",
    "Spam/Inappropriate Lead Submission",
)

# rejectedReasonComments: the three conditions added 01/27/2021 (item 3b); the
# table still prints the pre-03/18/2021 spelling "Product / Service not offered
# at dealership", which is the same reason renamed.
REJECTION_REASONS_REQUIRING_COMMENT = (
    "End-user, end-use or end-destination may be restricted",
    "For Another Dealer",
    "Product/Service Not Offered at Dealership",
)

# disqualifiedReasonWhy table; "Lead Already Known" added 04/19/2021.
DISQUALIFICATION_REASONS = (
    "Cannot reach/no response from customer",
    "Purchase time frame changed",
    "No budget",
    "No longer a product need/want",
    "Customer already purchased",
    "End-user, end-use or end-destination may be restricted",
    "Dealer not interested in pursuing",
    "Lead Already Known",
    "Other",
)

# disqualifiedReasonComments table + 04/19/2021 ("Lead Already Known").
DISQUALIFICATION_REASONS_REQUIRING_COMMENT = (
    "End-user, end-use or end-destination may be restricted",
    "Other",
    "Lead Already Known",
)

# primaryClosedReason "Standard Closed Reason" list (11/17/2020). The table runs
# the items together with hyphens; "-Cat Value story - Not available" is ONE
# item (the hyphen inside it is part of the label, like "Cat Value story not
# Convincing" just before it), so there are 20 reasons.
CLOSED_REASONS = (
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

# "Caterpillar Opportunity Stages" table, in the document's order.
# ClosedDisqualified was removed 12/16/2020.
OPPORTUNITY_STAGES = {
    "Qualification": (1, 20),
    "Develop Solution": (21, 40),
    "Proposal/Negotiation": (41, 99),
    "Closed Won": (100, 100),
    "Closed Lost": (0, 0),
    "Closed No Deal": (0, 0),
}

# rating table: "-High - Low -Medium" (the samples' "low" is not a table value).
RATINGS = ("High", "Medium", "Low")

# customerContacted / customerPreviouslyKnown: String "Yes"/"No" since 01/29/2021.
YES_NO = ("Yes", "No")

# closedNoDeal: "1- Lost due to no deal 0- Lost for other reason".
CLOSED_NO_DEAL_VALUES = (0, 1)

# --------------------------------------------------------------------------
# Field catalogue
# --------------------------------------------------------------------------

# MaxLength per POST field. Strings: characters. Dates: the 10 characters of
# YYYY-MM-DD (the table leaves them blank). Numbers: digit positions
# (opportunityAmount Decimal 16,2 -> 16 digits, 2 of them decimals;
# probabilityOfClosurePercentage Number 3,0; closedNoDeal one digit 0/1 although
# the table prints "0").
MAX_LENGTHS = {
    "closedNoDeal": 1,
    "closedReasonComments": 255,
    "comments": 1000,  # 02/16/2021
    "currencyIsoCode": 3,
    "currentProductOfInterestDetails": 255,
    # The table says 1 (left over from the Y/N values); the values are "Yes"/"No"
    # since 01/29/2021, so the value list rules and 3 is the real limit.
    "customerPreviouslyKnown": 3,
    "customerContacted": 3,
    "dateContacted": 10,
    "dealerCustomerNumber": 40,
    "dealerLeadId": 80,
    "dealerOpportunityId": 80,
    "dealerSalesRep": 50,  # 01/29/2021: 200 -> 50
    "dealerSalesRepNumber": 100,
    "disqualifiedReasonComments": 255,
    "disqualifiedReasonWhy": 255,
    "leadId": 80,  # POST table; the GET table says 255 (see docs)
    "leadStatus": 20,
    "opportunityAmount": 16,
    "primaryClosedReason": 255,
    "probabilityOfClosurePercentage": 3,
    "quoteSentDate": 10,
    "quoteId": 255,
    "rating": 20,
    "rejectedReasonComments": 1000,
    "rejectedReasonWhy": 1000,
    "secondaryClosedReason": 2500,
    "targetDate": 10,
}

# Every key the POST table knows, in the table's order.
POST_FIELDS = tuple(MAX_LENGTHS)

# Required (Y) in the POST table.
ALWAYS_REQUIRED = (
    "leadId",
    "dealerLeadId",
    "leadStatus",
    "dealerSalesRep",
    "dealerSalesRepNumber",
    "currencyIsoCode",
)

# Required once the lead is converted to an opportunity (02/2/2021).
OPPORTUNITY_FIELDS = (
    "dealerOpportunityId",
    "opportunityAmount",
    "targetDate",
    "probabilityOfClosurePercentage",
)

# Sent only for a closed opportunity (probabilityOfClosurePercentage 0 or 100).
CLOSED_ONLY_FIELDS = ("primaryClosedReason", "secondaryClosedReason", "closedReasonComments")

DATE_FIELDS = ("dateContacted", "quoteSentDate", "targetDate")

CHOICE_FIELDS = {
    "leadStatus": LEAD_STATUSES,
    "customerContacted": YES_NO,
    "customerPreviouslyKnown": YES_NO,
    "rating": RATINGS,
    "rejectedReasonWhy": REJECTION_REASONS,
    "disqualifiedReasonWhy": DISQUALIFICATION_REASONS,
    "primaryClosedReason": CLOSED_REASONS,
}

NUMBER_FIELDS = ("opportunityAmount", "probabilityOfClosurePercentage", "closedNoDeal")

# Keys removed, renamed or deprecated by the Modification History:
# key -> (code, history date, what to send instead).
RETIRED_FIELDS = {
    "primaryClosedLostReason": ("removed_field", "10/27/2020", "send primaryClosedReason instead"),
    "primaryClosedWonReason": ("removed_field", "10/27/2020", "send primaryClosedReason instead"),
    "PrimaryClosedWonReasonComments": (
        "removed_field", "10/27/2020", "send closedReasonComments instead",
    ),
    "closedDisqualified": (
        "removed_field",
        "12/16/2020",
        "there is no ClosedDisqualified stage any more: send leadStatus 'Disqualified' "
        "with disqualifiedReasonWhy, or close the opportunity with "
        "probabilityOfClosurePercentage 0 and closedNoDeal",
    ),
    "isoCurrencyCode": ("removed_field", "01/27/2021", "send currencyIsoCode instead"),
    "customerAlreadyKnown": (
        "removed_field", "01/29/2021", "send customerPreviouslyKnown ('Yes'/'No') instead",
    ),
    "dealerContactDateTime": (
        "removed_field", "01/29/2021", "send dateContacted (YYYY-MM-DD) instead",
    ),
    "quoteDateTime": ("removed_field", "01/29/2021", "send quoteSentDate (YYYY-MM-DD) instead"),
    "opportunityAlreadyKnown": (
        "removed_field",
        "01/29/2021",
        "it became leadAlreadyKnown, itself deprecated 04/19/2021: send leadStatus "
        "'Disqualified' with disqualifiedReasonWhy 'Lead Already Known' instead",
    ),
    "leadAlreadyKnown": (
        "deprecated_field",
        "04/19/2021",
        "send leadStatus 'Disqualified' with disqualifiedReasonWhy 'Lead Already Known' "
        "and disqualifiedReasonComments instead",
    ),
}

# Keys the document's own samples use by mistake -> the key meant.
_SAMPLE_KEY_MISTAKES = {
    "opportunityId": "leadId",  # the leadId row's sample
    "Rating": "rating",  # the rating row's sample
    "secondayClosedReason": "secondaryClosedReason",  # Closed Won/Lost/No Deal samples
}

_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_AMOUNT_INTEGER_DIGITS = 14  # Decimal 16,2: 16 positions, 2 of them decimals
_AMOUNT_DECIMAL_PLACES = 2

DOC = "Cat PP+ V2"


def _cite(field: str, when: str = "") -> str:
    return f"({DOC}, {field}{', ' + when if when else ''})"


def _violation(field: str, code: str, text: str, when: str = "") -> Violation:
    """A Violation whose message ends by citing the field (and history date)."""
    return Violation(field, code, f"{text} {_cite(field.strip() or 'Request JSON - Leads object', when)}.")


# --------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------


def probability_range(stage: str) -> tuple[int, int]:
    """The (min, max) probabilityOfClosurePercentage of a Cat opportunity stage.

    Raises ValueError for a name that is not in OPPORTUNITY_STAGES.
    """
    try:
        return OPPORTUNITY_STAGES[stage]
    except (KeyError, TypeError):
        raise ValueError(
            f"{stage!r} is not a Cat opportunity stage; expected one of "
            f"{', '.join(OPPORTUNITY_STAGES)}."
        ) from None


def stage_for(probability: int, closed_no_deal: int | None) -> str | None:
    """The Cat opportunity stage for a probability, or None when it cannot be told.

    1-99 and 100 map by the stage table whatever closed_no_deal is. 0 is Closed
    Lost when closed_no_deal is 0 and Closed No Deal when it is 1; with any
    other closed_no_deal (None included) the stage is undetermined. A
    probability that is not an integer in 0..100 gives None.
    """
    if not _is_int(probability) or not 0 <= probability <= 100:
        return None
    if probability == 0:
        if not _is_int(closed_no_deal):
            return None
        return {0: "Closed Lost", 1: "Closed No Deal"}.get(closed_no_deal)
    for stage, (low, high) in OPPORTUNITY_STAGES.items():
        if low <= probability <= high:
            return stage
    return None  # pragma: no cover - the table covers 1..100


# --------------------------------------------------------------------------
# Reading an update
# --------------------------------------------------------------------------


def _is_int(value) -> bool:
    # JSON true/false arrive as Python bool, which is an int subclass.
    return isinstance(value, int) and not isinstance(value, bool)


def _present(update: dict, key: str) -> bool:
    """A value was given: not missing, not null, not a blank string."""
    value = update.get(key)
    if value is None:
        return False
    return not (isinstance(value, str) and not value.strip())


def _text(update: dict, key: str) -> str | None:
    """The value with surrounding whitespace removed, when it is a string."""
    value = update.get(key)
    return value.strip() if isinstance(value, str) else None


def _int(update: dict, key: str) -> int | None:
    value = update.get(key)
    return value if _is_int(value) else None


def _is_zero_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return False
    return not (isinstance(value, Decimal) and not value.is_finite()) and value == 0


def is_opportunity(update: dict) -> bool:
    """Whether the update reports a lead converted to an opportunity.

    It is when leadStatus is 'Accepted' and any opportunity field carries a
    value: dealerOpportunityId, probabilityOfClosurePercentage or targetDate
    not null/blank, or opportunityAmount not null and not the number 0 (the
    Rejected/Disqualified samples send those keys as null and opportunityAmount
    0 to mean "no opportunity").
    """
    if not isinstance(update, dict) or _text(update, "leadStatus") != ACCEPTED:
        return False
    signals = ("dealerOpportunityId", "probabilityOfClosurePercentage", "targetDate")
    if any(_present(update, key) for key in signals):
        return True
    amount = update.get("opportunityAmount")
    return _present(update, "opportunityAmount") and not _is_zero_number(amount)


def _probability(update: dict) -> int | None:
    value = _int(update, "probabilityOfClosurePercentage")
    return value if value is not None and 0 <= value <= 100 else None


def _requirements(update: dict) -> dict[str, tuple[str, str]]:
    """key -> (violation code, message) for every key this update must carry."""
    req = {
        key: ("required", f"{key} is required on every lead update {_cite(key)}.")
        for key in ALWAYS_REQUIRED
    }
    req["currencyIsoCode"] = (
        "required",
        "currencyIsoCode is required on every lead update; it is no longer defaulted "
        f"to USD {_cite('currencyIsoCode', '6/21/2021')}.",
    )
    status = _text(update, "leadStatus")
    if _text(update, "customerContacted") == "Yes":
        req["dateContacted"] = (
            "required",
            "dateContacted is required when customerContacted is 'Yes' "
            f"{_cite('dateContacted', '01/29/2021')}.",
        )
    if status == REJECTED:
        req.update(_reason_requirements(update, "rejected", REJECTION_REASONS_REQUIRING_COMMENT))
    if status == DISQUALIFIED:
        req.update(_reason_requirements(update, "disqualified", DISQUALIFICATION_REASONS_REQUIRING_COMMENT))
    if is_opportunity(update):
        req.update(_opportunity_requirements(update))
    return req


def _reason_requirements(update: dict, prefix: str, needs_comment: tuple) -> dict:
    why, comments = f"{prefix}ReasonWhy", f"{prefix}ReasonComments"
    status = REJECTED if prefix == "rejected" else DISQUALIFIED
    req = {why: ("required", f"{why} is required when leadStatus is '{status}' {_cite(why)}.")}
    reason = _text(update, why)
    if reason in needs_comment:
        req[comments] = (
            "comment_required_for_reason",
            f"{comments} is required when {why} is '{reason}' {_cite(comments)}.",
        )
    return req


def _opportunity_requirements(update: dict) -> dict:
    req = {
        key: (
            "required",
            f"{key} is required once the lead is converted to an opportunity "
            f"(leadStatus 'Accepted' with opportunity fields) {_cite(key, '02/2/2021')}.",
        )
        for key in OPPORTUNITY_FIELDS
    }
    probability = _probability(update)
    if probability in (0, 100):
        req["dealerCustomerNumber"] = (
            "required",
            "dealerCustomerNumber is required once the opportunity is closed: Closed Won "
            "(probabilityOfClosurePercentage 100), Closed Lost or Closed No Deal (0) "
            f"{_cite('dealerCustomerNumber', '03/22/2021')}.",
        )
    if probability == 0:
        req["closedNoDeal"] = (
            "required",
            "closedNoDeal (1 = Closed No Deal, 0 = Closed Lost) is required when "
            f"probabilityOfClosurePercentage is 0 {_cite('closedNoDeal')}.",
        )
        if _int(update, "closedNoDeal") == 0:
            req["primaryClosedReason"] = (
                "required",
                "primaryClosedReason is required for a Closed Lost opportunity "
                "(probabilityOfClosurePercentage 0 and closedNoDeal 0) "
                f"{_cite('primaryClosedReason', '04/08/2021')}.",
            )
    return req


def required_fields(update: dict) -> set[str]:
    """The keys Cat requires for this (possibly partial) update.

    Always leadId, dealerLeadId, leadStatus, dealerSalesRep, dealerSalesRepNumber
    and currencyIsoCode; plus, from the values already chosen:
    dateContacted when customerContacted is "Yes"; rejectedReasonWhy when
    Rejected and rejectedReasonComments for the reasons that need a comment;
    disqualifiedReasonWhy / disqualifiedReasonComments likewise for Disqualified;
    the four OPPORTUNITY_FIELDS once is_opportunity(update); dealerCustomerNumber
    for a closed opportunity (probability 0 or 100); closedNoDeal at probability
    0; primaryClosedReason for Closed Lost (probability 0 and closedNoDeal 0).
    Values are read with surrounding whitespace removed; a value of the wrong
    type triggers nothing.
    """
    if not isinstance(update, dict):
        return set(ALWAYS_REQUIRED)
    return set(_requirements(update))


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


def _check_keys(update: dict) -> list[Violation]:
    return [v for key in update for v in _check_key(key)]


def _check_key(key) -> list[Violation]:
    if key in POST_FIELDS:
        return []
    name = key if isinstance(key, str) else str(key)
    if name in RETIRED_FIELDS:
        code, when, instead = RETIRED_FIELDS[name]
        verb = "deprecated" if code == "deprecated_field" else "removed"
        return [Violation(name, code, f"{name} was {verb} on {when}; {instead} {_cite(name, when)}.")]
    # The samples send "dealerCustomerNumber " and "currencyIsoCode " (trailing
    # space): a JSON key is matched exactly, so Cat would not see the field.
    if isinstance(key, str) and key.strip() in POST_FIELDS:
        return [Violation(
            name, "unknown_field",
            f"Key {name!r} has surrounding whitespace, so Cat does not know it; send "
            f"{key.strip()!r} {_cite(key.strip())}.",
        )]
    hint = _suggest_key(name)
    maybe = f" (did you mean {hint!r}?)" if hint else ""
    return [Violation(
        name, "unknown_field",
        f"{name!r} is not a field of the Cat lead update (POST /leads) request{maybe}; remove it "
        f"{_cite('Request JSON - Leads object')}.",
    )]


def _suggest_key(name: str) -> str | None:
    if name in _SAMPLE_KEY_MISTAKES:
        return _SAMPLE_KEY_MISTAKES[name]
    by_case = {k.lower(): k for k in POST_FIELDS}
    if name.strip().lower() in by_case:
        return by_case[name.strip().lower()]
    close = difflib.get_close_matches(name, sorted(POST_FIELDS), n=1, cutoff=0.85)
    return close[0] if close else None


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------


def _check_value(key: str, value) -> list[Violation]:
    """Type, whitespace, length and value-list checks of one non-null value."""
    if key in NUMBER_FIELDS:
        return _NUMBER_CHECKS[key](value)
    if not isinstance(value, str):
        return [_type_violation(key, value)]
    found = []
    # The samples send " Accepted ", " For Another Dealer " and
    # " Incorrectly routed...": value lists are exact, and we send every string
    # trimmed. Later checks read the trimmed value so the slip is reported once.
    if value != value.strip():
        found.append(Violation(
            key, "surrounding_whitespace",
            f"{key} must not start or end with whitespace; send {value.strip()!r} {_cite(key)}.",
        ))
    stripped = value.strip()
    if not stripped:
        return found  # blank counts as not sent; required_fields decides if it was needed
    if key in DATE_FIELDS:
        return found + _check_date(key, stripped)
    # Length is measured after the whitespace report, so one slip is not
    # reported twice.
    if len(stripped) > MAX_LENGTHS[key]:
        found.append(Violation(
            key, "max_length",
            f"{key} is {len(stripped)} characters; the maximum is {MAX_LENGTHS[key]} {_cite(key)}.",
        ))
        return found
    if key == "currencyIsoCode":
        return found + _check_currency(stripped)
    if key in CHOICE_FIELDS:
        return found + _check_choice(key, stripped)
    return found


def _type_violation(key: str, value) -> Violation:
    got = _json_type(value)
    # 01/29/2021 made both Yes/No strings; the Disqualified samples still send
    # customerContacted: true (the Boolean of 12/6/2020).
    if key in ("customerContacted", "customerPreviouslyKnown"):
        return Violation(
            key, "invalid_type",
            f"{key} must be the string 'Yes' or 'No', not a JSON {got}; it changed from "
            f"Boolean to String {_cite(key, '01/29/2021')}.",
        )
    if key in DATE_FIELDS:
        return _violation(key, "invalid_type", f"{key} must be a date string YYYY-MM-DD, not a JSON {got}")
    return _violation(key, "invalid_type", f"{key} must be a JSON string, not a JSON {got}")


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _check_date(key: str, value: str) -> list[Violation]:
    if _DATE_RE.match(value):
        try:
            date.fromisoformat(value)
            return []
        except ValueError:
            pass
    return [_violation(key, "invalid_date", f"{key} must be a real calendar date YYYY-MM-DD, got {value!r}")]


def _check_currency(value: str) -> list[Violation]:
    if _CURRENCY_RE.match(value) and _iso_4217(value):
        return []
    return [Violation(
        "currencyIsoCode", "invalid_choice",
        f"currencyIsoCode must be a 3-letter upper-case ISO 4217 currency code such as 'USD', "
        f"got {value!r} {_cite('currencyIsoCode')}.",
    )]


def _iso_4217(code: str) -> bool:
    try:
        return pycountry.currencies.get(alpha_3=code) is not None
    except KeyError:  # older pycountry raises instead of returning None
        return False


def _check_choice(key: str, value: str) -> list[Violation]:
    allowed = CHOICE_FIELDS[key]
    if value in allowed:
        return []
    hint = _retired_value_hint(key, value) or _suggest_value(value, allowed)
    options = ", ".join(f"'{a}'" for a in allowed)
    return [_violation(key, "invalid_choice", f"{key} must be one of {options}; got {value!r}{hint}")]


def _retired_value_hint(key: str, value: str) -> str:
    if key == "rejectedReasonWhy" and value == "Other":
        return " ('Other' was removed from rejectedReasonWhy on 01/27/2021)"
    if key == "leadStatus" and value in ("ACCEPTED", "REJECTED", "DISQUALIFIED"):
        return f" (leadStatus is regular case since 01/27/2021: send {value.title()!r})"
    if key in ("customerContacted", "customerPreviouslyKnown") and value in ("Y", "N", "true", "false"):
        return " (the values are 'Yes'/'No' since 01/29/2021)"
    return ""


def _suggest_value(value: str, allowed: tuple) -> str:
    # Catches case slips ("low", "ACCEPTED") and old spellings with different
    # spacing ("Product / Service not offered at dealership", renamed 03/18/2021).
    def squash(text: str) -> str:
        return re.sub(r"\s+", "", text).lower()

    for option in allowed:
        if squash(option) == squash(value):
            return f" (values are exact and case-sensitive: did you mean {option!r}?)"
    return ""


def _check_probability(value) -> list[Violation]:
    key = "probabilityOfClosurePercentage"
    # Number 3,0: a JSON integer. The table's sample "50" (a string) is not
    # followed; every scenario sample sends a number.
    if not _is_int(value):
        return [_violation(
            key, "invalid_type",
            f"{key} must be a whole JSON number 0-100 (Number 3,0), not a JSON {_json_type(value)}",
        )]
    if not 0 <= value <= 100:
        return [_violation(key, "out_of_range", f"{key} must be between 0 and 100, got {value}")]
    return []


def _check_closed_no_deal(value) -> list[Violation]:
    key = "closedNoDeal"
    if not _is_int(value):
        return [Violation(
            key, "invalid_type",
            f"{key} must be the JSON integer 1 (lost due to no deal) or 0 (lost for other reason), "
            f"not a JSON {_json_type(value)} {_cite(key)}.",
        )]
    if value not in CLOSED_NO_DEAL_VALUES:
        return [Violation(
            key, "invalid_choice",
            f"{key} must be 1 (lost due to no deal) or 0 (lost for other reason), got {value} {_cite(key)}.",
        )]
    return []


def _check_amount(value) -> list[Violation]:
    key = "opportunityAmount"
    # Decimal 16,2: a JSON number. The table's sample "142410.00" (a string) is
    # not followed; every scenario sample sends a number.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return [_violation(
            key, "invalid_type",
            f"{key} must be a JSON number such as 142410.00 (Decimal 16,2), not a JSON {_json_type(value)}",
        )]
    try:
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        finite = amount.is_finite()
    except (InvalidOperation, ValueError):
        finite = False
    if not finite:
        return [_violation(key, "invalid_type", f"{key} must be a finite number (Decimal 16,2)")]
    if amount < 0:
        # Not stated by the document: a potential amount cannot be negative.
        return [_violation(key, "out_of_range", f"{key} must not be negative, got {value}")]
    if amount >= Decimal(10) ** _AMOUNT_INTEGER_DIGITS:
        return [_violation(
            key, "max_digits",
            f"{key} allows at most {_AMOUNT_INTEGER_DIGITS} digits before the decimal point (Decimal 16,2)",
        )]
    if -amount.normalize().as_tuple().exponent > _AMOUNT_DECIMAL_PLACES:
        return [_violation(
            key, "decimal_places",
            f"{key} allows at most {_AMOUNT_DECIMAL_PLACES} decimal places (Decimal 16,2), got {value}",
        )]
    return []


_NUMBER_CHECKS = {
    "opportunityAmount": _check_amount,
    "probabilityOfClosurePercentage": _check_probability,
    "closedNoDeal": _check_closed_no_deal,
}


# --------------------------------------------------------------------------
# Fields that contradict the outcome
# --------------------------------------------------------------------------


def _not_allowed(update: dict) -> list[Violation]:
    # Decisions (docs/vendors/cat.md): a field that belongs to another outcome
    # is refused rather than silently ignored, so what we send never
    # contradicts itself.
    status = _text(update, "leadStatus")
    found = []
    if status in LEAD_STATUSES:
        found += _reasons_for_other_status(update, status)
    if status in (REJECTED, DISQUALIFIED):
        found += _opportunity_fields_on_closed_lead(update, status)
    if status == ACCEPTED:
        found += _fields_for_other_stage(update)
    if _text(update, "customerContacted") == "No" and _present(update, "dateContacted"):
        found.append(Violation(
            "dateContacted", "not_allowed",
            "dateContacted must not be sent when customerContacted is 'No' "
            f"{_cite('dateContacted')}.",
        ))
    return found


def _reasons_for_other_status(update: dict, status: str) -> list[Violation]:
    # rejectedReason* belong to leadStatus 'Rejected', disqualifiedReason* to
    # 'Disqualified' (their table descriptions); on any other status they
    # contradict the outcome.
    owners = {
        "rejectedReasonWhy": REJECTED,
        "rejectedReasonComments": REJECTED,
        "disqualifiedReasonWhy": DISQUALIFIED,
        "disqualifiedReasonComments": DISQUALIFIED,
    }
    return [
        _violation(key, "not_allowed", f"{key} is only sent when leadStatus is '{owner}', not '{status}'")
        for key, owner in owners.items()
        if owner != status and _present(update, key)
    ]


def _opportunity_fields_on_closed_lead(update: dict, status: str) -> list[Violation]:
    # A Rejected/Disqualified lead was never converted to an opportunity: the
    # samples send these keys as null and opportunityAmount as 0.
    keys = ("dealerOpportunityId", "targetDate", "probabilityOfClosurePercentage", "closedNoDeal")
    keys += CLOSED_ONLY_FIELDS
    not_an_opportunity = f"is only sent for an opportunity (leadStatus 'Accepted'), not for a '{status}' lead"
    found = [
        _violation(key, "not_allowed", f"{key} {not_an_opportunity}; send null")
        for key in keys
        if _present(update, key)
    ]
    if _present(update, "opportunityAmount") and not _is_zero_number(update["opportunityAmount"]):
        found.append(_violation(
            "opportunityAmount", "not_allowed", f"opportunityAmount {not_an_opportunity}; send 0 or null",
        ))
    return found


def _fields_for_other_stage(update: dict) -> list[Violation]:
    # closedNoDeal only tells Closed Lost from Closed No Deal at probability 0
    # (closedNoDeal row); the closed-reason fields describe a closed
    # opportunity ("Reason why opportunity was Closed", "Secondary reason for
    # closing (Lost or Won or No Deal)", "comments for Closed Leads").
    found = []
    if _present(update, "probabilityOfClosurePercentage") and _probability(update) is None:
        return found  # the probability itself is invalid (reported); the stage is unknown
    probability = _probability(update) if is_opportunity(update) else None
    if _present(update, "closedNoDeal") and probability != 0:
        found.append(Violation(
            "closedNoDeal", "not_allowed",
            "closedNoDeal is only sent when probabilityOfClosurePercentage is 0 "
            f"(Closed Lost or Closed No Deal) {_cite('closedNoDeal')}.",
        ))
    if probability not in (0, 100):
        found += [
            _violation(
                key, "not_allowed",
                f"{key} is only sent for a closed opportunity (probabilityOfClosurePercentage 0 or 100)",
            )
            for key in CLOSED_ONLY_FIELDS
            if _present(update, key)
        ]
    return found


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


def validate_update(update: dict) -> list[Violation]:
    """Every rule of the document for one item of the POST /leads array.

    Returns [] for a valid item. Non-dict input gives one Violation with field
    "" and code invalid_type. Otherwise, in this order: key problems (unknown,
    whitespace-padded, removed/deprecated keys), value problems per known key
    (type, surrounding whitespace, max length, date format, value lists,
    number ranges), values that contradict the outcome (not_allowed), and
    missing required values (required / comment_required_for_reason, see
    required_fields). Null and blank strings count as not sent.
    """
    if not isinstance(update, dict):
        return [Violation(
            "", "invalid_type",
            f"Each item of the POST /leads array must be a JSON object, not a JSON {_json_type(update)} "
            f"{_cite('Request JSON - Leads object')}.",
        )]
    found = _check_keys(update)
    contradictions = _not_allowed(update)
    refused = {v.field for v in contradictions}
    for key in POST_FIELDS:
        if key in update and update[key] is not None and key not in refused:
            found += _check_value(key, update[key])
    found += contradictions
    found += [
        Violation(key, code, message)
        for key, (code, message) in _requirements(update).items()
        if not _present(update, key)
    ]
    return found


def validate_batch(items: list) -> list[list[Violation]]:
    """validate_update for every item of a POST /leads body, one list per item.

    Raises ValueError when items is not a list (the body is a JSON array).
    """
    if not isinstance(items, list):
        raise ValueError(
            f"The Cat PP+ V2 POST /leads body must be a JSON array of lead updates, "
            f"not a {_json_type(items)}."
        )
    return [validate_update(item) for item in items]
