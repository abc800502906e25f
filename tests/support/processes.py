"""Helpers for tests that run LeadHub (manage.py) or a sandbox in a process of its own."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """An unused port on 127.0.0.1 (a tiny race until the server binds it; fine for tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def validate_payload(tmp_path, kind: str, content, filename: str = "payloads.json") -> subprocess.CompletedProcess:
    """Run ``manage.py validate_payload KIND FILE`` on `content` (a string written
    as is, anything else as JSON) with the test settings; stdout/stderr as text."""
    path = tmp_path / filename
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return subprocess.run([sys.executable, "manage.py", "validate_payload", kind, str(path)], cwd=ROOT,
                          capture_output=True, text=True,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "leadhub.settings_test"})


def manage_runner(tmp_path):
    """A ``manage(*args, wait=True)`` for worker tests: separate processes on one
    SQLite file database in tmp_path (migrated). manage(...) returns (stdout,
    stderr, returncode); manage(..., wait=False) the running Popen. Skips on the
    PostgreSQL pass, which shares one test database per run."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadhub.settings", "LEADHUB_VAR_DIR": str(tmp_path),
           "LOG_LEVEL": "WARNING", "LEADHUB_PUSH_ON_COMMIT": "0", "LEADHUB_RETRY_BASE_SECONDS": "0.01"}
    if env.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs on the SQLite pass (the PostgreSQL pass shares one test database per run)")
    database = tmp_path / "workers.sqlite3"
    env["DATABASE_URL"] = f"sqlite:///{database}"

    def manage(*args, wait=True):
        process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return process.communicate(timeout=120) + (process.returncode,) if wait else process

    copy_migrated_sqlite(database)
    return manage


_migrated_template: Path | None = None


def copy_migrated_sqlite(target: Path) -> None:
    """Write a freshly migrated SQLite database to `target`.

    `manage.py migrate` is run once per test session into a template (about ten
    seconds on a 2-core machine, paid by every worker test before); each test
    then gets its own copy through SQLite's backup API, which includes what is
    still in the template's write-ahead log."""
    import atexit
    import shutil
    import sqlite3
    import tempfile

    global _migrated_template
    if _migrated_template is None:
        var = Path(tempfile.mkdtemp(prefix="leadhub-migrated-"))
        atexit.register(shutil.rmtree, var, ignore_errors=True)
        template = var / "template.sqlite3"
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadhub.settings", "LEADHUB_VAR_DIR": str(var),
               "LOG_LEVEL": "WARNING", "DATABASE_URL": f"sqlite:///{template}"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        _migrated_template = template
    source = sqlite3.connect(_migrated_template)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
