"""The one write path for status changes: lead_change_status."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.leads import services
from apps.leads.models import FollowUp, Lead, StatusLog
from apps.leads.statuses import FINAL_STATUSES, TRANSITIONS, Status
from tests.conftest import make_lead, make_reasons, make_stages


def change(lead, to, **kw):
    return services.lead_change_status(lead=lead, to_status=to, **kw)


def codes(result):
    return {(v.field, v.code) for v in result.errors}


def test_it_accepts_a_new_lead_and_logs_it(lead_a, alice):
    result = change(lead_a, Status.ACCEPTED, actor=alice, comment="called")
    assert result.ok and result.errors == []
    lead_a.refresh_from_db()
    assert lead_a.status == Status.ACCEPTED
    assert lead_a.first_contacted_at is not None
    log = StatusLog.objects.get(lead=lead_a)
    assert (log.from_status, log.to_status, log.actor, log.actor_label, log.comment) == (
        "new", "accepted", alice, "alice", "called")


def test_it_rejects_with_a_reason_and_records_its_label(lead_a, reasons_a, alice):
    result = change(lead_a, Status.REJECTED, actor=alice, reason=reasons_a["rejection"], comment="wrong territory")
    assert result.ok
    assert StatusLog.objects.get(lead=lead_a).reason_label == reasons_a["rejection"].label


def test_it_rejects_reject_without_reason(lead_a):
    result = change(lead_a, Status.REJECTED)
    assert not result.ok and ("reason", "required") in codes(result)
    assert Lead.objects.get(pk=lead_a.pk).status == Status.NEW
    assert not StatusLog.objects.exists()


def test_it_rejects_a_reason_that_needs_a_comment_without_one(lead_a, reasons_a):
    result = change(lead_a, Status.REJECTED, reason=reasons_a["rejection"], comment="  ")
    assert ("comment", "comment_required_for_reason") in codes(result)


def test_it_rejects_a_reason_of_the_wrong_kind(lead_a, reasons_a):
    result = change(lead_a, Status.REJECTED, reason=reasons_a["disqualification"])
    assert ("reason", "wrong_kind") in codes(result)


def test_it_rejects_another_dealers_reason_and_stage(lead_a, dealer_b):
    their_reasons, their_stages = make_reasons(dealer_b), make_stages(dealer_b)
    assert ("reason", "other_dealer") in codes(change(lead_a, Status.DISQUALIFIED,
                                                      reason=their_reasons["disqualification"]))
    assert ("stage", "other_dealer") in codes(change(lead_a, Status.ACCEPTED, stage=their_stages[0]))


def test_it_rejects_an_inactive_reason(lead_a, reasons_a):
    reason = reasons_a["disqualification"]
    reason.active = False
    reason.save()
    assert ("reason", "inactive") in codes(change(lead_a, Status.DISQUALIFIED, reason=reason))


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_it_keeps_final_statuses_final(dealer_a, final):
    lead = make_lead(dealer_a, status=final, probability={"closed_won": 100}.get(final, 0))
    result = change(lead, Status.ACCEPTED)
    assert ("to_status", "transition_not_allowed") in codes(result)
    assert "final" in result.errors[0].message


def test_it_follows_the_transition_table_exactly(dealer_a):
    reasons = make_reasons(dealer_a)
    stage = make_stages(dealer_a)[0]
    reason_for = {"rejected": "rejection", "disqualified": "disqualification", "closed_lost": "closed_lost"}
    for from_status, targets in TRANSITIONS.items():
        for to_status in Status.values:
            probability = {"closed_won": 100, "closed_lost": 0, "closed_no_deal": 0}.get(from_status)
            lead = make_lead(dealer_a, status=from_status, probability=probability,
                             sales_stage=stage if from_status == "accepted" else None)
            kind = reason_for.get(to_status)
            result = change(lead, to_status, reason=reasons[kind] if kind else None,
                            comment="because", stage=make_stages_once(dealer_a, to_status, from_status))
            assert result.ok == (to_status in targets), (from_status, to_status, result.errors)


_extra_stage = {}


def make_stages_once(dealer, to_status, from_status):
    """A stage different from the current one, for ACCEPTED -> ACCEPTED."""
    if not (to_status == from_status == Status.ACCEPTED):
        return None
    if dealer.pk not in _extra_stage or not _extra_stage[dealer.pk].__class__.objects.filter(
            pk=_extra_stage[dealer.pk].pk).exists():
        from apps.leads.models import SalesStage
        _extra_stage[dealer.pk] = SalesStage.objects.create(dealer=dealer, name="Negotiation", position=9)
    return _extra_stage[dealer.pk]


def test_it_moves_an_accepted_lead_through_stages_with_their_probability(lead_a, stages_a, alice):
    change(lead_a, Status.ACCEPTED, actor=alice)
    result = change(lead_a, Status.ACCEPTED, stage=stages_a[1], actor=alice)
    assert result.ok
    lead_a.refresh_from_db()
    assert (lead_a.sales_stage, lead_a.probability) == (stages_a[1], 50)
    assert result.log.from_stage is None and result.log.to_stage == stages_a[1]
    again = change(lead_a, Status.ACCEPTED, stage=stages_a[1])
    assert ("stage", "no_change") in codes(again)


def test_it_fixes_probability_when_closing(lead_a, reasons_a):
    change(lead_a, Status.ACCEPTED)
    assert change(lead_a, Status.CLOSED_WON).lead.probability == 100
    lead = make_lead(lead_a.dealer, status=Status.ACCEPTED)
    result = change(lead, Status.CLOSED_LOST, reason=reasons_a["closed_lost"], probability=30)
    assert ("probability", "fixed_by_status") in codes(result)


def test_it_detects_a_concurrent_change_instead_of_overwriting_it(lead_a, reasons_a):
    stale = Lead.objects.get(pk=lead_a.pk)
    assert change(lead_a, Status.ACCEPTED).ok
    result = change(stale, Status.REJECTED, reason=reasons_a["rejection"], comment="x")
    assert ("to_status", "conflict") in codes(result)
    assert Lead.objects.get(pk=lead_a.pk).status == Status.ACCEPTED
    assert StatusLog.objects.filter(lead=lead_a).count() == 1


def test_it_asks_the_vendor_adapter_for_its_rules_and_writes_nothing_when_they_fail(lead_a, monkeypatch, dealer_a):
    from apps.core.violations import Violation
    from apps.vendors.cat.adapter import CatAdapter
    from tests.conftest import make_cat_account

    lead_a.vendor_account = make_cat_account(dealer_a)
    lead_a.vendor_lead_id = "CAT-1"
    lead_a.save()
    monkeypatch.setattr(CatAdapter, "check_status_change",
                        lambda self, lead, change: [Violation("x", "vendor_rule", "Cat says no")])
    result = change(lead_a, Status.ACCEPTED)
    assert codes(result) == {("x", "vendor_rule")}
    assert not StatusLog.objects.exists()


def test_it_lets_the_vendor_queue_its_message_in_the_same_transaction(lead_a, monkeypatch, dealer_a, alice):
    from apps.vendors.cat.adapter import CatAdapter
    from tests.conftest import make_cat_account

    lead_a.vendor_account = make_cat_account(dealer_a)
    lead_a.vendor_lead_id = "CAT-2"
    lead_a.owner = alice
    lead_a.save()

    def fail(self, lead, log):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(CatAdapter, "messages_for_status_change", fail)
    with pytest.raises(RuntimeError):
        change(lead_a, Status.ACCEPTED)
    assert Lead.objects.get(pk=lead_a.pk).status == Status.NEW  # rolled back with the failed queueing
    assert not StatusLog.objects.exists()


def test_the_database_refuses_to_rewrite_the_status_log(lead_a):
    log = change(lead_a, Status.ACCEPTED).log
    with pytest.raises(ValueError):
        log.save()
    with pytest.raises(Exception) as excinfo, transaction.atomic():
        StatusLog.objects.filter(pk=log.pk).update(comment="rewritten")
    assert "append-only" in str(excinfo.value)
    with connection.cursor() as cursor:
        cursor.execute("SELECT comment FROM leads_statuslog WHERE id = %s", [log.pk])
        assert cursor.fetchone()[0] == ""


def test_it_assigns_owners_only_within_the_dealer(lead_a, alice, bob):
    assert services.lead_assign_owner(lead=lead_a, owner=bob).errors[0].code == "other_dealer"
    assert services.lead_assign_owner(lead=lead_a, owner=alice).ok
    assert Lead.objects.get(pk=lead_a.pk).owner == alice


def test_follow_ups_keep_the_leads_next_follow_up_current(lead_a, alice):
    from datetime import timedelta

    from django.utils import timezone

    soon = timezone.now() + timedelta(hours=2)
    later = soon + timedelta(days=2)
    first = services.followup_schedule(lead=lead_a, scheduled_at=later, actor=alice).followup
    second = services.followup_schedule(lead=lead_a, scheduled_at=soon, actor=alice).followup
    assert Lead.objects.get(pk=lead_a.pk).next_follow_up_at == soon
    nxt = services.followup_complete(followup=second, actor=alice, outcome_notes="left voicemail",
                                     next_at=soon + timedelta(days=1)).next
    assert second.done_by == alice and second.outcome_notes == "left voicemail"
    assert Lead.objects.get(pk=lead_a.pk).next_follow_up_at == nxt.scheduled_at
    again = services.followup_complete(followup=second, actor=alice)  # a second click: refused, as data
    assert not again.ok and [e.code for e in again.errors] == ["already_done"]
    assert FollowUp.objects.get(pk=second.pk).outcome_notes == "left voicemail"  # the first outcome stands
    services.followup_complete(followup=nxt, actor=alice)
    services.followup_complete(followup=first, actor=alice)
    assert Lead.objects.get(pk=lead_a.pk).next_follow_up_at is None


def test_the_status_change_screen_names_the_rule_it_refuses(client, lead_a, reasons_a, alice):
    client.force_login(alice)
    url = f"/admin/leads/lead/{lead_a.pk}/status/"
    response = client.post(url, {"to_status": "rejected", "reason": reasons_a["rejection"].pk, "comment": ""})
    assert response.status_code == 200
    assert "A comment is required with the reason" in response.content.decode()
    assert Lead.objects.get(pk=lead_a.pk).status == Status.NEW
    response = client.post(url, {"to_status": "rejected", "reason": reasons_a["rejection"].pk, "comment": "why"})
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead_a.pk).status == Status.REJECTED
    assert client.get(url).status_code == 200  # final: the screen says so


def test_the_status_change_screen_is_not_reachable_for_another_dealer(client, lead_b, alice):
    client.force_login(alice)
    assert client.get(f"/admin/leads/lead/{lead_b.pk}/status/").status_code == 404


def test_a_followup_the_model_refuses_comes_back_as_errors_and_writes_nothing(lead_a, bob, alice):
    """The services' one error convention: refusals are data, never an exception."""
    result = services.followup_schedule(lead=lead_a, scheduled_at=timezone.now(), assigned_to=bob, actor=alice)
    assert not result.ok and result.followup is None
    assert {e.field for e in result.errors} == {"assigned_to"}
    assert not FollowUp.objects.exists()
