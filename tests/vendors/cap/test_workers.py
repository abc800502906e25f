"""Real worker processes against a sandbox CAP in its own process: concurrent pushes
submit each lead once, and a worker killed (SIGKILL) after its POST leaves the lead
held for a person, not resent and not forgotten."""
import json
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.support.processes import ROOT, free_port

SETUP = """
from apps.accounts.models import Dealer
from apps.leads.models import Lead
from apps.routing.models import RoutingRule
from apps.vendors.core.models import VendorAccount
dealer = Dealer.objects.get(code="W2")
RoutingRule.objects.create(dealer=dealer, name="all", account=VendorAccount.objects.get(name="w2-cap"))
for i in range({n}):
    Lead.objects.create(dealer=dealer, first_name="Walk", last_name=f"In{{i}}", email=f"w{{i}}@example.co.uk",
                        phone="020 8759 9036", brand="Audi", product_interest="Q6 e-tron", source="Walk-in")
"""
STATES = ("from apps.sync.models import OutboxItem; import json; print(json.dumps(sorted("
          "[i.state, i.lead_id, bool(i.response.get('answer_lost'))] for i in OutboxItem.objects.all())))")


@pytest.fixture
def cap_world(cli):
    port = free_port()
    sandbox = subprocess.Popen([sys.executable, "-m", "sandboxes.cap", "--port", str(port),
                                "--api-key", "w-key"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sandbox.stdout.readline()
    base = f"http://127.0.0.1:{port}/cap"
    cli("dealer", "add", "W2", "--name", "Workers")
    out, err, code = cli("vendoraccount", "add", "w2-cap", "--vendor", "cap", "--dealer", "W2", "--base-url", base,
                         "--set", "api_key=w-key", "--set", "campaign_id=966c7488-bfa7-45b5-8510-d26ba3008879")
    assert code == 0, err
    try:
        yield base
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


def _enquiries(base):
    state = requests.get(f"{base}/_sandbox/state", timeout=5).json()
    return [e["payload"]["metadata"]["externalReferenceId"] for e in state["enquiries"]]


def test_three_concurrent_pushes_submit_each_lead_once(cli, cap_world):
    out, err, code = cli("shell", "--no-imports", "-c", SETUP.format(n=20))
    assert code == 0, err
    requests.post(f"{cap_world}/_sandbox/faults", json={"fault": "timeout", "seconds": 1, "deliver": False},
                  timeout=5)  # a 500 after 1 s: the pushes overlap for sure
    workers = [cli("sync", "w2-cap", "--push", wait=False) for _ in range(3)]
    [worker.communicate(timeout=120) for worker in workers]
    cli("shell", "--no-imports", "-c", "from apps.sync.models import OutboxItem; from django.utils import timezone; "
                                       "OutboxItem.objects.update(next_attempt_at=timezone.now())")
    cli("sync", "w2-cap", "--push")
    sent = _enquiries(cap_world)
    assert len(sent) == 20 and len(set(sent)) == 20
    states = json.loads(cli("shell", "--no-imports", "-c", STATES)[0])
    assert {state for state, _, _ in states} == {"sent"}


def test_a_worker_killed_after_its_post_leaves_the_lead_held_not_resent(cli, cap_world):
    out, err, code = cli("shell", "--no-imports", "-c", SETUP.format(n=1))
    assert code == 0, err
    # CAP makes the enquiry, then takes 30 s to answer; the worker is killed meanwhile.
    requests.post(f"{cap_world}/_sandbox/faults", json={"fault": "timeout", "seconds": 30}, timeout=5)
    worker = cli("sync", "w2-cap", "--push", wait=False)
    deadline = time.monotonic() + 30
    while not _enquiries(cap_world) and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert len(_enquiries(cap_world)) == 1
    assert json.loads(cli("shell", "--no-imports", "-c", STATES)[0])[0][0] == "sending"
    # The dead worker's claim and push lease expire (5 minutes; moved forward here).
    cli("shell", "--no-imports", "-c",
        "from datetime import timedelta; from django.utils import timezone; "
        "from apps.sync.models import AccountLock, OutboxItem; past = timezone.now() - timedelta(seconds=1); "
        "OutboxItem.objects.update(claimed_until=past); AccountLock.objects.update(expires_at=past)")
    out, err, code = cli("sync", "w2-cap", "--push")
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["failed"] == 1 and "may have received this lead" in summary["errors"][0]
    [[state, _, lost]] = json.loads(cli("shell", "--no-imports", "-c", STATES)[0])
    assert (state, lost) == ("failed", True)
    assert len(_enquiries(cap_world)) == 1  # not submitted twice
