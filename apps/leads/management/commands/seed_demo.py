"""Idempotent demo data: a demo dealer, a user per role, reasons and stages with
their Cat mappings, and a few hundred realistic leads. Running it again changes
nothing (every row has a natural key); leads already worked keep their state."""
from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Dealer, Membership, Role
from apps.core.commands import LeadHubCommand
from apps.leads import services
from apps.leads.models import Lead, Origin, Reason, ReasonMapping, SalesStage, StageMapping, StatusMapping, Source
from apps.leads.statuses import ReasonKind, Status
from apps.vendors.cat import rules as cat
from apps.vendors.models import VendorAccount

DEALER_CODE = "DEMO"
SANDBOX_URLS = {"cat": "http://127.0.0.1:8001/cat",  # run_demo starts these
                "capillary": "http://127.0.0.1:8002/capillary",
                "cap": "http://127.0.0.1:8003/cap",
                "aimbase": "http://127.0.0.1:8004/aimbase"}
FIRST = ["James", "Maria", "Wei", "Aisha", "Lukas", "Sofia", "Carlos", "Priya", "Tom", "Emma", "Kenji", "Olga",
         "Mateo", "Grace", "Ahmed", "Lena", "Noah", "Chloe", "Ravi", "Hannah"]
LAST = ["Miller", "Garcia", "Chen", "Okafor", "Schmidt", "Rossi", "Silva", "Patel", "Brown", "Johnson", "Tanaka",
        "Ivanova", "Lopez", "Kim", "Hassan", "Novak", "Wilson", "Martin", "Singh", "Weber"]
COMPANIES = ["Prairie Earthworks", "Summit Paving", "Riverbend Aggregates", "Northline Forestry", "Keystone Demolition",
             "Blue Ridge Quarry", "Harbor Marine Services", "Redstone Mining", "Ironwood Construction",
             "Lakeside Landscaping", "Granite State Haulage", "Cedar Valley Farms"]
PRODUCTS = ["Excavator 320", "Wheel Loader 950", "Skid Steer Loader 262D3", "Motor Grader 140", "Dozer D6",
            "Mini Excavator 305 CR", "Backhoe Loader 420", "Generator Set DE18E3", "Compact Track Loader 299D3",
            "Articulated Truck 745"]
CITIES = [("Peoria", "IL", "61602"), ("Denver", "CO", "80202"), ("Austin", "TX", "78701"), ("Columbus", "OH", "43215"),
          ("Boise", "ID", "83702"), ("Raleigh", "NC", "27601")]
SOURCES = ["cat.com Request a Quote", "Trade show", "Walk-in", "Dealer website", "Call center"]

REASONS = {
    ReasonKind.REJECTION: [("Wrong contact details", "Bad Contact Information", False),
                           ("Outside our territory", "For Another Dealer", True),
                           ("We don't sell this", "Product/Service Not Offered at Dealership", True),
                           ("Already have this lead", "Duplicate Lead Received", False),
                           ("Spam", "Spam/Inappropriate Lead Submission", False)],
    ReasonKind.DISQUALIFICATION: [("No answer after 3 tries", "Cannot reach/no response from customer", False),
                                  ("No budget", "No budget", False),
                                  ("Bought elsewhere", "Customer already purchased", False),
                                  ("Timing changed", "Purchase time frame changed", False),
                                  ("Other", "Other", True)],
    ReasonKind.CLOSED_LOST: [("Price", "Cat Price too High", False),
                             ("Financing terms", "Competitive Financial (Term/Rates/Scope)", False),
                             ("Machine not available", "Used Parts/Equipment not Available", False)],
    ReasonKind.CLOSED_WON: [("Won on service", "Dealer Service Capability", False)],
    ReasonKind.ON_HOLD: [("Customer asked to wait", None, False)],
}
# dealer status -> Capillary status and sub-status ("Enums for status")
CAPILLARY_STATUSES = [("new", "OPEN", ""), ("accepted", "OPEN", ""), ("on_hold", "ON_HOLD", "YetToDecide"),
                      ("rejected", "LOST", ""), ("disqualified", "LOST", "InvalidPhoneNumber"),
                      ("closed_lost", "LOST", ""), ("closed_won", "WON", ""), ("closed_no_deal", "DELETED", "")]
STAGES = [("Discovery", 10, "Qualification", 10), ("Demo / site visit", 30, "Develop Solution", 30),
          ("Quote sent", 60, "Proposal/Negotiation", 60), ("Negotiation", 80, "Proposal/Negotiation", 80)]
USERS = [("demo-admin", "Dana", "Admin", Role.ADMIN), ("demo-staff", "Sam", "Staff", Role.STAFF),
         ("demo-staff2", "Alex", "Sales", Role.STAFF)]


class Command(LeadHubCommand):
    help = "Create the demo dealer, users, reasons, stages, mappings and leads (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=300, help="How many demo leads (default 300).")

    def handle(self, *args, leads, **options):
        if not 0 <= leads <= 100_000:
            raise self.usage_error("--leads must be between 0 and 100000.")
        with transaction.atomic():
            dealer, _ = Dealer.objects.get_or_create(
                code=DEALER_CODE, defaults={"name": "Demo Equipment Co.", "time_zone": "America/Chicago"})
            users = self._users(dealer)
            reasons = self._reasons(dealer)
            stages = self._stages(dealer)
            self._sandbox_accounts(dealer)
            self._aimbase_account(dealer)
            self._capillary_account(dealer, reasons, stages)
            created = self._leads(dealer, users, reasons, stages, leads)
        password = settings.LEADHUB_DEMO_PASSWORD
        self.stdout.write(f"demo dealer {dealer.code}: {created} leads created, "
                          f"{Lead.objects.filter(dealer=dealer).count()} in all")
        self.stdout.write(f"logins (password {password!r}): admin (superuser), "
                          + ", ".join(f"{u} ({r})" for u, _, _, r in USERS))

    def _users(self, dealer):
        User = get_user_model()
        password = settings.LEADHUB_DEMO_PASSWORD
        admin, created = User.objects.get_or_create(username="admin", defaults={
            "is_staff": True, "is_superuser": True, "email": "admin@demo.invalid"})
        if created:
            admin.set_password(password)
            admin.save()
        users = []
        for username, first, last, role in USERS:
            user, created = User.objects.get_or_create(username=username, defaults={
                "first_name": first, "last_name": last, "is_staff": True, "email": f"{username}@demo.invalid"})
            if created:
                user.set_password(password)
                user.save()
            Membership.objects.get_or_create(user=user, dealer=dealer, defaults={"role": role})
            users.append(user)
        return users

    def _sandbox_accounts(self, dealer):
        """Vendor accounts pointing at the sandbox vendors that run_demo starts on
        127.0.0.1; their leads arrive through the real sync, never a real vendor."""
        account = VendorAccount.objects.filter(name="demo-cat").first()
        if account is None:
            account = VendorAccount(name="demo-cat", vendor="cat", dealer=dealer, base_url=SANDBOX_URLS["cat"],
                                    token_url=SANDBOX_URLS["cat"] + "/as/token.oauth2", pull_interval_minutes=1,
                                    alert_emails="it@demo.invalid")
            account.set_settings({"client_id": "demo-client", "client_secret": "demo-secret", "scope": "manage:all"})
            account.save()
        self._cap_demo(dealer)

    def _cap_demo(self, dealer):
        """A CAP Gateway account (the sandbox on 8003), a routing rule sending the
        dealer's own Audi and Volkswagen leads there (enter one by hand to see it go)."""
        from apps.routing.models import RoutingRule
        from apps.vendors.cap.sandbox import DEMO_CAMPAIGN

        account = VendorAccount.objects.filter(name="demo-cap").first()
        if account is None:
            account = VendorAccount(name="demo-cap", vendor="cap", dealer=dealer, base_url=SANDBOX_URLS["cap"],
                                    alert_emails="it@demo.invalid")
            account.set_settings({"api_key": "demo-cap-key", "campaign_id": DEMO_CAMPAIGN})
            account.save()
        RoutingRule.objects.get_or_create(dealer=dealer, name="Audi and VW leads to CAP", defaults={
            "account": account, "brands": "Audi, Volkswagen", "position": 10})

    def _aimbase_account(self, dealer):
        """demo-aimbase: dealer leads submitted to the sandbox Aimbase (by hand or
        by routing), and what is then done with them reported to its Disposition API."""
        if not VendorAccount.objects.filter(name="demo-aimbase").exists():
            account = VendorAccount(name="demo-aimbase", vendor="aimbase", dealer=dealer,
                                    base_url=SANDBOX_URLS["aimbase"], alert_emails="it@demo.invalid")
            account.set_settings({"username": "demo-user", "token": "demo-token", "manufacturer": "DEMO",
                                  "lead_source": "Dealer Website", "lead_type": "Request Quote",
                                  "lead_category": "Dealer", "dealer_number": DEALER_CODE, "default_country": "US",
                                  "disposition_url": SANDBOX_URLS["aimbase"], "crm_source": "LeadHub"})
            account.save()
        for status, value in (("accepted", "Working"), ("closed_won", "Sold"), ("closed_lost", "Lost"),
                              ("disqualified", "Abandoned")):
            StatusMapping.objects.get_or_create(dealer=dealer, status=status, vendor="aimbase",
                                                defaults={"vendor_value": value})

    def _capillary_account(self, dealer, reasons, stages):
        """demo-capillary on the sandbox Capillary (its leads are made there by
        run_demo's --generate), with the organisation's lists as the sandbox has
        them and the demo dealer's mappings to them."""
        from apps.vendors.capillary.sandbox import DEMO_REASONS, DEMO_SUBSTATUSES
        from apps.vendors.models import CapillaryReason, CapillarySubStatus

        account = VendorAccount.objects.filter(name="demo-capillary").first()
        if account is None:
            account = VendorAccount(name="demo-capillary", vendor="capillary", dealer=dealer,
                                    base_url=SANDBOX_URLS["capillary"], pull_interval_minutes=1,
                                    alert_emails="it@demo.invalid")
            account.set_settings({"username": "demo-user", "password": "demo-pass", "created_by": "28812689",
                                  "default_reason_id": "3"})
            account.save()
        for reason_id, text in enumerate(DEMO_REASONS, start=1):
            CapillaryReason.objects.get_or_create(account=account, reason_id=reason_id, defaults={"reason": text})
        for status, sub in DEMO_SUBSTATUSES:
            CapillarySubStatus.objects.get_or_create(account=account, status=status, sub_status=sub)
        for status, value, sub in CAPILLARY_STATUSES:
            StatusMapping.objects.get_or_create(dealer=dealer, status=status, vendor="capillary", defaults={
                "vendor_value": value, "vendor_sub_status": sub})
        codes = {"rejection": "1", "disqualification": "1", "closed_lost": "2", "closed_won": "3", "on_hold": "3"}
        for kind, rows in reasons.items():
            for reason in rows:
                ReasonMapping.objects.get_or_create(reason=reason, vendor="capillary",
                                                    defaults={"vendor_code": codes[kind]})
        StageMapping.objects.get_or_create(stage=stages[-1], vendor="capillary", defaults={"vendor_value": "Quoted"})

    def _reasons(self, dealer):
        out = {}
        for kind, rows in REASONS.items():
            for position, (label, cat_value, needs_comment) in enumerate(rows):
                reason, _ = Reason.objects.get_or_create(dealer=dealer, kind=kind, label=label, defaults={
                    "position": position, "requires_comment": needs_comment})
                if cat_value:
                    ReasonMapping.objects.get_or_create(reason=reason, vendor="cat", defaults={"vendor_value": cat_value})
                out.setdefault(kind, []).append(reason)
        return out

    def _stages(self, dealer):
        out = []
        for position, (name, probability, cat_stage, cat_probability) in enumerate(STAGES):
            stage, _ = SalesStage.objects.get_or_create(dealer=dealer, name=name, defaults={
                "position": position, "default_probability": probability})
            StageMapping.objects.get_or_create(stage=stage, vendor="cat", defaults={
                "vendor_value": cat_stage, "probability": cat_probability})
            assert cat.probability_range(cat_stage)[0] <= cat_probability <= cat.probability_range(cat_stage)[1]
            out.append(stage)
        return out

    def _leads(self, dealer, users, reasons, stages, count):
        rnd = random.Random(20261123)  # same demo every time
        now = timezone.now()
        existing = set(Lead.objects.filter(dealer=dealer, origin=Origin.MANUAL, source__startswith="demo:")
                       .values_list("source", flat=True))
        created = 0
        for i in range(count):
            key = f"demo:{i:05d}"
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            city, state, postal = rnd.choice(CITIES)
            age = timedelta(hours=rnd.randint(1, 24 * 60))
            plan = rnd.random()
            if key in existing:
                continue
            lead = Lead.objects.create(
                dealer=dealer, origin=Origin.MANUAL, source=key, campaign=rnd.choice(SOURCES),
                first_name=first, last_name=last, company=rnd.choice(COMPANIES),
                email=f"{first}.{last}{i}@example.com".lower(), phone=f"+1 309 555 {1000 + i:04d}",
                city=city, state_province=state, postal_code=postal, country="US",
                product_interest=rnd.choice(PRODUCTS), currency="USD", created_at=now - age,
                owner=rnd.choice([None, *users[1:]]),
            )
            created += 1
            self._work(lead, plan, rnd, users, reasons, stages, now)
        return created

    def _work(self, lead, plan, rnd, users, reasons, stages, now):
        """Give a share of the leads a realistic history through the real services."""
        actor = lead.owner or users[1]
        change = lambda **kw: services.lead_change_status(lead=lead, actor=actor, source=Source.SYSTEM, **kw)  # noqa: E731
        if plan < 0.45:
            if plan < 0.2:
                services.followup_schedule(lead=lead, scheduled_at=now + timedelta(hours=rnd.randint(-48, 96)),
                                           notes="Call to qualify", actor=actor)
            return
        if plan < 0.55:
            reason = rnd.choice(reasons[ReasonKind.REJECTION])
            change(to_status=Status.REJECTED, reason=reason, comment="Demo: " + reason.label)
            return
        if plan < 0.62:
            reason = rnd.choice(reasons[ReasonKind.DISQUALIFICATION])
            change(to_status=Status.DISQUALIFIED, reason=reason, comment="Demo: " + reason.label)
            return
        change(to_status=Status.ACCEPTED, comment="Customer reached")
        stage = rnd.choice(stages)
        change(to_status=Status.ACCEPTED, stage=stage)
        services.followup_schedule(lead=lead, scheduled_at=now + timedelta(hours=rnd.randint(-72, 120)),
                                   kind="appointment", notes="Follow up on " + stage.name, actor=actor)
        if plan > 0.9:
            change(to_status=Status.CLOSED_WON, reason=reasons[ReasonKind.CLOSED_WON][0])
        elif plan > 0.85:
            change(to_status=Status.CLOSED_LOST, reason=rnd.choice(reasons[ReasonKind.CLOSED_LOST]))
