"""CAP's part of the demo: the sandbox CAP Gateway and demo-cap, with a routing
rule sending the demo dealer's own Audi and Volkswagen leads there (enter one by
hand to see it go)."""
from __future__ import annotations

from apps.routing.models import RoutingRule
from apps.vendors.core.demo import DemoSandbox
from apps.vendors.core.models import VendorAccount

DEMO_CAMPAIGN = "966c7488-bfa7-45b5-8510-d26ba3008879"  # the document's example campaignId
SANDBOX = DemoSandbox("CAP sandbox", 8003, "sandboxes.cap", "cap", ("--api-key", "demo-cap-key"))


def seed(dealer, *, reasons, stages) -> None:
    account = VendorAccount.objects.filter(name="demo-cap").first()
    if account is None:
        account = VendorAccount(name="demo-cap", vendor="cap", dealer=dealer, base_url=SANDBOX.base_url,
                                alert_emails="it@demo.invalid")
        account.set_settings({"api_key": "demo-cap-key", "campaign_id": DEMO_CAMPAIGN})
        account.save()
    RoutingRule.objects.get_or_create(dealer=dealer, name="Audi and VW leads to CAP", defaults={
        "account": account, "brands": "Audi, Volkswagen", "position": 10})
