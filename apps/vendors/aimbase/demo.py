"""Aimbase's part of the demo: the sandbox Aimbase and demo-aimbase, to which
dealer leads are submitted (by hand or by routing) and whose later fate is
reported to its Disposition API."""
from __future__ import annotations

from apps.leads.models import StatusMapping
from apps.vendors.core.demo import DemoSandbox
from apps.vendors.core.models import VendorAccount

SANDBOX = DemoSandbox("Aimbase sandbox", 8004, "sandboxes.aimbase", "aimbase",
                      ("--username", "demo-user", "--token", "demo-token", "--manufacturer", "DEMO",
                       "--crm-source", "LeadHub"))
STATUSES = (("accepted", "Working"), ("closed_won", "Sold"), ("closed_lost", "Lost"), ("disqualified", "Abandoned"))


def seed(dealer, *, reasons, stages) -> None:
    if not VendorAccount.objects.filter(name="demo-aimbase").exists():
        account = VendorAccount(name="demo-aimbase", vendor="aimbase", dealer=dealer,
                                base_url=SANDBOX.base_url, alert_emails="it@demo.invalid")
        account.set_settings({"username": "demo-user", "token": "demo-token", "manufacturer": "DEMO",
                              "lead_source": "Dealer Website", "lead_type": "Request Quote",
                              "lead_category": "Dealer", "dealer_number": dealer.code, "default_country": "US",
                              "disposition_url": SANDBOX.base_url, "crm_source": "LeadHub"})
        account.save()
    for status, value in STATUSES:
        StatusMapping.objects.get_or_create(dealer=dealer, status=status, vendor="aimbase",
                                            defaults={"vendor_value": value})
