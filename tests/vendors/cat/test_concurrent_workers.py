"""One pull per account at a time across separate processes (a database lease, not
a process-local lock), with the sandbox Cat in a process of its own."""
import json
import subprocess
import sys
import time

import requests

from tests.support.processes import ROOT, free_port


def test_three_workers_pull_one_account_once_at_a_time(cli):
    port = free_port()
    sandbox = subprocess.Popen([sys.executable, "-m", "sandboxes.cat", "--port", str(port),
                                "--generate", "350", "--dealer-code", "W1"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        sandbox.stdout.readline()
        base = f"http://127.0.0.1:{port}/cat"
        cli("dealer", "add", "W1", "--name", "Workers")
        cli("vendoraccount", "add", "w1-cat", "--vendor", "cat", "--dealer", "W1", "--base-url", base,
            "--token-url", base + "/as/token.oauth2", "--set", "client_id=sandbox-client",
            "--set", "client_secret=sandbox-secret")
        # Slow the first page down so the three pulls overlap for sure.
        requests.post(f"{base}/_sandbox/faults", json={"fault": "timeout", "seconds": 2, "deliver": False,
                                                       "path": "leads"}, timeout=5)
        workers = [cli("sync", "w1-cat", "--pull", wait=False) for _ in range(3)]
        results = [worker.communicate(timeout=120) for worker in workers]
        assert all(out.strip() for out, _ in results), results
        summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
        state = requests.get(f"{base}/_sandbox/state", timeout=5).json()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    created = sum(s["created"] for s in summaries)
    skipped = [s for s in summaries if any("another pull" in e for e in s["errors"])]
    assert created == 350 and len(state["delivered"]) == 350
    assert len(skipped) == 2, summaries  # the other two found the lease taken
    out, err, code = cli("shell", "--no-imports", "-c",
                         "from apps.leads.models import Lead; print(Lead.objects.count(), "
                         "Lead.objects.values('vendor_lead_id').distinct().count())")
    assert out.split() == ["350", "350"], err
