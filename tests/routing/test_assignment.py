"""Assignment rules (apps/routing/assignment.py): the first matching rule of the
dealer decides who gets a new lead; its reps take turns, skipping those away or at
the cap; an explicit owner wins; applied on hand entry, import and after a pull."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Membership, Role
from apps.leads.models import EventKind, Lead, LeadEvent
from apps.leads.signals import leads_arrived
from apps.routing import arrivals, assignment
from apps.routing.models import AssignmentRule
from apps.sync import engine
from apps.sync.models import OutboxItem
from apps.vendors.core.models import VendorAccount
from tests.conftest import make_cat_account, make_lead, make_user
from tests.leads.test_lead_import import HEADER, confirm, upload
from tests.vendors.cat.conftest import cat_account, fast_retries, sandbox  # noqa: F401 - shared fixtures


def rule(dealer, reps, name="rule", position=0, **criteria):
    made = AssignmentRule.objects.create(dealer=dealer, name=name, position=position, **criteria)
    made.reps.set(reps)
    return made


def vendor_lead(dealer, account, vendor_lead_id, **fields):
    """A vendor's lead as a pull leaves it: inserted, its arrival not processed yet."""
    return make_lead(dealer, vendor_account=account, vendor_lead_id=vendor_lead_id, **fields)


@pytest.fixture
def carl(dealer_a):
    return make_user("carl", dealer=dealer_a, role=Role.STAFF)


@pytest.fixture
def dora(dealer_a):
    return make_user("dora", dealer=dealer_a, role=Role.STAFF)


# Each criterion kind: a lead it matches and one it does not.
CRITERIA = [
    ({"vendors": "cat"}, {"vendor": True}, {}),
    ({"vendors": "manual"}, {}, {"vendor": True}),
    ({"brands": "Cat, Volvo"}, {"brand": "volvo"}, {"brand": "Deere"}),
    ({"product_keywords": "excavator"}, {"product_interest": "Mini Excavator 305"}, {"product_interest": "Loader"}),
    ({"sources": "Walk-in"}, {"source": "walk-in"}, {"source": "Website"}),
    ({"postal_prefixes": "606, 607"}, {"postal_code": "60614"}, {"postal_code": "53202"}),
    ({"states": "IL, Wis"}, {"state_province": "Wisconsin"}, {"state_province": "Iowa"}),
    ({"countries": "us"}, {"country": "US"}, {"country": "CA"}),
]


@pytest.mark.parametrize("criteria, matching, other", CRITERIA)
def test_each_criterion_kind_matches_what_it_says(dealer_a, alice, criteria, matching, other):
    account = make_cat_account(dealer_a)
    rule(dealer_a, [alice], **criteria)

    def arrive(fields, n):
        fields = dict(fields)
        if fields.pop("vendor", False):
            return vendor_lead(dealer_a, account, f"V{n}", **fields)
        return make_lead(dealer_a, **fields)

    yes, no = arrive(matching, 1), arrive(other, 2)
    arrivals.process_arrivals()
    assert Lead.objects.get(pk=yes.pk).owner == alice
    assert Lead.objects.get(pk=no.pk).owner is None


def test_an_account_criterion(dealer_a, alice):
    first, second = make_cat_account(dealer_a, name="cat-one"), make_cat_account(dealer_a, name="cat-two")
    made = rule(dealer_a, [alice])
    made.accounts.set([second])
    one, two = vendor_lead(dealer_a, first, "L1"), vendor_lead(dealer_a, second, "L2")
    arrivals.process_arrivals()
    assert (Lead.objects.get(pk=one.pk).owner, Lead.objects.get(pk=two.pk).owner) == (None, alice)


def test_the_first_matching_rule_decides(dealer_a, alice, carl):
    rule(dealer_a, [carl], name="everything else", position=2)
    rule(dealer_a, [alice], name="excavators", position=1, product_keywords="excavator")
    digger = make_lead(dealer_a, product_interest="Excavator")
    loader = make_lead(dealer_a, product_interest="Loader")
    assert (Lead.objects.get(pk=digger.pk).owner, Lead.objects.get(pk=loader.pk).owner) == (alice, carl)


def test_reps_take_turns_skipping_the_away_and_the_full(dealer_a, alice, carl, dora):
    made = rule(dealer_a, [alice, carl, dora], max_open_new=2)
    owners = [make_lead(dealer_a).owner.username for _ in range(3)]
    assert owners == ["alice", "carl", "dora"]
    today = timezone.localdate()
    Membership.objects.filter(user=carl).update(away_from=today - timedelta(days=1), away_until=today + timedelta(days=3))
    assert [make_lead(dealer_a).owner.username for _ in range(2)] == ["alice", "dora"]  # carl is away
    # alice and dora now hold two new leads each (the cap), carl is away: nobody left.
    stuck = make_lead(dealer_a)
    assert stuck.owner is None
    note = LeadEvent.objects.get(lead=stuck, kind=EventKind.ASSIGNED)
    assert "each of its reps is away or has the most new leads allowed" in note.summary
    made.refresh_from_db()
    assert made.last_rep == dora


def test_a_rep_who_left_the_dealer_is_skipped(dealer_a, alice, carl):
    rule(dealer_a, [alice, carl])
    Membership.objects.filter(user=alice).delete()
    assert [make_lead(dealer_a).owner for _ in range(2)] == [carl, carl]


def test_an_explicit_owner_wins(dealer_a, alice, carl):
    rule(dealer_a, [alice])
    lead = make_lead(dealer_a, owner=carl)
    assert Lead.objects.get(pk=lead.pk).owner == carl
    assert not LeadEvent.objects.filter(lead=lead, kind=EventKind.ASSIGNED).exists()


def test_an_assignment_is_in_the_timeline_and_the_audit_history(dealer_a, alice):
    rule(dealer_a, [alice], name="Chicago walk-ins")
    lead = make_lead(dealer_a)
    event = LeadEvent.objects.get(lead=lead, kind=EventKind.ASSIGNED)
    assert event.summary == "Assigned to alice by rule “Chicago walk-ins”" and event.actor_label == "assignment rules"
    assert Lead.history.filter(id=lead.pk).first().history_change_reason == "Assigned by rule “Chicago walk-ins”"
    assert Lead.objects.get(pk=lead.pk).arrival_processed_at is not None


def test_vendor_leads_wait_for_the_job_after_the_pull(dealer_a, alice, monkeypatch):
    queued = []
    monkeypatch.setattr(arrivals.django_q_tasks, "async_task", lambda *args, **kwargs: queued.append(args[0]))
    account = make_cat_account(dealer_a)
    rule(dealer_a, [alice])
    lead = vendor_lead(dealer_a, account, "C1")
    assert Lead.objects.get(pk=lead.pk).owner is None  # not inside the pull
    leads_arrived.send(sender=Lead, account=account)
    assert queued == ["apps.routing.arrivals.process_arrivals"]
    assert arrivals.process_arrivals() == 1
    assert Lead.objects.get(pk=lead.pk).owner == alice
    assert arrivals.process_arrivals() == 0  # never twice


def test_an_automatic_assignment_is_reported_to_a_vendor_that_takes_owner_changes(dealer_a, alice):
    account = VendorAccount(name="a100-capillary", vendor="capillary", dealer=dealer_a, base_url="http://127.0.0.1:9/")
    account.set_settings({"username": "lh-api", "password": "lh-pass", "created_by": "1", "default_reason_id": "4"})
    account.save()
    rule(dealer_a, [alice])
    lead = vendor_lead(dealer_a, account, "C2")
    arrivals.process_arrivals()
    assert Lead.objects.get(pk=lead.pk).owner == alice
    [update] = OutboxItem.objects.filter(lead=lead, account=account)  # Capillary hears of its new owner
    assert update.payload["owner"] == "alice"


def test_imported_leads_are_assigned_unless_the_file_names_an_owner(dealer_a, alice, carl, client):
    rule(dealer_a, [carl])
    client.force_login(alice)
    confirm(client, upload(client, f"{HEADER}\nA100,EV-1,Ida,Import,ida@in.test,,US,\n"
                                   f"A100,EV-2,Otto,Owned,otto@in.test,,US,alice\n"))
    assert Lead.objects.get(email="ida@in.test").owner == carl
    assert Lead.objects.get(email="otto@in.test").owner == alice


def test_bad_rule_input_is_said_plainly(dealer_a):
    with pytest.raises(ValidationError) as vendors:
        AssignmentRule(dealer=dealer_a, name="x", vendors="cat, sap").full_clean(exclude=["reps"])
    assert "Unknown vendor sap" in str(vendors.value)
    with pytest.raises(ValidationError) as countries:
        AssignmentRule(dealer=dealer_a, name="x", countries="USA").full_clean(exclude=["reps"])
    assert "two-letter country codes" in str(countries.value)
    with pytest.raises(ValidationError):
        Membership(user=make_user("eve"), dealer=dealer_a, away_from=timezone.localdate(),
                   away_until=timezone.localdate() - timedelta(days=1)).full_clean()


def test_the_preview_shows_what_the_rule_would_assign_and_who_is_available(client, adam, dealer_a, dealer_b, alice,
                                                                           carl):
    first = rule(dealer_a, [carl], name="excavators", position=1, product_keywords="excavator")
    second = rule(dealer_a, [alice, carl], name="everything", position=2, max_open_new=1)
    make_lead(dealer_a, product_interest="Excavator", owner=carl)
    make_lead(dealer_a, product_interest="Loader", owner=alice)
    make_lead(dealer_b, product_interest="Loader")  # another dealer's: never counted
    shown = assignment.preview(second)
    assert (shown.matches, shown.decided) == (2, 1)
    assert dict((user.username, state) for user, state in shown.reps) == {
        "alice": "has 1 new leads (the most allowed): skipped", "carl": "has 1 new leads (the most allowed): skipped"}
    client.force_login(adam)
    page = client.get(reverse("admin:routing_assignmentrule_change", args=[second.pk])).content.decode()
    assert "would assign them" in page and "carl: has 1 new leads (the most allowed): skipped" in page
    first_page = client.get(reverse("admin:routing_assignmentrule_change", args=[first.pk])).content.decode()
    assert "carl: available (1 new leads)" in first_page


@pytest.mark.django_db(transaction=True)
def test_a_cat_pull_is_followed_by_the_arrivals_job_and_reps_take_turns(sandbox, cat_account, alice, carl,
                                                                        monkeypatch):
    ran = []

    def worker(func, *args, **kwargs):  # the django-q2 worker, at once
        ran.append(func)
        if func == "apps.routing.arrivals.process_arrivals":
            arrivals.process_arrivals()

    monkeypatch.setattr(arrivals.django_q_tasks, "async_task", worker)
    rule(cat_account.dealer, [alice, carl], vendors="cat")
    sandbox.generate_leads(6, dealer_code="A100")
    assert engine.pull(cat_account).created == 6
    # Once, after the pull committed; then each rep's one e-mail for their batch.
    assert ran == ["apps.routing.arrivals.process_arrivals"] + ["apps.notifications.services.deliver"] * 2
    owners = list(Lead.objects.order_by("pk").values_list("owner__username", flat=True))
    assert owners == ["alice", "carl"] * 3
    assert not Lead.objects.filter(arrival_processed_at__isnull=True).exists()


def test_the_demo_gets_its_rule_once_and_a_clear_error_without_the_demo_dealer(db):
    with pytest.raises(CommandError, match="run seed_demo first"):
        call_command("seed_demo_rules")
    call_command("seed_demo", leads=0)
    call_command("seed_demo_rules")
    call_command("seed_demo_rules")  # idempotent
    [rule] = AssignmentRule.objects.filter(dealer__code="DEMO")
    assert sorted(rep.username for rep in rule.reps.all()) == ["demo-staff", "demo-staff2"]
    lead = make_lead(rule.dealer, vendor_account=rule.dealer.vendor_accounts.get(vendor="cat"),
                     vendor_lead_id="DEMO-1")
    arrivals.process_arrivals()
    assert Lead.objects.get(pk=lead.pk).owner.username == "demo-staff"


def test_a_rule_takes_only_its_own_dealers_accounts_and_reps(client, dealer_a, dealer_b, alice):
    both = make_user("bo", dealer=dealer_a, role=Role.ADMIN)
    Membership.objects.create(user=both, dealer=dealer_b, role=Role.ADMIN)  # works for both dealers
    theirs, bob = make_cat_account(dealer_b), make_user("bert", dealer=dealer_b)
    client.force_login(both)
    response = client.post(reverse("admin:routing_assignmentrule_add"), {
        "dealer": dealer_a.pk, "name": "mixed", "position": 0, "active": "on", "accounts": [theirs.pk],
        "reps": [alice.pk, bob.pk]})
    assert response.status_code == 200 and not AssignmentRule.objects.exists()
    errors = response.context["adminform"].form.errors
    assert "not an account of A100" in errors["accounts"][0] and "bert: does not work for A100" in errors["reps"][0]
