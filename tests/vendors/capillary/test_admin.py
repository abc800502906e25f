"""The Capillary lists in the admin: fetched per account, added in Capillary from
the admin, mappings checked against them, the status form naming the reason."""
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.leads.models import Lead, Reason, ReasonMapping, StageMapping, StatusMapping
from apps.sync.engine import pull
from apps.vendors.capillary.adapter import refresh_lists
from apps.vendors.capillary.models import CapillaryReason, CapillarySubStatus
from apps.vendors.core.registry import adapter_class

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_dealer_admin_adds_a_reason_which_is_created_in_capillary(client, adam, account, sandbox):
    client.force_login(adam)
    response = client.post(reverse("admin:capillary_capillaryreason_add"),
                           {"account": account.pk, "reason": "Wants a demo first"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    created = [r for r in sandbox.state()["reasons"] if r["reason"] == "Wants a demo first"]
    assert len(created) == 1
    assert CapillaryReason.objects.get(account=account, reason="Wants a demo first").reason_id == created[0]["id"]
    assert CapillaryReason.objects.filter(account=account).count() == 5  # the others were fetched too


def test_a_refused_or_unreachable_capillary_shows_on_the_form(client, adam, account, sandbox):
    client.force_login(adam)
    sandbox.inject("503", path="lists", times=10)
    response = client.post(reverse("admin:capillary_capillarysubstatus_add"),
                           {"account": account.pk, "status": "ON_HOLD", "sub_status": "Later"})
    assert response.status_code == 200 and "503" in response.content.decode()
    assert not CapillarySubStatus.objects.filter(sub_status="Later").exists()


def test_staff_cannot_add_to_the_organisations_lists(client, alice, account):
    client.force_login(alice)
    assert client.get(reverse("admin:capillary_capillaryreason_add")).status_code == 403


def test_the_refresh_action_fetches_the_lists_of_the_account(client, adam, account, sandbox):
    client.force_login(adam)
    response = client.post(reverse("admin:vendors_vendoraccount_changelist"),
                           {"action": "refresh_capillary_lists", "_selected_action": [account.pk]}, follow=True)
    assert "4 reasons and 3 sub-statuses fetched" in response.content.decode()
    assert CapillarySubStatus.objects.filter(account=account).count() == 3


def test_a_mapping_must_name_a_fetched_reason_id_and_substatus(account, dealer_a, sandbox):
    refresh_lists(account)
    reason = Reason.objects.create(dealer=dealer_a, kind="closed_lost", label="Price")
    ReasonMapping(reason=reason, vendor="capillary", vendor_code="2").full_clean()
    with pytest.raises(ValidationError, match="not one of the organisation's reasons"):
        ReasonMapping(reason=reason, vendor="capillary", vendor_code="99").full_clean()
    StatusMapping(dealer=dealer_a, status="on_hold", vendor="capillary", vendor_value="ON_HOLD",
                  vendor_sub_status="YetToDecide").full_clean()
    with pytest.raises(ValidationError, match="not a sub-status of LOST"):
        StatusMapping(dealer=dealer_a, status="closed_lost", vendor="capillary", vendor_value="LOST",
                      vendor_sub_status="YetToDecide").full_clean()


def test_a_stage_maps_to_a_substatus_of_the_status_accepted_maps_to(account, dealer_a, sandbox, stages_a):
    """"Retrieves all the sub-statuses added (for each status)": a sub-status belongs
    to one status, and a stage's sub-status goes out with an accepted lead's status."""
    refresh_lists(account)
    StatusMapping.objects.create(dealer=dealer_a, status="accepted", vendor="capillary", vendor_value="OPEN")
    StageMapping(stage=stages_a[0], vendor="capillary", vendor_value="Quoted").full_clean()  # an OPEN sub-status
    with pytest.raises(ValidationError, match="not a sub-status of OPEN"):
        StageMapping(stage=stages_a[0], vendor="capillary", vendor_value="InvalidPhoneNumber").full_clean()
    assert adapter_class("capillary").mapping_values("stage", dealer_a.pk) == ["Quoted"]


def test_the_stage_mapping_offers_the_dealers_capillary_substatuses(client, adam, account, sandbox, stages_a):
    refresh_lists(account)
    client.force_login(adam)
    body = client.get(reverse("admin:leads_salesstage_change", args=[stages_a[0].pk])).content.decode()
    assert "YetToDecide" in body and "Quoted" in body


def test_the_status_form_refuses_a_change_without_a_mapped_reason(client, adam, account, mapped, sandbox):
    made = sandbox.add_lead(lead_for="sku_1")
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    lead.status = "accepted"
    lead.save()
    unmapped = Reason.objects.create(dealer=lead.dealer, kind="closed_no_deal", label="Budget cut")
    client.force_login(adam)
    response = client.post(reverse("admin:leads_lead_status", args=[lead.pk]),
                           {"to_status": "closed_no_deal", "reason": unmapped.pk})
    assert response.status_code == 200
    assert "has no Capillary reason id" in response.content.decode()
    assert response.context["form"].errors.get("reason")
    lead.refresh_from_db()
    assert lead.status == "accepted" and not lead.outbox.exists()


def test_the_status_form_marks_the_reason_required_when_capillary_needs_one(client, adam, account, mapped, sandbox):
    made = sandbox.add_lead(lead_for="sku_1")
    pull(account)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    client.force_login(adam)
    required = client.get(reverse("admin:leads_lead_status", args=[lead.pk])).context["required_by_status"]
    assert required["accepted"] == [] and required["rejected"] == ["reason"]
    account.options["default_reason_id"] = ""
    account.save()
    required = client.get(reverse("admin:leads_lead_status", args=[lead.pk])).context["required_by_status"]
    assert required["accepted"] == ["reason"]
