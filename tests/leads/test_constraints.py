"""Rules one row can state are enforced by the database itself, not only by forms."""
import pytest
from django.db import IntegrityError, transaction

from apps.leads.models import Lead, ReasonMapping, StageMapping
from tests.conftest import make_cat_account, make_lead


def violates(**fields):
    return fields


@pytest.mark.parametrize("fields", [
    {"status": "nonsense"},
    {"probability": 101},
    {"status": "closed_won", "probability": 50},
    {"status": "closed_lost", "probability": 10},
    {"status": "closed_no_deal", "probability": None},
    {"status": "closed_won", "probability": None},
    {"currency": "usd"},
    {"opportunity_amount": -1},
    {"rating": "low"},
    {"origin": "fax"},
    {"vendor_lead_id": "X-1"},  # a vendor id without its account
], ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()))
def test_the_database_refuses_an_invalid_lead(dealer_a, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_lead(dealer_a, **fields)


def test_a_vendor_lead_id_is_unique_per_account_only(dealer_a, dealer_b):
    account_a, account_b = make_cat_account(dealer_a), make_cat_account(dealer_b)
    make_lead(dealer_a, vendor_account=account_a, vendor_lead_id="00Q1")
    make_lead(dealer_b, vendor_account=account_b, vendor_lead_id="00Q1")  # another account: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        make_lead(dealer_a, vendor_account=account_a, vendor_lead_id="00Q1")
    make_lead(dealer_a)
    make_lead(dealer_a)  # many manual leads without a vendor id
    assert Lead.objects.count() == 4


def test_one_mapping_per_reason_and_vendor(reasons_a, stages_a):
    ReasonMapping.objects.create(reason=reasons_a["rejection"], vendor="cat", vendor_value="Bad Contact Information")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReasonMapping.objects.create(reason=reasons_a["rejection"], vendor="cat", vendor_value="For Another Dealer")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReasonMapping.objects.create(reason=reasons_a["disqualification"], vendor="cat")  # no target
    with pytest.raises(IntegrityError), transaction.atomic():
        StageMapping.objects.create(stage=stages_a[0], vendor="cat", vendor_value="Qualification", probability=120)


def test_a_lead_cannot_mix_dealers(dealer_a, dealer_b):
    from django.core.exceptions import ValidationError

    lead = Lead(dealer=dealer_a, vendor_account=make_cat_account(dealer_b), vendor_lead_id="1")
    with pytest.raises(ValidationError) as excinfo:
        lead.full_clean()
    assert "vendor_account" in excinfo.value.message_dict


def test_it_normalises_phones_for_search_and_keeps_the_raw_value(dealer_a):
    lead = make_lead(dealer_a, phone="+1 +1 (309)-654-5555", country="US")
    assert lead.phone == "+1 +1 (309)-654-5555"
    lead = make_lead(dealer_a, phone="(309) 654-5555", country="US")
    assert lead.phone_normalized == "+13096545555"
    lead = make_lead(dealer_a, phone="020 7946 0958", country="GB")
    assert lead.phone_normalized == "+442079460958"
    assert make_lead(dealer_a, phone="n/a").phone_normalized == ""


@pytest.mark.parametrize("raw,region", [
    ("+1 (309) 555-0100", "US"), ("(309) 654-5555", "US"), ("309.654.5555", "CA"), ("+1 309 654 5555", None),
    ("3096545555", None), ("+13096545555", ""), ("+1 +1 (309)-654-5555", "US"), ("555-0100", "US"),
    ("+1 (800) 555-0199", "GB"), ("020 7946 0958", "GB"), ("+44 20 7946 0958", "US"), ("1-309-654-5555", "US"),
    ("+1 309 654 555", "US"), ("(309) 654-55555", "US"), ("+1 (309) 654-5555 ext. 12", "US"),
])
def test_the_phone_fast_path_agrees_with_phonenumbers(raw, region):
    import phonenumbers

    from apps.leads.phones import normalize_phone

    try:
        number = phonenumbers.parse(raw, (region or "").upper() or None)
        expected = (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                    if phonenumbers.is_possible_number(number) else "")
    except phonenumbers.NumberParseException:
        expected = ""
    assert normalize_phone(raw, region) == expected
