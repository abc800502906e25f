"""Cat's part of the demo: the sandbox Cat server (with 40 generated leads for the
demo dealer) and the demo-cat account pulling from it, with the demo dealer's
reasons and stages mapped to Cat's lists."""
from __future__ import annotations

from apps.leads.models import ReasonMapping, StageMapping
from apps.vendors.core.demo import DemoSandbox
from apps.vendors.core.models import VendorAccount

from . import rules

SANDBOX = DemoSandbox("Cat sandbox", 8001, "sandboxes.cat", "cat",
                      ("--client-id", "demo-client", "--client-secret", "demo-secret", "--generate", "40",
                       "--dealer-code", "DEMO"))

# The demo dealer's reason labels (seed_demo.REASONS) -> Cat's values.
REASON_VALUES = {
    "Wrong contact details": "Bad Contact Information",
    "Outside our territory": "For Another Dealer",
    "We don't sell this": "Product/Service Not Offered at Dealership",
    "Already have this lead": "Duplicate Lead Received",
    "Spam": "Spam/Inappropriate Lead Submission",
    "No answer after 3 tries": "Cannot reach/no response from customer",
    "No budget": "No budget",
    "Bought elsewhere": "Customer already purchased",
    "Timing changed": "Purchase time frame changed",
    "Other": "Other",
    "Price": "Cat Price too High",
    "Financing terms": "Competitive Financial (Term/Rates/Scope)",
    "Machine not available": "Used Parts/Equipment not Available",
    "Won on service": "Dealer Service Capability",
}
# The demo dealer's stage names -> Cat's stage and its probability.
STAGE_VALUES = {"Discovery": ("Qualification", 10), "Demo / site visit": ("Develop Solution", 30),
                "Quote sent": ("Proposal/Negotiation", 60), "Negotiation": ("Proposal/Negotiation", 80)}


def seed(dealer, *, reasons, stages) -> None:
    account = VendorAccount.objects.filter(name="demo-cat").first()
    if account is None:
        account = VendorAccount(name="demo-cat", vendor="cat", dealer=dealer, base_url=SANDBOX.base_url,
                                token_url=SANDBOX.base_url + "/as/token.oauth2", pull_interval_minutes=1,
                                alert_emails="it@demo.invalid")
        account.set_settings({"client_id": "demo-client", "client_secret": "demo-secret", "scope": "manage:all"})
        account.save()
    for rows in reasons.values():
        for reason in rows:
            if reason.label in REASON_VALUES:
                ReasonMapping.objects.get_or_create(reason=reason, vendor="cat",
                                                    defaults={"vendor_value": REASON_VALUES[reason.label]})
    for stage in stages:
        value, probability = STAGE_VALUES[stage.name]
        low, high = rules.probability_range(value)
        if not low <= probability <= high:
            raise ValueError(f"demo stage {stage.name}: {probability} % is outside Cat's {value} range")
        StageMapping.objects.get_or_create(stage=stage, vendor="cat", defaults={
            "vendor_value": value, "probability": probability})
