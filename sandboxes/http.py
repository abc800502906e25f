"""The HTTP plumbing every sandbox vendor server shares (standard library only).

A sandbox (apps/vendors/<kind>/sandbox.py) is a fake vendor over real HTTP on
127.0.0.1. What differs between vendors is their routes, rules and data; what
is the same lives here:

- ``Reply``: what a route returns (status, body, headers) and how to misbehave
  (stall, reset, reset part-way through the body);
- ``Fault``: one queued fault-injection record, ``check_fault`` to validate
  an inject() call, ``SandboxBase._next_fault`` to consume one, and the fault
  replies every vendor shares (``stall_or_reset``, ``truncated``);
- ``SandboxServer`` / ``SandboxHandler``: a ThreadingHTTPServer whose handler
  threads are tracked so stop() can wait for them, and a handler that hands
  every request to ``sandbox._route`` and writes the Reply;
- ``SandboxBase``: start()/stop()/``with`` lifecycle, base_url and the request
  log;
- ``run_cli``: the foreground loop behind ``python -m apps.vendors.<kind>.sandbox``.

No Django import here, so a sandbox still runs as a plain ``python -m``.
"""
from __future__ import annotations

import json
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

MAX_BODY = 20 * 1024 * 1024


# --------------------------------------------------------------------------
# Replies and faults
# --------------------------------------------------------------------------


@dataclass
class Reply:
    """What the handler writes: status, body, headers, and how to misbehave."""

    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (fault "timeout")
    reset: bool = False  # drop the connection with RST instead of answering (fault "reset")
    reset_after_bytes: int | None = None  # send this much of the body, then RST (truncated mid_body_reset)


def json_reply(status: int, data, headers: dict | None = None, *, ensure_ascii: bool = False) -> Reply:
    """A JSON answer (UTF-8, non-ASCII kept unless ensure_ascii) with Content-Type application/json."""
    body = json.dumps(data, ensure_ascii=ensure_ascii).encode("utf-8")
    return Reply(status, body, {"Content-Type": "application/json", **(headers or {})})


def truncated(reply: Reply, *, mid_body_reset: bool = False, headers: dict | None = None) -> Reply:
    """The reply with its body cut in half (fault "truncated").

    The default answer is complete HTTP with a Content-Length matching the cut
    body (a client sees a body that is not JSON); mid_body_reset declares the
    full length, sends half and resets (a transport error mid-body). headers
    replaces the reply's headers when given.
    """
    cut = len(reply.body) // 2
    headers = reply.headers if headers is None else headers
    if mid_body_reset:
        return Reply(reply.status, reply.body, headers, reset_after_bytes=cut)
    return Reply(reply.status, reply.body[:cut], headers)


def stall_or_reset(name: str, params: dict, answer: Callable[[bool], Reply], deliver: bool, *,
                   seconds: float = 5) -> Reply | None:
    """The Reply for the faults every sandbox shares, or None for any other fault.

    "timeout": ``answer(deliver)`` (the request's effect happens only when
    deliver) stalled params["seconds"] (default `seconds`); "reset": the
    effect happens when deliver, then the connection is reset.
    """
    if name == "timeout":
        reply = answer(deliver)
        reply.delay = float(params.get("seconds", seconds))
        return reply
    if name == "reset":
        if deliver:
            answer(True)
        return Reply(0, reset=True)
    return None


def control_body(body: bytes) -> dict:
    """A /_sandbox control request's JSON object ({} for an empty body); ValueError otherwise."""
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"the body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


@dataclass
class Fault:
    """One injected fault: taken by the next `remaining` requests to `path`."""

    name: str
    path: str
    remaining: int
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"fault": self.name, "path": self.path, "times": self.remaining, **self.params}


def check_fault(name: str, times, params: dict, *, faults, fault_params: dict,
                path: str | None = None, paths=None) -> None:
    """ValueError unless `name` is one of `faults`, `path` one of `paths` (when
    given), `times` a positive integer and every parameter one `fault_params`
    allows for that fault."""
    if name not in faults:
        raise ValueError(f"unknown fault {name!r}; one of {', '.join(faults)}")
    if paths is not None and path not in paths:
        raise ValueError(f"unknown fault path {path!r}; one of {', '.join(paths)}")
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ValueError("times must be a positive integer")
    unknown = set(params) - fault_params.get(name, set())
    if unknown:
        raise ValueError(f"fault {name!r} takes no parameter {', '.join(sorted(unknown))}")


# --------------------------------------------------------------------------
# Server and handler
# --------------------------------------------------------------------------


class SandboxServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its sandbox and tracks its handler threads."""

    # Handler threads are daemons (a forgotten sandbox never blocks interpreter
    # exit), which ThreadingMixIn does not join; they are tracked here so
    # stop() can wait for them.
    daemon_threads = True

    def __init__(self, address, handler, sandbox: SandboxBase):
        self.sandbox = sandbox
        self._handlers: set[threading.Thread] = set()
        self._handlers_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        thread = threading.Thread(target=self._run_handler, args=(request, client_address),
                                  name=f"{self.sandbox.log_name}-{self.server_address[1]}-handler", daemon=True)
        with self._handlers_lock:
            self._handlers.add(thread)
        thread.start()

    def _run_handler(self, request, client_address):
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._handlers_lock:
                self._handlers.discard(threading.current_thread())

    def join_handlers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._handlers_lock:
            handlers = list(self._handlers)
        for thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can
        # stall on machines without DNS; loopback needs none.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class SandboxHandler(BaseHTTPRequestHandler):
    """Reads the body, asks ``sandbox._route(method, target, headers, body)``
    for a Reply, records the request with ``sandbox._record_request`` and
    writes the Reply, stalling, resetting or cutting it as it says."""

    server_version = "Sandbox/1.0"
    sys_version = ""
    # HTTP/1.0: one request per connection, so no idle keep-alive connection
    # can hold stop() up.
    protocol_version = "HTTP/1.0"
    timeout = 5  # a client that connects and sends nothing cannot hold a thread for long

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_OPTIONS(self):
        self._handle("OPTIONS")

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass  # SandboxBase._record_request keeps (and optionally prints) the request log

    def _handle(self, method: str) -> None:
        sandbox: SandboxBase = self.server.sandbox
        try:
            body, error = self._read_body(sandbox)
            reply = error or sandbox._route(method, self.path, self.headers, body)
        except Exception:  # a sandbox bug must show up as a 500, not a hung client
            traceback.print_exc()
            reply = sandbox._error_reply(500, sandbox.SERVER_ERROR_TEXT)
        if reply.delay:
            sandbox._stopping.wait(reply.delay)
        if reply.reset:
            sandbox._record_request(method, self.path, 0)
            self._reset()
            return
        sandbox._record_request(method, self.path, reply.status)
        try:
            self._send(method, reply)
        except OSError:
            pass  # the client gave up (e.g. timed out during a "timeout" fault)

    def _read_body(self, sandbox: SandboxBase) -> tuple[bytes, Reply | None]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return b"", sandbox._error_reply(
                411, "Send a Content-Length; chunked bodies are not supported by the sandbox.")
        length = self.headers.get("Content-Length")
        if length is None:
            return b"", None
        if not length.strip().isdigit():
            return b"", sandbox._error_reply(400, sandbox.BAD_HEADER_TEXT)
        if int(length) > MAX_BODY:
            return b"", sandbox._error_reply(413, "Request body too large.")
        return self.rfile.read(int(length)), None

    def _send(self, method: str, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if method == "HEAD" or reply.status == 204:
            return
        if reply.reset_after_bytes is not None:
            self.wfile.write(reply.body[:reply.reset_after_bytes])
            self.wfile.flush()
            time.sleep(0.05)  # let the partial body reach the client before the RST
            self._reset()
            return
        self.wfile.write(reply.body)

    def _reset(self) -> None:
        # SO_LINGER on with a zero timeout: close() sends RST, not FIN, so the
        # client sees ECONNRESET, as when a load balancer drops the connection.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # the makefile() reference would otherwise delay the real close
            self.connection.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------


class SandboxBase:
    """start()/stop()/``with`` lifecycle, base_url, request log and fault queue.

    A subclass calls ``_init_sandbox(port=, prefix=, verbose=, lock=)`` from
    its __init__, sets ``log_name`` (thread names, verbose log lines) and
    ``server_version`` (the Server: header), and implements ``_route(method, target, headers,
    body) -> Reply``. It may override ``_error_reply`` (the body of the 500 /
    411 / 413 / 400 answers the handler makes itself) and the texts below.
    """

    log_name = "sandbox"
    server_version = "Sandbox/1.0"
    handler_class: type[SandboxHandler] = SandboxHandler
    SERVER_ERROR_TEXT = "Internal Server Error - Try again if you like"
    BAD_HEADER_TEXT = "Invalid request header."

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The Server: header names the vendor's sandbox (e.g. CatSandbox/1.0).
        if cls.handler_class.server_version != cls.server_version:
            cls.handler_class = type(f"{cls.__name__}Handler", (cls.handler_class,),
                                     {"server_version": cls.server_version, "__module__": cls.__module__})

    def _init_sandbox(self, *, port: int, prefix: str, verbose: bool, lock=None) -> None:
        self.port = port
        self.prefix = prefix
        self.verbose = verbose
        self.requests: list[tuple[str, str, int]] = []  # (method, path+query, status); 0 = connection reset
        self._lock = lock if lock is not None else threading.Lock()
        self._stopping = threading.Event()
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self._faults: list[Fault] = []

    def start(self):
        """Bind 127.0.0.1:port (0 = a free port) and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._stopping.clear()
        self._server = SandboxServer(("127.0.0.1", self.port), self.handler_class, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.log_name}-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a "timeout" fault
        server.shutdown()  # no new connections are accepted after this returns
        server.server_close()
        server.join_handlers(timeout=10)  # a handler blocked on a silent client ends by its socket timeout
        if thread is not None:
            thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self):
        return self if self._server is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port><prefix>: the account's base_url in LeadHub."""
        if not self.port:
            raise RuntimeError("start() the sandbox first: the port is chosen when it binds")
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def _record_request(self, method: str, target: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, target, status))
        if self.verbose:
            print(f"{self.log_name} {method} {target} -> {status or 'RESET'}", file=sys.stderr, flush=True)

    def _error_reply(self, status: int, text: str) -> Reply:
        return json_reply(status, {"message": text})

    def _next_fault(self, match: Callable[[Fault], bool]) -> Fault | None:
        """The oldest queued fault `match` accepts, consumed once; None if none."""
        with self._lock:
            fault = next((f for f in self._faults if match(f)), None)
            if fault is not None:
                self._consume(fault)
            return fault

    def _consume(self, fault: Fault) -> None:
        """Use `fault` up once (caller holds the lock)."""
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._faults.remove(fault)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def run_cli(sandbox: SandboxBase, banner: Callable[[], str] | str, *, name: str,
            setup: Callable[[], None] | None = None) -> int:
    """Start `sandbox`, run `setup`, print the banner and serve until SIGINT/SIGTERM.

    banner is a string or a callable (evaluated after setup, so it can show
    what setup created); "<name> sandbox stopped" is printed at the end.
    """
    # A plain flag, not a threading.Event: Event.set() from a signal handler can
    # deadlock on the lock that the interrupted Event.wait() holds in this thread.
    stopped: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _frame: stopped.append(signum))
    sandbox.start()
    try:
        if setup is not None:
            setup()
        print(banner() if callable(banner) else banner, flush=True)
        while not stopped:
            time.sleep(0.2)  # the signal handler runs between sleeps
    finally:
        sandbox.stop()
    print(f"{name} sandbox stopped", flush=True)
    return 0
