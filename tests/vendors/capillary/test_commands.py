"""validate_payload capillary, capillary_lists and sync NAME: the operator's contracts."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.vendors.capillary.models import CapillaryReason, CapillarySubStatus
from tests.vendors.capillary.test_rules import ADD_LEAD, FOLLOWUP, STATUS

ROOT = Path(__file__).resolve().parents[3]


def validate(tmp_path, content) -> subprocess.CompletedProcess:
    path = tmp_path / "messages.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return subprocess.run([sys.executable, "manage.py", "validate_payload", "capillary", str(path)], cwd=ROOT,
                          capture_output=True, text=True,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "leadhub.settings_test"})


def test_validate_payload_checks_each_message_by_its_kind(tmp_path):
    result = validate(tmp_path, [{"kind": "submit", "payload": ADD_LEAD},
                                 {"kind": "status_update", "payload": STATUS},
                                 {"kind": "followup", "payload": FOLLOWUP},
                                 {"kind": "status_update", "payload": {"status": "CLOSED"}}])
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["valid"] for line in lines] == [True, True, True, False]
    assert {e["field"] for e in lines[3]["errors"]} == {"status", "reasonId"}


def test_validate_payload_exits_0_when_all_are_valid(tmp_path):
    result = validate(tmp_path, [{"kind": "lead_update", "payload": {"owner": "alice"}}])
    assert result.returncode == 0 and json.loads(result.stdout)["valid"] is True


@pytest.mark.parametrize("content", ["[{", '{"kind": "submit"}', ""])
def test_validate_payload_exits_2_for_unreadable_input(tmp_path, content):
    result = validate(tmp_path, content)
    assert result.returncode == 2 and result.stdout == ""


@pytest.mark.django_db(transaction=True)
def test_capillary_lists_fetches_and_creates_reasons_and_substatuses(account, sandbox, capsys):
    call_command("capillary_lists", account.name, "--add-reason", "Wants a demo",
                 "--add-substatus", "on_hold:CallBackLater")
    out = json.loads(capsys.readouterr().out)
    assert out["errors"] == [] and "Wants a demo" in [r["reason"] for r in out["reasons"]]
    assert {"status": "ON_HOLD", "subStatus": "CallBackLater"} in out["substatuses"]
    assert CapillaryReason.objects.filter(account=account, reason="Wants a demo").exists()
    assert CapillarySubStatus.objects.filter(account=account, sub_status="CallBackLater").count() == 1
    assert any(r["reason"] == "Wants a demo" for r in sandbox.state()["reasons"])


@pytest.mark.django_db(transaction=True)
def test_capillary_lists_reports_a_refusal_and_exits_1(account, sandbox, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("capillary_lists", account.name, "--add-substatus", "PAUSED:Later")
    assert exit_info.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert any("PAUSED" in e for e in out["errors"])


@pytest.mark.django_db
def test_capillary_lists_refuses_a_cat_account(dealer_a):
    from django.core.management.base import CommandError

    from tests.conftest import make_cat_account

    account = make_cat_account(dealer_a)
    with pytest.raises(CommandError, match="not Capillary"):
        call_command("capillary_lists", account.name)


@pytest.mark.django_db(transaction=True)
def test_sync_pushes_and_pulls_a_capillary_account(account, mapped, sandbox, capsys, alice):
    from apps.leads.models import Lead
    from apps.leads.services import lead_change_status

    made = sandbox.add_lead(lead_for="sku_1")
    call_command("sync", account.name)
    lead = Lead.objects.get(vendor_lead_id=str(made["id"]))
    assert lead_change_status(lead=lead, to_status="on_hold", actor=alice).ok
    capsys.readouterr()
    call_command("sync", account.name, "--push")
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["pushed"] == 1 and out["errors"] == []
    assert sandbox.lead(made["id"])["status"] == "ON_HOLD"
