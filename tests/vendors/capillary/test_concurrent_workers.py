"""Separate worker processes against a sandbox Capillary in a process of its own:
one pull per account at a time, and a worker killed mid-pull loses and repeats nothing."""
import json
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.support.processes import ROOT, free_port


@pytest.fixture
def capillary(cli):
    port = free_port()
    sandbox = subprocess.Popen([sys.executable, "-m", "sandboxes.capillary", "--port", str(port),
                                "--generate", "240", "--search-delay", "0.4", "--username", "w-user",
                                "--password", "w-pass"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sandbox.stdout.readline()
    cli("dealer", "add", "W1", "--name", "Workers")
    out, err, code = cli("vendoraccount", "add", "w1-capillary", "--vendor", "capillary", "--dealer", "W1",
                         "--base-url", f"http://127.0.0.1:{port}/capillary", "--set", "username=w-user",
                         "--set", "password=w-pass")
    assert code == 0, err
    yield port
    sandbox.terminate()
    sandbox.wait(timeout=10)


def _counts(cli):
    out, err, _ = cli("shell", "--no-imports", "-c",
                      "from apps.leads.models import Lead, FollowUp; "
                      "print(Lead.objects.count(), Lead.objects.values('vendor_lead_id').distinct().count(), "
                      "FollowUp.objects.count())")
    return [int(x) for x in out.split()], err


def test_three_workers_pull_one_capillary_account_once_at_a_time(cli, capillary):
    # The first search stalls, so the three pulls overlap for sure.
    requests.post(f"http://127.0.0.1:{capillary}/capillary/_sandbox/faults",
                  json={"fault": "timeout", "seconds": 4, "deliver": True, "path": "search"}, timeout=5)
    workers = [cli("sync", "w1-capillary", "--pull", wait=False) for _ in range(3)]
    summaries = [json.loads(w.communicate(timeout=120)[0].strip().splitlines()[-1]) for w in workers]
    assert sum(s["created"] for s in summaries) == 240
    assert len([s for s in summaries if any("another pull" in e for e in s["errors"])]) == 2, summaries
    counts, err = _counts(cli)
    assert counts == [240, 240, 240], err  # 0 + 1 + 2 follow-ups per three leads


def test_a_worker_killed_mid_pull_loses_and_repeats_nothing(cli, capillary):
    state = f"http://127.0.0.1:{capillary}/capillary/_sandbox/state"
    worker = cli("sync", "w1-capillary", "--pull", wait=False)
    deadline = time.monotonic() + 60
    while requests.get(state, timeout=5).json()["searches"] < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)  # mid-pull, without any cleanup
    worker.wait(timeout=10)
    partial, _ = _counts(cli)
    assert 0 < partial[0] < 240, partial
    # The dead worker's pull lease would lapse after its 10 minutes; let it lapse now.
    cli("shell", "--no-imports", "-c", "from apps.sync.models import AccountLock; from django.utils import timezone; "
                                       "AccountLock.objects.update(expires_at=timezone.now())")
    out, err, code = cli("sync", "w1-capillary", "--pull")
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["errors"] == [], summary
    counts, err = _counts(cli)
    assert counts == [240, 240, 240], err
    out, err, code = cli("sync", "w1-capillary", "--pull")  # and again: nothing new, nothing twice
    assert json.loads(out.strip().splitlines()[-1])["created"] == 0
    assert _counts(cli)[0] == [240, 240, 240]
