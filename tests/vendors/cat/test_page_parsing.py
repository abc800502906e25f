"""Cat pages are split into items with each item's exact text, which a new lead
keeps as its raw payload (the vendor's own bytes, not a re-encoding)."""
from __future__ import annotations

import json

import pytest

from apps.leads.models import Lead
from apps.vendors.core.base import PageUnreadable
from apps.vendors.cat.inbound import parse_items


def test_it_keeps_each_items_exact_text():
    body = b' [ {"leadId": "A", "n": 1.50, "z": 1, "a": 2} ,\n{"leadId":"B","html":"<b>\\u00e9</b>"} ] '
    parsed = parse_items(body)
    assert [item["leadId"] for item, _ in parsed] == ["A", "B"]
    assert [text for _, text in parsed] == ['{"leadId": "A", "n": 1.50, "z": 1, "a": 2}',
                                           '{"leadId":"B","html":"<b>\\u00e9</b>"}']
    assert all(json.loads(text) == item for item, text in parsed)


@pytest.mark.parametrize("body", [b"[]", b" [ ] ", b"[\n]"])
def test_it_reads_an_empty_page(body):
    assert parse_items(body) == []


@pytest.mark.parametrize("body, says", [
    (b'[{"leadId": "A"}, {"leadId": "B"', "not JSON"),        # truncated
    (b'[{"leadId": "A"} {"leadId": "B"}]', "not JSON"),       # a missing comma
    (b'[{"leadId": "A"},]', "not JSON"),                      # a trailing comma
    (b'[{"leadId": "A"}] []', "not JSON"),                     # extra data
    (b'{"leadId": "A"}', "expected a JSON array"),
    (b'<html>502 Bad Gateway</html>', "not JSON"),
    (b'\xff\xfe[]', "not UTF-8"),
    (b"", "not JSON"),
])
def test_it_refuses_what_is_not_a_json_array(body, says):
    with pytest.raises(PageUnreadable, match=says):
        parse_items(body)


def test_it_agrees_with_json_loads_on_the_sandboxs_pages():
    from sandboxes.cat import make_lead

    leads = [make_lead(i) for i in range(50)]
    body = json.dumps(leads, indent=1).encode()
    assert [item for item, _ in parse_items(body)] == json.loads(body)


def test_a_pulled_lead_keeps_every_field_the_vendor_sent(cat_account, sandbox):
    from apps.sync import engine

    sandbox.generate_leads(3, dealer_code=cat_account.dealer.code)
    sent = {lead_id: dict(lead) for lead_id, lead in sandbox._leads.items()}
    engine.pull(cat_account)
    leads = Lead.objects.filter(vendor_account=cat_account)
    assert leads.count() == 3
    for lead in leads:
        assert lead.raw_payload == sent[lead.vendor_lead_id]
