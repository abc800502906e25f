"""A local webhook receiver for the tests: a real HTTP server on 127.0.0.1 in a
thread that checks every delivery's signature (the documented
verify_signature) and answers with injected faults.

Faults are queued per request, in order: "500" (an error page), "410" (Gone),
"302" (a redirect elsewhere), "timeout" (stalls past the sender's deadline, then
answers 503), "trickle" (answers 200 with a body sent one byte every
`trickle_every` seconds), "trickle-head" (answers 200, its status line and
headers sent one byte every `trickle_every` seconds), "accept-stall" (processes the event, then stalls past
the deadline before answering 200: the event took effect, LeadHub sees a failed
attempt). With no fault queued it checks the signature (a bad one: 400, recorded
in `rejected`), answers 200 and counts the event in `accepted`.

Like the docs tell receivers to, it de-duplicates by the LeadHub-Delivery header:
`processed` counts each event id's effects (a repeat is acknowledged, not processed
again), `requests` every request. Exactly-once means processed == 1 per event
whatever the number of requests. `spans` holds each request's (delivery id,
start, end) to show that no delivery was being POSTed twice at the same time.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from apps.webhooks.signing import SignatureError, verify_signature


class Receiver:
    def __init__(self, secret: str = "", *, stall: float = 2.0):
        self.secret = secret
        self.stall = stall
        self.faults: list[str] = []
        self.requests: list[dict] = []  # every request: headers and body
        self.accepted: Counter = Counter()  # event id -> times answered 2xx
        self.processed: Counter = Counter()  # event id -> times it took effect (de-duplicated: at most 1)
        self.rejected: list[str] = []
        self.spans: list[tuple[str, float, float]] = []
        self.trickle_every = 0.3
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the standard library's name
                started = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    receiver._handle(self, body)
                finally:
                    with receiver._lock:
                        receiver.spans.append((self.headers.get("LeadHub-Delivery", ""), started,
                                               time.monotonic()))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, handler, body: bytes) -> None:
        headers = {key: value for key, value in handler.headers.items()}
        with self._lock:
            self.requests.append({"headers": headers, "body": body})
            fault = self.faults.pop(0) if self.faults else None
        if fault == "timeout":
            time.sleep(self.stall)
            return self._answer(handler, 503, b"too slow")
        if fault == "trickle":
            return self._trickle(handler)
        if fault == "trickle-head":
            return self._trickle_head(handler)
        if fault == "302":
            handler.send_response(302)
            handler.send_header("Location", "https://elsewhere.example.com/hooks")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        if fault in ("500", "410"):
            return self._answer(handler, int(fault), b"fault " + fault.encode())
        try:
            verify_signature(self.secret, headers.get("LeadHub-Signature", ""), body)
        except SignatureError as exc:
            self.rejected.append(str(exc))
            return self._answer(handler, 400, str(exc).encode())
        event = json.loads(body)
        assert headers["LeadHub-Delivery"] == event["id"] and headers["LeadHub-Event"] == event["type"]
        with self._lock:
            if not self.processed[event["id"]]:  # a repeat is acknowledged, not processed again
                self.processed[event["id"]] += 1
            self.accepted[event["id"]] += 1
        if fault == "accept-stall":
            time.sleep(self.stall)
        return self._answer(handler, 200, b'{"ok": true}')

    def _trickle(self, handler) -> None:
        body = b"x" * 200
        try:
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(self.trickle_every)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender's deadline

    def _trickle_head(self, handler) -> None:
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n"
                b"X-Receiver: trickling its headers\r\n\r\n")
        try:
            for byte in head:  # wfile is unbuffered: each byte is its own write
                handler.wfile.write(bytes([byte]))
                time.sleep(self.trickle_every)
            handler.wfile.write(b'{"ok": true}')
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender's deadline
        handler.close_connection = True

    @staticmethod
    def _answer(handler, status: int, body: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender gave up (its timeout): nothing to answer
