"""The one way LeadHub talks HTTP to a vendor.

Every call has a timeout; transport failures become VendorError(permanent=False)
so callers treat them alike; each call is logged with the vendor, the account
and the run, and never with credentials (headers and bodies are not logged).
"""
from __future__ import annotations

import contextvars
import logging
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from django.conf import settings
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from apps.core.backoff import backoff_seconds

from .base import VendorError

log = logging.getLogger("leadhub.vendors.http")


@dataclass(frozen=True)
class RawResponse:
    """A vendor's answer, kept as bytes so nothing is lost before it is stored."""

    status_code: int
    body: bytes
    headers: dict
    request: str  # "GET /path?query" — never credentials

    def retry_after(self) -> float | None:
        value = self.headers.get("Retry-After") or self.headers.get("retry-after")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None  # an HTTP date: treat as unknown and use our own backoff


class VendorHTTP:
    def __init__(self, *, vendor: str, account: str, timeout: tuple[float, float] | None = None, run_id=None):
        self.vendor = vendor
        self.account = account
        self.run_id = run_id
        self.timeout = timeout or (settings.LEADHUB_HTTP_CONNECT_TIMEOUT, settings.LEADHUB_HTTP_READ_TIMEOUT)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "LeadHub/0.1"
        # Connections that a call's deadline watchdog can reach (_Watchdog); a call
        # without a deadline uses them exactly as requests' own.
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, _WatchedAdapter())

    def request(self, method: str, url: str, *, deadline: float | None = None, max_body: int | None = None,
                **kwargs) -> RawResponse:
        """One call. `deadline` (seconds, wall clock from the start): the whole
        exchange — connecting, sending, the status line, the headers and the
        body — ends by then with a transient VendorError "no answer within N s",
        however slowly the other side trickles any of it (the read timeout alone
        is per socket read); connecting alone still gives up after the connect
        timeout when that is shorter. `max_body`: keep at most this many bytes
        of the body and stop reading (the connection is closed, not reused)."""
        parts = urlsplit(url)
        described = f"{method} {parts.path}" + (f"?{parts.query}" if parts.query else "")
        started = time.monotonic()
        response = None
        timeout = self.timeout if deadline is None else (min(self.timeout[0], deadline), self.timeout[1])
        try:
            with _Watchdog(deadline) as watchdog:
                try:
                    # stream=True, then read: the status line is known even when the
                    # body is then cut (received_status), and a reset mid-body is
                    # still a transport error.
                    response = self.session.request(method, url, timeout=timeout, stream=True, **kwargs)
                    try:
                        if deadline is None and max_body is None:
                            body = response.content  # fully read: the connection goes back to the pool
                        else:
                            body = _read_bounded(response, started, deadline, max_body)
                    except BaseException:
                        response.close()
                        raise
                except requests.RequestException as exc:
                    if watchdog.fired:  # the error is the watchdog's shutdown of the socket
                        raise _DeadlinePassed(exc) from None
                    raise
            if watchdog.fired:
                # Cut at the deadline, an answer can look whole (http.client takes
                # the end of the stream for the end of the headers): not trusted.
                response.close()
                raise _DeadlinePassed()
        except _DeadlinePassed as passed:
            self._log(described, "deadline", started)
            raise VendorError(f"{described}: no answer within {deadline:g}s (the whole answer took longer)",
                              permanent=False, reached=passed.reached,
                              received_status=_status(response)) from None
        except requests.Timeout as exc:
            self._log(described, "timeout", started)
            raise VendorError(f"{described}: no answer within {self.timeout[1]:g}s ({exc.__class__.__name__})",
                              permanent=False, reached=not isinstance(exc, requests.ConnectTimeout),
                              received_status=_status(response)) from None
        except requests.ConnectionError as exc:
            self._log(described, "connection error", started)
            raise VendorError(f"{described}: connection failed or was reset ({_first_line(exc)})",
                              permanent=False, reached=not _never_connected(exc),
                              received_status=_status(response)) from None
        except requests.RequestException as exc:
            self._log(described, "request error", started)
            raise VendorError(f"{described}: {exc.__class__.__name__}: {_first_line(exc)}", permanent=False,
                              reached=True, received_status=_status(response)) from None
        self._log(described, response.status_code, started)
        return RawResponse(response.status_code, body, dict(response.headers), described)

    def _log(self, described, outcome, started):
        log.info("vendor=%s account=%s run=%s %s -> %s in %.0f ms", self.vendor, self.account, self.run_id,
                 described, outcome, (time.monotonic() - started) * 1000)

    def close(self):
        self.session.close()


class _DeadlinePassed(Exception):
    def __init__(self, cause: Exception | None = None):
        super().__init__()
        # Whether the other side may have received the request: not when the
        # deadline passed while connecting.
        self.reached = not (isinstance(cause, requests.ConnectTimeout)
                            or (isinstance(cause, requests.ConnectionError) and _never_connected(cause)))


# The watchdog of the call running in this thread (None: the call has no deadline).
_current_watchdog: contextvars.ContextVar[_Watchdog | None] = contextvars.ContextVar(
    "leadhub_http_watchdog", default=None)


class _Watchdog:
    """Ends a call at its deadline: a timer thread that, when the deadline passes,
    shuts down the socket of every connection the call used, so the read blocked
    on it returns at once, whatever part of the answer it was waiting for.

    Why a watchdog rather than cutting the socket's timeout to the time left
    before each read: the status line and the
    headers are read by http.client inside one call (getresponse), line by line,
    with no place between its reads to cut the timeout, so a receiver sending one
    byte a second would hold the call for as long as it liked. Shutting the
    socket down reaches every read, including those inside the libraries.

    One short-lived thread per call with a deadline, cancelled and joined when
    the call ends (nothing outlives the call). The socket is only shut down, never
    closed, from the timer thread: the calling thread still owns it, and closing
    happens there (urllib3 drops a connection that failed; VendorHTTP.request
    closes the response of a call cut at the deadline). The calling thread may
    close a socket while the timer is shutting the call's sockets down: a closed
    socket's shutdown fails with EBADF (ignored); the window in which its file
    descriptor could be reused by another socket of the process meanwhile is
    the few instructions between the two, at the very moment of the deadline.
    A deadline that passes just after the whole answer was read also counts as
    missed: the delivery is sent again, which its id makes harmless."""

    def __init__(self, seconds: float | None):
        """`seconds` None: no deadline, no thread; the watchdog never fires."""
        self.fired = False
        self._lock = threading.Lock()
        self._watched: list = []  # connections and sockets
        self._timer = None
        if seconds is not None:
            self._timer = threading.Timer(max(seconds, 0.0), self._fire)
            self._timer.daemon = True
            self._timer.name = "leadhub-http-deadline"

    def __enter__(self) -> _Watchdog:
        if self._timer is not None:
            self._token = _current_watchdog.set(self)
            self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()  # a shutdown in progress finishes before the call goes on
            _current_watchdog.reset(self._token)

    def watch(self, connection) -> None:
        """The call uses this connection: its socket is shut down at the deadline
        (at once when the deadline has passed already). The connection's socket
        is looked up then (it may not exist yet: a TLS handshake in progress) and
        the socket it has now is kept too (http.client hands the socket of an
        answer that ends the connection to the response and forgets it)."""
        with self._lock:
            for thing in (connection, getattr(connection, "sock", None)):
                if thing is not None and all(t is not thing for t in self._watched):
                    self._watched.append(thing)
            fired = self.fired
        if fired:
            self._shut_down_all()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
        self._shut_down_all()

    def _shut_down_all(self) -> None:
        with self._lock:
            watched = list(self._watched)
        for thing in watched:
            sock = thing if isinstance(thing, socket.socket) else getattr(thing, "sock", None)
            # TLS inside TLS (an HTTPS proxy) wraps the socket in urllib3's
            # SSLTransport, which is no socket: the one underneath is cut.
            sock = getattr(sock, "socket", sock)
            if isinstance(sock, socket.socket):
                try:
                    # The plain socket's shutdown, also for a TLS socket: ssl.SSLSocket's
                    # own would also drop its TLS state under the reading thread.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass  # closed or not connected meanwhile: nothing left to cut


def _watch(connection) -> None:
    watchdog = _current_watchdog.get()
    if watchdog is not None:
        watchdog.watch(connection)


class _Watched:
    """A urllib3 connection that tells the call's watchdog of itself: in connect()
    (a new connection, its TLS handshake included) and in request() (every
    request, also on a connection reused from the pool)."""

    def connect(self):
        _watch(self)
        super().connect()
        _watch(self)  # its socket now exists

    def request(self, *args, **kwargs):
        _watch(self)
        return super().request(*args, **kwargs)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through a proxy) a call's
    watchdog can reach."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def _read_bounded(response, started: float, deadline: float | None, max_body: int | None) -> bytes:
    """Read the body in chunks until it ends, `max_body` bytes are kept (the rest
    is not read; the connection is closed) or `deadline` seconds since `started`
    passed (_DeadlinePassed; a read blocked at the deadline is ended by the
    call's _Watchdog)."""
    chunks, size = [], 0
    for chunk in _chunks(response, started, deadline):
        chunks.append(chunk)
        size += len(chunk)
        if max_body is not None and size >= max_body:
            response.close()
            break
    body = b"".join(chunks)
    return body[:max_body] if max_body is not None else body


def _chunks(response, started, deadline):
    # Chunks of 1 KB: urllib3 waits for a whole chunk, but the watchdog ends that
    # wait at the deadline (the reader is buffered and the body kept is small).
    for chunk in response.iter_content(chunk_size=1024):
        if deadline is not None and time.monotonic() - started >= deadline:
            raise _DeadlinePassed()
        if chunk:
            yield chunk


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else exc.__class__.__name__


def _status(response) -> int | None:
    return response.status_code if response is not None else None


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when no connection was made (refused, unreachable host, DNS), so the
    vendor cannot have received the request."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def call_with_retries(fn, *args, on_transient=None, **kwargs):
    """Call a vendor function, retrying transient VendorErrors with backoff and
    jitter (Retry-After honoured), LEADHUB_RETRY_ATTEMPTS times in all. Cat:
    "Retry mechanism should make API call at least 5 times before failing".
    `on_transient(exc)` hears of every transient failure, including those a
    later attempt recovers from. The engine hands it to fetch_pages as `call`;
    the admin's and commands' one-off calls (Capillary's lists) use it too."""
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception()
        if on_transient is not None:
            on_transient(exc)
        return backoff_seconds(state.attempt_number, base=settings.LEADHUB_RETRY_BASE_SECONDS,
                               cap=settings.LEADHUB_RETRY_MAX_SECONDS,
                               retry_after=getattr(exc, "retry_after", None))

    for attempt in Retrying(retry=retry_if_exception(lambda e: isinstance(e, VendorError) and not e.permanent),
                            stop=stop_after_attempt(max(1, settings.LEADHUB_RETRY_ATTEMPTS)), wait=wait,
                            reraise=True):
        with attempt:
            return fn(*args, **kwargs)
