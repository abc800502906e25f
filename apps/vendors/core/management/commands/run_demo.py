"""Start LeadHub for trying it: the web server, a django-q2 worker and the
sandbox vendors (fake vendor servers on 127.0.0.1 that the demo accounts use).

`make run` calls this after migrating and seeding. It prints the URL and the
demo login once the server answers, and stops every process it started on
Ctrl-C (or SIGTERM); if one process dies, it stops the others and exits 1.
"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

from django.conf import settings

from apps.core.commands import LeadHubCommand
from apps.vendors.core.registry import ADAPTERS, vendor_module

# The sandbox vendors the demo accounts of seed_demo point at: what each vendor's
# demo.py declares (name -> (port, python arguments)).
SANDBOXES = {sandbox.name: (sandbox.port, sandbox.argv)
             for sandbox in (vendor_module(kind, "demo").SANDBOX for kind in ADAPTERS)}


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def _wait_listening(host: str, port: int, process, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if not _port_free(host, port):
            return True
        time.sleep(0.2)
    return False


class Command(LeadHubCommand):
    help = "Run the web server and a background worker together until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="Do not start the django-q2 worker.")
        parser.add_argument("--no-sandboxes", action="store_true", help="Do not start the sandbox vendors.")

    def handle(self, *args, host, port, no_worker, no_sandboxes, **options):
        if not _port_free(host, port):
            raise self.usage_error(f"{host}:{port} is already in use; stop what runs there or pass --port.")
        sandboxes = {} if no_sandboxes else SANDBOXES
        for name, (sandbox_port, _) in sandboxes.items():
            if not _port_free("127.0.0.1", sandbox_port):
                raise self.usage_error(f"127.0.0.1:{sandbox_port} ({name}) is already in use; stop what runs there "
                                       "or pass --no-sandboxes.")
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        processes: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, (sandbox_port, argv) in sandboxes.items():
                processes[name] = subprocess.Popen([sys.executable, *argv], cwd=settings.BASE_DIR,
                                                   stdout=subprocess.DEVNULL)
                if not _wait_listening("127.0.0.1", sandbox_port, processes[name]):
                    self.stderr.write(f"{name} did not start.")
                    return self._shutdown(processes, 1)
            processes["web"] = subprocess.Popen([*manage, "runserver", f"{host}:{port}", "--noreload"])
            if not no_worker:
                processes["worker"] = subprocess.Popen([*manage, "qcluster"])
            if not _wait_listening(host, port, processes["web"]):
                self.stderr.write("The web server did not start; see the lines above.")
                return self._shutdown(processes, 1)
            self.stdout.write(self.style.SUCCESS(
                f"\nLeadHub is running: http://{host}:{port}/admin/\n"
                f"  log in as demo-staff (dealer staff), demo-admin (dealer admin) or admin (IT, superuser)\n"
                f"  password: {settings.LEADHUB_DEMO_PASSWORD}\n"
                + "".join(f"  {name}: http://127.0.0.1:{p}/ (the demo account demo-{name.split()[0].lower()} "
                          f"talks to it)\n" for name, (p, _) in sandboxes.items())
                + "  Ctrl-C stops the web server, the worker and the sandboxes.\n"))
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with status {process.returncode}; stopping.")
                        return self._shutdown(processes, 1)
                time.sleep(0.5)
            return self._shutdown(processes, 0)
        except BaseException:
            self._shutdown(processes, 1)
            raise

    def _shutdown(self, processes, status: int):
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.stdout.write("stopped.")
        if status:
            sys.exit(status)
