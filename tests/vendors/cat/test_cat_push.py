"""Reporting outcomes to Cat: the outbox, batching, refusals, retries, alerts.

After every fault: every outcome is accepted by the sandbox exactly once.
"""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.leads import services
from apps.leads.models import EventKind, Lead, LeadEvent, ReasonMapping
from apps.sync import engine
from apps.sync.models import OutboxItem, OutboxState


@pytest.fixture
def cat_leads(sandbox, cat_account, alice):
    """Five Cat leads pulled from the sandbox, owned by alice."""
    sandbox.generate_leads(5, dealer_code="A100")
    engine.pull(cat_account)
    Lead.objects.update(owner=alice)
    return list(Lead.objects.order_by("id"))


def accepted_once(sandbox, leads):
    return all(sandbox.accepted_count(lead.vendor_lead_id) == 1 for lead in leads)


def accept(lead, actor, **kw):
    result = services.lead_change_status(lead=lead, to_status="accepted", actor=actor,
                                         updates={"customer_contacted": True}, **kw)
    assert result.ok, result.errors
    return result


def test_an_accepted_lead_is_reported_once_in_a_batch(sandbox, cat_account, cat_leads, alice, cat_mapped):
    for lead in cat_leads:
        accept(lead, alice)
    summary = engine.push(cat_account)
    assert (summary.pushed, summary.failed) == (5, 0)
    posts = [r for r in sandbox.requests if r[0] == "POST" and "leads" in r[1] and "token" not in r[1]]
    assert len(posts) == 1  # one JSON array
    assert accepted_once(sandbox, cat_leads)
    item = sandbox.received_updates()[0]
    assert item["leadStatus"] == "Accepted" and item["customerContacted"] == "Yes"
    assert item["dealerLeadId"] == f"LH-{cat_leads[0].pk}" and item["dealerSalesRep"] == "alice"
    contacted = Lead.objects.get(pk=cat_leads[0].pk).first_contacted_at
    # dateContacted is the date in the dealer's own time zone (A100: America/Chicago).
    assert item["dateContacted"] == timezone.localtime(contacted, ZoneInfo("America/Chicago")).date().isoformat()
    assert set(OutboxItem.objects.values_list("state", flat=True)) == {OutboxState.SENT}
    assert LeadEvent.objects.filter(kind=EventKind.PUSH_SENT).count() == 5
    assert engine.push(cat_account).pushed == 0  # nothing is sent twice


def test_the_whole_funnel_reaches_cat_in_order(sandbox, cat_account, cat_leads, alice, cat_mapped):
    lead = cat_leads[0]
    accept(lead, alice)
    stage = cat_mapped["stages"][0]
    assert services.lead_change_status(lead=lead, to_status="accepted", stage=stage, actor=alice, updates={
        "opportunity_amount": Decimal("142410.00"), "target_date": date.today() + timedelta(days=30)}).ok
    result = services.lead_change_status(lead=lead, to_status="closed_lost", actor=alice,
                                         reason=cat_mapped["reasons"]["closed_lost"],
                                         updates={"customer_number": "DCN-42"})
    assert result.ok, result.errors
    engine.push(cat_account)
    accepted, opportunity, lost = [u for u in sandbox.received_updates() if u["leadId"] == lead.vendor_lead_id]
    assert "probabilityOfClosurePercentage" not in accepted
    assert opportunity["probabilityOfClosurePercentage"] == 10 and opportunity["opportunityAmount"] == 142410.0
    assert opportunity["dealerOpportunityId"] == f"LH-{lead.pk}"
    assert (lost["probabilityOfClosurePercentage"], lost["closedNoDeal"], lost["primaryClosedReason"],
            lost["dealerCustomerNumber"]) == (0, 0, "Cat Price too High", "DCN-42")


def test_a_leads_updates_go_in_order_one_per_request_without_a_refusal(sandbox, cat_account, cat_leads, alice,
                                                                       cat_mapped):
    # Two queued updates of one lead used to share a request; a strict receiver
    # (the sandbox, like Cat's leadId-keyed POST) refuses such an array whole and
    # LeadHub fell back to one request per update. Now no request names a lead
    # twice, and the lead's updates arrive in the order they were made.
    first, other = cat_leads[0], cat_leads[1]
    accept(first, alice)
    accept(other, alice)
    stage = cat_mapped["stages"][0]
    assert services.lead_change_status(lead=first, to_status="accepted", stage=stage, actor=alice, updates={
        "opportunity_amount": Decimal("1000.00"), "target_date": date.today() + timedelta(days=30)}).ok
    summary = engine.push(cat_account)
    assert (summary.pushed, summary.failed) == (3, 0)
    posts = [r for r in sandbox.requests if r[0] == "POST" and "leads" in r[1] and "token" not in r[1]]
    assert len(posts) == 2  # [first accepted, other accepted], then [first's stage]: no fallback
    received = sandbox.received_updates()
    assert [u["leadId"] for u in received] == [first.vendor_lead_id, other.vendor_lead_id, first.vendor_lead_id]
    assert "probabilityOfClosurePercentage" not in received[0] and received[2]["probabilityOfClosurePercentage"] == 10
    assert set(OutboxItem.objects.values_list("state", flat=True)) == {OutboxState.SENT}


def test_it_never_lets_a_leads_held_back_updates_starve_other_leads(sandbox, cat_account, cat_leads, alice,
                                                                      cat_mapped, settings):
    # Lead 0's first update failed for now (due later); its two later updates
    # wait behind it. With a batch of 2 they are the oldest due items: they must
    # not fill the batch and leave the other leads' updates unsent.
    settings.LEADHUB_OUTBOX_BATCH = 2
    held = cat_leads[0]
    accept(held, alice)
    sandbox.inject("503", path="post")
    assert engine.push(cat_account).pushed == 0
    for stage in cat_mapped["stages"]:
        assert services.lead_change_status(lead=held, to_status="accepted", stage=stage, actor=alice, updates={
            "opportunity_amount": Decimal("1000.00"), "target_date": date.today() + timedelta(days=30)}).ok
    for lead in cat_leads[1:]:
        accept(lead, alice)
    summary = engine.push(cat_account)
    assert (summary.pushed, summary.failed) == (4, 0)
    assert accepted_once(sandbox, cat_leads[1:])
    assert held.vendor_lead_id not in [u["leadId"] for u in sandbox.received_updates()]
    waiting = OutboxItem.objects.filter(lead=held).order_by("id")
    assert [i.state for i in waiting] == [OutboxState.PENDING] * 3


def test_the_cat_adapter_splits_a_batch_naming_a_lead_twice_into_ordered_requests(sandbox, cat_account, cat_leads,
                                                                                  alice, cat_mapped):
    # The engine claims one item per lead; the adapter's requests() holds the same
    # rule on its own, for any caller: the sandbox refuses an array naming a lead twice.
    first, other = cat_leads[0], cat_leads[1]
    accept(first, alice)
    accept(other, alice)
    assert services.lead_change_status(lead=first, to_status="accepted", stage=cat_mapped["stages"][0], actor=alice,
                                       updates={"opportunity_amount": Decimal("1000.00"),
                                                "target_date": date.today() + timedelta(days=30)}).ok
    items = list(OutboxItem.objects.select_related("lead").order_by("id"))
    adapter = cat_account.adapter()
    groups = adapter.requests(items)
    assert [[item.pk for item in group] for group in groups] == [[items[0].pk, items[1].pk], [items[2].pk]]
    http = engine._http(cat_account, None)
    try:
        outcomes = [outcome for group in groups for outcome in adapter.send(http, group)]
    finally:
        http.close()
    assert [o.ok for o in outcomes] == [True, True, True]
    posts = [r for r in sandbox.requests if r[0] == "POST" and "leads" in r[1] and "token" not in r[1]]
    assert len(posts) == 2  # [first, other], then [first's stage]: no refused array, no one-by-one fallback
    assert [u["leadId"] for u in sandbox.received_updates()] == [first.vendor_lead_id, other.vendor_lead_id,
                                                                first.vendor_lead_id]


def test_cat_rules_refuse_the_change_and_name_the_rule(cat_leads, alice, cat_mapped):
    lead = cat_leads[0]
    accept(lead, alice)
    result = services.lead_change_status(lead=lead, to_status="closed_won", actor=alice)
    fields = {v.field for v in result.errors}
    assert {"customer_number", "opportunity_amount", "target_date"} <= fields
    [number] = [v for v in result.errors if v.field == "customer_number"]
    assert number.message == ("Enter the dealer customer number: Cat needs it to close a lead that has been an "
                              "opportunity (won, lost or no deal).")
    assert "dealerCustomerNumber" in number.detail and "03/22/2021" in number.detail  # the vendor's words, cited
    assert Lead.objects.get(pk=lead.pk).status == "accepted"
    cat_mapped["reasons"]["rejection"].requires_comment = False  # so the comment is Cat's rule alone
    cat_mapped["reasons"]["rejection"].save()
    reject = services.lead_change_status(lead=cat_leads[1], to_status="rejected", actor=alice,
                                         reason=cat_mapped["reasons"]["rejection"])  # "For Another Dealer"
    assert any(v.field == "comment" and "rejectedReasonComments" not in v.message
               and "rejectedReasonComments" in v.detail for v in reject.errors)


def test_an_unmapped_reason_blocks_the_push_until_it_is_mapped(sandbox, cat_account, cat_leads, alice, dealer_a):
    from apps.leads.models import Reason

    reason = Reason.objects.create(dealer=dealer_a, kind="disqualification", label="Gone quiet")
    lead = cat_leads[0]
    result = services.lead_change_status(lead=lead, to_status="disqualified", reason=reason, actor=alice)
    assert result.ok  # the dealer's work is recorded...
    item = OutboxItem.objects.get(lead=lead)
    assert item.state == OutboxState.BLOCKED and "Gone quiet" in item.last_error  # ...the push waits
    assert LeadEvent.objects.filter(lead=lead, kind=EventKind.PUSH_BLOCKED).exists()
    engine.push(cat_account)
    assert sandbox.accepted_count(lead.vendor_lead_id) == 0
    ReasonMapping.objects.create(reason=reason, vendor="cat", vendor_value="Cannot reach/no response from customer")
    engine.push(cat_account)
    assert sandbox.accepted_count(lead.vendor_lead_id) == 1
    assert sandbox.received_updates()[-1]["disqualifiedReasonWhy"] == "Cannot reach/no response from customer"


def test_a_400_fails_only_the_refused_item_with_cats_message(sandbox, cat_account, cat_leads, alice, cat_mapped):
    for lead in cat_leads[:3]:
        accept(lead, alice)
    bad = OutboxItem.objects.get(lead=cat_leads[1])
    bad.payload = {**bad.payload, "rating": "low"}  # a value Cat refuses (its table says Low)
    bad.save()
    summary = engine.push(cat_account)
    assert (summary.pushed, summary.failed) == (2, 1)
    bad.refresh_from_db()
    assert bad.state == OutboxState.FAILED and "rating" in bad.last_error and bad.last_status_code == 400
    assert accepted_once(sandbox, [cat_leads[0], cat_leads[2]]) and sandbox.accepted_count(cat_leads[1].vendor_lead_id) == 0
    event = LeadEvent.objects.get(lead=cat_leads[1], kind=EventKind.PUSH_FAILED)
    assert "rating" in event.summary
    engine.push(cat_account)  # no blind retry of a refused update
    assert sandbox.accepted_count(cat_leads[1].vendor_lead_id) == 0


# 403: the document retries "any response code received other than 200 OK or
# 204 No Content"; only a 400 fails an update at once (the issue's rule).
@pytest.mark.parametrize("fault,params", [("500", {}), ("503", {}), ("429", {"retry_after": 0}), ("403", {}),
                                          ("timeout", {"seconds": 1.5, "deliver": False}),
                                          ("reset", {"deliver": False}), ("expire_token", {})])
def test_transient_push_faults_are_retried_and_accepted_once(sandbox, cat_account, cat_leads, alice, cat_mapped,
                                                             fault, params):
    for lead in cat_leads:
        accept(lead, alice)
    sandbox.inject(fault, path="post", **params)
    first = engine.push(cat_account)
    if fault != "expire_token":  # a 401 is retried at once with a new token
        assert first.pushed == 0 and OutboxItem.objects.filter(state=OutboxState.PENDING, attempts=1).count() == 5
        assert OutboxItem.objects.filter(next_attempt_at__gt=timezone.now()).count() == 5  # backoff
        OutboxItem.objects.update(next_attempt_at=timezone.now())
        engine.push(cat_account)
    assert accepted_once(sandbox, cat_leads)
    assert set(OutboxItem.objects.values_list("state", flat=True)) == {OutboxState.SENT}


def test_retries_exhausted_alert_once_stay_queued_and_retry_now_sends(sandbox, cat_account, cat_leads, alice,
                                                                     cat_mapped):
    accept(cat_leads[0], alice)
    sandbox.inject("503", times=6, path="post")
    for _ in range(5):
        OutboxItem.objects.update(next_attempt_at=timezone.now())
        engine.push(cat_account)
    item = OutboxItem.objects.get()
    assert (item.state, item.attempts) == (OutboxState.PENDING, 5)
    [alert] = mail.outbox
    assert alert.to == ["crm@acme.test"] and "503" in alert.body and f"lead {cat_leads[0].pk}" in alert.body
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    engine.push(cat_account)  # sixth failure: no second alert
    assert len(mail.outbox) == 1
    assert engine.retry_now(OutboxItem.objects.all()) == 1
    engine.push(cat_account)
    assert accepted_once(sandbox, cat_leads[:1])


def test_retry_now_from_the_admin(client, sandbox, cat_account, cat_leads, alice, adam, cat_mapped):
    accept(cat_leads[0], alice)
    OutboxItem.objects.update(next_attempt_at=timezone.now() + timedelta(hours=1), attempts=7)
    client.force_login(adam)
    item = OutboxItem.objects.get()
    response = client.post("/admin/sync/outboxitem/", {"action": "retry_now", "_selected_action": [item.pk]})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.attempts == 0 and item.next_attempt_at <= timezone.now()
    OutboxItem.objects.update(next_attempt_at=timezone.now() + timedelta(hours=1), attempts=7)
    client.force_login(alice)  # staff see the queue but may not act on it
    client.post("/admin/sync/outboxitem/", {"action": "retry_now", "_selected_action": [item.pk]})
    item.refresh_from_db()
    assert item.attempts == 7


def test_a_redelivered_task_never_sends_twice(sandbox, cat_account, cat_leads, alice, cat_mapped):
    for lead in cat_leads:
        accept(lead, alice)
    first = engine.claim_due(cat_account, "worker-1", 50)
    second = engine.claim_due(cat_account, "worker-2", 50)
    assert len(first) == 5 and second == []
    # worker-1 dies holding the claims; after the lease they return to the queue
    OutboxItem.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    engine.push(cat_account)
    engine.push(cat_account)
    assert accepted_once(sandbox, cat_leads)


def test_on_hold_is_not_reported_to_cat(cat_account, cat_leads, alice):
    assert services.lead_change_status(lead=cat_leads[0], to_status="on_hold", actor=alice).ok
    assert not OutboxItem.objects.exists()


def test_sync_health_shows_queue_errors_and_unmapped(client, sandbox, cat_account, cat_leads, alice, adam,
                                                     dealer_a):
    from apps.leads.models import Reason

    Reason.objects.create(dealer=dealer_a, kind="rejection", label="Never mapped")
    accept(cat_leads[0], alice)
    sandbox.inject("500", path="post")
    engine.push(cat_account)
    client.force_login(adam)
    body = client.get("/admin/sync/synchealth/").content.decode()
    assert "a100-cat" in body and "Never mapped" in body
    row = client.get("/admin/sync/synchealth/").context["cl"].result_list[0]
    assert row.n_queued == 1


def test_the_status_screen_marks_what_cat_requires_for_each_outcome(client, cat_leads, alice, cat_mapped):
    import json as _json

    lead = cat_leads[0]
    accept(lead, alice)
    client.force_login(alice)
    response = client.get(f"/admin/leads/lead/{lead.pk}/status/")
    required = response.context["required_by_status"]
    assert {"opportunity_amount", "target_date", "customer_number"} <= set(required["closed_won"])
    assert "reason" in required["closed_lost"] and "reason" not in required["closed_won"]  # 04/08/2021
    assert "stage" not in required["closed_won"] and "owner" not in required["closed_won"]
    import re

    embedded = re.search(r'id="required-by-status"[^>]*>(.*?)</script>', response.content.decode(), re.S).group(1)
    assert _json.loads(embedded) == required  # what the page's script reads
    # and refused with the rule named, on the field, when missing
    response = client.post(f"/admin/leads/lead/{lead.pk}/status/", {"to_status": "closed_won", "currency": "USD"})
    form = response.context["form"]
    assert form.errors["customer_number"] == [
        "Enter the dealer customer number: Cat needs it to close a lead that has been an opportunity (won, lost "
        "or no deal)."]
    # the vendor's field and its document reference: a secondary line under the message
    assert re.search(r'<li>Enter the dealer customer number: [^<]*<span class="error-detail">Cat: '
                     r'dealerCustomerNumber is required', response.content.decode())
    response = client.post(f"/admin/leads/lead/{lead.pk}/status/", {
        "to_status": "closed_won", "currency": "USD", "customer_number": "DCN-9", "opportunity_amount": "5000",
        "target_date": "2026-12-31"})
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).status == "closed_won"
    assert OutboxItem.objects.filter(lead=lead, payload__probabilityOfClosurePercentage=100).exists()


def test_the_lead_page_shows_a_blocked_push_and_cats_refusal(client, sandbox, cat_account, cat_leads, alice,
                                                              dealer_a, cat_mapped):
    from apps.leads.models import Reason

    unmapped = Reason.objects.create(dealer=dealer_a, kind="disqualification", label="Gone quiet")
    services.lead_change_status(lead=cat_leads[0], to_status="disqualified", reason=unmapped, actor=alice)
    accept(cat_leads[1], alice)
    item = OutboxItem.objects.get(lead=cat_leads[1])
    item.payload = {**item.payload, "rating": "low"}
    item.save()
    engine.push(cat_account)
    client.force_login(alice)
    blocked = client.get(f"/admin/leads/lead/{cat_leads[0].pk}/change/").content.decode()
    assert "Gone quiet" in blocked and "has no Cat mapping" in blocked
    refused = client.get(f"/admin/leads/lead/{cat_leads[1].pk}/change/").content.decode()
    assert "refused the update" in refused and "rating" in refused


def test_a_sales_rep_name_cut_to_50_characters_is_sent_without_a_trailing_space(sandbox, cat_account, cat_leads,
                                                                                alice, cat_mapped):
    """dealerSalesRep is String 50 (01/29/2021): a longer name is cut, and a cut
    that ends on a space is stripped, not refused as surrounding whitespace."""
    alice.first_name, alice.last_name = "A" * 49, "B" * 10  # "AAA...A BBB...B": the 50th character is the space
    alice.save()
    accept(cat_leads[0], alice)
    item = OutboxItem.objects.get()
    assert item.state == OutboxState.PENDING, item.last_error
    assert engine.push(cat_account).pushed == 1
    assert sandbox.received_updates()[-1]["dealerSalesRep"] == "A" * 49


def test_a_probability_outside_the_cat_stage_range_is_refused_on_its_field_never_replaced(cat_leads, alice,
                                                                                           cat_mapped):
    """Issue 17: 'Proposal/Negotiation' takes 41-99 % (Caterpillar Opportunity Stages); a
    30 % there is an error staff see on the probability, not a number swapped in the payload."""
    lead = cat_leads[0]
    accept(lead, alice)
    stage = cat_mapped["stages"][1]
    facts = {"opportunity_amount": Decimal("1000.00"), "target_date": date.today() + timedelta(days=30)}
    refused = services.lead_change_status(lead=lead, to_status="accepted", stage=stage, probability=30, actor=alice,
                                          updates=facts)
    assert [(v.field, v.code) for v in refused.errors] == [("probability", "out_of_range")]
    assert "from 41 to 99 %" in refused.errors[0].message
    assert Lead.objects.get(pk=lead.pk).sales_stage_id is None  # nothing written
    sent = services.lead_change_status(lead=lead, to_status="accepted", stage=stage, probability=60, actor=alice,
                                       updates=facts)
    assert sent.ok and sent.log.outbox.get().payload["probabilityOfClosurePercentage"] == 60


def test_the_first_report_cat_accepts_stamps_the_lead_once(sandbox, cat_account, cat_leads, alice, cat_mapped):
    lead = cat_leads[0]
    accept(lead, alice)
    assert Lead.objects.get(pk=lead.pk).first_reported_at is None  # queued is not reported
    sandbox.inject("500", path="post")
    engine.push(cat_account)
    assert Lead.objects.get(pk=lead.pk).first_reported_at is None  # refused for now: not reported either
    OutboxItem.objects.filter(lead=lead).update(next_attempt_at=timezone.now())
    engine.push(cat_account)
    first = Lead.objects.get(pk=lead.pk).first_reported_at
    assert first is not None and first == OutboxItem.objects.get(lead=lead).sent_at
    assert services.lead_change_status(lead=Lead.objects.get(pk=lead.pk), to_status="accepted", actor=alice,
                                       stage=cat_mapped["stages"][0],
                                       updates={"opportunity_amount": Decimal("5"), "target_date": date(2027, 1, 1)}).ok
    engine.push(cat_account)
    assert Lead.objects.get(pk=lead.pk).first_reported_at == first  # the first, kept
