"""Benchmark: pull 10,000 Cat leads (100 pages) from the sandbox over loopback.

Targets (Cat issue): at least 1,000 leads/s end to end, no more than 2x the time
of merely fetching and parsing the same pages, peak memory under 250 MB. The
sandbox runs in its own process so its CPU and memory are not counted here.
Issue 19: recognising the same customer costs less than 10 % of the pull; the job
that follows a pull (apps/routing/arrivals.py: an assignment rule taking every lead
round-robin over five reps, their notifications, the matching) processes every lead
(its time is printed: a worker's, after the pull).

    python -m bench.cat_pull [--leads 10000]          # database from DATABASE_URL, else a temp SQLite
    make bench                                        # SQLite, then a throwaway PostgreSQL
    python -m bench.cat_pull --prepare-only           # the pull's fetch/parse/prepare threads alone
    python -m bench.cat_pull --write-only             # the pull's writing alone, pages fetched beforehand
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "sandboxes.cat", "--port", str(port),
                                "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    process.stdout.readline()  # the line with its URLs: it is listening
    return process


def load(base_url: str, n: int, start: int) -> None:
    import requests

    response = requests.post(f"{base_url}/_sandbox/leads", json={"generate": n, "dealer_code": "BENCH",
                                                                 "start": start}, timeout=120)
    response.raise_for_status()


def fetch_and_parse(base_url: str, token_url: str) -> tuple[float, int]:
    """The floor: GET every page and json.loads it, nothing else."""
    import requests

    session = requests.Session()
    started = time.perf_counter()
    token = session.post(token_url, auth=(CLIENT_ID, CLIENT_SECRET),
                         data={"grant_type": "client_credentials", "scope": "manage:all"}, timeout=10).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    count = 0
    while True:
        response = session.get(f"{base_url}/marketing/ecrm/leadManagement/v2/leads", params={"limit": 100},
                               headers=headers, timeout=30)
        if response.status_code == 204:
            break
        page = json.loads(response.content)
        if not page:
            break
        count += len(page)
    return time.perf_counter() - started, count


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process on this machine has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(connection) -> float | None:
    """CPU time used so far by this connection's PostgreSQL backend (same machine),
    a figure the other processes on a busy machine do not inflate."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return process_cpu_seconds(pid)


def prepare_only(engine, account):
    """The pull's own fetch and prepare stages (engine.PrefetchedPages), pages consumed
    and dropped: what a pull costs before any database write."""
    from apps.vendors.core.http import VendorHTTP, call_with_retries

    adapter = account.adapter()
    http = VendorHTTP(vendor=account.vendor, account=account.name, run_id=None)
    pages = engine.PrefetchedPages(adapter, http, call=call_with_retries, cursor={})
    summary = engine.Summary(account.name)
    try:
        for _, parsed in pages:
            summary.fetched += len(parsed.items)
    finally:
        pages.close()
        http.close()
    summary.created = summary.fetched
    return summary


class _Received:
    """Stands in for engine.PrefetchedPages with pages fetched, parsed and prepared
    before the clock started (--write-only)."""

    def __init__(self, pages):
        self._pages = pages
        self.hit_limit = False

    def __iter__(self):
        return iter(self._pages)

    def close(self) -> bool:
        return False


def fetch_everything(engine, account) -> list:
    """Every page of the sandbox through the pull's own fetch/parse/prepare stages."""
    from apps.vendors.core.http import VendorHTTP, call_with_retries

    http = VendorHTTP(vendor=account.vendor, account=account.name, run_id=None)
    pages = engine.PrefetchedPages(account.adapter(), http, call=call_with_retries, cursor={})
    try:
        return list(pages)
    finally:
        pages.close()
        http.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="baseline + pull rounds; medians are reported")
    parser.add_argument("--each-round", action="store_true", help="also print each round's figures (stderr)")
    parser.add_argument("--profile", action="store_true", help="print where the pull's CPU time goes (cProfile)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="time the pull's fetching, parsing and row preparation (its prefetch threads) "
                             "without writing anything: the part of the pull no database change can speed up")
    parser.add_argument("--write-only", action="store_true",
                        help="fetch, parse and prepare every page first, then time only the pull's writing "
                             "(store each page, apply it, commit): what one writer must do in series")
    args = parser.parse_args()
    if args.profile and args.prepare_only:
        parser.error("--profile profiles the pull's writing thread; --prepare-only writes nothing: choose one")
    if args.write_only and args.prepare_only:
        parser.error("--write-only and --prepare-only time opposite halves of the pull: choose one")
    if args.write_only and args.profile:
        parser.error("--profile profiles the whole pull; with --write-only there is nothing fetched to profile: "
                     "choose one")

    tmp = tempfile.mkdtemp(prefix="leadhub-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "leadhub.settings", "LEADHUB_VAR_DIR": tmp, "DEBUG": "0",
                       "LEADHUB_PUSH_ON_COMMIT": "0", "LOG_LEVEL": "WARNING"})
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from django.contrib.auth import get_user_model

    from apps.accounts.models import Dealer, Membership
    from apps.leads.models import Lead
    from apps.leads.customers import recognise_customers
    from apps.routing.arrivals import process_arrivals
    from apps.routing.models import AssignmentRule
    from apps.sync import engine
    from apps.vendors.core.models import VendorAccount

    call_command("migrate", verbosity=0)
    port = free_port()
    sandbox = start_sandbox(port)
    base_url = f"http://127.0.0.1:{port}/cat"
    rounds = []
    try:
        dealer = Dealer.objects.create(code="BENCH", name="Bench dealer")
        account = VendorAccount(name="bench-cat", vendor="cat", dealer=dealer, base_url=base_url,
                                token_url=f"{base_url}/as/token.oauth2")
        account.set_settings({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": "manage:all"})
        account.save()
        rule = AssignmentRule.objects.create(dealer=dealer, name="every Cat lead, in turn", vendors="cat")
        for number in range(5):
            rep = get_user_model().objects.create_user(f"rep{number}", password="x")
            Membership.objects.create(user=rep, dealer=dealer)
            rule.reps.add(rep)
        # Rounds alternate the baseline and the pull, so both see the same machine
        # (other processes come and go); the medians are reported.
        for number in range(args.rounds):
            load(base_url, args.leads, 2 * number * args.leads)
            sandbox_started, floor_cpu_started = process_cpu_seconds(sandbox.pid), time.process_time()
            floor_seconds, floor_count = fetch_and_parse(base_url, f"{base_url}/as/token.oauth2")
            floor_cpu = time.process_time() - floor_cpu_started
            floor_sandbox_cpu = process_cpu_seconds(sandbox.pid) - sandbox_started
            load(base_url, args.leads, (2 * number + 1) * args.leads)  # fresh leads of the same shape
            before = Lead.objects.filter(vendor_account=account).count()
            received = _Received(fetch_everything(engine, account)) if args.write_only else None
            server_started = server_cpu_seconds(connection)
            sandbox_started = process_cpu_seconds(sandbox.pid)
            started, cpu_started = time.perf_counter(), time.process_time()
            if args.prepare_only:
                summary = prepare_only(engine, account)
            elif args.write_only:
                prefetched_pages, engine.PrefetchedPages = engine.PrefetchedPages, lambda *a, **k: received
                try:
                    summary = engine.pull(account)
                finally:
                    engine.PrefetchedPages = prefetched_pages
            elif args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                summary = profiler.runcall(engine.pull, account)
                stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime")
                stats.print_stats(30)
                stats.print_callers("wait|execute")
            else:
                summary = engine.pull(account)
            pull_seconds = time.perf_counter() - started
            pull_cpu = time.process_time() - cpu_started
            server_cpu = server_cpu_seconds(connection)
            sandbox_cpu = process_cpu_seconds(sandbox.pid) - sandbox_started
            # The job right after the pull (a worker's, timed here on its own): first
            # recognising the same customer alone (the "matching"), then the
            # whole job (assignment, notifications, matching again: nothing new).
            new_ids = list(Lead.objects.filter(arrival_processed_at__isnull=True).values_list("pk", flat=True))
            matching_started = time.perf_counter()
            if not args.prepare_only:
                with transaction.atomic():
                    recognise_customers(new_ids)
            matching_seconds = time.perf_counter() - matching_started
            arrivals_started = time.perf_counter()
            arrived = 0 if args.prepare_only else process_arrivals()
            arrivals_seconds = time.perf_counter() - arrivals_started
            # Every CPU second the pull needed on this machine: ours, the database
            # server's backend and the sandbox's. Spread perfectly over the cores,
            # the pull could not take less than this, however it were written.
            all_cpu = pull_cpu + sandbox_cpu + (server_cpu - server_started if server_cpu is not None else 0)
            stored = Lead.objects.filter(vendor_account=account).count() - before
            rounds.append({"pull_seconds": pull_seconds, "pull_cpu_seconds": pull_cpu,
                           "server_cpu_seconds": None if server_cpu is None else server_cpu - server_started,
                           "fetch_parse_seconds": floor_seconds, "ratio": pull_seconds / floor_seconds,
                           "fetch_parse_cpu_seconds": floor_cpu, "fetch_parse_sandbox_cpu_seconds": floor_sandbox_cpu,
                           "sandbox_cpu_seconds": sandbox_cpu, "all_cpu_seconds": all_cpu,
                           "cpu_bound_ratio": all_cpu / (os.cpu_count() or 1) / floor_seconds,
                           "stored": stored, "floor_count": floor_count, "created": summary.created,
                           "arrivals_seconds": arrivals_seconds, "arrived": arrived,
                           "matching_seconds": matching_seconds, "matching_ratio": matching_seconds / pull_seconds,
                           "arrivals_ratio": arrivals_seconds / pull_seconds,
                           "errors": summary.errors[:5], "load": os.getloadavg()[0]})
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)

    if args.each_round:
        for number, figures in enumerate(rounds, 1):
            print(json.dumps({"round": number, **{k: round(v, 2) if isinstance(v, float) else v
                                                 for k, v in figures.items()}}), file=sys.stderr)

    def median(key):
        values = [r[key] for r in rounds if r[key] is not None]
        return round(statistics.median(values), 2) if values else None

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "database": connection.vendor,
        "leads_per_round": args.leads,
        "rounds": len(rounds),
        "pull_seconds": median("pull_seconds"),
        "pull_cpu_seconds": median("pull_cpu_seconds"),
        "database_server_cpu_seconds": median("server_cpu_seconds"),
        "leads_per_second": round(args.leads / median("pull_seconds")),
        "fetch_parse_seconds": median("fetch_parse_seconds"),
        "fetch_parse_cpu_seconds": median("fetch_parse_cpu_seconds"),
        "fetch_parse_sandbox_cpu_seconds": median("fetch_parse_sandbox_cpu_seconds"),
        "pull_sandbox_cpu_seconds": median("sandbox_cpu_seconds"),
        "pull_all_cpu_seconds": median("all_cpu_seconds"),
        "ratio_to_fetch_parse": median("ratio"),
        # all CPU seconds of the pull / cores / floor: the ratio no overlap could beat
        "cpu_bound_ratio": median("cpu_bound_ratio"),
        "ratios": [round(r["ratio"], 2) for r in rounds],
        "matching_seconds": median("matching_seconds"),
        "matching_to_pull": median("matching_ratio"),
        "matching_to_pull_new_customers": round(rounds[0]["matching_ratio"], 3) if rounds else None,
        "matching_to_pull_every_lead_a_duplicate": [round(r["matching_ratio"], 3) for r in rounds[1:]],
        "arrivals_job_seconds": median("arrivals_seconds"),
        "arrivals_job_to_pull": median("arrivals_ratio"),
        "load_average_1min": [round(r["load"], 1) for r in rounds],
        "peak_rss_mb": round(peak_mb),
        "machine": f"{os.cpu_count()} cores",
        "errors": [e for r in rounds for e in r["errors"]][:5],
    }
    if args.prepare_only:
        result["mode"] = "prepare-only: nothing written; 'pull' is fetch + parse + prepare through the engine"
        print(json.dumps(result))
        return 0
    if args.write_only:
        result["mode"] = ("write-only: pages fetched beforehand; 'pull' is storing and applying them; "
                          "peak RSS counts every page held in memory")
        print(json.dumps(result))
        stored_once = all(r["stored"] == args.leads == r["created"] for r in rounds)
        print(f"  {'PASS' if stored_once else 'FAIL'}  all leads stored once")
        return 0 if stored_once else 1
    checks = {
        "all leads stored once": all(r["stored"] == args.leads == r["floor_count"] == r["created"] for r in rounds),
        ">= 1000 leads/s": result["leads_per_second"] >= 1000,
        "<= 2x fetch+parse": result["ratio_to_fetch_parse"] <= 2.0,
        "< 250 MB peak": peak_mb < 250,
        # Round 1's leads are new customers (a normal pull); later rounds repeat the
        # sandbox's phone numbers, so every lead is a duplicate: printed, the worst case.
        "matching the same customer < 10% of the pull (round 1: new customers)": rounds[0]["matching_ratio"] < 0.10,
        "every lead processed by the job after the pull": all(r["arrived"] == args.leads for r in rounds),
    }
    print(json.dumps(result))
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
