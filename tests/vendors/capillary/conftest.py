"""Dealer A with a Capillary account on a live sandbox Capillary on 127.0.0.1,
the organisation's reasons and sub-statuses, and dealer A's mappings to them."""
import pytest

from apps.leads.models import ReasonMapping, StageMapping, StatusMapping
from sandboxes.capillary import CapillarySandbox
from apps.vendors.core.models import VendorAccount
from tests.conftest import make_reasons, make_stages
from tests.vendors.cat.conftest import fast_retries  # noqa: F401 - the same retry settings

# dealer status -> (Capillary status, sub-status)
STATUS_MAP = {"new": ("OPEN", ""), "accepted": ("OPEN", ""), "on_hold": ("ON_HOLD", "YetToDecide"),
              "rejected": ("LOST", ""), "disqualified": ("LOST", "InvalidPhoneNumber"),
              "closed_lost": ("LOST", ""), "closed_won": ("WON", ""), "closed_no_deal": ("DELETED", "")}


@pytest.fixture
def sandbox():
    with CapillarySandbox(username="lh-api", password="lh-pass") as server:
        server.add_reasons(["Item not available in store", "Best price availabe at another store",
                            "Interested in our brand products", "Customer followed up"])
        server.add_substatus("ON_HOLD", "YetToDecide")
        server.add_substatus("LOST", "InvalidPhoneNumber")
        server.add_substatus("OPEN", "Quoted")
        yield server


@pytest.fixture
def account(dealer_a, sandbox, fast_retries):  # noqa: F811
    account = VendorAccount(name="a100-capillary", vendor="capillary", dealer=dealer_a, base_url=sandbox.base_url,
                            alert_emails="crm@acme.test")
    account.set_settings({"username": "lh-api", "password": "lh-pass", "created_by": "28812689",
                          "default_reason_id": "4"})
    account.save()
    return account


@pytest.fixture
def mapped(dealer_a, account):
    """Dealer A's statuses, reasons and stages mapped to the organisation's lists."""
    for status, (value, sub) in STATUS_MAP.items():
        StatusMapping.objects.create(dealer=dealer_a, status=status, vendor="capillary", vendor_value=value,
                                     vendor_sub_status=sub)
    reasons = make_reasons(dealer_a)
    for kind, code in (("rejection", "1"), ("disqualification", "1"), ("closed_lost", "2"), ("closed_won", "3")):
        ReasonMapping.objects.create(reason=reasons[kind], vendor="capillary", vendor_code=code)
    stages = make_stages(dealer_a)
    StageMapping.objects.create(stage=stages[1], vendor="capillary", vendor_value="Quoted")
    return {"reasons": reasons, "stages": stages}
