"""Every admin page answers, for every role: no 5xx, and nothing the CSP refuses.

As dealer staff, dealer admin and superuser, GET every page the admin index leads
to: the index and app lists, every changelist (and every filter link on it), add,
change, history, a past version, delete confirmation, and every custom view a
ModelAdmin registers in get_urls (test_admin_scoping.admin_pages, from the URL resolver, so a new view is
walked without editing this file). A 403/404/302 is an answer; a 5xx or an
exception fails, listing every page that broke. Every HTML page is also checked
for inline scripts, event handlers and style attributes, which the CSP refuses.
"""
from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from apps.vendors.core.models import VendorAccount
from tests.accounts.test_admin_scoping import admin_pages
from tests.security.test_csp import EVENT_HANDLER, INLINE_SCRIPT, STYLE_ATTRIBUTE

FILTER_BLOCK = re.compile(r'<(?:div|nav) id="changelist-filter".*?</(?:div|nav)>\s*</div>', re.S)
QUERY_LINK = re.compile(r'href="(\?[^"]*)"')


@pytest.fixture
def every_vendor(world):
    """Dealer A's objects in the states that render differently: an account of
    every vendor kind (each vendor's form), a lead with a vendor payload holding
    HTML and a value waiting for a mapping, a completed follow-up, a refused
    outbox item with the vendor's answer, a failed run with errors, a stored
    page holding a lead."""
    from django.utils import timezone

    from apps.leads.models import FollowUp, Lead
    from apps.leads.pending import pending_record
    from apps.sync.models import InboxPage, OutboxItem, SyncRun
    from apps.vendors.core.registry import ADAPTERS

    mine = world["A100"]
    for kind in ADAPTERS:
        if not VendorAccount.objects.filter(dealer=mine["dealer"], vendor=kind).exists():
            VendorAccount.objects.create(name=f"a100-{kind}", vendor=kind, dealer=mine["dealer"],
                                         base_url="http://127.0.0.1:9/x")
    vendor_lead = {"leadId": "A100-LEAD-1", "comments": '<p style="color:red">Call <b>after</b> 5</p>'
                   "<script>alert(1)</script>", "nested": {"list": [1, "two", None]}}
    Lead.objects.filter(pk=mine["lead"].pk).update(raw_payload=vendor_lead)
    pending_record(lead=mine["lead"], account=mine["account"], field="status", vendor_value="WON",
                   note="Capillary status WON has no dealer status mapping yet.")
    FollowUp.objects.filter(pk=mine["followup"].pk).update(done_at=timezone.now(), outcome_notes="Rang, no answer")
    OutboxItem.objects.filter(pk=mine["outbox"].pk).update(
        state="failed", attempts=5, last_error="400 Bad Request: leadId unknown", last_status_code=400,
        response={"errors": [{"field": "leadId", "message": "unknown"}]}, alerted_at=timezone.now())
    SyncRun.objects.filter(pk=mine["run"].pk).update(state="failed", finished_at=timezone.now(), fetched=3,
                                                      failed=1, errors=["page 2: timed out", {"lead": "x"}])
    InboxPage.objects.filter(pk=mine["page"].pk).update(body=json.dumps([vendor_lead]).encode())
    return world


def _check(client, description, url, broken, inline):
    try:
        response = client.get(url)
    except Exception as exc:  # noqa: BLE001 - collect every broken page, then fail once
        broken.append(f"{description} {url}: {exc.__class__.__name__}: {exc}")
        return None
    if response.status_code >= 500:
        broken.append(f"{description} {url}: {response.status_code}")
        return None
    if response.status_code == 200 and "html" in response.get("Content-Type", "") and not response.streaming:
        body = response.content.decode()
        for name, rule in (("inline script", INLINE_SCRIPT), ("event handler", EVENT_HANDLER),
                           ("style attribute", STYLE_ATTRIBUTE)):
            found = rule.search(body)
            if found:
                inline.append(f"{description} {url}: {name} {found.group(0)[:120]}")
        return body
    return None


@pytest.mark.parametrize("username", ["alice", "adam", "root"])
def test_it_answers_every_admin_page_for_every_role(every_vendor, username):
    client = Client()
    user = get_user_model().objects.get(username=username)
    client.force_login(user)
    broken, inline = [], []
    pages = [(name, url) for name, url, _ in admin_pages(every_vendor, "A100")]
    for account in VendorAccount.objects.filter(dealer=every_vendor["A100"]["dealer"]):
        pages.append((f"vendor account {account.vendor}", reverse("admin:vendors_vendoraccount_change",
                                                                  args=[account.pk])))
    for description, url in pages:
        body = _check(client, description, url, broken, inline)
        if body and description.endswith("_changelist") and "?" not in url:
            block = FILTER_BLOCK.search(body)
            for link in sorted(set(QUERY_LINK.findall(block.group(0) if block else ""))):
                _check(client, f"{description} filter", url + unescape(link), broken, inline)
    assert len(pages) > 60  # the walk found the admin's pages
    assert not broken, "pages that broke:\n" + "\n".join(broken)
    assert not inline, "pages with what the CSP refuses:\n" + "\n".join(inline)


# A tampered selection is a 400; an unknown action or no selection gets the
# admin's own message ("No action selected", "Items must be selected"): the list again.
TAMPERED_ACTIONS = [
    ({"action": "delete_selected", "_selected_action": ["1x", "'; drop"]}, 400),
    ({"action": "delete_selected", "_selected_action": ["9" * 30]}, 400),  # past bigint
    ({"action": "delete_selected", "_selected_action": ["1", ""]}, 400),
    ({"action": "no_such_action", "_selected_action": ["1"]}, "message"),
    ({"action": "delete_selected"}, "message"),
    ({"_selected_action": ["1"]}, "message"),
    ({"action": "delete_selected", "select_across": "x", "index": "y"}, "message"),
]


@pytest.mark.parametrize("username", ["alice", "adam", "root"])
def test_it_answers_a_tampered_action_post_with_a_400_or_the_admins_message(every_vendor, username):
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    wrong = []
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        if client.get(url).status_code == 403:
            continue  # a list this role may not open refuses every POST too (checked in test_admin_scoping)
        integer_ids = model._meta.pk.get_internal_type() in ("AutoField", "BigAutoField", "IntegerField",
                                                               "BigIntegerField", "PositiveIntegerField")
        for data, expected in TAMPERED_ACTIONS:
            if not integer_ids:
                expected = "message"  # "1x" is a well-formed id of a text key (django-q's tasks): no such item
            try:
                response = client.post(url, data)
            except Exception as exc:  # noqa: BLE001 - collect them all
                wrong.append(f"{url} {data}: {exc.__class__.__name__}: {exc}")
                continue
            answered = response.status_code
            if expected == "message":
                ok = answered == 302 and response.url.startswith(url) or answered == 200
            else:
                ok = answered == expected
            if not ok:
                wrong.append(f"{url} {data}: {answered} (expected {expected})")
    assert not wrong, "\n".join(wrong)


def test_it_shows_dealer_staff_a_vendor_account_read_only(every_vendor):
    client = Client()
    client.force_login(get_user_model().objects.get(username="alice"))
    account = every_vendor["A100"]["account"]
    response = client.get(reverse("admin:vendors_vendoraccount_change", args=[account.pk]))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert account.name in response.content.decode()
