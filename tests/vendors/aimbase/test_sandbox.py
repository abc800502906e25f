"""The sandbox Aimbase itself: authentication, its control API and its CLI."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sandboxes.aimbase import AimbaseSandbox

ROOT = Path(__file__).resolve().parents[3]
AUTH = {"Authenticate": "Avala-Api lh-user:lh-token"}
LEAD = {"LeadSourceName": "Website", "LeadTypeName": "Quote", "LeadCategoryName": "Dealer", "LastName": "Hall",
        "CountryCode": "US", "IsCommunicationOptIn": False, "ExternalId": "9"}


def post(sandbox, body, headers=AUTH, manufacturer="BRP"):
    return requests.post(f"{sandbox.base_url}/marketing/api/lead", params={"manufacturer": manufacturer},
                         json=body, headers=headers, timeout=5)


def test_it_refuses_a_wrong_token_a_wrong_manufacturer_and_an_empty_batch(sandbox):
    assert post(sandbox, [LEAD], headers={"Authenticate": "Avala-Api lh-user:nope"}).status_code == 401
    refused = post(sandbox, [LEAD], manufacturer="XYZ")
    assert refused.status_code == 400 and "Unknown manufacturer" in refused.json()["Message"]
    assert post(sandbox, []).status_code == 400
    assert requests.get(f"{sandbox.base_url}/marketing/api/lead", timeout=5).status_code == 405
    assert sandbox.leads() == []


def test_the_control_api_injects_faults_unmaps_values_and_resets(sandbox):
    control = f"{sandbox.base_url}/_sandbox"
    assert requests.post(f"{control}/faults", json={"fault": "503", "path": "lead"}, timeout=5).status_code == 200
    assert post(sandbox, [LEAD]).status_code == 503
    assert post(sandbox, [LEAD]).status_code == 201
    bad = requests.post(f"{control}/faults", json={"fault": "explode"}, timeout=5)
    assert bad.status_code == 400 and "unknown fault" in bad.json()["Message"]
    state = requests.post(f"{control}/unmapped", json={"details": ["Sold"]}, timeout=5).json()
    assert state["unmapped"] == ["Sold"] and state["by_external_id"] == {"9": 1}
    assert requests.get(f"{control}/leads", timeout=5).json()[0]["lead"]["LastName"] == "Hall"
    assert requests.post(f"{control}/reset", timeout=5).json()["leads"] == 0


def test_the_odata_lookup_finds_leads_by_external_id(sandbox):
    post(sandbox, [LEAD, dict(LEAD, ExternalId="O'Brien")])
    found = requests.get(f"{sandbox.base_url}/odata/V2/Leads", headers=AUTH, timeout=5,
                         params={"$filter": "ExternalId eq 'O''Brien' or ExternalId eq 'none'"}).json()["value"]
    assert [row["ExternalId"] for row in found] == ["O'Brien"]


def test_inject_refuses_unknown_parameters():
    sandbox = AimbaseSandbox()
    with pytest.raises(ValueError, match="takes no parameter"):
        sandbox.inject("500", seconds=3)
    with pytest.raises(ValueError, match="unknown fault path"):
        sandbox.inject("500", path="leads")


def test_the_cli_serves_until_stopped():
    process = subprocess.Popen([sys.executable, "-m", "sandboxes.aimbase", "--port", "0",
                                "--username", "u", "--token", "t"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("Aimbase sandbox running: base_url=http://127.0.0.1:")
        base = line.split("base_url=")[1].split()[0]
        deadline = time.monotonic() + 10
        while True:
            try:
                state = requests.get(f"{base}/_sandbox/state", timeout=2).json()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert state["leads"] == 0
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
