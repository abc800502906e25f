"""Start LeadHub for trying it: the web server and a django-q2 worker together.

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

    def handle(self, *args, host, port, no_worker, **options):
        if not _port_free(host, port):
            raise self.usage_error(f"{host}:{port} is already in use; stop what runs there or pass --port.")
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        processes: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
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
                f"  Ctrl-C stops the web server and the worker.\n"))
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
