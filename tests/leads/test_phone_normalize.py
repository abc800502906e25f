"""normalize_phone's fast paths must give exactly phonenumbers' answer."""
from __future__ import annotations

import random

import phonenumbers
import pytest

from apps.leads.phones import _country_rules, _normalize_phone_slow, normalize_phone


def test_it_agrees_with_phonenumbers_for_every_country_code_and_shape():
    rnd = random.Random(20261123)
    checked, differ = 0, []
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        lengths, _, local_only = _country_rules(code)
        lengths = lengths or {8}
        # possible lengths, possible-locally lengths, and every too short and too
        # long one down to a single digit (the fast path refuses those itself)
        sizes = sorted(lengths | local_only | set(range(1, max(lengths) + 4)))
        for _ in range(40):
            size = rnd.choice(sizes)
            national = "".join(rnd.choice("0123456789") for _ in range(max(size, 1)))
            for shape in ("+{c}{n}", "+{c} {n}", "+{c} ({a}) {b}-{d}", "{n}"):
                raw = shape.format(c=code, n=national, a=national[:2], b=national[2:5], d=national[5:])
                for region in (None, "US", regions[0]):
                    checked += 1
                    if normalize_phone(raw, region) != _normalize_phone_slow(raw, region):
                        differ.append((raw, region))
    assert checked > 40_000
    assert differ == []


@pytest.mark.parametrize("raw, region, expected", [
    ("+1 (309) 555-5100", "US", "+13095555100"),
    ("(309) 555-5100", "US", "+13095555100"),
    ("+61 (2) 555-5114", "AU", "+6125555114"),
    ("+33 (4) 555-0123", "FR", ""),  # 8 digits: France needs 9, refused without phonenumbers
    ("+27 (11) 555-0123 99", "ZA", ""),  # 11 digits: South Africa allows at most 10
    ("+44 (0)20 7946 0958", "GB", "+442079460958"),  # trunk 0: phonenumbers strips it
    ("+86 121 15122 9836", "CN", "+861229836"),  # a carrier prefix phonenumbers strips
    ("+1 +1 (309)-654-5555", "US", ""),  # Cat's own sample: phonenumbers cannot read it either
    ("0119332705", "US", _normalize_phone_slow("0119332705", "US")),  # 011: the US international prefix
    ("not a phone", "US", ""),
    ("+٣٠٩٥٥٥٥١٠٠", None, _normalize_phone_slow("+٣٠٩٥٥٥٥١٠٠", None)),  # non-ASCII digits: the slow path
])
def test_it_normalizes_the_usual_shapes(raw, region, expected):
    assert normalize_phone(raw, region) == expected
