"""A busy database is a "try again" answer, never a 500 or a traceback.

The web and command tests hold SQLite's real write lock from another connection
(BEGIN IMMEDIATE on the file database) while LeadHub runs in a process of its own
with a short busy timeout, as a long import or a stuck worker would.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest
import requests
from django.db import OperationalError

from apps.core.busy import is_busy_error
from tests.conftest import PASSWORD
from tests.support.processes import ROOT, free_port, manage_runner


class FakePgError(Exception):
    def __init__(self, sqlstate):
        super().__init__(f"pg error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("exc, busy", [
    (OperationalError("database is locked"), True),
    (OperationalError("database table is locked: leads_lead"), True),
    (OperationalError("no such table: leads_lead"), False),
    (ValueError("database is locked"), False),  # only the database's own errors
    (FakePgError("55P03"), True),   # lock_not_available
    (FakePgError("40P01"), True),   # deadlock
    (FakePgError("40001"), True),   # serialization failure
    (FakePgError("53300"), True),   # too many connections
    (FakePgError("23505"), False),  # unique violation: a real error
])
def test_it_tells_busy_from_broken(exc, busy):
    assert is_busy_error(exc) is busy


def test_it_finds_the_busy_error_behind_a_wrapper():
    try:
        try:
            raise FakePgError("55P03")
        except FakePgError as inner:
            raise OperationalError("wrapped") from inner
    except OperationalError as outer:
        assert is_busy_error(outer)


@pytest.fixture
def locked_sqlite(tmp_path, monkeypatch):
    """(manage, database, hold): a migrated file database, and hold() taking its
    write lock from another connection until the returned connection rolls back.
    Commands (worker processes) wait 0.3 s for a lock, web processes 60 s: a
    process that took the wrong kind's wait fails its test."""
    monkeypatch.delenv("LEADHUB_SQLITE_BUSY_TIMEOUT", raising=False)
    monkeypatch.delenv("LEADHUB_PROCESS", raising=False)
    monkeypatch.setenv("LEADHUB_DB_WAIT_WORKER", "0.3")
    monkeypatch.setenv("LEADHUB_DB_WAIT_WEB", "60")
    manage = manage_runner(tmp_path)
    database = tmp_path / "workers.sqlite3"

    def hold():
        connection = sqlite3.connect(database, isolation_level=None, timeout=5)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE django_migrations SET app = app WHERE id = 1")
        return connection

    return manage, database, hold


def test_a_command_under_a_held_lock_says_busy_in_one_line(locked_sqlite):
    manage, database, hold = locked_sqlite
    lock = hold()
    try:
        stdout, stderr, code = manage("dealer", "add", "Z900", "--name", "Zed")
    finally:
        lock.rollback()
        lock.close()
    assert code == 1, stderr
    assert "Traceback" not in stderr
    assert "database is busy" in stderr and "Run the command again" in stderr
    assert len(stderr.strip().splitlines()) == 1
    # Nothing half-written, and the same command works once the lock is gone.
    stdout, stderr, code = manage("dealer", "add", "Z900", "--name", "Zed")
    assert code == 0, stderr


def test_a_login_under_a_held_lock_gets_the_busy_page_not_a_500(locked_sqlite, tmp_path):
    manage, database, hold = locked_sqlite
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadhub.settings_test", "LEADHUB_VAR_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{database}", "LOG_LEVEL": "CRITICAL",
           # runserver is a web process: it waits LEADHUB_DB_WAIT_WEB (a worker 60 s, past the request's timeout).
           "LEADHUB_DB_WAIT_WEB": "0.3", "LEADHUB_DB_WAIT_WORKER": "60",
           "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0",
           "DJANGO_SUPERUSER_PASSWORD": "busy-test-password-1"}
    subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "it",
                    "--email", "it@example.com"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", "--nothreading",
                               f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        deadline = time.monotonic() + 30
        while True:
            try:
                page = session.get(f"{base}/admin/login/", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        form = {"csrfmiddlewaretoken": token, "username": "it", "password": "busy-test-password-1",
                "next": "/admin/"}
        lock = hold()
        try:
            response = session.post(f"{base}/admin/login/", data=form, headers={"Referer": f"{base}/admin/login/"},
                                    allow_redirects=False, timeout=20)
        finally:
            lock.rollback()
            lock.close()
        assert response.status_code == 503, response.text[:500]
        assert response.headers["Retry-After"] == "5"
        assert "LeadHub is busy" in response.text and "try again" in response.text
        assert '<div id="site-name"><a href="/admin/">LeadHub</a></div>' in response.text  # the admin's look
        assert "style=" not in response.text and not re.search(r"<script(?![^>]*\bsrc=)", response.text)
        # With the lock gone the same login works.
        page = session.get(f"{base}/admin/login/", timeout=5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = session.post(f"{base}/admin/login/", data={**form, "csrfmiddlewaretoken": token},
                                headers={"Referer": f"{base}/admin/login/"}, allow_redirects=False, timeout=30)
        assert response.status_code == 302, response.text[:500]
    finally:
        server.terminate()
        server.wait(timeout=10)


def _settings_as(argv: list[str], extra_env: dict, *, via_wsgi: bool = False) -> dict:
    """The database settings a process started as `argv` gets (read in a fresh
    interpreter, as that process would)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("LEADHUB_PROCESS", "LEADHUB_SQLITE_BUSY_TIMEOUT", "LEADHUB_DB_WAIT_WEB",
                          "LEADHUB_DB_WAIT_WORKER", "DATABASE_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": "leadhub.settings", **extra_env})
    load = "import leadhub.wsgi" if via_wsgi else "import django; django.setup()"
    code = (f"import json, sys; sys.argv = {argv!r}; {load}; from django.conf import settings; "
            "print(json.dumps({'process': settings.LEADHUB_PROCESS, "
            "'options': settings.DATABASES['default'].get('OPTIONS', {})}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_gives_web_processes_a_short_lock_wait_and_workers_a_long_one(tmp_path):
    sqlite = {"DATABASE_URL": f"sqlite:///{tmp_path / 'kinds.sqlite3'}", "LEADHUB_VAR_DIR": str(tmp_path)}
    web = _settings_as(["manage.py", "runserver"], sqlite)
    assert (web["process"], web["options"]["timeout"]) == ("web", 5.0)
    gunicorn = _settings_as(["gunicorn"], sqlite, via_wsgi=True)
    assert (gunicorn["process"], gunicorn["options"]["timeout"]) == ("web", 5.0)
    worker = _settings_as(["manage.py", "qcluster"], sqlite)
    assert (worker["process"], worker["options"]["timeout"]) == ("worker", 30.0)
    command = _settings_as(["manage.py", "import_leads", "x.csv"], {**sqlite, "LEADHUB_DB_WAIT_WORKER": "45"})
    assert command["options"]["timeout"] == 45.0
    # PostgreSQL waits for a lock without limit unless told: a web process gets
    # lock_timeout (its "busy" error is then SQLSTATE 55P03); workers keep the default.
    postgres = {"DATABASE_URL": "postgres://leadhub@127.0.0.1:9/leadhub?options=-c%20statement_timeout%3D60000",
                "LEADHUB_VAR_DIR": str(tmp_path)}
    web = _settings_as(["manage.py", "runserver"], {**postgres, "LEADHUB_DB_WAIT_WEB": "2.5"})
    assert web["options"]["options"] == "-c statement_timeout=60000 -c jit=off -c lock_timeout=2500"
    worker = _settings_as(["manage.py", "qcluster"], postgres)
    assert "lock_timeout" not in worker["options"].get("options", "")
    # Every process compiles no query (JIT), unless DATABASE_JIT says so.
    assert worker["options"]["options"] == "-c statement_timeout=60000 -c jit=off"
    assert _settings_as(["manage.py", "qcluster"], {**postgres, "DATABASE_JIT": "1"})["options"]["options"] == (
        "-c statement_timeout=60000")


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_lock_timeout_in_a_page_gets_the_busy_page(client, alice):
    """On PostgreSQL: another connection holds the row lock of the user logging
    in (the login writes last_login), the web connection's lock_timeout expires
    (SQLSTATE 55P03, as a web process's settings make it) -> the 503 page."""
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's lock_timeout; the SQLite pass holds SQLite's lock above")
    params = connection.get_connection_params()
    params.pop("cursor_factory", None), params.pop("context", None), params.pop("prepare_threshold", None)
    holder = psycopg.connect(**params)
    try:
        holder.execute("SELECT id FROM auth_user WHERE id = %s FOR UPDATE", [alice.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 300")
        page = client.post("/admin/login/", {"username": "alice", "password": PASSWORD, "next": "/admin/"})
    finally:
        holder.rollback()
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert page.status_code == 503, page.content[:300]
    assert page["Retry-After"] == "5" and b"LeadHub is busy" in page.content


class BusyOnTheWayOut:
    """A middleware outermost of all whose write after the view fails with
    `error`, as SessionMiddleware saving a session into a locked database would."""

    error = OperationalError("database is locked")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        self.get_response(request)
        raise self.error


def test_a_busy_database_outside_the_view_is_the_busy_page_too(db, settings):
    from django.test import Client

    settings.MIDDLEWARE = [f"{__name__}.BusyOnTheWayOut", *settings.MIDDLEWARE]
    response = Client(raise_request_exception=False).get("/admin/login/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5" and b"LeadHub is busy" in response.content


def test_any_other_error_outside_the_view_stays_a_500(db, settings, monkeypatch):
    from django.test import Client

    settings.MIDDLEWARE = [f"{__name__}.BusyOnTheWayOut", *settings.MIDDLEWARE]
    monkeypatch.setattr(BusyOnTheWayOut, "error", OperationalError("no such table: leads_lead"))
    response = Client(raise_request_exception=False).get("/admin/login/")
    assert response.status_code == 500
