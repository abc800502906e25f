"""A small production on one machine, for the scale-out test: a real Redis,
gunicorn web processes and qcluster workers sharing the suite's PostgreSQL
database, and one vendor sandbox process per account.

Accounts are described by AccountSpec, so another vendor (Capillary) joins the
test by adding a spec: how to start its sandbox, how to create its account,
how to read from the sandbox what it delivered and what it accepted.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """redis-server on a free loopback port, no persistence, in a temp directory."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, timeout=15, what="redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class AccountSpec:
    """One vendor account of the test, with its own sandbox process."""

    name: str
    vendor: str
    dealer_code: str
    leads: int
    sandbox_cmd: Callable[[int], list[str]]  # port -> command line
    account_args: Callable[[str], list[str]]  # base URL -> `vendoraccount add` arguments
    base_path: str  # path prefix of the sandbox's base URL
    delivered: Callable[[dict], list[str] | None]  # sandbox state -> lead ids it handed out (None: not told)
    accepted: Callable[[dict], dict[str, int]]  # sandbox state -> vendor lead id -> updates accepted
    pending: Callable[[dict], int] = lambda state: 0  # leads the vendor still holds back
    slow_pages: Callable[[str, int], None] = lambda base, n: None  # make the next n pages slow
    stall_push: Callable[[str, float], None] = lambda base, seconds: None  # next push hangs, records nothing
    prepare_dealer: Callable[[object], None] = lambda dealer: None  # the dealer's mappings its reports need
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    def start(self):
        self.port = free_port()
        self.process = subprocess.Popen(self.sandbox_cmd(self.port), cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.process.stdout.readline()  # its URLs: it listens

    def state(self) -> dict:
        return requests.get(f"{self.base_url}/_sandbox/state", timeout=10).json()

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)


def cat_spec(name: str, dealer_code: str, leads: int) -> AccountSpec:
    secret = f"{name}-secret"

    def slow(base: str, pages: int):
        # Each of the next pages answers after 1 s (and is delivered): pulls last
        # long enough to overlap and to be killed in the middle.
        requests.post(f"{base}/_sandbox/faults", json={"fault": "timeout", "seconds": 1, "deliver": True,
                                                       "path": "leads", "times": pages}, timeout=5)

    def stall(base: str, seconds: float):
        # The next POST of updates hangs and records nothing (as if lost on the way).
        requests.post(f"{base}/_sandbox/faults", json={"fault": "timeout", "seconds": seconds, "deliver": False,
                                                       "path": "post"}, timeout=5)

    return AccountSpec(
        name=name, vendor="cat", dealer_code=dealer_code, leads=leads, base_path="/cat",
        sandbox_cmd=lambda port: [sys.executable, "-m", "sandboxes.cat", "--port", str(port),
                                  "--generate", str(leads), "--dealer-code", dealer_code,
                                  "--client-id", f"{name}-client", "--client-secret", secret],
        account_args=lambda base: ["--token-url", base + "/as/token.oauth2", "--set", f"client_id={name}-client",
                                   "--set", f"client_secret={secret}"],
        delivered=lambda state: list(state["delivered"]),
        accepted=lambda state: dict(state["accepted"]),
        pending=lambda state: state["pending"],
        slow_pages=slow, stall_push=stall)


def capillary_spec(name: str, dealer_code: str, leads: int) -> AccountSpec:
    """Capillary LMS: a search, not a destructive read (its sandbox says how many
    leads it holds). Accepting a lead sends PUT /leads/{id}/status (OPEN, with the
    account's default reason id), so the dealer maps its statuses first."""

    def map_statuses(dealer):
        from apps.leads.models import StatusMapping

        for status, value in (("new", "OPEN"), ("accepted", "OPEN"), ("on_hold", "ON_HOLD"), ("rejected", "LOST"),
                              ("disqualified", "LOST"), ("closed_won", "WON"), ("closed_lost", "LOST"),
                              ("closed_no_deal", "DELETED")):
            StatusMapping.objects.create(dealer=dealer, status=status, vendor="capillary", vendor_value=value)

    return AccountSpec(
        name=name, vendor="capillary", dealer_code=dealer_code, leads=leads, base_path="/capillary",
        sandbox_cmd=lambda port: [sys.executable, "-m", "sandboxes.capillary", "--port", str(port),
                                  "--generate", str(leads), "--search-delay", "0.3",
                                  "--username", f"{name}-user", "--password", f"{name}-pass"],
        account_args=lambda base: ["--set", f"username={name}-user", "--set", f"password={name}-pass",
                                   "--set", "default_reason_id=1"],
        delivered=lambda state: None, accepted=lambda state: dict(state["status_updates"]),
        prepare_dealer=map_statuses)


@dataclass
class Cluster:
    """Web and worker processes of one LeadHub installation."""

    env: dict
    workdir: Path
    web: list = field(default_factory=list)  # (port, Popen)
    workers: list = field(default_factory=list)  # Popen, each the leader of its process group

    def manage(self, *args, timeout=120) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stderr[-3000:]}"
        return done.stdout

    def _log(self, name):
        return open(self.workdir / f"{name}.log", "w")

    def start_web(self, count: int):
        for n in range(count):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "leadhub.wsgi:application", "--bind", f"127.0.0.1:{port}",
                 "--workers", "1", "--threads", "4", "--timeout", "60"],
                cwd=ROOT, env=self.env, stdout=self._log(f"web{n}"), stderr=subprocess.STDOUT, start_new_session=True)
            self.web.append((port, process))

    def start_workers(self, count: int):
        for n in range(count):
            self.workers.append(subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=self.env, stdout=self._log(f"worker{n}"),
                stderr=subprocess.STDOUT, start_new_session=True))

    def wait_web(self):
        for port, process in self.web:
            wait_for(lambda: _healthy(port, process), timeout=60, what=f"gunicorn on {port}")

    def kill_worker_running(self, pid: int) -> subprocess.Popen:
        """SIGKILL the whole qcluster (its process group) whose process `pid` is."""
        group = os.getpgid(pid)
        victim = next(w for w in self.workers if w.pid == group)
        os.killpg(group, signal.SIGKILL)
        victim.wait(timeout=10)
        return victim

    def stop(self):
        for process in [p for _, p in self.web] + self.workers:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in [p for _, p in self.web] + self.workers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.workdir.glob("*.log")))



def _healthy(port, process) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"gunicorn on {port} exited with {process.returncode}")
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def database_url_for(settings_dict: dict) -> str:
    """The URL of the suite's test database (the processes share it)."""
    base = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(base._replace(path="/" + settings_dict["NAME"]))


def queue_tasks(cluster: Cluster, calls: list[tuple[str, int]]):
    """Put tasks on the cluster's broker (Redis), as the scheduler would."""
    code = ("from django_q.tasks import async_task\n"
            f"for func, arg in {json.dumps(calls)}:\n"
            "    async_task(func, arg)\n")
    cluster.manage("shell", "--no-imports", "-c", code)
