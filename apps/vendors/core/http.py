"""The one way LeadHub talks HTTP to a vendor.

Every call has a timeout; transport failures become VendorError(permanent=False)
so callers treat them alike; each call is logged with the vendor, the account
and the run, and never with credentials (headers and bodies are not logged).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3
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

    def request(self, method: str, url: str, *, deadline: float | None = None, max_body: int | None = None,
                **kwargs) -> RawResponse:
        """One call. `deadline` (seconds, wall clock from the start): the body is
        read in chunks and the call ends at the deadline with a transient
        VendorError, however the other side trickles its answer (the read
        timeout alone is per socket read). `max_body`: keep at most this many
        bytes of the body and stop reading (the connection is closed, not reused)."""
        parts = urlsplit(url)
        described = f"{method} {parts.path}" + (f"?{parts.query}" if parts.query else "")
        started = time.monotonic()
        response = None
        try:
            # stream=True, then read: the status line is known even when the body
            # is then cut (received_status), and a reset mid-body is still a
            # transport error.
            response = self.session.request(method, url, timeout=self.timeout, stream=True, **kwargs)
            try:
                if deadline is None and max_body is None:
                    body = response.content  # fully read: the connection goes back to the pool
                else:
                    body = _read_bounded(response, started, deadline, max_body)
            except BaseException:
                response.close()
                raise
        except _DeadlinePassed:
            self._log(described, "deadline", started)
            raise VendorError(f"{described}: no answer within {deadline:g}s (the whole answer took longer)",
                              permanent=False, reached=True, received_status=_status(response)) from None
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
    pass


def _read_bounded(response, started: float, deadline: float | None, max_body: int | None) -> bytes:
    """Read the body in chunks until it ends, `max_body` bytes are kept (the rest
    is not read; the connection is closed) or `deadline` seconds since `started`
    passed (_DeadlinePassed). Before each read the socket's timeout is cut to the
    time left, so one slow read cannot carry the call past the deadline."""
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
    # Byte by byte: urllib3 waits for a whole chunk, so a larger one would let a
    # trickling answer through; the reader is buffered and the body kept is small.
    iterator = response.iter_content(chunk_size=1)
    while True:
        if deadline is not None:
            left = deadline - (time.monotonic() - started)
            if left <= 0:
                raise _DeadlinePassed()
            _cut_socket_timeout(response, left)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except requests.ConnectionError:
            if deadline is not None and time.monotonic() - started >= deadline:
                raise _DeadlinePassed() from None
            raise
        if chunk:
            yield chunk


def _cut_socket_timeout(response, seconds: float) -> None:
    """Best effort (urllib3's connection of a streamed response): a socket read
    waits at most `seconds`."""
    sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


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
