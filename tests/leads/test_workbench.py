"""The lead workbench (apps/leads/workbench.py): one page to work a lead, for a
vendor's lead and a manual one alike, with the rules of the status service."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.leads import workbench
from apps.leads.models import FollowUp, Lead, ReasonMapping, StatusLog
from apps.sync.models import OutboxItem
from tests.conftest import make_cat_account, make_lead, without_csrf

SCRIPT = "<script>document.title='pwned'</script>"


def url(lead, view="workbench"):
    return reverse(f"admin:leads_lead_{view}", args=[lead.pk])


@pytest.fixture
def cat_lead(dealer_a, alice, reasons_a):
    ReasonMapping.objects.create(reason=reasons_a["rejection"], vendor="cat", vendor_value="For Another Dealer")
    account = make_cat_account(dealer_a)
    return make_lead(dealer_a, vendor_account=account, vendor_lead_id="00QWB1", owner=alice,
                     product_interest="Used 320 excavator", first_name="Quinn", last_name="Quarry",
                     raw_payload={"leadId": "00QWB1",
                                  "partShoppingCart": "<tr ><td style=\"font:12px Arial\">376-1410</td></tr>" + SCRIPT,
                                  "comments": "<img src=x onerror=\"alert(1)\">call me"})


def post(client, lead, action, **data):
    return client.post(url(lead), {"action": action, **data})


def test_it_shows_contact_interest_actions_timeline_and_raw_fields(client, alice, cat_lead):
    client.force_login(alice)
    response = client.get(url(cat_lead))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Quinn Quarry" in body and "Used 320 excavator" in body
    assert sorted(label for _, label in response.context["actions"]) == ["Accept", "Disqualify", "Put on hold", "Reject"]
    assert response.context["timeline"][0].kind == "received"
    assert "partShoppingCart" in body and "376-1410" in body


def test_it_never_puts_vendor_html_on_the_page_as_markup(client, alice, cat_lead):
    client.force_login(alice)
    body = client.get(url(cat_lead)).content.decode()
    assert SCRIPT not in body and "<script>document.title" not in body
    assert "onerror=\"alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in body  # the source, escaped
    rendered = [row["rendered"] for row in workbench.raw_fields(cat_lead.raw_payload) if row["key"] == "partShoppingCart"]
    assert rendered == ["<table><tbody><tr><td>376-1410</td></tr></tbody></table>"]  # no style, no script


def test_it_rejects_with_cats_comment_rule_then_saves_with_the_comment(client, alice, cat_lead, reasons_a):
    client.force_login(alice)
    response = post(client, cat_lead, "status", to_status="rejected", reason=reasons_a["rejection"].pk)
    assert response.status_code == 200
    errors = response.context["status_form"].errors
    # One message for the one missing comment (the dealer's reason and Cat both want it).
    assert len(errors.get("comment", [])) == 1 and "comment" in errors["comment"][0].lower(), errors
    assert Lead.objects.get(pk=cat_lead.pk).status == "new" and not StatusLog.objects.exists()

    response = post(client, cat_lead, "status", to_status="rejected", reason=reasons_a["rejection"].pk,
                    comment="Their territory")
    assert response.status_code == 302 and response.url == url(cat_lead)
    log = StatusLog.objects.get(lead=cat_lead)
    assert (log.to_status, log.source, log.comment) == ("rejected", "workbench", "Their territory")
    assert OutboxItem.objects.filter(status_log=log).exists()  # queued for Cat like any change
    assert "Rejected" in client.get(url(cat_lead)).context["timeline"][0].title


def test_it_works_a_manual_lead_with_the_dealers_own_rules(client, alice, dealer_a, reasons_a):
    lead = make_lead(dealer_a, owner=alice)
    client.force_login(alice)
    response = client.get(url(lead))
    assert response.context["required_by_status"]["rejected"] == ["reason"]
    assert response.context["required_by_status"]["accepted"] == []
    response = post(client, lead, "status", to_status="rejected", reason=reasons_a["rejection"].pk)
    assert "comment" in response.context["status_form"].errors  # this reason requires one (dealer's rule)
    assert post(client, lead, "status", to_status="rejected", reason=reasons_a["rejection"].pk,
                comment="duplicate").status_code == 302
    assert Lead.objects.get(pk=lead.pk).status == "rejected"
    assert client.get(url(lead)).context["actions"] == []  # final: nothing left to do


def test_it_declares_what_the_vendor_requires_from_the_vendors_own_function(client, alice, cat_lead, stages_a):
    client.force_login(alice)
    response = client.get(url(cat_lead))
    adapter = cat_lead.vendor_account.adapter()
    for status, fields in response.context["required_by_status"].items():
        assert set(adapter.required_form_fields(cat_lead, status, actor=alice)) <= set(fields), status
    spec = response.context["field_spec"]["statuses"]
    assert "stage" in spec["accepted"]["shown"] and "stage" not in spec["rejected"]["shown"]
    rejection_ids = set(spec["rejected"]["reasons"])
    assert rejection_ids and all(r.kind == "rejection" for r in cat_lead.dealer.reasons.filter(pk__in=rejection_ids))


def test_it_checks_the_outcome_as_typed_without_writing(client, alice, cat_lead, reasons_a):
    # The dealer's reason wants no comment of its own here, so Cat's rule speaks.
    reasons_a["rejection"].requires_comment = False
    reasons_a["rejection"].save()
    client.force_login(alice)
    check = url(cat_lead, "workbench_check")
    answer = client.post(check, {"to_status": "rejected", "reason": reasons_a["rejection"].pk}).json()
    [error] = answer["errors"]["comment"]  # once, in plain words; Cat's own wording as the detail
    assert error["message"] == "Add a comment: Cat needs one when the reason is 'A100 rejection'."
    assert error["detail"].startswith("Cat: rejectedReasonComments is required")
    answer = client.post(check, {"to_status": "rejected", "reason": reasons_a["rejection"].pk,
                                 "comment": "Their territory"}).json()
    assert answer["errors"] == {}
    assert not StatusLog.objects.exists() and Lead.objects.get(pk=cat_lead.pk).status == "new"
    assert client.get(check).status_code == 400


def test_it_assigns_and_unassigns_only_to_people_of_the_leads_dealer(client, alice, adam, bob, cat_lead):
    client.force_login(alice)
    assert post(client, cat_lead, "assign", **{"assign-owner": adam.pk}).status_code == 302
    assert Lead.objects.get(pk=cat_lead.pk).owner == adam
    response = post(client, cat_lead, "assign", **{"assign-owner": bob.pk})
    assert "owner" in response.context["assign_form"].errors
    assert Lead.objects.get(pk=cat_lead.pk).owner == adam
    assert post(client, cat_lead, "assign", **{"assign-owner": ""}).status_code == 302
    assert Lead.objects.get(pk=cat_lead.pk).owner is None


def test_it_schedules_completes_and_sets_the_next_follow_up(client, alice, cat_lead):
    client.force_login(alice)
    when = timezone.localtime() + timedelta(days=1)
    assert post(client, cat_lead, "schedule", **{"schedule-kind": "call", "schedule-notes": "Price the 320",
                                                  "schedule-scheduled_at": when.strftime("%Y-%m-%dT%H:%M")}
                ).status_code == 302
    followup = FollowUp.objects.get(lead=cat_lead)
    assert Lead.objects.get(pk=cat_lead.pk).next_follow_up_at == followup.scheduled_at
    response = post(client, cat_lead, "complete", **{"complete-followup": followup.pk,
                                                     "complete-outcome_notes": ""})
    assert "outcome_notes" in response.context["open_followups"][0][1].errors  # what happened is required
    following = when + timedelta(days=7)
    assert post(client, cat_lead, "complete", **{
        "complete-followup": followup.pk, "complete-outcome_notes": "Sent the quote",
        "complete-next_at": following.strftime("%Y-%m-%dT%H:%M"), "complete-next_kind": "visit"}).status_code == 302
    followup.refresh_from_db()
    assert followup.done_by == alice and followup.outcome_notes == "Sent the quote"
    nxt = FollowUp.objects.get(lead=cat_lead, done_at__isnull=True)
    assert nxt.kind == "visit" and Lead.objects.get(pk=cat_lead.pk).next_follow_up_at == nxt.scheduled_at
    again = post(client, cat_lead, "complete", **{"complete-followup": followup.pk, "complete-outcome_notes": "x"})
    assert again.status_code == 200  # a second click: refused, not recorded twice
    titles = [entry.title for entry in client.get(url(cat_lead)).context["timeline"]]
    assert "Call done" in titles and any(title.startswith("Visit scheduled") for title in titles)


def test_it_never_opens_or_changes_another_dealers_lead(client, alice, dealer_b, reasons_a):
    theirs = make_lead(dealer_b, first_name="Hidden")
    client.force_login(alice)
    assert client.get(url(theirs)).status_code == 404
    assert post(client, theirs, "status", to_status="accepted").status_code == 404
    assert client.post(url(theirs, "workbench_check"), {"to_status": "accepted"}).status_code == 404
    assert Lead.objects.get(pk=theirs.pk).status == "new"


def test_it_refuses_an_unknown_action(client, alice, cat_lead):
    client.force_login(alice)
    assert post(client, cat_lead, "delete_everything").status_code == 400
    assert Lead.objects.filter(pk=cat_lead.pk).exists()


def test_the_queue_and_the_list_open_the_workbench(client, alice, cat_lead):
    client.force_login(alice)
    assert url(cat_lead) in client.get(reverse("admin:leads_lead_queue")).content.decode()
    assert url(cat_lead) in without_csrf(client.get(reverse("admin:leads_lead_changelist")).content.decode())
    assert url(cat_lead) in client.get(url(cat_lead, "change")).content.decode()


def test_picking_a_first_stage_asks_for_cats_opportunity_fields_before_any_save(client, alice, cat_lead, stages_a):
    from apps.leads import services
    from apps.leads.models import StageMapping

    StageMapping.objects.create(stage=stages_a[0], vendor="cat", vendor_value="Qualification", probability=10)
    assert services.lead_change_status(lead=cat_lead, to_status="accepted", actor=alice).ok  # no stage yet
    client.force_login(alice)
    response = client.get(url(cat_lead))
    # Without a stage an accepted Cat lead is no opportunity: nothing more to ask...
    assert "opportunity_amount" not in response.context["required_by_status"]["accepted"]
    by_stage = response.context["field_spec"]["by_stage"]
    # ...picking one makes it one (02/2/2021): the page knows at once what that stage needs.
    assert {"opportunity_amount", "target_date", "probability"} <= set(by_stage[stages_a[0].pk])
    assert set(by_stage) == {stage.pk for stage in stages_a}


def test_a_closed_lead_shows_its_closing_not_its_last_stage(client, alice, dealer_a, reasons_a, stages_a):
    from apps.leads import services

    lead = make_lead(dealer_a, owner=alice)
    assert services.lead_change_status(lead=lead, to_status="accepted", stage=stages_a[1], actor=alice).ok
    assert services.lead_change_status(lead=lead, to_status="closed_lost", reason=reasons_a["closed_lost"],
                                       actor=alice).ok
    client.force_login(alice)
    body = client.get(url(lead)).content.decode()
    closing = body[body.index('class="wb-closing"'):]
    closing = closing[:closing.index("</div>")]
    assert "Closed lost: A100 closed_lost" in closing and "its last stage was Quote" in closing
    assert "<dt>Stage</dt>" not in body
    listed = client.get(reverse("admin:leads_lead_changelist")).context["cl"]
    row = next(obj for obj in listed.result_list if obj.pk == lead.pk)
    assert listed.model_admin.stage_display(row) == "—"  # the status column says how it ended
