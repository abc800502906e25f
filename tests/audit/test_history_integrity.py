"""Audit history of what was sent and of who may do what: outbox items (queued,
Retry now, sent, refused, rebuilt), routing rules, dealers, memberships and users
(never a password)."""
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.accounts.models import Dealer, Membership
from apps.routing.models import RoutingRule
from apps.sync import engine
from apps.sync.models import OutboxItem, OutboxState
from tests.audit.test_history import changes


def test_retry_now_names_who_pressed_it(client, world, adam):
    item = world["A100"]["outbox"]
    OutboxItem.objects.filter(pk=item.pk).update(state=OutboxState.FAILED, attempts=5)
    client.force_login(adam)
    response = client.post(reverse("admin:sync_outboxitem_changelist"),
                           {"action": "retry_now", "_selected_action": [item.pk]})
    assert response.status_code == 302
    last = OutboxItem.history.filter(id=item.pk).order_by("history_date", "history_id").last()
    assert (last.history_user.username, last.history_change_reason, last.state, last.attempts) == (
        "adam", "Retry now", OutboxState.PENDING, 0)


def test_a_status_change_queues_an_item_with_history_and_its_sending_is_recorded(sandbox, cat_account, cat_mapped,
                                                                                  alice):
    from apps.leads import services
    from apps.leads.models import Lead

    sandbox.generate_leads(1, dealer_code="A100")
    engine.pull(cat_account)
    lead = Lead.objects.get()
    assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice,
                                       updates={"customer_contacted": True}).ok
    item = OutboxItem.objects.get(lead=lead)
    engine.push(cat_account)
    rows = list(OutboxItem.history.filter(id=item.pk).order_by("history_date", "history_id"))
    assert [(r.history_type, r.state) for r in rows] == [("+", OutboxState.PENDING), ("~", OutboxState.SENT)]
    assert rows[1].history_change_reason == f"Sent to {cat_account.name}"
    assert not hasattr(rows[0], "payload")  # the payload is the item's record, not history


def test_the_bulk_outcome_path_records_queued_items_too(alice, dealer_a, cat_account, cat_mapped, sandbox):
    from apps.leads.models import Lead
    from apps.leads.outcomes_import import import_outcomes

    sandbox.generate_leads(2, dealer_code="A100")
    engine.pull(cat_account)
    leads = list(Lead.objects.order_by("id"))
    data = "lead_id,status,customer_contacted\n" + "".join(f"{lead.pk},accepted,yes\n" for lead in leads)
    assert import_outcomes(data, actor=alice).committed
    items = OutboxItem.objects.filter(lead__in=leads)
    assert items.count() == 2
    queued = OutboxItem.history.filter(id__in=[i.pk for i in items], history_type="+")
    assert [(r.history_user, r.history_change_reason) for r in queued] == [(alice, "Queued")] * 2


def test_routing_rules_dealers_and_memberships_record_who_changed_them(client, world, adam, root):
    rule = world["A100"]["routingrule"]
    rule.name, rule._history_user = "Audi and VW to CAP", adam
    rule.save()
    assert changes(rule)[-1][:2] == ("~", "adam") and "name" in changes(rule)[-1][3]
    dealer = world["A100"]["dealer"]
    client.force_login(root)
    response = client.post(reverse("admin:accounts_dealer_change", args=[dealer.pk]), {
        "code": dealer.code, "name": "Acme Equipment Co", "time_zone": dealer.time_zone,
        "default_currency": dealer.default_currency, "business_day_starts": "08:00", "business_day_ends": "17:00",
        "business_days": "12345", "is_active": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert changes(dealer)[-1][:2] == ("~", "root") and "name" in changes(dealer)[-1][3]
    membership = world["A100"]["membership"]
    membership.role, membership._history_user = "admin", root
    membership.save()
    assert changes(membership)[-1][:2] == ("~", "root") and changes(membership)[-1][3] == ["role"]
    # History pages stay in scope: dealer B's admin finds none of dealer A's.
    client.force_login(get_user_model().objects.get(username="bella"))
    for model, obj in ((RoutingRule, rule), (Dealer, dealer), (Membership, membership)):
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_history", args=[obj.pk])
        assert client.get(url).status_code in (302, 403, 404)


def test_user_history_never_holds_the_password_but_shows_it_changed(root):
    user = get_user_model().objects.create_user("carol", password="first-password-1")
    user.set_password("second-password-2")
    user.save()
    user.first_name = "Carol"
    user.save()
    rows = list(get_user_model().history.filter(id=user.pk).order_by("history_date", "history_id"))
    assert all(not hasattr(row, "password") for row in rows)
    markers = [row.password_marker for row in rows]
    assert markers[0] and markers[0] != markers[1] and markers[1] == markers[2]
    assert all(user.password not in str(vars(row)) for row in rows)


def _outbox_rows(item):
    return [(r.history_type, r.state, r.history_change_reason or "")
            for r in OutboxItem.history.filter(id=item.pk).order_by("history_date", "history_id")]


def test_a_blocked_item_rebuilt_and_a_refused_one_are_recorded_and_claims_are_not(sandbox, cat_account, cat_mapped,
                                                                                   alice, dealer_a):
    # The final transitions (blocked, sent, refused) are history; the worker's
    # claims (pending -> sending, its lease) are not: they are bookkeeping that
    # would double every push's writes (docs/architecture.md, "Audit history").
    from apps.leads import services
    from apps.leads.models import Lead, Reason, ReasonMapping

    sandbox.generate_leads(2, dealer_code="A100")
    engine.pull(cat_account)
    quiet, refused = Lead.objects.order_by("id")
    reason = Reason.objects.create(dealer=dealer_a, kind="disqualification", label="Gone quiet")
    assert services.lead_change_status(lead=quiet, to_status="disqualified", reason=reason, actor=alice).ok
    assert services.lead_change_status(lead=refused, to_status="accepted", actor=alice,
                                       updates={"customer_contacted": True}).ok
    blocked, bad = OutboxItem.objects.get(lead=quiet), OutboxItem.objects.get(lead=refused)
    OutboxItem.objects.filter(pk=bad.pk).update(payload={**bad.payload, "rating": "low"})  # Cat refuses it
    engine.push(cat_account)
    ReasonMapping.objects.create(reason=reason, vendor="cat", vendor_value="Cannot reach/no response from customer")
    engine.push(cat_account)
    assert _outbox_rows(blocked) == [("+", OutboxState.BLOCKED, "Queued"),
                                     ("~", OutboxState.PENDING, "Rebuilt: the cause was fixed, queued"),
                                     ("~", OutboxState.SENT, f"Sent to {cat_account.name}")]
    assert _outbox_rows(bad) == [("+", OutboxState.PENDING, "Queued"),
                                 ("~", OutboxState.FAILED, f"Refused by {cat_account.name}")]
    assert not OutboxItem.history.filter(state=OutboxState.SENDING).exists()
    users = [r.history_user for r in OutboxItem.history.filter(id=blocked.pk).order_by("history_date", "history_id")]
    assert users == [alice, None, None]  # queued by alice's change; the worker's steps name no person


def test_an_outbox_items_history_page_is_scoped_and_names_who_pressed_retry_now(client, world, adam, bella):
    item = world["A100"]["outbox"]
    OutboxItem.objects.filter(pk=item.pk).update(state=OutboxState.FAILED)
    engine.retry_now(OutboxItem.objects.filter(pk=item.pk), user=adam)
    url = reverse("admin:sync_outboxitem_history", args=[item.pk])
    client.force_login(adam)
    page = client.get(url)
    assert page.status_code == 200 and "Retry now" in page.content.decode() and "adam" in page.content.decode()
    client.force_login(bella)
    assert client.get(url).status_code in (302, 403, 404)
