"""The one HTTP wrapper's deadline (apps/vendors/core/http.py) covers the whole
exchange: a server on 127.0.0.1 that trickles its status line and headers one
byte at a time is cut at the deadline, on a new connection or one reused from
the pool, and the call leaves no thread or socket behind; a call without a
deadline (a vendor's pull) still waits as long as each read brings something."""
from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.vendors.core.base import VendorError
from apps.vendors.core.http import VendorHTTP

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Padding: trickled\r\n\r\n"
EVERY = 0.2  # seconds per byte of a trickled head: HEAD takes ~15 s


class TricklingServer:
    """A raw HTTP/1.1 server on 127.0.0.1 that answers each request per the next
    mode of `modes`: "fast" (the whole answer at once, the connection kept open
    for the next request) or "trickle-head" (the status line and headers one
    byte every EVERY seconds, then the body). `handled` is set when a connection's
    handler has finished (its client closed it, or it wrote everything)."""

    def __init__(self, modes: list[str], *, every: float = EVERY, tls: ssl.SSLContext | None = None):
        self.modes = list(modes)
        self.every = every
        self.tls = tls  # HTTPS with this server context (its handshake in the connection's thread)
        self.connections = 0
        self.handled = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.listener.getsockname()[1]}/leads"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept() (closing alone does not)
        except OSError:
            pass
        self.listener.close()
        self.thread.join(timeout=2)

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn:
                buffered = b""
                while self.modes:
                    while b"\r\n\r\n" not in buffered:
                        data = conn.recv(4096)
                        if not data:
                            return
                        buffered += data
                    head, _, buffered = buffered.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    while len(buffered) < length:
                        buffered += conn.recv(4096)
                    buffered = buffered[length:]
                    if self.modes.pop(0) == "fast":
                        conn.sendall(HEAD + b"ok")
                        continue
                    for byte in HEAD:
                        conn.sendall(bytes([byte]))
                        time.sleep(self.every)
                    conn.sendall(b"ok")
        except (OSError, ssl.SSLError):
            pass  # the client cut the connection (its deadline)
        finally:
            self.handled.set()


def _client_sockets_to(port: int) -> int:
    """This process's open sockets connected to 127.0.0.1:`port` (the client
    side: other tests' sockets, opening or closing meanwhile, are not counted)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if int(row[2].split(":")[1], 16) == port and row[9] in inodes)


def _deadline_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "leadhub-http-deadline"]


def test_it_ends_a_call_whose_status_line_and_headers_trickle_at_the_deadline():
    with TricklingServer(["trickle-head"]) as server:
        http = VendorHTTP(vendor="test", account="test", timeout=(5, 5))
        port = server.listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(VendorError) as raised:
            http.request("POST", server.url, data=b"{}", deadline=1.0)
        took = time.monotonic() - started
        # The head takes ~15 s and every read brings a byte within the 5 s read timeout.
        assert 0.9 < took < 1.6
        assert "no answer within 1s" in raised.value.message
        assert not raised.value.permanent and raised.value.reached
        # Nothing left behind: no watchdog thread, and the connection is closed (the
        # server's next write fails, so its handler ends, long before the head would).
        assert _deadline_threads() == []
        assert server.handled.wait(timeout=2)
        assert _client_sockets_to(port) == 0
        http.close()


def test_it_ends_a_trickled_answer_on_a_connection_reused_from_the_pool():
    with TricklingServer(["fast", "trickle-head"]) as server:
        http = VendorHTTP(vendor="test", account="test", timeout=(5, 5))
        port = server.listener.getsockname()[1]
        assert http.request("GET", server.url, deadline=1.0).body == b"ok"
        assert _client_sockets_to(port) == 1  # kept open in the pool
        started = time.monotonic()
        with pytest.raises(VendorError, match="no answer within 1s"):
            http.request("GET", server.url, deadline=1.0)
        assert time.monotonic() - started < 1.6
        assert server.connections == 1  # the second call went over the pooled connection
        assert _client_sockets_to(port) == 0  # closed, not handed back to the pool
        assert _deadline_threads() == []
        http.close()


def test_it_leaves_a_call_without_a_deadline_to_its_read_timeout():
    # A vendor's pull: no deadline, so a slow but steady answer is read whole,
    # however long it takes; each read waits at most the read timeout.
    with TricklingServer(["trickle-head"], every=0.02) as server:
        http = VendorHTTP(vendor="test", account="test", timeout=(5, 0.5))
        started = time.monotonic()
        raw = http.request("GET", server.url)
        assert (raw.status_code, raw.body, raw.headers["X-Padding"]) == (200, b"ok", "trickled")
        assert time.monotonic() - started > 1.2  # ~75 bytes, 0.02 s each: longer than the read timeout
        assert _deadline_threads() == []  # no watchdog for a call without a deadline
        http.close()


def test_it_keeps_at_most_max_body_of_a_quick_answer_within_its_deadline():
    with TricklingServer(["fast"]) as server:
        http = VendorHTTP(vendor="test", account="test", timeout=(5, 5))
        raw = http.request("GET", server.url, deadline=1.0, max_body=1)
        assert (raw.status_code, raw.body) == (200, b"o")
        http.close()


@pytest.fixture
def self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key (files), made for the test."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, str(cert_file)


def test_it_ends_a_trickled_answer_over_tls_at_the_deadline(self_signed):
    # The watchdog shuts down the TLS connection's own socket under the reading
    # thread: the call ends at the deadline, over a fresh and a pooled connection.
    context, ca_file = self_signed
    with TricklingServer(["fast", "trickle-head"], tls=context) as server:
        http = VendorHTTP(vendor="test", account="test", timeout=(5, 5))
        port = server.listener.getsockname()[1]
        assert http.request("GET", server.url, deadline=2.0, verify=ca_file).body == b"ok"
        started = time.monotonic()
        with pytest.raises(VendorError, match="no answer within 1s"):
            http.request("GET", server.url, deadline=1.0, verify=ca_file)
        assert time.monotonic() - started < 1.6
        assert server.connections == 1  # the pooled TLS connection
        assert _client_sockets_to(port) == 0
        assert _deadline_threads() == []
        http.close()
