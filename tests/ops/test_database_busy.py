"""A busy database is a "try again" answer, never a 500 or a traceback.

The web and command tests hold SQLite's real write lock from another connection
(BEGIN IMMEDIATE on the file database) while LeadHub runs in a process of its own
with a short busy timeout, as a long import or a stuck worker would.
"""
from __future__ import annotations

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
def locked_sqlite(tmp_path):
    """(manage, env, hold): a migrated file database, and hold() taking its write
    lock from another connection until the returned connection rolls back."""
    manage = manage_runner(tmp_path)
    database = tmp_path / "workers.sqlite3"

    def hold():
        connection = sqlite3.connect(database, isolation_level=None, timeout=5)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE django_migrations SET app = app WHERE id = 1")
        return connection

    return manage, database, hold


def test_a_command_under_a_held_lock_says_busy_in_one_line(locked_sqlite, monkeypatch):
    manage, database, hold = locked_sqlite
    monkeypatch.setenv("LEADHUB_SQLITE_BUSY_TIMEOUT", "0.3")
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
           "DATABASE_URL": f"sqlite:///{database}", "LEADHUB_SQLITE_BUSY_TIMEOUT": "0.3", "LOG_LEVEL": "CRITICAL",
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
                                    allow_redirects=False, timeout=30)
        finally:
            lock.rollback()
            lock.close()
        assert response.status_code == 503, response.text[:500]
        assert response.headers["Retry-After"] == "5"
        assert "LeadHub is busy" in response.text and "try again" in response.text
        assert "style=" not in response.text and "<script" not in response.text
        # With the lock gone the same login works.
        page = session.get(f"{base}/admin/login/", timeout=5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = session.post(f"{base}/admin/login/", data={**form, "csrfmiddlewaretoken": token},
                                headers={"Referer": f"{base}/admin/login/"}, allow_redirects=False, timeout=30)
        assert response.status_code == 302, response.text[:500]
    finally:
        server.terminate()
        server.wait(timeout=10)
