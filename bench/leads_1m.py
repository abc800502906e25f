"""Benchmark: the dealer screens, search, CSV export and outcome import at 1,000,000 leads.

Targets (issue 4), on PostgreSQL, with 1,000,000 leads across 20 dealers:
- the "My leads" queue, the lead list (default and filtered) and search by e-mail,
  phone, vendor lead id and name answer in < 300 ms server time at the 95th
  percentile, and EXPLAIN of every query they run on the leads table shows no
  sequential scan of it and no full-table COUNT;
- the CSV export of every lead takes <= 3x PostgreSQL's own COPY ... TO STDOUT of
  the same rows and columns, with < 200 MB peak RSS (measured in a subprocess);
- importing 10,000 outcome rows takes < 60 s.
On SQLite the same figures are printed for information (no target: SQLite is
the single-machine default, PostgreSQL the production database).

    python -m bench.leads_1m [--leads 1000000] [--runs 20]   # DATABASE_URL, else a temp SQLite
    make bench-leads                                          # SQLite, then a throwaway PostgreSQL

Prints one JSON line of figures, then PASS/FAIL per target; exits 1 when a target
is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEALERS = 20
STAFF_PER_DEALER = 5
P95_TARGET_MS = 300
IMPORT_TARGET_SECONDS = 60


def setup_django(database_url: str | None = None, *, pages: bool = True) -> str:
    """Django on DATABASE_URL, else on a SQLite file in a new temporary directory;
    returns that directory (the caller removes it). `pages`: static files collected
    for rendering pages (the export child renders none)."""
    tmp = tempfile.mkdtemp(prefix="leadhub-bench-")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "leadhub.settings", "LEADHUB_VAR_DIR": tmp, "DEBUG": "0",
                       "LEADHUB_PUSH_ON_COMMIT": "0", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "testserver",
                       "SECURE_SSL_REDIRECT": "0", "STATIC_ROOT": os.path.join(tmp, "static")})
    import django

    django.setup()
    # DEBUG=0 pages name their static files through the hashed manifest, as in
    # production: without collectstatic every page would be a 500.
    if pages:
        from django.core.management import call_command

        call_command("collectstatic", "--noinput", "-v0")
    return tmp


# --- generating a million leads ---------------------------------------------------------

def _series(n: int, vendor: str) -> str:
    if vendor == "postgresql":
        return f"FROM generate_series(1, {int(n)}) AS s(i)"
    return f"FROM (WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {int(n)}) SELECT i FROM s) s"


def _minutes_from_now(expr: str, vendor: str) -> str:
    """SQL for now + `expr` minutes, as each backend stores a datetime."""
    if vendor == "postgresql":
        return f"(%s::timestamptz + make_interval(mins => ({expr})::int))"
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, ({expr}) || ' minutes')"


def generate(n: int) -> dict:
    """Create DEALERS dealers with their staff, a Cat account each, reasons and
    stages, then `n` leads with one INSERT ... SELECT over a generated series (the
    database makes the rows: seconds, not minutes). Every column the statement
    does not compute gets the model's default, as apps.leads.bulk.LeadRows
    prepares it. Returns ids the measurements use."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.accounts.models import Dealer, Membership
    from apps.leads.bulk import LeadRows
    from apps.leads.models import Lead
    from apps.vendors.core.models import VendorAccount
    from tests.conftest import make_reasons, make_stages

    User = get_user_model()
    if Dealer.objects.filter(code="D000").exists():  # --reuse: a database this script filled before
        dealer = Dealer.objects.get(code="D000")
        return {"seconds": 0.0, "dealer": dealer, "staff": User.objects.get(username="staff0_1"),
                "root": User.objects.get(username="root"), "reused": Lead.objects.count()}
    dealers, accounts, users = [], [], []
    with transaction.atomic():
        for d in range(DEALERS):
            dealer = Dealer.objects.create(code=f"D{d:03d}", name=f"Dealer {d}")
            dealers.append(dealer)
            account = VendorAccount(name=f"cat-{d}", vendor="cat", dealer=dealer, base_url="http://127.0.0.1:9/cat",
                                    token_url="http://127.0.0.1:9/cat/token")
            account.set_settings({"client_id": "c", "client_secret": "s", "scope": "manage:all"})
            account.save()
            accounts.append(account)
            make_reasons(dealer)
            make_stages(dealer)
            for k in range(STAFF_PER_DEALER):
                user = User.objects.create_user(f"staff{d}_{k}", password="bench", is_staff=True)
                Membership.objects.create(user=user, dealer=dealer, role="staff")
                users.append(user)
        root = User.objects.create_user("root", password="bench", is_staff=True, is_superuser=True)
    dealer0, account0, user0 = dealers[0].pk, accounts[0].pk, users[0].pk
    # The arithmetic below maps a lead to its dealer, account and owner by offset.
    assert [d.pk for d in dealers] == list(range(dealer0, dealer0 + DEALERS))
    assert [a.pk for a in accounts] == list(range(account0, account0 + DEALERS))
    assert [u.pk for u in users] == list(range(user0, user0 + DEALERS * STAFF_PER_DEALER))

    vendor = connection.vendor
    now = timezone.now()
    now_param = now if vendor == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S.%f")
    d = "(i %% 20)"
    computed = {
        "dealer_id": f"{dealer0} + {d}",
        "vendor_account_id": f"CASE WHEN i %% 10 < 6 THEN {account0} + {d} END",
        "vendor_lead_id": "CASE WHEN i %% 10 < 6 THEN '00Q' || i END",
        "origin": "CASE WHEN i %% 10 < 6 THEN 'vendor' ELSE 'manual' END",
        "first_name": "'First' || (i %% 997)",
        "last_name": "'Last' || i",
        "company": "'Company ' || (i %% 5003)",
        "email": "'lead' || i || '@dealer' || (i %% 20) || '.test'",
        "phone": "'+1 309 ' || (1000000 + i)",
        "phone_normalized": "'+1309' || (1000000 + i)",
        "country": "'US'",
        "status": ("CASE i %% 10 WHEN 0 THEN 'new' WHEN 1 THEN 'new' WHEN 2 THEN 'new' WHEN 3 THEN 'accepted' "
                   "WHEN 4 THEN 'accepted' WHEN 5 THEN 'accepted' WHEN 6 THEN 'on_hold' WHEN 7 THEN 'rejected' "
                   "WHEN 8 THEN 'closed_won' ELSE 'closed_lost' END"),
        "probability": "CASE i %% 10 WHEN 8 THEN 100 WHEN 9 THEN 0 END",
        "owner_id": f"CASE WHEN i %% 6 = 0 THEN NULL ELSE {user0} + {d} * {STAFF_PER_DEALER} + (i %% 5) END",
        "next_follow_up_at": f"CASE WHEN i %% 5 = 1 THEN {_minutes_from_now('(i %% 4000) - 1000', vendor)} END",
        "created_at": _minutes_from_now("-(i / 2)", vendor),
        "updated_at": _minutes_from_now("-(i / 2)", vendor),
    }
    builder = LeadRows()
    columns, expressions, params = [], [], []
    for name, field, default in zip(builder.names, builder.fields, builder.template):
        columns.append(connection.ops.quote_name(field.column))
        if name in computed:
            expressions.append(computed[name])
            params += [now_param] * computed[name].count("%s")
        else:
            expressions.append("%s")
            params.append(default)
    sql = (f"INSERT INTO leads_lead ({', '.join(columns)}) SELECT {', '.join(expressions)} {_series(n, vendor)}")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if vendor == "sqlite" else "VACUUM ANALYZE leads_lead")
    seconds = time.perf_counter() - started
    assert Lead.objects.count() == n
    return {"seconds": round(seconds, 1), "dealer": dealers[0], "staff": users[1], "root": root}


# --- timing pages and checking their plans ------------------------------------------------

def explain_problems(queries: list[dict]) -> list[str]:
    """Every query on the leads table must use an index (no sequential scan) and
    none may COUNT the table without a LIMIT. Returns the problems found."""
    from django.db import connection, transaction

    problems = []
    settings = []  # SET LOCAL statements the page ran before a query (CappedPaginator)
    for query in queries:
        sql = query["sql"]
        if sql.upper().startswith("SET LOCAL"):
            settings.append(sql)
            continue
        if "leads_lead" not in sql or not sql.lstrip().upper().startswith("SELECT"):
            continue
        if re.search(r"COUNT\(\*\)", sql, re.I) and " LIMIT " not in sql.upper():
            problems.append(f"full COUNT: {sql[:160]}")
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for setting in settings:  # explain the query as it ran
                    cursor.execute(setting)
                settings = []
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                if re.search(r"Seq Scan on leads_lead\b", plan):
                    problems.append(f"sequential scan: {sql[:160]}\n{plan}")
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
                if re.search(r"\bSCAN (leads_lead|\"leads_lead\")(?! USING)", plan):
                    problems.append(f"full scan: {sql[:160]}\n{plan}")
    return problems


def time_page(client, url: str, runs: int) -> dict:
    """Server time of GET url (the Django test client runs the whole request in
    process: middleware, view, template; no network): p50/p95 over `runs` after
    two warm-ups, and the plan check of one run's queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "queries": len(captured.captured_queries), "plan_problems": explain_problems(captured.captured_queries)}


def pages(ids: dict) -> dict[str, tuple[str, str]]:
    """name -> (user key, URL): what staff (one dealer, 50,000 leads) and IT (every
    dealer, the whole table) open all day."""
    staff = ids["staff"]
    n = ids["n"]
    probe = n // 2 + 20  # a lead of dealer 0 in the middle of the table (ids are 1..n)
    probe -= probe % 20
    return {
        "queue (staff)": ("staff", "/admin/leads/lead/queue/"),
        "list (staff)": ("staff", "/admin/leads/lead/"),
        "list status=new (staff)": ("staff", "/admin/leads/lead/?status=new"),
        "list follow-up overdue (staff)": ("staff", "/admin/leads/lead/?followup=overdue"),
        "list vendor=cat (staff)": ("staff", "/admin/leads/lead/?vendor=cat"),
        "list owner=me (staff)": ("staff", f"/admin/leads/lead/?owner__id__exact={staff.pk}"),
        "list (IT, all dealers)": ("root", "/admin/leads/lead/"),
        "list status=new (IT)": ("root", "/admin/leads/lead/?status=new"),
        "search email (staff)": ("staff", f"/admin/leads/lead/?q=lead{probe}@dealer0.test"),
        "search phone (staff)": ("staff", f"/admin/leads/lead/?q=%28309%29+{1000000 + probe}"),
        "search vendor id (staff)": ("staff", f"/admin/leads/lead/?q=00Q{probe}"),
        "search name (staff)": ("staff", f"/admin/leads/lead/?q=Last{probe}"),
        "search email (IT)": ("root", f"/admin/leads/lead/?q=lead{probe}@dealer0.test"),
        "search two words (IT)": ("root", "/admin/leads/lead/?q=First5+Last5"),
    }


# --- export: LeadHub's streaming CSV against PostgreSQL's COPY ----------------------------

def export_child() -> None:
    """Run in a subprocess: export every lead to /dev/null; print seconds, rows and peak RSS."""
    shutil.rmtree(setup_django(pages=False), ignore_errors=True)  # the parent's database: nothing to keep here
    from apps.leads.csv_export import write_leads_csv
    from apps.leads.models import Lead

    started = time.perf_counter()
    with open(os.devnull, "w", newline="") as out:
        rows = write_leads_csv(Lead.objects.all(), out)
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def copy_seconds() -> float | None:
    """PostgreSQL's own COPY (the export's query) TO STDOUT, read and discarded."""
    from django.db import connection

    from apps.leads.csv_export import COLUMNS
    from apps.leads.models import Lead

    if connection.vendor != "postgresql":
        return None
    sql, params = Lead.objects.order_by("id").values_list(*[p for _, p in COLUMNS]).query.sql_with_params()
    with connection.cursor() as cursor:
        inner = cursor.cursor.mogrify(sql, params)
        started = time.perf_counter()
        with cursor.cursor.copy(f"COPY ({inner}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            for _ in copy:
                pass
    return time.perf_counter() - started


# --- outcome import ------------------------------------------------------------------------

def import_outcomes_seconds(ids: dict, rows: int) -> tuple[float, int, list]:
    """Accept `rows` new leads of dealer 0 (Cat's and manual ones) from one CSV file."""
    from apps.leads.models import Lead
    from apps.leads.outcomes_import import import_outcomes

    lead_ids = list(Lead.objects.filter(dealer=ids["dealer"], status="new").order_by("id")
                    .values_list("id", flat=True)[:rows])
    data = "lead_id,status,customer_contacted,comment\n" + "".join(f"{pk},accepted,yes,bench\n" for pk in lead_ids)
    started = time.perf_counter()
    result = import_outcomes(data, actor=ids["root"])
    return time.perf_counter() - started, result.changed, [str(e) for e in result.errors[:3]]


def import_only(ids: dict, args, result: dict) -> int:
    """Only the outcome import (and, with --profile, the functions and the SQL it spent
    its time in): for working on the import without the pages and the export."""
    import cProfile
    import pstats

    from django.db import connection

    profiler = cProfile.Profile() if args.profile else None
    statements: list[float] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(time.perf_counter() - started)

    with connection.execute_wrapper(timed):
        if profiler:
            profiler.enable()
        seconds, changed, errors = import_outcomes_seconds(ids, args.import_rows)
        if profiler:
            profiler.disable()
    result["import_outcomes"] = {"rows": args.import_rows, "changed": changed, "seconds": round(seconds, 1),
                                 "statements": len(statements), "statement_seconds": round(sum(statements), 1),
                                 "errors": errors}
    result["load_average_1_5_15"] = [round(x, 1) for x in os.getloadavg()]
    del result["pages"]
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    print(json.dumps(result, default=str))
    return 0 if changed == args.import_rows and seconds < IMPORT_TARGET_SECONDS else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--only", help="only the pages whose name contains this (no export, no import)")
    parser.add_argument("--import-only", action="store_true", help="generate, then only the outcome import")
    parser.add_argument("--profile", action="store_true", help="with --import-only: where the import's time goes")
    parser.add_argument("--export-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile and not args.import_only:
        parser.error("--profile profiles the import: use it with --import-only")
    if args.import_only and args.only:
        parser.error("--only (pages) and --import-only (the import) exclude each other")
    if args.export_child:
        export_child()
        return 0

    tmp = setup_django()
    try:
        return run(args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # a million-lead SQLite file is 500 MB


def run(args) -> int:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    ids = generate(args.leads)
    ids["n"] = args.leads
    database = connection.vendor
    result = {"database": database, "leads": args.leads, "dealers": DEALERS, "generate_seconds": ids["seconds"],
              "machine": f"{os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // 2**30} GiB",
              "pages": {}}
    if args.import_only:
        return import_only(ids, args, result)
    clients = {}
    for key in ("staff", "root"):
        clients[key] = Client()
        clients[key].force_login(ids[key])
    for name, (who, url) in pages(ids).items():
        if args.only and args.only not in name:
            continue
        result["pages"][name] = time_page(clients[who], url, args.runs)
    if args.only:  # a quick look at some pages: no export, no import
        print(json.dumps(result, default=str))
        return 0 if all(not f["plan_problems"] and f["p95_ms"] < P95_TARGET_MS for f in result["pages"].values()) else 1

    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"]}
    child = subprocess.run([sys.executable, "-m", "bench.leads_1m", "--export-child"], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True)
    export = json.loads(child.stdout.strip().splitlines()[-1])
    copy = copy_seconds()
    result["export"] = {"seconds": round(export["seconds"], 1), "rows": export["rows"],
                        "peak_rss_mb": round(export["peak_rss_mb"]),
                        "copy_seconds": round(copy, 1) if copy else None,
                        "ratio_to_copy": round(export["seconds"] / copy, 2) if copy else None}
    seconds, changed, errors = import_outcomes_seconds(ids, args.import_rows)
    result["import_outcomes"] = {"rows": args.import_rows, "changed": changed, "seconds": round(seconds, 1),
                                 "errors": errors}

    # Other work on the machine slows every figure: say how busy it was.
    result["load_average_1_5_15"] = [round(x, 1) for x in os.getloadavg()]
    checks = {"export: every lead": export["rows"] == args.leads,
              "export: < 200 MB peak RSS": export["peak_rss_mb"] < 200,
              f"import: {args.import_rows} outcome rows all applied": changed == args.import_rows,
              f"import: < {IMPORT_TARGET_SECONDS} s": seconds < IMPORT_TARGET_SECONDS}
    if database == "postgresql":
        for name, figures in result["pages"].items():
            checks[f"{name}: p95 < {P95_TARGET_MS} ms"] = figures["p95_ms"] < P95_TARGET_MS
            checks[f"{name}: no seq scan / full count"] = not figures["plan_problems"]
        checks["export: <= 3x COPY"] = copy is not None and export["seconds"] <= 3 * copy
    print(json.dumps(result, default=str))
    for name, figures in result["pages"].items():
        print(f"  {name:34s} p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f} ms  "
              f"{figures['queries']} queries" + ("" if not figures["plan_problems"] else
                                                 f"  PLAN: {len(figures['plan_problems'])} problem(s)"))
        for problem in figures["plan_problems"][:2]:
            print("      " + problem.replace("\n", "\n      "))
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
