"""Dealer reasons and stages mapped to vendor values; what is unmapped is visible."""
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from apps.leads.models import ReasonMapping, StageMapping, StatusMapping
from apps.leads.selectors import unmapped_values
from apps.vendors.cat import rules as cat
from tests.conftest import make_cat_account


def test_a_cat_reason_mapping_must_be_one_of_cats_standard_values(reasons_a):
    ok = ReasonMapping(reason=reasons_a["rejection"], vendor="cat", vendor_value="For Another Dealer")
    ok.full_clean()
    bad = ReasonMapping(reason=reasons_a["rejection"], vendor="cat", vendor_value="No budget")  # a DQ reason
    with pytest.raises(ValidationError) as excinfo:
        bad.full_clean()
    assert "vendor_value" in excinfo.value.message_dict
    closed = ReasonMapping(reason=reasons_a["closed_lost"], vendor="cat", vendor_value=cat.CLOSED_REASONS[0])
    closed.full_clean()


def test_a_vendor_without_such_a_list_takes_no_mapping(reasons_a):
    with pytest.raises(ValidationError) as excinfo:
        ReasonMapping(reason=reasons_a["rejection"], vendor="cap", vendor_value="x").full_clean()
    assert "vendor" in excinfo.value.message_dict


def test_a_capillary_reason_mapping_carries_the_orgs_reason_id(reasons_a):
    ReasonMapping(reason=reasons_a["rejection"], vendor="capillary", vendor_code="17").full_clean()
    with pytest.raises(ValidationError):
        ReasonMapping(reason=reasons_a["rejection"], vendor="capillary").full_clean()


@pytest.mark.parametrize("stage,probability,ok", [
    ("Qualification", 1, True), ("Qualification", 20, True), ("Qualification", 21, False),
    ("Develop Solution", 21, True), ("Develop Solution", 40, True), ("Develop Solution", 41, False),
    ("Proposal/Negotiation", 41, True), ("Proposal/Negotiation", 99, True), ("Proposal/Negotiation", 100, False),
    ("Qualification", 0, False),
])
def test_a_cat_stage_mapping_keeps_its_probability_in_cats_range(stages_a, stage, probability, ok):
    mapping = StageMapping(stage=stages_a[0], vendor="cat", vendor_value=stage, probability=probability)
    if ok:
        mapping.full_clean()
    else:
        with pytest.raises(ValidationError) as excinfo:
            mapping.full_clean()
        assert "probability" in excinfo.value.message_dict


def test_closed_stages_are_outcomes_not_mappable_stages(stages_a):
    with pytest.raises(ValidationError):
        StageMapping(stage=stages_a[0], vendor="cat", vendor_value="Closed Won", probability=100).full_clean()


def test_status_mappings_take_the_vendors_statuses(dealer_a):
    StatusMapping(dealer=dealer_a, status="on_hold", vendor="capillary", vendor_value="ON_HOLD").full_clean()
    with pytest.raises(ValidationError):
        StatusMapping(dealer=dealer_a, status="on_hold", vendor="capillary", vendor_value="PAUSED").full_clean()
    with pytest.raises(ValidationError):
        StatusMapping(dealer=dealer_a, status="on_hold", vendor="cat", vendor_value="Accepted").full_clean()


def test_it_detects_what_is_unmapped_for_the_vendors_a_dealer_uses(dealer_a, reasons_a, stages_a):
    assert unmapped_values(dealer_id=dealer_a.pk) == []  # no vendor account yet: nothing to map
    make_cat_account(dealer_a)
    found = {(u.what, u.value, u.required) for u in unmapped_values(dealer_id=dealer_a.pk)}
    assert ("reason", reasons_a["rejection"].label, True) in found
    assert ("reason", reasons_a["closed_won"].label, False) in found  # optional for Cat (04/08/2021)
    assert ("reason", reasons_a["on_hold"].label, True) not in found  # Cat has no on-hold list
    assert ("stage", "Discovery", True) in found
    ReasonMapping.objects.create(reason=reasons_a["rejection"], vendor="cat", vendor_value="Spam/Inappropriate Lead Submission")
    StageMapping.objects.create(stage=stages_a[0], vendor="cat", vendor_value="Qualification", probability=10)
    found = {(u.what, u.value) for u in unmapped_values(dealer_id=dealer_a.pk)}
    assert ("reason", reasons_a["rejection"].label) not in found and ("stage", "Discovery") not in found
    assert all("mapping" in u.message for u in unmapped_values(dealer_id=dealer_a.pk))


def test_inactive_values_need_no_mapping(dealer_a, reasons_a):
    make_cat_account(dealer_a)
    reasons_a["rejection"].active = False
    reasons_a["rejection"].save()
    assert reasons_a["rejection"].label not in {u.value for u in unmapped_values(dealer_id=dealer_a.pk)}


def test_the_admin_lists_unmapped_reasons_for_a_vendor(client, world):
    client.force_login(get_user_model().objects.get(username="adam"))
    response = client.get("/admin/leads/reason/", {"unmapped": "cat"})
    listed = set(response.context["cl"].queryset.values_list("label", flat=True))
    mapped = world["A100"]["reasons"]["rejection"].label
    assert mapped not in listed
    assert world["A100"]["reasons"]["disqualification"].label in listed
    assert world["A100"]["reasons"]["on_hold"].label not in listed  # Cat maps no on-hold reasons
    assert 'class="unmapped"' in response.content.decode()


def test_dealer_admins_map_a_reason_in_the_admin(client, world):
    client.force_login(get_user_model().objects.get(username="adam"))
    reason = world["A100"]["reasons"]["disqualification"]
    data = {"dealer": reason.dealer_id, "kind": reason.kind, "label": reason.label, "position": 0, "active": "on",
            "mappings-TOTAL_FORMS": 1, "mappings-INITIAL_FORMS": 0, "mappings-0-vendor": "cat",
            "mappings-0-vendor_value": "Not a Cat reason", "mappings-0-vendor_code": ""}
    response = client.post(f"/admin/leads/reason/{reason.pk}/change/", data)
    assert response.status_code == 200 and not ReasonMapping.objects.filter(reason=reason).exists()
    data["mappings-0-vendor_value"] = "No budget"
    response = client.post(f"/admin/leads/reason/{reason.pk}/change/", data)
    assert response.status_code == 302
    assert ReasonMapping.objects.get(reason=reason).vendor_value == "No budget"
