"""Phone numbers as the search key: normalize_phone and its fast path.

phonenumbers costs ~30-50 µs a number, which a pull or an import of 100,000
leads pays for every row; the fast path here answers the usual shapes without
it and gives exactly phonenumbers' answer (tests/leads/test_phone_normalize.py
holds the two paths equal on every shape and on every country's lengths).
The lead keeps the number as received; this is only its E.164 search key.
"""
from __future__ import annotations

import functools
import re

import phonenumbers

_NANP_FORMATTING = str.maketrans("", "", " ()-.")
NANP_REGIONS = frozenset({"US", "CA", "", None})


def normalize_phone(raw: str, region: str | None = None) -> str:
    """E.164 form of a phone number for search, or "" when it cannot be parsed.

    Vendors send phones in any shape ("+1 +1 (309)-654-5555" is in Cat's own
    document); the raw value is always kept as received, this is only the key
    that search and de-duplication use. phonenumbers costs ~30-50 µs a number,
    once the largest single cost of a vendor pull, so the usual shapes take a
    fast path that gives exactly phonenumbers' answer (a test compares the two
    over many numbers): North American numbers, and international numbers
    written "+<country code> <digits>" whose national part has no trunk prefix:
    with a length phonenumbers calls possible for that country it is the
    number, with a length it calls neither possible nor possible-locally it is
    "" (too short or too long is common in leads typed by hand, and went the
    slow way only to be refused there).
    """
    if not raw or not raw.strip():
        return ""
    compact = raw.translate(_NANP_FORMATTING)
    digits = compact.lstrip("+")
    if digits.isdigit() and digits.isascii():
        if (region or "").upper() in NANP_REGIONS:
            if compact.startswith("+1") and len(digits) == 11:
                return "+" + digits
            # 10 digits starting 2-9 (a NANP area code; "011..." is the US
            # international prefix and "1..." the trunk prefix, left to phonenumbers).
            if not compact.startswith("+") and len(digits) == 10 and region and digits[0] in "23456789":
                return "+1" + digits
        if compact.startswith("+") and compact.count("+") == 1:
            fast = _international_fast_path(digits)
            if fast is not None:
                return fast
    return _normalize_phone_slow(raw, region)


def _normalize_phone_slow(raw: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.cache
def _country_rules(country_code: int) -> tuple[frozenset[int], re.Pattern | None, frozenset[int]]:
    """For the main region of a country calling code: the national number lengths
    phonenumbers calls possible, the national prefix it strips while parsing
    (e.g. China's carrier codes), so numbers that start with it are left to it,
    and the lengths it calls possible only locally (no area code)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return frozenset(), None, frozenset()
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    if metadata is None or metadata.general_desc is None:
        return frozenset(), None, frozenset()
    prefix = metadata.national_prefix_for_parsing
    return (frozenset(metadata.general_desc.possible_length or ()), re.compile(prefix) if prefix else None,
            frozenset(metadata.general_desc.possible_length_local_only or ()))


def _international_fast_path(digits: str) -> str | None:
    """phonenumbers' answer for "+<digits>" where it is certain, None where only
    phonenumbers can tell."""
    # Country calling codes are prefix-free, so the first known 1-3 digit prefix is it.
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[size:]
            lengths, strips, local_only = _country_rules(code)
            # A leading 0 may be a trunk prefix that phonenumbers strips (or not,
            # as in Italy), and some countries have other prefixes it strips:
            # leave every such number to phonenumbers.
            if (not national or national[0] == "0" or (strips is not None and strips.match(national))
                    or not lengths or min(lengths) < 1):
                return None
            if len(national) in lengths:
                return "+" + digits
            # Its length test (_test_number_length) refuses every other length
            # that is not possible-locally: is_possible_number is False.
            return None if len(national) in local_only else ""
    return None
