"""validate_payload and sync: the operator's contracts (output lines, exit statuses)."""
import json
import subprocess
import sys
import time

import pytest
from django.core.management import call_command

from apps.sync import engine
from tests.support.processes import ROOT, validate_payload


VALID = {"leadId": "00Q1W00001SmV5oUAF", "dealerLeadId": "A123", "leadStatus": "Rejected",
         "rejectedReasonWhy": "Bad Contact Information", "currencyIsoCode": "USD", "dealerSalesRep": "John Doe",
         "dealerSalesRepNumber": "AB12496"}


def validate(tmp_path, content) -> subprocess.CompletedProcess:
    return validate_payload(tmp_path, "cat", content, "updates.json")


def test_validate_payload_prints_one_json_line_per_item_and_exits_0_when_all_valid(tmp_path):
    result = validate(tmp_path, [VALID, VALID])
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [{"index": 0, "valid": True, "errors": []}, {"index": 1, "valid": True, "errors": []}]


def test_validate_payload_exits_1_and_names_each_broken_rule(tmp_path):
    broken = dict(VALID, rejectedReasonWhy="For Another Dealer")  # needs rejectedReasonComments
    result = validate(tmp_path, [VALID, broken, {**VALID, "dealerCustomerNumber ": "1"}])
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["valid"] for line in lines] == [True, False, False]
    assert lines[1]["errors"][0]["field"] == "rejectedReasonComments"
    assert "For Another Dealer" in lines[1]["errors"][0]["message"]
    assert any(e["field"] == "dealerCustomerNumber " for e in lines[2]["errors"])


@pytest.mark.parametrize("content", ["[{", '{"leadId": "x"}', "not json at all", ""])
def test_validate_payload_exits_2_for_unreadable_input(tmp_path, content):
    result = validate(tmp_path, content)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_validate_payload_exits_2_for_a_missing_file():
    result = subprocess.run([sys.executable, "manage.py", "validate_payload", "cat", "/nonexistent.json"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_sync_refuses_bad_arguments_with_exit_2(cat_account):
    from django.core.management import CommandError

    for args, message in ((["nope"], "no vendor account named"), (["a100-cat", "--since", "2026-13-01"], "not a date"),
                          (["a100-cat", "--until", "2026-01-01"], "--until needs --since"),
                          (["a100-cat", "--since", "2026-02-01", "--until", "2026-01-01"], "is after")):
        with pytest.raises(CommandError, match=message) as excinfo:
            call_command("sync", *args)
        assert excinfo.value.returncode == 2


def test_the_token_is_renewed_shortly_before_it_expires(cat_account, dealer_a, fast_retries):
    from sandboxes.cat import CatSandbox

    with CatSandbox(client_id="lh-client", client_secret="lh-secret", token_ttl=61) as server:
        cat_account.base_url, cat_account.token_url = server.base_url, server.token_url
        cat_account.save()
        engine.pull(cat_account)
        engine.pull(cat_account)  # within the token's life less the 60 s margin: cached
        assert len([r for r in server.requests if r[1].endswith("token.oauth2")]) == 1
        time.sleep(1.2)
        engine.pull(cat_account)
        assert len([r for r in server.requests if r[1].endswith("token.oauth2")]) == 2
