"""Capillary's request rules, the payload builders and readers, and the feed's
resume logic: plain data, no HTTP, no database."""
import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from apps.vendors.core.base import PageUnreadable, VendorError
from apps.vendors.capillary import payloads, rules
from apps.vendors.capillary.feed import Feed

# The document's own samples.
ADD_LEAD = {"type": "SKU", "leadFor": "item001", "idType": "EMAIL", "identifier": "tom.sawyer@example.com",
            "status": "ON_HOLD", "nextFollowUp": "2018-10-05T08:00:00+05:30", "createdOn": "2018-10-04T13:30:00+05:30",
            "createdBy": 28812689,
            "followUpDetails": [{"scheduledFollowUp": "2018-10-04T12:30:00+05:30",
                                 "followedUpOn": "2018-10-04T12:45:00+05:30", "followedUpBy": 28812689,
                                 "notes": "notes 1", "nextFollowUp": "2018-10-04T13:15:00+05:30"}],
            "extendedFields": {"trial_status": "Not Done"},
            "statusLogDetails": [{"status": "OPEN", "createdBy": 28812689, "reasonId": 1},
                                 {"status": "ON_HOLD", "createdBy": 28812689, "reasonId": 2}],
            "orgSourceId": -1}
STATUS = {"status": "ON_HOLD", "subStatus": "YetToDecide", "createdBy": 28812689, "reasonId": 2}
FOLLOWUP = {"followedUpOn": "2018-10-05T08:00:00+05:30", "createdBy": 124}


def fields(violations):
    return sorted(v.field for v in violations)


def test_the_documents_samples_are_valid():
    assert rules.check_create(ADD_LEAD) == []
    assert rules.check_status_update(STATUS) == []
    assert rules.check_followup(FOLLOWUP) == []
    assert rules.check_lead_update({"extendedFields": {"trial_status": "Not Done"}}) == []
    assert rules.check_substatus({"status": "ON_HOLD", "subStatus": "YetToDecide"}) == []
    assert rules.check_reason({"reason": "Item not available in store"}) == []


def test_a_lead_needs_leadfor_and_a_customer_by_userid_or_identifier():
    bare = {k: v for k, v in ADD_LEAD.items() if k not in ("leadFor", "idType", "identifier")}
    assert fields(rules.check_create(bare)) == ["idType", "identifier", "leadFor"]
    assert rules.check_create({"leadFor": "x", "userId": 368754334}) == []
    assert fields(rules.check_create({"leadFor": "x", "idType": "PHONE", "identifier": "1"})) == ["idType"]


@pytest.mark.parametrize("key,value", [("status", "CLOSED"), ("type", "PRODUCT"), ("createdOn", "2018-10-04"),
                                       ("createdBy", "28812689"), ("orgSourceId", True),
                                       ("extendedFields", ["a"]), ("statusLogDetails", {})])
def test_a_lead_with_a_wrong_value_names_the_field(key, value):
    assert key in fields(rules.check_create({**ADD_LEAD, key: value}))


def test_status_log_entries_need_a_status_and_a_reason_id():
    broken = {**ADD_LEAD, "statusLogDetails": [{"status": "OPEN"}, {"status": "DONE", "reasonId": 1}]}
    assert fields(rules.check_create(broken)) == ["statusLogDetails[0].reasonId", "statusLogDetails[1].status"]


def test_a_status_update_needs_status_and_reason_id():
    assert fields(rules.check_status_update({"subStatus": "x"})) == ["reasonId", "status"]
    assert fields(rules.check_status_update({**STATUS, "reasonId": "2"})) == ["reasonId"]


def test_a_followup_needs_followedupon_and_createdby():
    assert fields(rules.check_followup({"notes": "n"})) == ["createdBy", "followedUpOn"]
    assert fields(rules.check_followup({**FOLLOWUP, "nextFollowUp": "tomorrow"})) == ["nextFollowUp"]


def test_a_lead_update_takes_only_extended_fields_and_owner():
    assert fields(rules.check_lead_update({"status": "WON"})) == ["body", "status"]
    assert fields(rules.check_lead_update({"owner": ""})) == ["owner"]


def test_validate_outbound_reads_kind_and_payload():
    results = [rules.check_message(m) for m in (
        {"kind": "submit", "payload": ADD_LEAD}, {"kind": "status_update", "payload": {}},
        {"kind": "teleport", "payload": {}}, ["not", "an", "object"])]
    assert [fields(r) for r in results] == [[], ["reasonId", "status"], ["kind"], ["message"]]


def test_a_reason_mapping_must_be_one_of_the_fetched_ids():
    assert rules.reason_id_violations("2", {1, 2}) == []
    assert fields(rules.reason_id_violations("7", {1, 2})) == ["vendor_code"]
    assert fields(rules.reason_id_violations("abc", {1, 2})) == ["vendor_code"]
    assert rules.reason_id_violations("7", set()) == []  # nothing fetched yet: Capillary decides


def test_a_substatus_belongs_to_its_status():
    known = {("ON_HOLD", "YetToDecide")}
    assert rules.substatus_violations("ON_HOLD", "YetToDecide", known) == []
    assert "YetToDecide" in rules.substatus_violations("LOST", "YetToDecide", known)[0].message


# --- builders ---------------------------------------------------------------------------

class R:  # a dealer Reason, as the builders see it
    def __init__(self, pk, label="r", kind="closed_lost"):
        self.pk, self.label, self.kind = pk, label, kind


M = payloads.Mappings(statuses={"new": ("OPEN", ""), "on_hold": ("ON_HOLD", "YetToDecide"),
                                "closed_lost": ("LOST", ""), "rejected": ("LOST", ""), "accepted": ("OPEN", "")},
                      stages={7: "Quoted"}, reasons={1: 11, 2: 12}, default_reason_id=4, created_by=99)
AT = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


def test_a_status_update_carries_the_mapped_status_substatus_and_reason():
    payload, problems = payloads.build_status(M, to_status="closed_lost", stage_id=None, reason=R(2), at=AT)
    assert problems == [] and payload == {"status": "LOST", "reasonId": 12, "createdBy": 99,
                                          "createdOn": "2026-03-01T10:00:00+00:00"}
    payload, _ = payloads.build_status(M, to_status="accepted", stage_id=7, reason=None)
    assert payload == {"status": "OPEN", "subStatus": "Quoted", "reasonId": 4, "createdBy": 99}


def test_a_required_reason_cannot_fall_back_to_the_default():
    _, problems = payloads.build_status(M, to_status="closed_lost", stage_id=None, reason=None)
    assert [(p.field, p.code) for p in problems] == [("reason", "required")]
    _, problems = payloads.build_status(M, to_status="closed_lost", stage_id=None, reason=R(5, "Budget"))
    assert problems[0].code == "unmapped_reason" and "Budget" in problems[0].message


def test_without_a_default_reason_id_every_change_needs_one():
    bare = payloads.Mappings(statuses=M.statuses)
    _, problems = payloads.build_status(bare, to_status="accepted", stage_id=None, reason=None)
    assert problems[0].code == "no_reason_id"


def test_an_unmapped_status_blocks_but_does_not_name_the_reason():
    _, problems = payloads.build_status(M, to_status="closed_won", stage_id=None, reason=None)
    assert [p.code for p in problems] == ["unmapped"]


def test_a_new_lead_names_the_customer_by_userid_else_email_else_mobile():
    facts = payloads.LeadFacts(lead_for="item001", email="a@b.test", mobile="+4412", created_at=AT)
    payload, problems = payloads.build_create(M, facts)
    assert problems == [] and (payload["idType"], payload["identifier"]) == ("EMAIL", "a@b.test")
    payload, _ = payloads.build_create(M, payloads.LeadFacts(lead_for="x", mobile="+4412", created_at=AT))
    assert (payload["idType"], payload["identifier"]) == ("MOBILE", "+4412")
    payload, _ = payloads.build_create(M, payloads.LeadFacts(lead_for="x", user_id=5, email="a@b.test", created_at=AT))
    assert payload["userId"] == 5 and "idType" not in payload


def test_a_new_lead_carries_its_history_and_is_blocked_by_an_unmappable_entry():
    facts = payloads.LeadFacts(lead_for="item001", email="a@b.test", status="on_hold", created_at=AT,
                               status_logs=(("on_hold", None, None, AT),),
                               followups=((AT, AT + timedelta(hours=1), "called", None),))
    payload, problems = payloads.build_create(M, facts)
    assert problems == []
    assert payload["statusLogDetails"] == [{"status": "ON_HOLD", "reasonId": 4, "createdBy": 99,
                                            "subStatus": "YetToDecide"}]
    assert payload["followUpDetails"][0]["followedUpOn"] == "2026-03-01T11:00:00+00:00"
    assert rules.check_create(payload) == []
    facts = payloads.LeadFacts(lead_for="", email="a@b.test", created_at=AT,
                               status_logs=(("closed_lost", None, None, AT),))
    _, problems = payloads.build_create(M, facts)
    assert {p.field for p in problems} == {"statusLogDetails.reason", "leadFor"}


def test_a_followup_without_a_till_id_is_blocked():
    _, problems = payloads.build_followup(payloads.Mappings(), done_at=AT, scheduled_at=None, notes="", next_at=None)
    assert [p.field for p in problems] == ["createdBy"]


def test_capillarys_status_reads_back_to_the_dealers():
    def back(status, sub="", kinds=(), current="new"):
        return payloads.dealer_status_for(M, status, sub, None, set(kinds), current=current)

    assert back("ON_HOLD") == ("on_hold", None, "")
    assert back("OPEN", current="accepted") == ("accepted", None, "")
    assert back("OPEN", "Quoted", current="new") == ("accepted", 7, "")
    assert back("LOST", kinds=["rejection"]) == ("rejected", None, "")
    assert back("LOST")[0] is None and "several" in back("LOST")[2]
    assert back("WON")[0] is None and "not mapped" in back("WON")[2]


# --- reading --------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"<html>", b'{"data": {"id": 1}}', b'{"data": [{"leadFor": "x"}]}',
                                  b'{"data": [{"id": 1}', b"[]"])
def test_an_unreadable_search_answer_raises_page_unreadable(body):
    with pytest.raises(PageUnreadable):
        payloads.parse_search_page(body)


def test_dates_with_offsets_and_z_are_read_as_instants():
    assert payloads.parse_dt("2019-04-16T05:19:06Z") == payloads.parse_dt("2019-04-16T10:49:06+05:30")
    assert payloads.parse_dt("2019-04-16T05:19:06") is None and payloads.parse_dt("soon") is None


class FakeCapillary:
    """An in-memory lead list sorted by lastUpdatedOn that changes between calls."""

    def __init__(self, n, rng):
        self.clock = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.rng = rng
        self.leads = {i: self._stamp({"id": i}) for i in range(1, n + 1)}
        self.updates_per_call = 0

    def _stamp(self, lead):
        self.clock += timedelta(seconds=1)
        lead["lastUpdatedOn"] = payloads.fmt(self.clock)
        return lead

    def search(self, params):
        ordered = sorted(self.leads.values(), key=payloads.sort_key)
        page = ordered[params["offset"]:params["offset"] + params["limit"]]
        body = json.dumps({"data": page}).encode()
        for _ in range(self.updates_per_call):
            self._stamp(self.leads[self.rng.choice(list(self.leads))])
        return type("Raw", (), {"body": body})()


class Account:
    options = {}


@pytest.mark.parametrize("seed", range(10))
def test_the_feed_sees_every_leads_latest_version_while_the_list_changes(seed):
    rng = random.Random(seed)
    capillary = FakeCapillary(60, rng)
    seen: dict[int, str] = {}
    cursor = {}
    for run in range(6):  # runs, each resuming from the last applied page's cursor
        # Churn while the first runs read: more leads move per call than the overlap covers.
        capillary.updates_per_call = rng.choice([3, 4]) if run < 2 else 0
        feed = Feed(Account(), capillary, lambda fn, *a: fn(*a), cursor, limit=10)
        try:
            for raw, next_cursor in feed.pages():
                for lead in json.loads(raw.body)["data"]:
                    seen[lead["id"]] = max(seen.get(lead["id"], ""), lead["lastUpdatedOn"])
                cursor = next_cursor
        except VendorError:
            pass  # the run ends; the next resumes from the cursor (as the engine does)
    final = {i: lead["lastUpdatedOn"] for i, lead in capillary.leads.items()}
    assert seen == final


def test_a_plain_offset_reader_skips_leads_in_the_same_situation():
    """The failure the feed's overlap check exists for (a control for the test above)."""
    capillary = FakeCapillary(30, random.Random(3))
    capillary.updates_per_call = 1
    seen, offset = set(), 0
    while True:
        page = json.loads(capillary.search({"offset": offset, "limit": 5}).body)["data"]
        seen |= {lead["id"] for lead in page}
        offset += len(page)
        if len(page) < 5:
            break
    assert len(seen) < 30
