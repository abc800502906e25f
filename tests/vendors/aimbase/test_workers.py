"""Separate worker processes on one file database, the sandbox Aimbase in a process
of its own: concurrent pushes submit each lead once, and a worker killed (SIGKILL)
while Aimbase is creating its batch leaves nothing created twice and nothing lost."""
import json
import subprocess
import sys
import time

import requests

from tests.support.processes import ROOT, free_port

QUEUE = ("from apps.accounts.models import Dealer; from apps.leads.models import Lead; "
         "from apps.vendors.core.models import VendorAccount; from apps.sync.outbox import queue_submission; "
         "d = Dealer.objects.get(code='W1'); a = VendorAccount.objects.get(name='w1-aimbase').adapter(); "
         "[queue_submission(a, Lead.objects.create(dealer=d, last_name=f'W{i}', country='US')) for i in range({n})]")
EXPIRE = ("from datetime import timedelta; from django.utils import timezone; "
          "from apps.sync.models import AccountLock, OutboxItem; past = timezone.now() - timedelta(seconds=1); "
          "OutboxItem.objects.update(claimed_until=past, next_attempt_at=past); "
          "AccountLock.objects.update(expires_at=past)")
COUNT = ("from apps.sync.models import OutboxItem; "
         "print(OutboxItem.objects.filter(state='sent').count(), OutboxItem.objects.count())")


def start(cli, n):
    port = free_port()
    sandbox = subprocess.Popen([sys.executable, "-m", "sandboxes.aimbase", "--port", str(port),
                                "--username", "u", "--token", "t", "--manufacturer", "BRP"], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    sandbox.stdout.readline()
    base = f"http://127.0.0.1:{port}/aimbase"
    cli("dealer", "add", "W1", "--name", "Workers")
    cli("vendoraccount", "add", "w1-aimbase", "--vendor", "aimbase", "--dealer", "W1", "--base-url", base,
        *[arg for pair in ("username=u", "token=t", "manufacturer=BRP", "lead_source=Web", "lead_type=Quote",
                           "lead_category=Dealer") for arg in ("--set", pair)])
    out, err, code = cli("shell", "--no-imports", "-c", QUEUE.replace("{n}", str(n)))
    assert code == 0, err
    return sandbox, base


def state(base):
    return requests.get(f"{base}/_sandbox/state", timeout=5).json()


def test_three_workers_push_one_account_and_each_lead_is_created_once(cli):
    sandbox, base = start(cli, 120)
    try:
        requests.post(f"{base}/_sandbox/faults", json={"fault": "timeout", "seconds": 2}, timeout=5)
        workers = [cli("sync", "w1-aimbase", "--push", wait=False) for _ in range(3)]
        summaries = [json.loads(w.communicate(timeout=120)[0].strip().splitlines()[-1]) for w in workers]
        created = state(base)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    assert sum(s["pushed"] for s in summaries) == 120
    assert len([s for s in summaries if any("another push" in e for e in s["errors"])]) == 2
    assert created["leads"] == 120 and set(created["by_external_id"].values()) == {1}


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(cli):
    sandbox, base = start(cli, 70)
    try:
        # Aimbase creates the first batch of 50, then stalls before answering.
        requests.post(f"{base}/_sandbox/faults", json={"fault": "timeout", "seconds": 60, "deliver": True},
                      timeout=5)
        worker = cli("sync", "w1-aimbase", "--push", wait=False)
        deadline = time.monotonic() + 60
        while state(base)["leads"] < 50:
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.1)
        worker.kill()  # SIGKILL: no cleanup at all
        worker.communicate(timeout=10)
        assert cli("shell", "--no-imports", "-c", COUNT)[0].split() == ["0", "70"]
        cli("shell", "--no-imports", "-c", EXPIRE)  # the dead worker's lease and claims run out
        out, err, code = cli("sync", "w1-aimbase", "--push")
        assert code == 0, (out, err)
        assert json.loads(out.strip().splitlines()[-1])["pushed"] == 70
        created = state(base)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    assert created["leads"] == 70 and set(created["by_external_id"].values()) == {1}
    assert cli("shell", "--no-imports", "-c", COUNT)[0].split() == ["70", "70"]
