"""The sync engine's vendor-neutral extensions, driven by a fake in-memory
adapter: incremental cursors, messages other than status updates (unique by a
dedupe key, rebuilt when blocked, the vendor's answer kept), and telling every
account that knows a lead (its source and the accounts it was submitted to)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.violations import Violation
from apps.leads import services
from apps.leads.models import Lead
from apps.leads.statuses import Status
from apps.sync import engine
from apps.sync.models import AccountSyncState, InboxPage, OutboxItem, OutboxState, PageState
from apps.sync.outbox import SUBMIT_KIND, adapters_for_lead, queue_message, queue_submission
from apps.vendors.core.base import ApplyResult, PageUnreadable, ParsedPage, SendOutcome, VendorAdapter
from apps.vendors.core.http import RawResponse
from apps.vendors.core.models import VendorAccount
from tests.conftest import make_lead

FEED: list[bytes] = []  # pages the fake vendor serves, in order, from the cursor's offset
SENT: list[dict] = []
HEARD: list[tuple] = []
REFUSE: list[bool] = []  # non-empty: the fake vendor refuses what it is sent


class FakeAdapter(VendorAdapter):
    kind = "fake"
    verbose_name = "Fake vendor"
    staff_name = "Fake"
    document = ""
    supports_pull = True
    supports_push = True
    resumable_feed = True

    def fetch_pages(self, http, *, call, cursor):
        offset = cursor.get("offset", 0)
        for body in FEED[offset:]:
            yield RawResponse(200, body, {}, f"GET /leads?offset={offset}")
            offset += 1

    def prepare_page(self, body):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise PageUnreadable(str(exc)) from None
        return ParsedPage(data["items"], cursor={"offset": data["next"]})

    def apply_page(self, page, *, kind):
        created = 0
        for item in page.items:
            _, made = Lead.objects.get_or_create(vendor_account=self.account, vendor_lead_id=item,
                                                 defaults={"dealer": self.account.dealer, "first_name": item})
            created += made
        return ApplyResult(created=created)

    def build_outbox_payload(self, lead, log):
        return {"status": log.to_status}, []

    def build_submission(self, lead):
        if not lead.email:
            return None, [Violation("email", "required", "The vendor needs an e-mail address.")]
        return {"email": lead.email}, []

    def rebuild_outbox_payload(self, item):
        if item.kind == "note":
            if not item.lead.company:
                return None, [Violation("company", "required", "The vendor needs a company.")]
            return {"kind": item.kind, "company": item.lead.company}, []
        return super().rebuild_outbox_payload(item)

    def describe_outbox_item(self, item):
        return f"fake {item.kind}"

    def send(self, http, items):
        SENT.extend(item.payload for item in items)
        if REFUSE:
            return [SendOutcome.refused("bad email", status=400, response={"errors": ["bad email"]}) for item in items]
        return [SendOutcome.sent(status=202, response={"vendorId": f"V{item.pk}"}) for item in items]

    def after_sent(self, item, outcome):
        Lead.objects.filter(pk=item.lead_id).update(external_ref=outcome.response["vendorId"])

    def messages_for_status_change(self, lead, log):
        HEARD.append((self.account.name, "status", log.to_status))
        return super().messages_for_status_change(lead, log)

    def messages_for_followup(self, lead, followup, *, event):
        HEARD.append((self.account.name, "followup", event))
        return []

    def messages_for_owner_change(self, lead, actor=None):
        HEARD.append((self.account.name, "owner", lead.owner_id))
        return []


@pytest.fixture
def fake_vendor(monkeypatch, settings):
    """Accounts of kind "aimbase" get the fake adapter in these tests (the
    database only admits known kinds)."""
    settings.LEADHUB_PUSH_ON_COMMIT = False
    monkeypatch.setattr(VendorAccount, "adapter_class", property(lambda self: FakeAdapter))
    FEED.clear(), SENT.clear(), HEARD.clear(), REFUSE.clear()


@pytest.fixture
def fake_account(dealer_a, fake_vendor):
    return VendorAccount.objects.create(name="a100-fake", vendor="aimbase", dealer=dealer_a,
                                        base_url="http://127.0.0.1:9/fake")


def page(items, next_offset):
    return json.dumps({"items": items, "next": next_offset}).encode()


def test_it_resumes_an_incremental_pull_after_the_last_applied_page(fake_account):
    FEED[:] = [page(["L1", "L2"], 1), page(["L3"], 2)]
    first = engine.pull(fake_account)
    assert (first.fetched, first.created) == (3, 3)
    assert AccountSyncState.objects.get(account=fake_account).cursor == {"offset": 2}

    FEED.append(page(["L4"], 3))
    second = engine.pull(fake_account)
    assert (second.fetched, second.created) == (1, 1)  # only the new page was asked for
    assert set(Lead.objects.values_list("vendor_lead_id", flat=True)) == {"L1", "L2", "L3", "L4"}


def test_it_stops_an_incremental_pull_at_an_unreadable_page_and_asks_again(fake_account):
    FEED[:] = [page(["L1"], 1), b"{truncated", page(["L3"], 3)]
    summary = engine.pull(fake_account)
    assert summary.failed_run()
    assert list(Lead.objects.values_list("vendor_lead_id", flat=True)) == ["L1"]
    assert AccountSyncState.objects.get(account=fake_account).cursor == {"offset": 1}
    assert InboxPage.objects.filter(account=fake_account, state=PageState.FAILED).count() == 1

    FEED[1] = page(["L2"], 2)  # the vendor answers properly this time
    engine.pull(fake_account)
    assert sorted(Lead.objects.values_list("vendor_lead_id", flat=True)) == ["L1", "L2", "L3"]


def test_it_keeps_the_cursor_where_it_was_when_applying_a_page_fails(fake_account, monkeypatch):
    FEED[:] = [page(["L1"], 1), page(["L2"], 2)]
    real_apply = FakeAdapter.apply_page

    def apply_then_fail(self, parsed, *, kind):
        if parsed.items == ["L2"]:
            raise RuntimeError("the worker dies here")
        return real_apply(self, parsed, kind=kind)

    monkeypatch.setattr(FakeAdapter, "apply_page", apply_then_fail)
    with pytest.raises(RuntimeError):
        engine.pull(fake_account)
    assert AccountSyncState.objects.get(account=fake_account).cursor == {"offset": 1}
    assert not Lead.objects.filter(vendor_lead_id="L2").exists()  # rolled back with its cursor


def test_it_refuses_a_second_message_with_the_same_dedupe_key(fake_account, lead_a):
    adapter = fake_account.adapter()
    queue_message(adapter, lead_a, kind=SUBMIT_KIND, payload={"a": 1}, dedupe_key=f"submit:{lead_a.pk}")
    with pytest.raises(IntegrityError), transaction.atomic():
        queue_message(adapter, lead_a, kind=SUBMIT_KIND, payload={"a": 1}, dedupe_key=f"submit:{lead_a.pk}")
    # Without a key, messages are not deduplicated.
    queue_message(adapter, lead_a, kind="note", payload={})
    queue_message(adapter, lead_a, kind="note", payload={})
    assert OutboxItem.objects.filter(lead=lead_a).count() == 3


def test_it_rebuilds_a_blocked_message_of_any_kind_once_the_lead_is_fixed(fake_account, lead_a):
    Lead.objects.filter(pk=lead_a.pk).update(company="")
    lead_a.refresh_from_db()
    item = queue_message(fake_account.adapter(), lead_a, kind="note", payload=None,
                         problems=[Violation("company", "required", "The vendor needs a company.")])
    assert item.state == OutboxState.BLOCKED
    engine.push(fake_account)
    assert OutboxItem.objects.get(pk=item.pk).state == OutboxState.BLOCKED
    assert SENT == []

    Lead.objects.filter(pk=lead_a.pk).update(company="Acme Paving")
    summary = engine.push(fake_account)
    assert summary.pushed == 1
    assert SENT == [{"kind": "note", "company": "Acme Paving"}]


def test_it_keeps_the_vendors_answer_and_lets_the_adapter_record_it(fake_account, lead_a):
    item = queue_message(fake_account.adapter(), lead_a, kind=SUBMIT_KIND, payload={"x": 1},
                         dedupe_key=f"submit:{lead_a.pk}")
    engine.push(fake_account)
    item.refresh_from_db()
    assert item.state == OutboxState.SENT
    assert item.response == {"vendorId": f"V{item.pk}"}
    lead_a.refresh_from_db()
    assert lead_a.external_ref == f"V{item.pk}"
    event = lead_a.events.get(kind="push_sent")
    assert event.summary.endswith("fake submit")
    assert event.details["response"] == {"vendorId": f"V{item.pk}"}


def test_it_tells_every_account_that_knows_the_lead(fake_account, dealer_a, lead_a, reasons_a, alice):
    other = VendorAccount.objects.create(name="a100-fake-2", vendor="aimbase", dealer=dealer_a,
                                         base_url="http://127.0.0.1:9/fake2")
    assert adapters_for_lead(lead_a) == []

    # Submitted to `other` and accepted there: from now on `other` hears of the lead.
    queue_message(other.adapter(), lead_a, kind=SUBMIT_KIND, payload={}, dedupe_key=f"submit:{lead_a.pk}")
    assert adapters_for_lead(lead_a) == []  # not before the vendor accepted it
    engine.push(other)
    assert [a.account for a in adapters_for_lead(lead_a)] == [other]

    result = services.lead_change_status(lead=lead_a, to_status=Status.ACCEPTED, actor=alice)
    assert result.ok, result.errors
    services.lead_assign_owner(lead=lead_a, owner=alice, actor=alice)
    followup = services.followup_schedule(lead=lead_a, scheduled_at=timezone.now() + timedelta(days=1), actor=alice).followup
    services.followup_complete(followup=followup, actor=alice, next_at=timezone.now() + timedelta(days=2))
    assert HEARD == [("a100-fake-2", "status", "accepted"), ("a100-fake-2", "owner", alice.pk),
                     ("a100-fake-2", "followup", "scheduled"), ("a100-fake-2", "followup", "completed"),
                     ("a100-fake-2", "followup", "scheduled")]
    assert OutboxItem.objects.filter(account=other, kind="status_update", lead=lead_a).count() == 1

    # A vendor lead's own account hears of it too, and only once.
    pulled = make_lead(dealer_a, vendor_account=fake_account, vendor_lead_id="P1")
    assert [a.account for a in adapters_for_lead(pulled)] == [fake_account]


def test_it_submits_a_lead_at_most_once_and_resubmits_it_only_after_a_refusal(fake_account, lead_a):
    adapter = fake_account.adapter()
    Lead.objects.filter(pk=lead_a.pk).update(email="")
    lead_a.refresh_from_db()
    item, problems = queue_submission(adapter, lead_a)
    assert [p.code for p in problems] == ["required"] and item.state == OutboxState.BLOCKED

    Lead.objects.filter(pk=lead_a.pk).update(email="ann@acme.test")
    lead_a.refresh_from_db()
    again, problems = queue_submission(adapter, lead_a)  # fixed: the same item, queued
    assert (again.pk, again.state, problems) == (item.pk, OutboxState.PENDING, [])
    assert queue_submission(adapter, lead_a)[0].pk == item.pk  # a double click adds nothing

    REFUSE.append(True)
    engine.push(fake_account)
    item.refresh_from_db()
    assert item.state == OutboxState.FAILED and item.response == {"errors": ["bad email"]}

    REFUSE.clear()
    queue_submission(adapter, lead_a)  # resubmitted after the refusal
    engine.push(fake_account)
    item.refresh_from_db()
    assert item.state == OutboxState.SENT

    refused_item, problems = queue_submission(adapter, lead_a)
    assert [p.code for p in problems] == ["already_submitted"] and refused_item.state == OutboxState.SENT
    assert OutboxItem.objects.filter(lead=lead_a, kind=SUBMIT_KIND).count() == 1
    assert SENT == [{"email": "ann@acme.test"}, {"email": "ann@acme.test"}]
