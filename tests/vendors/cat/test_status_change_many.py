"""lead_change_status_many (the CSV outcome import's path) writes exactly what one
lead_change_status per change writes: the lead, its status log, its audit
history, and Cat's outbox item (queued, or blocked and shown on the lead)."""
import json
from datetime import date
from decimal import Decimal

import pytest

from apps.leads import services
from apps.leads.models import EventKind, Lead, LeadEvent, Reason, Source, StatusLog
from apps.leads.outcomes_import import import_outcomes
from apps.sync import engine
from apps.sync.models import OutboxItem

LEAD_FIELDS = ["status", "sales_stage_id", "probability", "customer_contacted", "opportunity_amount", "owner_id"]
LOG_FIELDS = ["from_status", "to_status", "from_stage_id", "to_stage_id", "probability", "reason_id", "reason_label",
              "comment", "actor_id", "actor_label", "source"]


@pytest.fixture
def two_sets(sandbox, cat_account, alice, cat_mapped):
    """Twelve Cat leads: the first six changed one by one, the other six in one call."""
    sandbox.generate_leads(12, dealer_code="A100")
    engine.pull(cat_account)
    Lead.objects.update(owner=alice)
    leads = list(Lead.objects.order_by("id"))
    return leads[:6], leads[6:]


def planned_changes(cat_mapped, dealer, alice):
    reasons = cat_mapped["reasons"]
    unmapped = Reason.objects.create(dealer=dealer, kind="disqualification", label="Moved away")  # Cat can't take it
    return [
        services.StatusChange(to_status="accepted", updates={"customer_contacted": True}, actor=alice),
        services.StatusChange(to_status="rejected", reason=reasons["rejection"], comment="Outside our territory",
                              updates={"customer_contacted": False}, actor=alice),
        services.StatusChange(to_status="disqualified", reason=reasons["disqualification"], actor=alice),
        services.StatusChange(to_status="disqualified", reason=unmapped, actor=alice),
        services.StatusChange(to_status="accepted", stage=cat_mapped["stages"][0], actor=alice, updates={
            "opportunity_amount": Decimal("142410.00"), "target_date": date(2027, 3, 1), "currency": "USD"}),
        services.StatusChange(to_status="on_hold", comment="Call back in spring", actor=alice),
    ]


def written(lead):
    """What a change wrote for `lead`, with the lead's own ids replaced so that two
    leads changed the same way compare equal."""
    lead = Lead.objects.get(pk=lead.pk)
    logs = [[getattr(log, f) for f in LOG_FIELDS] for log in StatusLog.objects.filter(lead=lead).order_by("id")]
    items = []
    for item in OutboxItem.objects.filter(lead=lead).order_by("id"):
        payload = json.dumps(item.payload, sort_keys=True, default=str).replace(lead.vendor_lead_id, "LEAD").replace(
            f'"LH-{lead.pk}"', '"LH-id"')
        items.append([item.kind, item.state, item.last_error, payload, item.status_log.to_status])
    history = [[h.history_type, h.history_change_reason, h.history_user_id, h.status]
               for h in lead.history.order_by("history_id")]
    events = [[e.kind, e.summary, e.details.get("outbox") == OutboxItem.objects.filter(lead=lead).first().pk]
              for e in LeadEvent.objects.filter(lead=lead, kind=EventKind.PUSH_BLOCKED)]
    return [getattr(lead, f) for f in LEAD_FIELDS], lead.first_contacted_at is not None, logs, items, history, events


def test_a_batch_writes_what_one_change_at_a_time_writes(two_sets, cat_mapped, dealer_a, alice):
    one_by_one, batched = two_sets
    changes = planned_changes(cat_mapped, dealer_a, alice)
    for lead, change in zip(one_by_one, changes):
        result = services.lead_change_status(
            lead=lead, to_status=change.to_status, actor=alice, reason=change.reason, stage=change.stage,
            comment=change.comment, updates=change.updates, source=Source.IMPORT)
        assert result.ok, result.errors
    results = services.lead_change_status_many(changes=list(zip(batched, changes)), actor=alice, source=Source.IMPORT)
    assert all(r.ok for r in results), [r.errors for r in results]
    for single, many in zip(one_by_one, batched):
        assert written(many) == written(single)
    # The caller's instances hold what was stored, as after lead_change_status.
    assert [lead.status for lead in batched] == [c.to_status for c in changes]
    # The unmapped reason blocked Cat's update, visibly, in both paths.
    assert OutboxItem.objects.filter(state="blocked").count() == 2
    assert LeadEvent.objects.filter(kind=EventKind.PUSH_BLOCKED).count() == 2


def test_a_batch_refuses_rule_breakers_and_stale_leads_and_applies_the_rest(two_sets, cat_mapped, alice):
    _, leads = two_sets
    stale = Lead.objects.get(pk=leads[2].pk)
    assert services.lead_change_status(lead=leads[2], to_status="accepted", actor=alice).ok  # someone else
    results = services.lead_change_status_many(actor=alice, changes=[
        (leads[0], services.StatusChange(to_status="accepted")),
        (leads[1], services.StatusChange(to_status="rejected", reason=cat_mapped["reasons"]["rejection"])),
        (stale, services.StatusChange(to_status="on_hold")),
    ])
    assert [r.ok for r in results] == [True, False, False]
    assert any(v.code.startswith("comment_required") for v in results[1].errors), results[1].errors
    assert [v.code for v in results[2].errors] == ["conflict"]
    assert [Lead.objects.get(pk=lead.pk).status for lead in leads[:3]] == ["accepted", "new", "accepted"]
    assert StatusLog.objects.filter(lead_id__in=[leads[1].pk]).count() == 0
    assert OutboxItem.objects.filter(lead_id__in=[leads[0].pk, leads[2].pk]).count() == 2


def test_a_lead_deleted_meanwhile_is_refused_and_the_rest_applied(two_sets, alice):
    _, leads = two_sets
    Lead.objects.filter(pk=leads[1].pk).delete()
    results = services.lead_change_status_many(actor=alice, changes=[
        (leads[0], services.StatusChange(to_status="accepted")), (leads[1], services.StatusChange(to_status="accepted"))])
    assert [r.ok for r in results] == [True, False] and results[1].errors[0].code == "conflict"
    assert Lead.objects.get(pk=leads[0].pk).status == "accepted"


def test_a_lead_appears_once_per_batch(two_sets):
    _, leads = two_sets
    with pytest.raises(ValueError):
        services.lead_change_status_many(changes=[(leads[0], services.StatusChange(to_status="accepted")),
                                                  (leads[0], services.StatusChange(to_status="on_hold"))])


def test_an_import_row_sees_the_result_of_the_same_leads_earlier_row(two_sets, cat_mapped, alice):
    # accepted, then a stage, then closed won: each row is checked against the one before.
    _, leads = two_sets
    stage = cat_mapped["stages"][1].name
    data = ("lead_id,status,stage,reason,customer_number,opportunity_amount,target_date,currency\n"
            f"{leads[0].pk},accepted,,,,,,\n"
            f"{leads[1].pk},accepted,,,,,,\n"
            f"{leads[0].pk},accepted,{stage},,,142410.00,2027-03-01,USD\n"
            f"{leads[0].pk},closed won,,{cat_mapped['reasons']['closed_won'].label},C-77,142410.00,2027-03-01,USD\n")
    result = import_outcomes(data, actor=alice)
    assert (result.errors, result.changed) == ([], 4)
    lead = Lead.objects.get(pk=leads[0].pk)
    assert (lead.status, lead.probability, lead.customer_number) == ("closed_won", 100, "C-77")
    assert list(StatusLog.objects.filter(lead=lead).order_by("id").values_list("to_status", flat=True)) == [
        "accepted", "accepted", "closed_won"]
    assert OutboxItem.objects.filter(lead=lead).count() == 3


def test_errors_are_reported_in_line_order_and_nothing_is_kept(two_sets, cat_mapped, alice):
    _, leads = two_sets
    data = ("lead_id,status,reason\n"
            f"{leads[0].pk},rejected,{cat_mapped['reasons']['rejection'].label}\n"  # needs a comment: refused
            f"{leads[1].pk},accepted,\n"
            f"{leads[2].pk},nonsense,\n")
    result = import_outcomes(data, actor=alice)
    assert [e.row for e in result.errors][:1] == [2] and result.errors[-1].row == 4
    assert not result.committed and not StatusLog.objects.exists() and not OutboxItem.objects.exists()
