"""A change Cat cannot take yet (issue 17): said at save time with what to do and who
can do it; re-checked as soon as a dealer admin maps the value; when the mapped
value then needs a comment, the lead asks staff for it and adding it sends the
update; "Retry now" on a held item says why it was not queued. Against the Cat
sandbox over real HTTP."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.leads.models import EventKind, Lead, LeadEvent, Reason, ReasonMapping, StatusLog
from apps.sync import engine
from apps.sync.models import OutboxItem, OutboxState


@pytest.fixture
def cat_lead(sandbox, cat_account, alice):
    sandbox.generate_leads(1, dealer_code="A100")
    engine.pull(cat_account)
    Lead.objects.update(owner=alice)
    return Lead.objects.get()


@pytest.fixture
def gone_quiet(dealer_a):
    """A rejection reason of the dealer's own, not mapped to Cat, wanting no comment."""
    return Reason.objects.create(dealer=dealer_a, kind="rejection", label="Gone quiet", requires_comment=False)


def workbench(lead):
    return reverse("admin:leads_lead_workbench", args=[lead.pk])


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def reject(client, lead, reason, **extra):
    return client.post(workbench(lead), {"action": "status", "to_status": "rejected", "reason": reason.pk, **extra},
                       follow=True)


def test_saving_a_change_cat_cannot_take_yet_says_what_to_do_and_who(client, cat_lead, gone_quiet, alice, adam):
    client.force_login(alice)
    messages = said(reject(client, cat_lead, gone_quiet))
    assert Lead.objects.get(pk=cat_lead.pk).status == "rejected"  # the dealer's work is recorded
    [notice] = [m for m in messages if m.startswith("Not sent to Cat yet")]
    assert "A dealer admin must map the reason 'Gone quiet' to a Cat reason" in notice
    assert "Dealer admins here: adam." in notice  # who can do it, by name
    assert OutboxItem.objects.get(lead=cat_lead).state == OutboxState.BLOCKED


def test_a_dealer_admin_saving_it_is_told_they_can_map_it(client, cat_lead, gone_quiet, adam):
    client.force_login(adam)
    [notice] = [m for m in said(reject(client, cat_lead, gone_quiet)) if m.startswith("Not sent to Cat yet")]
    assert "You are a dealer admin: map it under Reasons" in notice


def test_mapping_the_reason_sends_the_held_update_at_once(sandbox, cat_lead, gone_quiet, alice,
                                                          django_capture_on_commit_callbacks):
    from apps.leads import services

    assert services.lead_change_status(lead=cat_lead, to_status="rejected", reason=gone_quiet, actor=alice).ok
    item = OutboxItem.objects.get(lead=cat_lead)
    assert item.state == OutboxState.BLOCKED
    with django_capture_on_commit_callbacks(execute=True):
        ReasonMapping.objects.create(reason=gone_quiet, vendor="cat", vendor_value="Bad Contact Information")
    item.refresh_from_db()
    assert item.state == OutboxState.PENDING  # re-checked when the mapping was saved, not at some later push
    assert item.payload["rejectedReasonWhy"] == "Bad Contact Information"
    engine.push(item.account)
    assert sandbox.accepted_count(cat_lead.vendor_lead_id) == 1


def test_a_mapped_value_that_needs_a_comment_asks_staff_and_adding_it_sends(
        client, sandbox, cat_lead, gone_quiet, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    reject(client, cat_lead, gone_quiet)
    log = StatusLog.objects.get(lead=cat_lead)
    # The admin maps it to a Cat reason that needs a comment (Cat: "For Another Dealer").
    with django_capture_on_commit_callbacks(execute=True):
        ReasonMapping.objects.create(reason=gone_quiet, vendor="cat", vendor_value="For Another Dealer")
    item = OutboxItem.objects.get(lead=cat_lead)
    assert item.state == OutboxState.BLOCKED and "rejectedReasonComments" in item.last_error  # re-checked
    event = LeadEvent.objects.filter(lead=cat_lead, kind=EventKind.PUSH_BLOCKED).order_by("-id").first()
    assert event.summary == "Still not sent to Cat: Add a comment: Cat needs one when the reason is 'Gone quiet'."

    page = client.get(workbench(cat_lead))
    [(update, who, form)] = page.context["held_updates"]
    assert update.staff_fields == ["comment"] and not update.needs_admin
    assert who == "" and list(form.fields) == ["item", "comment"]  # its form asks; nobody else must act
    assert "Add a comment: Cat needs one when the reason is &#x27;Gone quiet&#x27;." in page.content.decode()

    refused = client.post(workbench(cat_lead), {"action": "complete_held", "held-item": item.pk, "held-comment": ""})
    assert refused.status_code == 200 and refused.context["held_updates"][0][2].errors  # nothing added, said so

    done = client.post(workbench(cat_lead), {"action": "complete_held", "held-item": item.pk,
                                             "held-comment": "Their cousin's dealership in Peoria"}, follow=True)
    assert "Added. The update is on its way to the vendor." in said(done)
    item.refresh_from_db()
    assert item.state == OutboxState.PENDING
    assert item.payload["rejectedReasonComments"] == "Their cousin's dealership in Peoria"
    assert StatusLog.objects.get(pk=log.pk).comment == ""  # history unchanged; the comment rides with the update
    assert LeadEvent.objects.filter(lead=cat_lead, kind=EventKind.HELD_COMPLETED).exists()
    engine.push(item.account)
    assert sandbox.accepted_count(cat_lead.vendor_lead_id) == 1
    assert not client.get(workbench(cat_lead)).context["held_updates"]


def test_retry_now_on_a_held_item_says_why_it_was_not_queued(client, cat_lead, gone_quiet, alice, adam):
    from apps.leads import services

    assert services.lead_change_status(lead=cat_lead, to_status="rejected", reason=gone_quiet, actor=alice).ok
    item = OutboxItem.objects.get(lead=cat_lead)
    client.force_login(adam)
    response = client.post("/admin/sync/outboxitem/", {"action": "retry_now", "_selected_action": [item.pk]},
                           follow=True)
    messages = said(response)
    assert "0 update(s) queued to be sent now." in messages
    [why] = [m for m in messages if m.startswith(f"#{item.pk} ")]
    assert "was not queued: it is held until its cause is fixed" in why
    assert "A dealer admin must map the reason 'Gone quiet' to a Cat reason" in why
    item.refresh_from_db()
    assert item.state == OutboxState.BLOCKED and item.attempts == 0  # never sent to be refused


def test_the_change_status_screen_says_it_too(client, cat_lead, gone_quiet, alice, adam):
    client.force_login(alice)
    response = client.post(reverse("admin:leads_lead_status", args=[cat_lead.pk]),
                           {"to_status": "rejected", "reason": gone_quiet.pk, "currency": "USD"}, follow=True)
    assert any(m.startswith("Not sent to Cat yet: A dealer admin must map the reason 'Gone quiet'")
               for m in said(response))


def test_mapping_the_stage_sends_the_held_update_at_once(sandbox, cat_lead, alice, dealer_a,
                                                         django_capture_on_commit_callbacks):
    from datetime import date
    from decimal import Decimal

    from apps.leads import services
    from apps.leads.models import SalesStage, StageMapping

    stage = SalesStage.objects.create(dealer=dealer_a, name="Site visit", position=5, default_probability=15)
    assert services.lead_change_status(lead=cat_lead, to_status="accepted", stage=stage, actor=alice,
                                       updates={"opportunity_amount": Decimal("9000"),
                                                "target_date": date(2027, 2, 1)}).ok
    item = OutboxItem.objects.get(lead=cat_lead)
    assert item.state == OutboxState.BLOCKED  # the stage has no Cat opportunity stage yet
    with django_capture_on_commit_callbacks(execute=True):
        StageMapping.objects.create(stage=stage, vendor="cat", vendor_value="Qualification", probability=15)
    item.refresh_from_db()
    assert item.state == OutboxState.PENDING and item.payload["probabilityOfClosurePercentage"] == 15


def test_completing_an_update_that_is_not_held_says_so_and_adds_nothing(client, cat_lead, alice, dealer_a):
    client.force_login(alice)
    for item in ("999999", "not a number"):
        response = client.post(workbench(cat_lead), {"action": "complete_held", "held-item": item,
                                                     "held-comment": "hello"}, follow=True)
        assert response.status_code == 200
        assert any("does not wait for anything from you any more" in m for m in said(response)), said(response)
    assert not LeadEvent.objects.filter(lead=cat_lead, kind=EventKind.HELD_COMPLETED).exists()
