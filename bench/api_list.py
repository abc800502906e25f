"""Benchmark: the API's lead list at 5,000,000 leads (issue 20).

Target, on PostgreSQL: `GET /api/v1/leads/` answers a page of 100 in < 200 ms at the
95th percentile, for the first page, a page deep in the cursor, and each filter
(status, vendor, owner, updated_since). The leads are bench.leads_1m's generator
(20 dealers, a lead every half minute: 5,000,000 leads span about 4.7 years); a
database it filled before is reused as it is (`--leads` is then ignored). Each
request goes through the whole stack in this process (Django's test client: the
key's authentication, the rate limit, the query, the serializer, the JSON), not
over a socket. The dealer measured is D000 (250,000 leads); its key is read-only.

    python -m bench.api_list [--leads 5000000] [--runs 20]   # on DATABASE_URL (PostgreSQL)
    make bench-api                                           # a throwaway PostgreSQL

Prints one JSON line of figures, then PASS/FAIL per case; exits 1 when a target
is missed. On SQLite it says so and measures nothing (the target is PostgreSQL's).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from datetime import timedelta

from bench.leads_1m import generate, setup_django

P95_MS = 200
PAGE = 100


def timed(client, url: str, params: dict, runs: int) -> dict:
    """`runs` requests after one to warm up; the last answer's size is kept."""
    seconds, count = [], 0
    for number in range(runs + 1):
        started = time.perf_counter()
        response = client.get(url, params)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (response.status_code, response.content[:300])
        count = len(response.json()["results"])
        if number:
            seconds.append(elapsed)
    seconds.sort()
    p95 = seconds[min(len(seconds) - 1, int(round(0.95 * (len(seconds) - 1))))]
    return {"p50_ms": round(statistics.median(seconds) * 1000, 1), "p95_ms": round(p95 * 1000, 1),
            "max_ms": round(seconds[-1] * 1000, 1), "rows": count, "runs": runs}


def run(args) -> int:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from apps.accounts.models import Dealer
    from apps.api.keys import apikey_create
    from apps.leads.models import Lead

    call_command("migrate", verbosity=0)
    if connection.vendor != "postgresql":
        print(json.dumps({"database": connection.vendor, "skipped": "the API list target is PostgreSQL's"}))
        return 0
    generated = generate(args.leads)
    dealer = Dealer.objects.get(code="D000")
    _, key = apikey_create(dealer=dealer, name=f"bench {timezone.now():%Y%m%d%H%M%S%f}", scope="read")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = "/api/v1/leads/"
    owner_id = Lead.objects.filter(dealer=dealer, owner__isnull=False).values_list("owner_id", flat=True).first()
    newest = Lead.objects.filter(dealer=dealer).order_by("-updated_at").values_list("updated_at", flat=True).first()
    # A page deep in the cursor: the 50th page of the dealer's oldest-first feed.
    deep = {"page_size": PAGE}
    for _ in range(49):
        deep = {"page_size": PAGE, "cursor": client.get(url, deep).json()["cursor"]}
    cases = {
        "first page": {"page_size": PAGE},
        "page 50 (cursor)": deep,
        "status=new": {"page_size": PAGE, "status": "new"},
        "status=closed_won": {"page_size": PAGE, "status": "closed_won"},
        "vendor=cat": {"page_size": PAGE, "vendor": "cat"},
        "vendor=manual": {"page_size": PAGE, "vendor": "manual"},
        "owner": {"page_size": PAGE, "owner": owner_id},
        "updated_since a day ago": {"page_size": PAGE, "updated_since": (newest - timedelta(days=1)).isoformat()},
        "status=new, updated_since a week ago": {"page_size": PAGE, "status": "new",
                                                 "updated_since": (newest - timedelta(days=7)).isoformat()},
    }
    result = {"database": "postgresql", "leads": Lead.objects.count(), "dealer_leads": Lead.objects.filter(
        dealer=dealer).count(), "generate_seconds": generated["seconds"],
        "machine": f"{os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // 2**30} GiB",
        "cases": {name: timed(client, url, params, args.runs) for name, params in cases.items()},
        "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()]}
    print(json.dumps(result, default=str))
    ok = True
    for name, figures in result["cases"].items():
        passed = figures["p95_ms"] < P95_MS
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  {name:38s} p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f} ms"
              f"  ({figures['rows']} rows; target p95 < {P95_MS} ms)")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=20, help="requests per case (p95 of them)")
    args = parser.parse_args()
    os.environ.setdefault("LEADHUB_API_RATE", "1000000/minute")  # the bench measures the list, not the limit
    tmp = setup_django(pages=False)
    try:
        return run(args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
