"""The stable operator commands: dealer, vendoraccount, seed_demo.

Exit statuses and stderr are checked through a real `manage.py` process, as an
operator's script would see them.
"""
from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest

from apps.accounts.models import Dealer
from apps.leads.models import Lead, ReasonMapping, StatusLog
from apps.vendors.core.models import VendorAccount
from tests.support.processes import copy_migrated_sqlite

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture(scope="module")
def manage_env(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    env = {**os.environ, "LEADHUB_VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{var}/cli.sqlite3",
           "DJANGO_SETTINGS_MODULE": "leadhub.settings"}
    copy_migrated_sqlite(var / "cli.sqlite3")
    subprocess.run([sys.executable, "manage.py", "dealer", "add", "D1", "--name", "Dealer one"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    return env


def manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_dealer_add_creates_then_updates_and_says_so(db):
    assert run("dealer", "add", "B330", "--name", "Birch") == "created dealer B330 (Birch)"
    assert run("dealer", "add", "B330", "--name", "Birch Equipment") == "updated dealer B330: name"
    assert run("dealer", "add", "b330") == "dealer B330 unchanged"  # codes match ignoring case
    assert Dealer.objects.get().name == "Birch Equipment"


def test_vendoraccount_add_stores_credentials_like_the_admin(db):
    run("dealer", "add", "B330", "--name", "Birch")
    out = run("vendoraccount", "add", "b330-cat", "--vendor", "cat", "--dealer", "B330",
              "--base-url", "http://127.0.0.1:8001/cat", "--token-url", "http://127.0.0.1:8001/cat/token",
              "--set", "client_id=abc", "--set", "client_secret=s3cr3t", "--set", "scope=manage:all")
    assert out == "created cat account b330-cat for dealer B330"
    assert "s3cr3t" not in out
    account = VendorAccount.objects.get(name="b330-cat")
    assert account.secrets.get("client_secret") == "s3cr3t" and account.options["client_id"] == "abc"
    out = run("vendoraccount", "add", "b330-cat", "--set", "client_secret=n3w", "--pull-interval", "5")
    assert out == "updated cat account b330-cat for dealer B330: pull_interval_minutes, setting client_secret"
    account.refresh_from_db()
    assert account.secrets.get("client_secret") == "n3w" and account.pull_interval_minutes == 5


def test_vendoraccount_reports_missing_settings(db):
    run("dealer", "add", "D1", "--name", "D")
    out = run("vendoraccount", "add", "d1-aimbase", "--vendor", "aimbase", "--dealer", "D1",
              "--base-url", "https://aimbase.example.com", "--set", "username=u")
    assert "still missing settings: token, manufacturer" in out


def test_vendoraccount_environment_preset_takes_the_documents_urls(db):
    run("dealer", "add", "D1", "--name", "D")
    run("vendoraccount", "add", "d1-cat", "--vendor", "cat", "--dealer", "D1", "--environment", "production",
        "--set", "client_id=c", "--set", "client_secret=s")
    account = VendorAccount.objects.get()
    assert (account.base_url, account.token_url) == ("https://services.cat.com", "https://fedlogin.cat.com/as/token.oauth2")


@pytest.mark.parametrize("args,message", [
    (["dealer"], "the following arguments are required: action"),
    (["dealer", "remove", "X"], "invalid choice: 'remove'"),
    (["dealer", "add"], "dealer add needs a CODE"),
    (["dealer", "add", "NEW1"], "--name is required to create it"),
    (["dealer", "add", "bad code!", "--name", "x"], "code:"),
    (["dealer", "add", "D9", "--name", "x", "--time-zone", "Mars/Base"], "not a known IANA time zone"),
    (["vendoraccount", "add", "x", "--vendor", "sears"], "invalid choice: 'sears'"),
    (["vendoraccount", "add", "x", "--vendor", "cat"], "needs --dealer"),
    (["vendoraccount", "add", "x", "--vendor", "cat", "--dealer", "NOPE", "--base-url", "https://x.test"],
     "no dealer with code 'NOPE'"),
    (["vendoraccount", "add", "x", "--vendor", "cat", "--dealer", "D1", "--base-url", "https://x.test",
      "--token-url", "https://x.test/t", "--set", "client_id"], "--set takes KEY=VALUE"),
    (["vendoraccount", "add", "x", "--vendor", "cat", "--dealer", "D1", "--base-url", "https://x.test",
      "--set", "colour=red"], "cat accounts have no setting colour"),
    (["vendoraccount", "add", "x", "--vendor", "cap", "--dealer", "D1", "--base-url", "http://evil.example.com"],
     "must use https"),
    (["vendoraccount", "add", "x", "--vendor", "cat", "--dealer", "D1", "--base-url", "https://x.test"],
     "needs a token URL"),
    (["seed_demo", "--leads", "-1"], "--leads must be between"),
    (["seed_demo", "--leads", "many"], "invalid int value"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_arguments_give_one_line_on_stderr_and_exit_2(manage_env, args, message):
    result = manage(manage_env, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def test_bad_arguments_change_nothing(manage_env):
    manage(manage_env, "dealer", "add", "KEEP", "--name", "Kept")
    assert manage(manage_env, "dealer", "add", "KEEP", "--currency", "XXQ").returncode == 2
    listing = manage(manage_env, "dealer", "list").stdout
    assert "KEEP\tKept\tUTC\tUSD" in listing


def test_seed_demo_is_idempotent_and_uses_the_real_services(db):
    run("seed_demo", "--leads", "60")
    counts = (Lead.objects.count(), StatusLog.objects.count(), ReasonMapping.objects.count())
    run("seed_demo", "--leads", "60")
    assert (Lead.objects.count(), StatusLog.objects.count(), ReasonMapping.objects.count()) == counts
    assert counts[0] == 60 and counts[1] > 10
    assert Lead.objects.exclude(status="new").exists()
    # Every logged change is one the transition table allows.
    from apps.leads.statuses import allowed_targets
    for log in StatusLog.objects.all():
        assert log.to_status in allowed_targets(log.from_status)


def test_seed_demo_has_every_cat_list_mapped(db):
    from apps.leads.selectors import unmapped_values

    run("seed_demo", "--leads", "0")
    dealer = Dealer.objects.get(code="DEMO")
    required_missing = [u for u in unmapped_values(dealer_id=dealer.pk, vendors=["cat"]) if u.required]
    assert required_missing == []


def test_the_demo_user_sees_leads_after_seeding(client, db):
    run("seed_demo", "--leads", "20")
    # The login lockout (django-axes) needs the request a login comes with.
    assert client.login(request=HttpRequest(), username="demo-staff", password="leadhub-demo")
    response = client.get("/admin/leads/lead/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 20


def test_vendoraccount_fills_the_vendors_defaults(db):
    run("dealer", "add", "D1", "--name", "D")
    out = run("vendoraccount", "add", "d1-cat", "--vendor", "cat", "--dealer", "D1", "--environment", "qa",
              "--set", "client_id=c", "--set", "client_secret=s")
    assert "missing" not in out
    assert VendorAccount.objects.get().options["scope"] == "manage:all"  # the document's scope
