"""The sandbox CAP server itself: authentication, validation, campaigns, faults, control API, CLI."""
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from apps.vendors.cap.client import SUBMIT_PATH
from sandboxes.cap import CapSandbox
from tests.vendors.cap.test_commands import VALID

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sandbox():
    with CapSandbox(api_key="k") as server:
        yield server


def _post(sandbox, payload, key="k", timeout=5):
    return requests.post(sandbox.base_url + SUBMIT_PATH, json=payload, headers={"X-API-Key": key}, timeout=timeout)


def test_it_refuses_a_missing_or_wrong_content_type_and_non_object_metadata_with_400(sandbox):
    import json

    for headers in ({"X-API-Key": "k"}, {"X-API-Key": "k", "Content-Type": "text/plain"}):
        response = requests.post(sandbox.base_url + SUBMIT_PATH, data=json.dumps(VALID), headers=headers, timeout=5)
        assert response.status_code == 400 and "Content-Type" in response.json()["messages"][0]
    for metadata in ("abc", 5, ["x"]):
        response = _post(sandbox, {**VALID, "metadata": metadata})
        assert response.status_code == 400 and response.json()["success"] is False
    assert sandbox.state()["enquiries"] == []


def test_it_accepts_a_valid_enquiry_with_references(sandbox):
    response = _post(sandbox, VALID)
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["messages"] == []
    assert body["result"]["enquiryReferenceCode"].startswith("ENQ-") and body["result"]["requestReferenceId"]
    assert sandbox.submissions_for(VALID["metadata"]["externalReferenceId"]) == 1


def test_it_refuses_a_wrong_key_and_an_invalid_enquiry_with_the_rules_messages(sandbox):
    assert _post(sandbox, VALID, key="wrong").status_code == 401
    bad = json.loads(json.dumps(VALID))
    bad["contactDetail"]["phoneNumber"] = "+1 309 555 0101"
    response = _post(sandbox, bad)
    assert response.status_code == 400 and response.json()["success"] is False
    assert "must be +44 or 0" in response.json()["messages"][0]
    assert response.json()["result"]["enquiryReferenceCode"] is None
    assert sandbox.enquiries() == []


def test_campaigns_are_known_and_carry_their_requirements(sandbox):
    other = "11111111-2222-3333-4444-555555555555"
    payload = json.loads(json.dumps(VALID))
    payload["metadata"]["campaignId"] = other
    assert "does not exist" in _post(sandbox, payload).json()["messages"][0]
    assert requests.post(sandbox.base_url + "/_sandbox/campaigns",
                         json={"campaignId": other, "required_fields": "ipAddress"}, timeout=5).status_code == 200
    assert "metadata.ipAddress is required" in _post(sandbox, payload).json()["messages"][0]
    payload["metadata"]["ipAddress"] = "192.0.2.1"
    assert _post(sandbox, payload).status_code == 202


def test_faults_over_the_control_api(sandbox):
    control = sandbox.base_url + "/_sandbox/faults"
    assert requests.post(control, json={"fault": "nope"}, timeout=5).status_code == 400
    assert requests.post(control, json={"fault": "500", "times": 2}, timeout=5).status_code == 200
    requests.post(control, json={"fault": "429", "retry_after": 7}, timeout=5)
    assert [_post(sandbox, VALID).status_code for _ in range(2)] == [500, 500]
    throttled = _post(sandbox, VALID)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    assert _post(sandbox, VALID).status_code == 202
    state = requests.get(sandbox.base_url + "/_sandbox/state", timeout=5).json()
    assert len(state["enquiries"]) == 1 and state["faults"] == []


def test_transport_faults_misbehave_on_the_wire(sandbox):
    sandbox.inject("timeout", seconds=1)
    with pytest.raises(requests.Timeout):
        _post(sandbox, VALID, timeout=0.3)
    sandbox.inject("reset")
    with pytest.raises(requests.ConnectionError):
        _post(sandbox, VALID)
    sandbox.inject("malformed")
    garbled = _post(sandbox, VALID)
    assert garbled.status_code == 202 and garbled.text.startswith("<html>")
    sandbox.inject("truncated")
    with pytest.raises(ValueError):
        _post(sandbox, VALID).json()
    # the delivered faults made enquiries; the reset (deliver=False) did not
    assert sandbox.submissions_for(VALID["metadata"]["externalReferenceId"]) == 3


def test_the_cli_serves_until_stopped():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "sandboxes.cap", "--port", str(port),
                                "--api-key", "cli"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert f"base_url=http://127.0.0.1:{port}/cap" in line
        response = requests.post(f"http://127.0.0.1:{port}/cap{SUBMIT_PATH}", json=VALID,
                                 headers={"X-API-Key": "cli"}, timeout=5)
        assert response.status_code == 202
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
