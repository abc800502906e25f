"""What operators and load balancers ask LeadHub: is it healthy (/healthz), and
the figures to graph (/metrics, Prometheus text format).

/healthz answers without a login and says only ok or not per check (database,
broker, sync): a load balancer takes a web process out of rotation on 503, which
happens only when the database or the task broker cannot be reached. A stale
vendor sync is reported ("sync": "stale") but keeps 200: a vendor outage must
not take the web site down. Superusers, or a request with the metrics token,
get the details: each account's last successful pull and its age.

/metrics is off (404) until LEADHUB_METRICS_TOKEN is set; then it needs
`Authorization: Bearer <token>`. Every figure is read from the database at
scrape time, so every web process answers the same and nothing is lost on a
restart.
"""
from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Sum
from django.http import Http404, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.brokers import get_broker
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from apps.vendors.core.models import VendorAccount

from .models import AccountSyncState, InboxPage, OutboxItem, OutboxState, SyncRun

log = logging.getLogger("leadhub.ops")
UNPUSHED = [OutboxState.PENDING, OutboxState.SENDING, OutboxState.BLOCKED]


def _token_ok(request) -> bool:
    token = settings.LEADHUB_METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def check_database() -> str | None:
    """None when the database answers, else a short reason (never a DSN)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure is "unavailable"
        return exc.__class__.__name__


def check_broker() -> str | None:
    """None when the task broker answers: Redis by PING (short timeouts), the
    ORM broker is the database itself."""
    if not settings.Q_REDIS_URL:
        return check_database()
    try:
        import redis  # optional (leadhub[redis]): only a Redis broker needs it, so imported when one is set

        client = redis.Redis.from_url(settings.Q_REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return None
    except Exception as exc:  # noqa: BLE001
        return exc.__class__.__name__


def sync_freshness(now=None) -> list[dict]:
    """Each enabled pulling account: its last successful pull and whether that is
    older than LEADHUB_SYNC_STALE_FACTOR times its pull interval."""
    now = now or timezone.now()
    states = {s.account_id: s for s in AccountSyncState.objects.all()}
    out = []
    for account in VendorAccount.objects.filter(enabled=True).order_by("name"):
        if not account.adapter_class.supports_pull:
            continue
        last = getattr(states.get(account.pk), "last_pull_ok_at", None)
        allowed = timedelta(minutes=account.pull_interval_minutes * settings.LEADHUB_SYNC_STALE_FACTOR)
        out.append({"account": account.name, "last_pull_ok_at": last.isoformat() if last else None,
                    "age_seconds": round((now - last).total_seconds()) if last else None,
                    "stale": last is None or now - last > allowed})
    return out


@never_cache
@require_GET
def healthz(request):
    problems = {"database": check_database(), "broker": check_broker()}
    checks = {name: ("ok" if problem is None else "unavailable") for name, problem in problems.items()}
    accounts = sync_freshness() if problems["database"] is None else []
    checks["sync"] = "stale" if any(a["stale"] for a in accounts) else "ok"
    healthy = all(problem is None for problem in problems.values())
    for name, problem in problems.items():
        if problem is not None:
            log.warning("health check: %s unavailable (%s)", name, problem)
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if request.user.is_authenticated and request.user.is_superuser or _token_ok(request):
        body["accounts"] = accounts
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def metrics(request):
    if not settings.LEADHUB_METRICS_TOKEN:
        raise Http404("metrics are off: set LEADHUB_METRICS_TOKEN")
    if not _token_ok(request):
        response = HttpResponse("a bearer token is required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="leadhub-metrics"'
        return response

    registry = CollectorRegistry(auto_describe=False)
    registry.register(LeadHubCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class LeadHubCollector:
    """Reads the figures from the database at each scrape (prometheus_client)."""

    def collect(self):

        now = timezone.now()
        names = dict(VendorAccount.objects.values_list("pk", "name"))

        created = CounterMetricFamily("leadhub_leads_pulled", "Leads created by vendor pulls and reconciliations "
                                      "(sum over the kept sync runs).", labels=["account", "kind"])
        for row in (SyncRun.objects.filter(kind__in=["pull", "historic"]).values("account_id", "kind")
                    .annotate(n=Sum("created")).order_by()):
            created.add_metric([names.get(row["account_id"], "?"), row["kind"]], row["n"] or 0)
        yield created

        runs = CounterMetricFamily("leadhub_sync_runs", "Sync runs by outcome.", labels=["account", "kind", "state"])
        for row in SyncRun.objects.values("account_id", "kind", "state").annotate(n=Count("id")).order_by():
            runs.add_metric([names.get(row["account_id"], "?"), row["kind"], row["state"]], row["n"])
        yield runs

        outbox = GaugeMetricFamily("leadhub_outbox_items", "Outbound vendor updates by state "
                                   "(sent = pushes accepted, failed = refused).", labels=["account", "state"])
        for row in OutboxItem.objects.values("account_id", "state").annotate(n=Count("id")).order_by():
            outbox.add_metric([names.get(row["account_id"], "?"), row["state"]], row["n"])
        yield outbox

        oldest = GaugeMetricFamily("leadhub_outbox_oldest_unpushed_age_seconds",
                                   "Age of the oldest change not yet accepted by the vendor (0: none).",
                                   labels=["account"])
        ages = dict(OutboxItem.objects.filter(state__in=UNPUSHED).values("account_id")
                    .annotate(first=Min("created_at")).values_list("account_id", "first").order_by())
        for account_id, name in names.items():
            first = ages.get(account_id)
            oldest.add_metric([name], (now - first).total_seconds() if first else 0.0)
        yield oldest

        last = GaugeMetricFamily("leadhub_sync_last_success_age_seconds",
                                 "Seconds since the last successful sync (absent: never).", labels=["account", "kind"])
        for state in AccountSyncState.objects.all():
            for kind in ("pull", "push", "historic"):
                stamp = getattr(state, f"last_{kind}_ok_at")
                if stamp:
                    last.add_metric([names.get(state.account_id, "?"), kind], (now - stamp).total_seconds())
        yield last

        pages = GaugeMetricFamily("leadhub_inbox_pages", "Stored vendor pages by state.", labels=["account", "state"])
        for row in InboxPage.objects.values("account_id", "state").annotate(n=Count("id")).order_by():
            pages.add_metric([names.get(row["account_id"], "?"), row["state"]], row["n"])
        yield pages

        depth = GaugeMetricFamily("leadhub_task_queue_depth", "Tasks waiting in the django-q2 broker (-1: unreachable).")
        try:

            depth.add_metric([], get_broker().queue_size() or 0)
        except Exception:  # noqa: BLE001 - a scrape never fails for the broker
            depth.add_metric([], -1)
        yield depth
