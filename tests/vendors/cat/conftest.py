"""A Cat dealer (A100) with a Cat account pointing at a live sandbox Cat server on 127.0.0.1."""
import pytest
from django.core.cache import cache

from apps.leads.models import ReasonMapping, StageMapping
from sandboxes.cat import CatSandbox
from apps.vendors.core.models import VendorAccount
from tests.conftest import make_reasons, make_stages


@pytest.fixture
def fast_retries(settings):
    settings.LEADHUB_RETRY_BASE_SECONDS = 0.01
    settings.LEADHUB_RETRY_MAX_SECONDS = 0.05
    settings.LEADHUB_HTTP_READ_TIMEOUT = 0.5
    settings.LEADHUB_OUTBOX_BASE_SECONDS = 30
    settings.LEADHUB_PUSH_ON_COMMIT = False
    cache.clear()  # no token from another test's sandbox


@pytest.fixture
def sandbox():
    with CatSandbox(client_id="lh-client", client_secret="lh-secret") as server:
        yield server


@pytest.fixture
def cat_account(dealer_a, sandbox, fast_retries):
    account = VendorAccount(name="a100-cat", vendor="cat", dealer=dealer_a, base_url=sandbox.base_url,
                            token_url=sandbox.token_url, alert_emails="crm@acme.test")
    account.set_settings({"client_id": "lh-client", "client_secret": "lh-secret", "scope": "manage:all"})
    account.save()
    return account


@pytest.fixture
def cat_mapped(dealer_a):
    """Dealer A's reasons and stages, mapped to Cat's lists."""
    reasons = make_reasons(dealer_a)
    for kind, value in (("rejection", "For Another Dealer"), ("disqualification", "No budget"),
                        ("closed_lost", "Cat Price too High"), ("closed_won", "Dealer Service Capability")):
        ReasonMapping.objects.create(reason=reasons[kind], vendor="cat", vendor_value=value)
    stages = make_stages(dealer_a)
    StageMapping.objects.create(stage=stages[0], vendor="cat", vendor_value="Qualification", probability=10)
    StageMapping.objects.create(stage=stages[1], vendor="cat", vendor_value="Proposal/Negotiation", probability=50)
    return {"reasons": reasons, "stages": stages}
