"""python manage.py seed_demo_rules: the demo dealer's assignment rule (its vendors'
leads, in turn, to its two salespeople), so the leads the sandbox vendors send
while `make run` runs are assigned and their owners notified. Idempotent; run by
`make run` after seed_demo (a command of its own: apps.leads, where seed_demo
lives, imports nothing of routing)."""
from __future__ import annotations

from django.contrib.auth import get_user_model

from apps.accounts.models import Dealer
from apps.core.commands import LeadHubCommand
from apps.leads.management.commands.seed_demo import DEALER_CODE
from apps.routing.models import AssignmentRule

RULE = "Vendor leads, in turn"
REPS = ("demo-staff", "demo-staff2")


class Command(LeadHubCommand):
    help = "Give the demo dealer its assignment rule (idempotent; after seed_demo)."

    def handle(self, *args, **options):
        dealer = Dealer.objects.filter(code=DEALER_CODE).first()
        if dealer is None:
            raise self.usage_error(f"no demo dealer {DEALER_CODE}: run seed_demo first")
        rule, created = AssignmentRule.objects.get_or_create(dealer=dealer, name=RULE, defaults={
            "vendors": "cat, capillary", "position": 10})  # no cap: the demo's reps hold many New leads
        if created:
            rule.reps.set(get_user_model().objects.filter(username__in=REPS))
        self.stdout.write(f"assignment rule {rule.name!r}: {'created' if created else 'kept'}")
