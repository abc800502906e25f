"""The demo: seed_demo's demo-capillary account and run_demo's sandbox Capillary."""
import subprocess
import sys

import pytest
import requests
from django.core.management import call_command

from apps.accounts.models import Dealer
from apps.leads.models import Lead
from apps.leads.selectors import unmapped_values
from apps.sync.engine import pull
from sandboxes.capillary import DEMO_REASONS, DEMO_SUBSTATUSES, CapillarySandbox
from apps.vendors.core.models import VendorAccount
from tests.support.processes import ROOT, free_port


@pytest.mark.django_db(transaction=True)
def test_the_demo_capillary_account_is_mapped_and_pulls_from_the_demo_sandbox(fast_retries):
    call_command("seed_demo", "--leads", "0")
    dealer = Dealer.objects.get(code="DEMO")
    assert [u for u in unmapped_values(dealer_id=dealer.pk, vendors=["capillary"]) if u.required] == []
    account = VendorAccount.objects.get(name="demo-capillary")
    with CapillarySandbox(username="demo-user", password="demo-pass") as sandbox:  # as run_demo starts it
        sandbox.add_reasons(DEMO_REASONS)
        for status, sub in DEMO_SUBSTATUSES:
            sandbox.add_substatus(status, sub)
        sandbox.generate(12)
        account.base_url = sandbox.base_url
        account.save()
        summary = pull(account)
    assert summary.created == 12 and summary.errors == []
    assert Lead.objects.filter(vendor_account=account).count() == 12


def test_run_demo_starts_the_capillary_sandbox_on_8002():
    from apps.vendors.core.management.commands.run_demo import SANDBOXES

    port, args = SANDBOXES["Capillary sandbox"]
    assert port == 8002 and args[args.index("--port") + 1] == "8002"
    args = list(args)
    args[args.index("--port") + 1] = str(free_port())
    process = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "Capillary sandbox running" in line and "leads=12" in line
        base = line.split("base_url=")[1].split()[0]
        answer = requests.get(base + "/v2/leads/reasons", auth=("demo-user", "demo-pass"), timeout=5)
        assert [r["reason"] for r in answer.json()["data"]] == list(DEMO_REASONS)
        assert requests.get(base + "/v2/leads", timeout=5).status_code == 401  # HTTP Basic is required
    finally:
        process.terminate()
        process.wait(timeout=10)
