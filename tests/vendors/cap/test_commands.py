"""validate_payload cap and sync NAME for a CAP account: the operator's contracts."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.sync.models import OutboxState
from apps.sync.outbox import queue_submission

ROOT = Path(__file__).resolve().parents[3]
VALID = {  # the document's example payload, with a UTC time to the second
    "metadata": {"campaignId": "966c7488-bfa7-45b5-8510-d26ba3008879", "enquiryDateTime": "2024-09-12T10:20:59",
                 "externalReferenceId": "9cf5ae87-aafb-43e5-b4d3-9d72367a2b86", "enquiryType": "Test Drive",
                 "ipAddress": None, "enquirySource": {"acquisitionChannel": "Google"}},
    "contactDetail": {"firstName": "test", "lastName": "test", "emailAddress": "test@cap.co",
                      "phoneNumber": "+4420 8759 9036", "address": {"postcode": "L39AG"}},
    "optInConsents": {"PhoneCall": True, "Post": False, "Email": False, "Sms": False},
    "vehicle": {"name": "Audi Q6 e-tron"},
}


def validate(tmp_path, content) -> subprocess.CompletedProcess:
    path = tmp_path / "submissions.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return subprocess.run([sys.executable, "manage.py", "validate_payload", "cap", str(path)], cwd=ROOT,
                          capture_output=True, text=True,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "leadhub.settings_test"})


def test_validate_payload_cap_prints_one_json_line_per_item_and_exits_0_when_all_valid(tmp_path):
    result = validate(tmp_path, [VALID])
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"index": 0, "valid": True, "errors": []}]


def test_validate_payload_cap_exits_1_and_names_each_broken_rule(tmp_path):
    broken = json.loads(json.dumps(VALID))
    broken["metadata"]["enquiryType"] = "Brochure"
    broken["contactDetail"]["phoneNumber"] = "+1 309 555 0101"
    broken["optInConsents"]["Sms"] = "yes"
    result = validate(tmp_path, [VALID, broken])
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["valid"] for line in lines] == [True, False]
    assert {e["field"] for e in lines[1]["errors"]} == {"metadata.enquiryType", "contactDetail.phoneNumber",
                                                        "optInConsents.Sms"}


@pytest.mark.parametrize("content", ["[{", '{"metadata": {}}', ""])
def test_validate_payload_cap_exits_2_for_unreadable_input(tmp_path, content):
    result = validate(tmp_path, content)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.django_db(transaction=True)
def test_sync_name_submits_what_is_due_and_prints_a_summary(cap_account, cap_sandbox, uk_lead, capsys):
    item, _ = queue_submission(cap_account.adapter(), uk_lead)
    call_command("sync", "a100-cap")
    summary = json.loads(capsys.readouterr().out)
    assert summary["pushed"] == 1 and summary["failed"] == 0
    item.refresh_from_db()
    assert item.state == OutboxState.SENT and cap_sandbox.submissions_for(uk_lead.pk) == 1
