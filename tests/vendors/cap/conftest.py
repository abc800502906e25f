"""Dealer A with a CAP Gateway account pointing at a live sandbox CAP server on 127.0.0.1."""
import pytest

from sandboxes.cap import DEMO_CAMPAIGN, CapSandbox
from apps.vendors.core.models import VendorAccount
from tests.conftest import make_lead
from tests.vendors.cat.conftest import fast_retries  # noqa: F401 - shared fixture


@pytest.fixture
def cap_sandbox():
    with CapSandbox(api_key="lh-key") as server:
        yield server


@pytest.fixture
def cap_account(dealer_a, cap_sandbox, fast_retries):  # noqa: F811
    account = VendorAccount(name="a100-cap", vendor="cap", dealer=dealer_a, base_url=cap_sandbox.base_url,
                            alert_emails="crm@acme.test")
    account.set_settings({"api_key": "lh-key", "campaign_id": DEMO_CAMPAIGN})
    account.save()
    return account


@pytest.fixture
def uk_lead(dealer_a):
    """A walk-in at dealer A that CAP takes as it is."""
    return make_lead(dealer_a, first_name="Ada", last_name="Lovelace", email="ada@example.co.uk",
                     phone="020 8759 9036", postal_code="L3 9AG", product_interest="Q6 e-tron", brand="Audi",
                     source="Walk-in", opt_in_email=True, opt_in_phone=False)
