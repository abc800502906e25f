"""Capillary's part of the demo: the sandbox Capillary (12 leads made there) and
demo-capillary pulling from it, with the organisation's lists as the sandbox
has them and the demo dealer's mappings to them."""
from __future__ import annotations

from apps.leads.models import ReasonMapping, StageMapping, StatusMapping
from apps.vendors.core.demo import DemoSandbox
from apps.vendors.core.models import VendorAccount

from .models import CapillaryReason, CapillarySubStatus

SANDBOX = DemoSandbox("Capillary sandbox", 8002, "sandboxes.capillary", "capillary",
                      ("--username", "demo-user", "--password", "demo-pass", "--generate", "12"))
# The organisation's lists a demo sandbox starts with (the document's samples).
DEMO_REASONS = ("Item not available in store", "Best price availabe at another store",
                "Interested in our brand products")
DEMO_SUBSTATUSES = (("ON_HOLD", "YetToDecide"), ("LOST", "InvalidPhoneNumber"), ("OPEN", "Quoted"))
# dealer status -> Capillary status and sub-status ("Enums for status")
STATUSES = [("new", "OPEN", ""), ("accepted", "OPEN", ""), ("on_hold", "ON_HOLD", "YetToDecide"),
            ("rejected", "LOST", ""), ("disqualified", "LOST", "InvalidPhoneNumber"),
            ("closed_lost", "LOST", ""), ("closed_won", "WON", ""), ("closed_no_deal", "DELETED", "")]
# reason kind -> the Capillary reason id the demo dealer's reasons of that kind map to
REASON_IDS = {"rejection": "1", "disqualification": "1", "closed_lost": "2", "closed_won": "3", "on_hold": "3"}


def seed(dealer, *, reasons, stages) -> None:
    account = VendorAccount.objects.filter(name="demo-capillary").first()
    if account is None:
        account = VendorAccount(name="demo-capillary", vendor="capillary", dealer=dealer,
                                base_url=SANDBOX.base_url, pull_interval_minutes=1,
                                alert_emails="it@demo.invalid")
        account.set_settings({"username": "demo-user", "password": "demo-pass", "created_by": "28812689",
                              "default_reason_id": "3"})
        account.save()
    for reason_id, text in enumerate(DEMO_REASONS, start=1):
        CapillaryReason.objects.get_or_create(account=account, reason_id=reason_id, defaults={"reason": text})
    for status, sub in DEMO_SUBSTATUSES:
        CapillarySubStatus.objects.get_or_create(account=account, status=status, sub_status=sub)
    for status, value, sub in STATUSES:
        StatusMapping.objects.get_or_create(dealer=dealer, status=status, vendor="capillary", defaults={
            "vendor_value": value, "vendor_sub_status": sub})
    for kind, rows in reasons.items():
        for reason in rows:
            ReasonMapping.objects.get_or_create(reason=reason, vendor="capillary",
                                                defaults={"vendor_code": REASON_IDS[kind]})
    StageMapping.objects.get_or_create(stage=stages[-1], vendor="capillary", defaults={"vendor_value": "Quoted"})
