"""Dealer A with an Aimbase account pointing at a live sandbox Aimbase on 127.0.0.1."""
import pytest

from apps.sync.outbox import queue_submission
from sandboxes.aimbase import AimbaseSandbox
from apps.vendors.core.models import VendorAccount
from tests.conftest import make_lead
from tests.vendors.cat.conftest import fast_retries  # noqa: F401 - the same retry timings as Cat's tests

OPTIONS = {"username": "lh-user", "manufacturer": "BRP", "lead_source": "Dealer Walk-in",
           "lead_type": "Request Quote", "lead_category": "Dealer", "dealer_number": "A100",
           "dealer_name": "Acme Marine", "crm_source": "LeadHub", "format": "json"}


@pytest.fixture
def sandbox():
    with AimbaseSandbox(username="lh-user", token="lh-token", manufacturer="BRP", crm_source="LeadHub") as server:
        yield server


def make_account(dealer, sandbox, name="a100-aimbase", **options):
    account = VendorAccount(name=name, vendor="aimbase", dealer=dealer, base_url=sandbox.base_url,
                            alert_emails="crm@acme.test")
    account.set_settings({**OPTIONS, "disposition_url": sandbox.base_url, "token": "lh-token", **options})
    account.save()
    return account


@pytest.fixture
def aimbase_account(dealer_a, sandbox, fast_retries):  # noqa: F811
    return make_account(dealer_a, sandbox)


@pytest.fixture
def xml_account(dealer_a, sandbox, fast_retries):  # noqa: F811
    return make_account(dealer_a, sandbox, name="a100-aimbase-xml", format="xml")


def boat_lead(dealer, **fields):
    """A lead Aimbase accepts as it is."""
    defaults = {"country": "US", "city": "Saint Louis", "state_province": "MO", "postal_code": "63105",
                "phone": "+1 314 555 0100", "brand": "Sea-Doo", "product_interest": "GTX 170",
                "comments": "Wants a test ride", "source": "Boat show", "utm_source": "google", "utm_medium": "cpc"}
    return make_lead(dealer, **{**defaults, **fields})


def submit(account, *leads):
    """Queue each lead for submission (what routing does), asserting it is queued."""
    items = []
    for lead in leads:
        item, problems = queue_submission(account.adapter(), lead)
        assert item is not None
        items.append((item, problems))
    return items
