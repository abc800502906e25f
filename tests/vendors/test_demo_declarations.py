"""Each vendor's demo.py declares its sandbox and its demo account; the demo
account must match what that sandbox serves (the sandboxes are development
tools outside the production package, so the values live in both places)."""
from __future__ import annotations

from django.core.management import call_command

from apps.vendors.core.management.commands.run_demo import SANDBOXES
from apps.vendors.cap import demo as cap_demo
from apps.vendors.capillary import demo as capillary_demo
from apps.vendors.core.models import VendorAccount
from apps.vendors.core.registry import ADAPTERS, vendor_module
from sandboxes import cap as cap_sandbox
from sandboxes import capillary as capillary_sandbox


def test_every_vendor_declares_a_sandbox_run_demo_starts():
    declared = [vendor_module(kind, "demo").SANDBOX for kind in ADAPTERS]
    assert sorted(SANDBOXES) == sorted(s.name for s in declared)
    assert len({s.port for s in declared}) == len(declared)
    for sandbox in declared:
        assert sandbox.module.startswith("sandboxes.")  # never a module of the production package


def test_the_demo_values_match_what_the_sandboxes_serve():
    assert capillary_demo.DEMO_REASONS == capillary_sandbox.DEMO_REASONS
    assert capillary_demo.DEMO_SUBSTATUSES == capillary_sandbox.DEMO_SUBSTATUSES
    assert cap_demo.DEMO_CAMPAIGN == cap_sandbox.DEMO_CAMPAIGN


def test_seed_demo_makes_one_account_per_vendor_pointing_at_its_sandbox(db):
    call_command("seed_demo", leads=0)
    for kind in ADAPTERS:
        sandbox = vendor_module(kind, "demo").SANDBOX
        account = VendorAccount.objects.get(vendor=kind)
        assert account.base_url == sandbox.base_url
        assert account.missing_settings() == []
