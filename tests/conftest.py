"""Shared fixtures: two dealers with named people, so every test can check isolation.

Dealer A (code A100, "Acme Equipment"):  alice (staff), adam (dealer admin)
Dealer B (code B200, "Birch Machinery"): bob (staff), bella (dealer admin)
root: superuser (the dealer group's IT)
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.accounts.models import Dealer, Membership, Role
from apps.api.keys import apikey_create
from apps.leads.models import Lead, Reason, ReasonMapping, SalesStage, StageMapping
from apps.leads.statuses import ReasonKind
from apps.vendors.core.models import VendorAccount

PASSWORD = "test-password-1"
# The management forms of the lead page's inlines, as a browser posts them.
LEAD_INLINES = {f"{prefix}-{name}": 0 for prefix in ("followups", "status_logs", "events", "outbox")
                for name in ("TOTAL_FORMS", "INITIAL_FORMS")}


def without_csrf(body: str) -> str:
    """A page without its random CSRF token, which can hold "bob" or "B200" by chance
    (a 64-character random token): assertions that a name is absent read this."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)


def make_user(username, *, dealer=None, role=Role.STAFF, superuser=False):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True,
                                                is_superuser=superuser, email=f"{username}@example.com")
    if dealer is not None:
        Membership.objects.create(user=user, dealer=dealer, role=role)
    return user


@pytest.fixture
def dealer_a(db):
    return Dealer.objects.create(code="A100", name="Acme Equipment", time_zone="America/Chicago")


@pytest.fixture
def dealer_b(db):
    return Dealer.objects.create(code="B200", name="Birch Machinery", time_zone="Europe/London",
                                 default_currency="GBP")


@pytest.fixture
def alice(dealer_a):
    return make_user("alice", dealer=dealer_a, role=Role.STAFF)


@pytest.fixture
def adam(dealer_a):
    return make_user("adam", dealer=dealer_a, role=Role.ADMIN)


@pytest.fixture
def bob(dealer_b):
    return make_user("bob", dealer=dealer_b, role=Role.STAFF)


@pytest.fixture
def bella(dealer_b):
    return make_user("bella", dealer=dealer_b, role=Role.ADMIN)


@pytest.fixture
def root(db):
    return make_user("root", superuser=True)


def make_lead(dealer, **fields):
    defaults = {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com", "company": "Doe Paving"}
    return Lead.objects.create(dealer=dealer, **{**defaults, **fields})


@pytest.fixture
def lead_a(dealer_a):
    return make_lead(dealer_a, first_name="Ann", last_name="Alder", email="ann@acme.test", phone="+1 309 555 0101")


@pytest.fixture
def lead_b(dealer_b):
    return make_lead(dealer_b, first_name="Ben", last_name="Birch", email="ben@birch.test", phone="+44 20 7946 0958",
                     vendor_lead_id=None)


def make_reasons(dealer):
    """One reason of each kind; the rejection one needs a comment."""
    reasons = {}
    for kind in ReasonKind.values:
        reasons[kind] = Reason.objects.create(dealer=dealer, kind=kind, label=f"{dealer.code} {kind}",
                                              requires_comment=(kind == ReasonKind.REJECTION))
    return reasons


def make_stages(dealer):
    return [SalesStage.objects.create(dealer=dealer, name=name, position=i, default_probability=p)
            for i, (name, p) in enumerate([("Discovery", 10), ("Quote", 50)])]


@pytest.fixture
def reasons_a(dealer_a):
    return make_reasons(dealer_a)


@pytest.fixture
def stages_a(dealer_a):
    return make_stages(dealer_a)


def make_cat_account(dealer, name=None, **fields):
    account = VendorAccount(name=name or f"{dealer.code.lower()}-cat", vendor="cat", dealer=dealer,
                            base_url="http://127.0.0.1:9/cat", token_url="http://127.0.0.1:9/cat/token", **fields)
    account.set_settings({"client_id": "client-" + dealer.code, "client_secret": "secret-" + dealer.code,
                          "scope": "manage:all"})
    account.save()
    return account


@pytest.fixture
def world(dealer_a, dealer_b, alice, adam, bob, bella, root):
    """Both dealers fully populated: one object of every model for each."""
    from apps.leads import services

    objects = {}
    for dealer, staff in ((dealer_a, alice), (dealer_b, bob)):
        account = make_cat_account(dealer)
        reasons = make_reasons(dealer)
        stages = make_stages(dealer)
        ReasonMapping.objects.create(reason=reasons[ReasonKind.REJECTION], vendor="cat",
                                     vendor_value="Bad Contact Information")
        StageMapping.objects.create(stage=stages[0], vendor="cat", vendor_value="Qualification", probability=10)
        from apps.leads.models import StatusMapping
        StatusMapping.objects.create(dealer=dealer, status="new", vendor="capillary", vendor_value="OPEN")
        from apps.vendors.capillary.models import CapillaryReason, CapillarySubStatus
        CapillaryReason.objects.create(account=account, reason_id=1, reason=f"{dealer.code} reason")
        CapillarySubStatus.objects.create(account=account, status="ON_HOLD", sub_status=f"{dealer.code} waiting")
        lead = make_lead(dealer, vendor_account=account, vendor_lead_id=f"{dealer.code}-LEAD-1",
                         first_name=f"{dealer.code}first", email=f"lead@{dealer.code.lower()}.test", owner=staff)
        followup = services.followup_schedule(lead=lead, scheduled_at=timezone.now() + timedelta(days=1), actor=staff).followup
        result = services.lead_change_status(lead=lead, to_status="accepted", actor=staff)
        assert result.ok, result.errors
        from apps.sync.models import InboxPage, OutboxItem, SyncHealth, SyncRun

        run = SyncRun.objects.create(account=account, kind="pull")
        page = InboxPage.objects.create(account=account, kind="pull", request="GET /leads", status_code=200,
                                        body=b"[]", run=run)
        outbox = OutboxItem.objects.get(status_log=result.log)  # queued by the status change itself
        from apps.routing.models import AssignmentRule, RoutingRule

        cap = VendorAccount(name=f"{dealer.code.lower()}-cap", vendor="cap", dealer=dealer,
                            base_url="http://127.0.0.1:9/cap")
        cap.set_settings({"api_key": "key-" + dealer.code, "campaign_id": "966c7488-bfa7-45b5-8510-d26ba3008879"})
        cap.save()
        rule = RoutingRule.objects.create(dealer=dealer, name=f"{dealer.code} Audi to CAP", account=cap,
                                          brands="Audi")
        assignment_rule = AssignmentRule.objects.create(dealer=dealer, name=f"{dealer.code} Cat leads", vendors="cat")
        assignment_rule.reps.set([staff])
        from apps.notifications.models import Kind, Notification

        notification = Notification.objects.create(user=staff, kind=Kind.ASSIGNED, lead=lead, key=f"world:{lead.pk}",
                                                   text=f"Lead {lead.pk} is yours")
        # An API key of the dealer (write scope), its text kept for the API tests.
        apikey, apikey_text = apikey_create(dealer=dealer, name=f"{dealer.code} DMS", scope="write")
        objects[dealer.code] = {"dealer": dealer, "apikey": apikey, "apikey_text": apikey_text, "account": account,
                                "lead": lead, "followup": followup, "run": run, "page": page, "outbox": outbox,
                                "health": SyncHealth.objects.get(pk=account.pk),
                                "statuslog": result.log, "reasons": reasons, "stages": stages,
                                "membership": Membership.objects.get(user=staff), "routingrule": rule,
                                "assignmentrule": assignment_rule, "notification": notification}
        from apps.webhooks.models import WebhookEndpoint
        from apps.webhooks.services import webhook_send_test

        endpoint = WebhookEndpoint.objects.create(dealer=dealer, url=f"https://hooks.example.com/{dealer.code.lower()}",
                                                  events=["lead.created"])
        objects[dealer.code].update(webhookendpoint=endpoint, webhookdelivery=webhook_send_test(endpoint=endpoint))
    return objects
