"""Scale-out: two gunicorn web processes and three qcluster workers on a real
Redis broker and the suite's PostgreSQL, syncing two Cat accounts and a Capillary
account against their sandboxes at once. One pull per account at a time, no lead twice, no outcome
pushed twice (Cat's batched updates and Capillary's status updates), and nothing lost when a worker is SIGKILLed in the middle of a
pull, and another in the middle of a push. Redis has no delivery receipts, so a
killed worker's task is simply gone: the account's lease expires and the next
pull finishes what the dead one stored and reconciles what it may have lost; the
outbox item's claim expires and the next push sends it (docs/deployment.md,
"Restarts").

Runs in the PostgreSQL pass of `make test`; skipped where redis-server is
missing, a failure then with LEADHUB_REQUIRE_REDIS=1 (CI).
"""
import os
import re
import time

import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from apps.accounts.models import Dealer
from apps.leads.models import Lead
from apps.sync.models import InboxPage, OutboxItem, RunState, SyncRun
from apps.vendors.core.models import VendorAccount
from tests.conftest import PASSWORD, make_user

from .harness import (Cluster, RedisServer, capillary_spec, cat_spec, database_url_for, queue_tasks,
                      redis_server_binary, wait_for)

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 6
CLAIM_SECONDS = 5
PUSHED_PER_ACCOUNT = 8


def accounts():
    """The accounts synced at once (the first is the one whose worker is killed)."""
    return [cat_spec("east-cat", "E100", 300), cat_spec("west-cat", "W200", 200),
            capillary_spec("north-capillary", "N300", 150)]


@pytest.fixture
def redis_server(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("scale-out runs in the PostgreSQL pass of make test (processes share one database)")
    if redis_server_binary() is None:
        if os.environ.get("LEADHUB_REQUIRE_REDIS") == "1":
            pytest.fail("LEADHUB_REQUIRE_REDIS=1 but redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server not found (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def cluster(tmp_path, redis_server):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update({
        "DJANGO_SETTINGS_MODULE": "leadhub.settings", "DATABASE_URL": database_url_for(connection.settings_dict),
        "Q_REDIS_URL": redis_server.url, "Q_WORKERS": "1", "Q_TIMEOUT": "120", "Q_RETRY": "150",
        # The same keys on every process, as docs/deployment.md requires.
        "SECRET_KEY": settings.SECRET_KEY, "LEADHUB_CREDENTIALS_KEYS": ",".join(settings.CREDENTIALS_KEYS),
        "DEBUG": "0", "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0",
        "ALLOWED_HOSTS": "127.0.0.1", "LEADHUB_VAR_DIR": str(tmp_path), "STATIC_ROOT": str(tmp_path / "static"),
        "LEADHUB_LOCK_LEASE_SECONDS": str(LEASE_SECONDS), "LEADHUB_OUTBOX_CLAIM_SECONDS": str(CLAIM_SECONDS),
        "LEADHUB_RETRY_BASE_SECONDS": "0.05",
        "LEADHUB_HTTP_READ_TIMEOUT": "10", "LOG_LEVEL": "INFO", "CONN_MAX_AGE": "0",
    })
    running = Cluster(env=env, workdir=tmp_path)
    yield running
    running.stop()


def log_in(port):
    session = requests.Session()
    base = f"http://127.0.0.1:{port}"
    form = session.get(f"{base}/admin/login/", timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    done = session.post(f"{base}/admin/login/", timeout=30, data={
        "username": "sam", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/admin/"})
    assert done.ok and "/admin/login/" not in done.url, done.text[:500]
    return session, base


def accept_through_web(session, base, lead):
    page = session.get(f"{base}/admin/leads/lead/{lead.pk}/status/", timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    done = session.post(f"{base}/admin/leads/lead/{lead.pk}/status/", timeout=30, allow_redirects=False,
                        data={"csrfmiddlewaretoken": token, "to_status": "accepted", "customer_contacted": "true"})
    assert done.status_code == 302, done.text[:2000]


def test_two_web_and_three_workers_sync_concurrently_and_survive_a_killed_worker(cluster, tmp_path):
    specs = accounts()
    staff = make_user("sam")
    # The suite hashes with MD5 for speed; the web processes know only the real hashers.
    staff.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    staff.save()
    try:
        for spec in specs:
            spec.start()
            dealer = Dealer.objects.create(code=spec.dealer_code, name=spec.name)
            staff.memberships.create(dealer=dealer, role="staff")
            spec.prepare_dealer(dealer)
            account = VendorAccount(name=spec.name, vendor=spec.vendor, dealer=dealer, base_url=spec.base_url)
            args = spec.account_args(spec.base_url)
            account.token_url = args[args.index("--token-url") + 1] if "--token-url" in args else ""
            account.set_settings(dict(a.split("=", 1) for a in args[1::2] if "=" in a))
            account.save()
            spec.account = account
            spec.slow_pages(spec.base_url, spec.leads // 100 + 2)
        cluster.manage("collectstatic", "--noinput", "-v0")
        cluster.start_web(2)
        cluster.start_workers(3)
        cluster.wait_web()

        # --- pulls: three tasks per account at once, and a worker killed mid-pull.
        queue_tasks(cluster, [("apps.sync.tasks.pull_account", s.account.pk) for s in specs for _ in range(3)])
        first = specs[0].account
        victim_run = wait_for(lambda: SyncRun.objects.filter(
            account=first, kind="pull", state=RunState.RUNNING, pages__isnull=False).first(),
            timeout=90, what="a pull that stored a page")
        killed = cluster.kill_worker_running(int(victim_run.worker.split(":")[1]))
        assert killed.returncode == -9
        # The tick's job after a lease: queue a pull per account again.
        time.sleep(LEASE_SECONDS + 1)
        queue_tasks(cluster, [("apps.sync.tasks.pull_account", s.account.pk) for s in specs])

        def pulled_everything():
            return all(spec.pending(spec.state()) == 0
                       and Lead.objects.filter(vendor_account=spec.account).count() == spec.leads
                       and not SyncRun.objects.filter(account=spec.account, state=RunState.RUNNING).exists()
                       for spec in specs)
        wait_for(pulled_everything, timeout=120, what="every lead pulled", every=1)

        # --- pushes: staff accept leads through both web processes; extra push
        # tasks (as the tick queues them) must not send anything twice. The first
        # account's first push hangs at the vendor (recording nothing) and its
        # worker is killed while it waits: the claim expires and another worker
        # sends the update, once.
        cluster.start_workers(1)  # the killed worker is back, as systemd's Restart=always does
        specs[0].stall_push(specs[0].base_url, 15)
        sessions = [log_in(port) for port, _ in cluster.web]
        changed = []
        for spec in specs:
            for n, lead in enumerate(Lead.objects.filter(vendor_account=spec.account).order_by("id")
                                     [:PUSHED_PER_ACCOUNT]):
                accept_through_web(*sessions[n % 2], lead)
                changed.append((spec, lead.vendor_lead_id))
        sending = wait_for(lambda: OutboxItem.objects.filter(account=specs[0].account, state="sending")
                           .exclude(claimed_by="").first(), timeout=60, what="an update being sent")
        assert cluster.kill_worker_running(int(sending.claimed_by.split(":")[1])).returncode == -9
        time.sleep(max(LEASE_SECONDS, CLAIM_SECONDS) + 1)
        queue_tasks(cluster, [("apps.sync.tasks.push_account", s.account.pk) for s in specs for _ in range(3)])
        wait_for(lambda: all(spec.accepted(spec.state()).get(lead_id) for spec, lead_id in changed),
                 timeout=90, what="every accepted lead reported", every=1)
        time.sleep(2)  # any duplicate send would arrive by now
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        for spec in specs:
            state = spec.state() if spec.process and spec.process.poll() is None else None
            spec.final_state = state
            spec.stop()

    for spec in specs:
        delivered = spec.delivered(spec.final_state)
        ids = list(Lead.objects.filter(vendor_account=spec.account).values_list("vendor_lead_id", flat=True))
        assert len(ids) == len(set(ids)) == spec.leads, f"{spec.name}: a lead duplicated or lost"
        assert delivered is None or (set(ids) == set(delivered) and len(delivered) == spec.leads)
        assert not InboxPage.objects.filter(account=spec.account, state="pending").exists()
        # One pull per account at a time: the runs that held the lease never overlap.
        held = sorted(SyncRun.objects.filter(account=spec.account, kind="pull")
                      .exclude(state=RunState.SKIPPED).values_list("started_at", "finished_at", "errors"))
        for (start, end, errors), (next_start, _, _) in zip(held, held[1:]):
            abandoned = any("stopped before it finished" in e for e in errors)
            assert abandoned or end <= next_start, f"{spec.name}: two pulls overlapped"
        assert not [f for f in spec.final_state["faults"] if f.get("path") == "post"]  # the hung push happened
        accepted = spec.accepted(spec.final_state)
        for other, lead_id in changed:
            if other is spec:
                assert accepted.get(lead_id) == 1, f"{spec.name}: {lead_id} reported {accepted.get(lead_id)} times"
    # The killed pull was found abandoned and reconciled with the vendor's history.
    victim_run.refresh_from_db()
    assert victim_run.state == RunState.FAILED and "stopped before it finished" in victim_run.errors[0]
    assert SyncRun.objects.filter(account=specs[0].account, kind="historic", state=RunState.OK).exists()
    assert not OutboxItem.objects.exclude(state="sent").exists()
    sending.refresh_from_db()  # the update the killed worker held went out on a later attempt
    assert sending.state == "sent" and sending.attempts == 1 and sending.claimed_by == ""
