"""Idempotent demo data: a demo dealer, a user per role, reasons and stages, each
vendor's demo account and mappings (its demo.py: seed()), and a few hundred
realistic leads. Running it again changes
nothing (every row has a natural key); leads already worked keep their state."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Dealer, Membership, Role
from apps.core.commands import LeadHubCommand
from apps.leads import services
from apps.leads.models import Lead, Origin, Reason, SalesStage, Source
from apps.leads.statuses import ReasonKind, Status
from apps.vendors.core.registry import ADAPTERS, vendor_module

DEALER_CODE = "DEMO"
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

REASONS = {  # kind -> (label, needs a comment); each vendor's demo.py maps them to its list
    ReasonKind.REJECTION: [("Wrong contact details", False), ("Outside our territory", True),
                           ("We don't sell this", True), ("Already have this lead", False), ("Spam", False)],
    ReasonKind.DISQUALIFICATION: [("No answer after 3 tries", False), ("No budget", False),
                                  ("Bought elsewhere", False), ("Timing changed", False), ("Other", True)],
    ReasonKind.CLOSED_LOST: [("Price", False), ("Financing terms", False), ("Machine not available", False)],
    ReasonKind.CLOSED_WON: [("Won on service", False)],
    ReasonKind.ON_HOLD: [("Customer asked to wait", False)],
}
STAGES = [("Discovery", 10), ("Demo / site visit", 30), ("Quote sent", 60), ("Negotiation", 80)]
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
            for kind in ADAPTERS:  # each vendor's demo account and mappings (apps/vendors/<kind>/demo.py)
                vendor_module(kind, "demo").seed(dealer, reasons=reasons, stages=stages)
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

    def _reasons(self, dealer):
        out = {}
        for kind, rows in REASONS.items():
            for position, (label, needs_comment) in enumerate(rows):
                reason, _ = Reason.objects.get_or_create(dealer=dealer, kind=kind, label=label, defaults={
                    "position": position, "requires_comment": needs_comment})
                out.setdefault(kind, []).append(reason)
        return out

    def _stages(self, dealer):
        out = []
        for position, (name, probability) in enumerate(STAGES):
            stage, _ = SalesStage.objects.get_or_create(dealer=dealer, name=name, defaults={
                "position": position, "default_probability": probability})
            out.append(stage)
        return out

    def _leads(self, dealer, users, reasons, stages, count):
        rnd = random.Random(20261123)  # same demo every time
        now = timezone.now()
        # The natural key is the lead's "your reference" (demos before this one kept it
        # in the source: those are recognised too, so running it again adds nothing).
        existing = set(Lead.objects.filter(dealer=dealer, origin=Origin.MANUAL, external_ref__startswith="demo:")
                       .values_list("external_ref", flat=True))
        existing |= set(Lead.objects.filter(dealer=dealer, origin=Origin.MANUAL, source__startswith="demo:")
                        .values_list("source", flat=True))
        created = 0
        for i in range(count):
            key = f"demo:{i:05d}"
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            city, state, postal = rnd.choice(CITIES)
            age = timedelta(hours=rnd.randint(1, 24 * 84))  # twelve weeks of history: trends show
            plan = rnd.random()
            if key in existing:
                continue
            lead = Lead.objects.create(
                dealer=dealer, origin=Origin.MANUAL, external_ref=key, source=rnd.choice(SOURCES),
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
        """Give a share of the leads a realistic history through the real services, at
        the times it would have happened: the first outcome minutes to days after the
        lead came in (faster in recent weeks, so the speed trend shows), stages and
        closings later, follow-ups done on time or late."""
        actor = lead.owner or users[1]
        received = lead.created_at
        weeks_ago = (now - received).days / 7
        clock = [received]

        def later(minutes: float) -> datetime:
            clock[0] = min(clock[0] + timedelta(minutes=minutes), now - timedelta(minutes=1))
            return clock[0]

        def change(**kw):
            return services.lead_change_status(lead=lead, actor=actor, source=Source.SYSTEM, **kw)

        if plan < 0.45:
            if plan < 0.2:
                services.followup_schedule(lead=lead, scheduled_at=now + timedelta(hours=rnd.randint(-48, 96)),
                                           notes="Call to qualify", actor=actor)
            return
        first_outcome = later(rnd.lognormvariate(3.0 + 0.25 * weeks_ago, 1.0))  # ~20 min now, hours 12 weeks ago
        if plan < 0.55:
            reason = rnd.choice(reasons[ReasonKind.REJECTION])
            change(to_status=Status.REJECTED, reason=reason, comment="Demo: " + reason.label, at=first_outcome)
            return
        if plan < 0.62:
            reason = rnd.choice(reasons[ReasonKind.DISQUALIFICATION])
            change(to_status=Status.DISQUALIFIED, reason=reason, comment="Demo: " + reason.label, at=first_outcome)
            return
        change(to_status=Status.ACCEPTED, comment="Customer reached", at=first_outcome)
        stage = rnd.choice(stages)
        amount = rnd.choice([18_000, 45_000, 95_000, 160_000, 310_000])
        change(to_status=Status.ACCEPTED, stage=stage, at=later(rnd.uniform(60, 3 * 1440)),
               updates={"opportunity_amount": amount, "target_date": (now + timedelta(days=rnd.randint(20, 120))).date()})
        due = later(rnd.uniform(1440, 5 * 1440))
        result = services.followup_schedule(lead=lead, scheduled_at=due, kind="appointment",
                                            notes="Follow up on " + stage.name, actor=actor)
        if due < now - timedelta(days=1) and rnd.random() < 0.8:  # most past follow-ups were done, some late
            services.followup_complete(followup=result.followup, actor=actor, outcome_notes="Met the customer",
                                       at=min(due + timedelta(hours=rnd.choice([1, 3, 30, 50])), now))
        if plan > 0.9:
            change(to_status=Status.CLOSED_WON, reason=reasons[ReasonKind.CLOSED_WON][0], at=later(rnd.uniform(1, 20) * 1440),
                   updates={"customer_number": f"DEMO-{lead.pk}"})
        elif plan > 0.85:
            change(to_status=Status.CLOSED_LOST, reason=rnd.choice(reasons[ReasonKind.CLOSED_LOST]),
                   at=later(rnd.uniform(1, 20) * 1440), updates={"customer_number": f"DEMO-{lead.pk}"})
