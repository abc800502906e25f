"""/healthz for load balancers and /metrics for graphs: what they say, to whom."""
import json
import logging
from datetime import timedelta

from django.utils import timezone

from apps.leads import services
from apps.leads.models import Lead
from apps.sync import engine, ops
from apps.sync.models import AccountSyncState, OutboxItem
from tests.conftest import make_cat_account

TOKEN = "metrics-token-0123456789"


def test_healthz_is_ok_without_login_and_names_no_account(client, dealer_a):
    account = make_cat_account(dealer_a)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "sync": "stale"}}
    assert account.name not in response.content.decode()  # the details are for IT only


def test_healthz_details_go_to_superusers_and_the_token(client, root, dealer_a, settings):
    settings.LEADHUB_METRICS_TOKEN = TOKEN
    account = make_cat_account(dealer_a)
    AccountSyncState.objects.create(account=account, last_pull_ok_at=timezone.now() - timedelta(minutes=5))
    for kwargs in ({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, {}):
        if not kwargs:
            client.force_login(root)
        [detail] = client.get("/healthz", **kwargs).json()["accounts"]
        assert detail["account"] == account.name and detail["stale"] is False and 250 < detail["age_seconds"] < 350
    client.logout()
    assert "accounts" not in client.get("/healthz", HTTP_AUTHORIZATION="Bearer wrong").json()


def test_a_pull_older_than_its_allowance_is_stale_but_the_site_stays_up(client, dealer_a, settings):
    settings.LEADHUB_SYNC_STALE_FACTOR = 3
    account = make_cat_account(dealer_a, pull_interval_minutes=15)
    AccountSyncState.objects.create(account=account, last_pull_ok_at=timezone.now() - timedelta(minutes=46))
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["checks"]["sync"] == "stale"
    AccountSyncState.objects.update(last_pull_ok_at=timezone.now() - timedelta(minutes=44))
    assert client.get("/healthz").json()["checks"]["sync"] == "ok"


def test_healthz_is_503_when_the_database_or_broker_is_unreachable(client, db, monkeypatch, settings):
    monkeypatch.setattr(ops, "check_database", lambda: "OperationalError")
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["checks"]["database"] == "unavailable"
    monkeypatch.undo()
    # A Redis broker nobody listens on (a port just freed).
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.Q_REDIS_URL = f"redis://127.0.0.1:{port}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "unavailable", "sync": "ok"}
    assert str(port) not in response.content.decode()


def test_metrics_are_off_without_a_token_and_need_it_when_on(client, root, settings):
    settings.LEADHUB_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.LEADHUB_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    client.force_login(root)  # a login is not the token
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 401


def sample(text, name, **labels):
    """The value of one sample in Prometheus text format."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{text}")


def test_metrics_count_pulls_pushes_and_the_oldest_unpushed_change(client, sandbox, cat_account, cat_mapped, alice,
                                                                    settings):
    settings.LEADHUB_METRICS_TOKEN = TOKEN
    sandbox.generate_leads(30, dealer_code="A100")
    engine.pull(cat_account)
    leads = list(Lead.objects.order_by("id")[:3])
    for lead in leads:
        assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice,
                                           updates={"customer_contacted": True}).ok
    OutboxItem.objects.filter(lead=leads[2]).update(created_at=timezone.now() - timedelta(minutes=10))
    bad = OutboxItem.objects.get(lead=leads[1])
    bad.payload = {**bad.payload, "rating": "low"}  # a value Cat refuses
    bad.save()
    engine.push(cat_account)
    OutboxItem.objects.filter(lead=leads[2]).update(state="pending")  # as if it still waited
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert sample(text, "leadhub_leads_pulled_total", account="a100-cat", kind="pull") == 30
    assert sample(text, "leadhub_outbox_items", account="a100-cat", state="sent") == 1
    assert sample(text, "leadhub_outbox_items", account="a100-cat", state="failed") == 1
    assert 590 < sample(text, "leadhub_outbox_oldest_unpushed_age_seconds", account="a100-cat") < 700
    assert sample(text, "leadhub_sync_runs_total", account="a100-cat", kind="pull", state="ok") == 1
    assert sample(text, "leadhub_sync_last_success_age_seconds", account="a100-cat", kind="pull") < 60
    assert sample(text, "leadhub_task_queue_depth") >= 0
    assert "lh-secret" not in text


def _root_handler():
    return next(h for h in logging.getLogger().handlers
                if any(type(f).__name__ == "SyncContextFilter" for f in h.filters))


def test_every_sync_log_line_carries_the_account_and_the_run(sandbox, cat_account):
    import io

    handler, stream = _root_handler(), io.StringIO()
    old_stream, old_level = handler.setStream(stream), logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    try:
        sandbox.generate_leads(5, dealer_code="A100")
        engine.pull(cat_account)
        logging.getLogger("leadhub.sync").info("after the run")
    finally:
        handler.setStream(old_stream)
        logging.getLogger().setLevel(old_level)
    run = cat_account.sync_runs.get(kind="pull")
    lines = stream.getvalue().splitlines()
    sync_lines = [line for line in lines if " leadhub.sync" in line or " leadhub.vendors" in line]
    assert len(sync_lines) >= 3
    assert all(f"[account=a100-cat run={run.pk}]" in line for line in sync_lines[:-1]), sync_lines
    assert "[account=" not in sync_lines[-1]  # the context ends with the run


def test_json_log_lines_hold_the_account_and_run_as_fields(settings):
    import io
    from apps.core import runcontext
    from pythonjsonlogger.json import JsonFormatter

    spec = {k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(**spec))
    handler.addFilter(runcontext.SyncContextFilter())
    logger = logging.getLogger("leadhub.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        account = type("A", (), {"name": "a100-cat", "vendor": "cat"})()
        run = type("R", (), {"pk": 42})()

        @runcontext.scoped
        def work():
            runcontext.bind(account, run)
            logger.warning("page stored")

        work()
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["account"], inside["vendor"], inside["run_id"], inside["message"]) == ("a100-cat", "cat", 42,
                                                                                        "page stored")
    assert inside["level"] == "WARNING" and inside["logger"] == "leadhub.test.json" and "time" in inside
    assert outside["account"] is None and outside["run_id"] is None


def test_health_and_metrics_answer_plain_http_when_https_is_enforced(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/admin/login/").status_code == 301  # everything else goes to https
    assert client.get("/healthz").status_code == 200
    settings.LEADHUB_METRICS_TOKEN = TOKEN
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
