"""The demo: seed_demo's demo-aimbase account works against the sandbox that
run_demo starts (its CLI arguments), so `make run` can submit demo leads."""
from __future__ import annotations

from django.core.management import call_command

from apps.vendors.core.management.commands.run_demo import SANDBOXES
from apps.leads.models import Lead
from apps.sync import engine
from apps.sync.outbox import queue_submission
from sandboxes.aimbase import AimbaseSandbox
from apps.vendors.core.models import VendorAccount


def test_the_demo_account_submits_to_the_sandbox_run_demo_starts(db, fast_retries):
    port, argv = SANDBOXES["Aimbase sandbox"]
    assert port == 8004 and argv[argv.index("--port") + 1] == "8004"
    arg = dict(zip(argv[2::2], argv[3::2]))
    call_command("seed_demo", leads=3)
    account = VendorAccount.objects.get(name="demo-aimbase")
    assert account.base_url == "http://127.0.0.1:8004/aimbase" and account.missing_settings() == []
    with AimbaseSandbox(username=arg["--username"], token=arg["--token"], manufacturer=arg["--manufacturer"],
                        crm_source=arg["--crm-source"]) as sandbox:
        account.base_url = sandbox.base_url  # the demo's port may be taken here; same server otherwise
        account.set_settings({"disposition_url": sandbox.base_url})
        account.save()
        lead = Lead.objects.filter(dealer=account.dealer).exclude(last_name="").first()
        item, problems = queue_submission(account.adapter(), lead)
        assert problems == [], problems
        assert engine.push(account).pushed == 1
        assert sandbox.created_count(lead.pk) == 1
    call_command("seed_demo", leads=0)  # idempotent
    assert VendorAccount.objects.filter(name="demo-aimbase").count() == 1
