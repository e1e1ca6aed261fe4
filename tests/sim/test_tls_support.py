"""Helpers for the TLS tests (imported by test_tls_*.py): a throw-away PKI with good and bad
certificates, and a server on loopback that records what it received (decrypted application data,
or the raw bytes when it speaks plaintext). The one test here checks the generator itself."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from genrep.config.profile import Endpoint, Profile, TLSOptions, Timeouts
from genrep.transport.pki import ThrowawayCA
from genrep.transport.tls import server_context

NOW = dt.datetime.now(dt.timezone.utc)
HOSTS = ("127.0.0.1", "localhost")


@dataclass
class Certs:
    """PEM files: one trusted CA, server certificates good and bad, client certificates."""

    dir: Path
    ca: Path
    good: tuple[Path, Path]
    expired: tuple[Path, Path]
    not_yet_valid: tuple[Path, Path]
    wrong_ca: tuple[Path, Path]
    wrong_host: tuple[Path, Path]
    five_days: tuple[Path, Path]
    client: tuple[Path, Path]
    client_wrong_ca: tuple[Path, Path]
    client_encrypted: tuple[Path, Path]


KEY_PASSWORD = "fake-key-password-4711"


def make_certs(directory: Path) -> Certs:
    ca, other = ThrowawayCA(), ThrowawayCA("an unrelated CA")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca.write(d / "ca.pem")

    def put(name, issued, password=None):
        pair = (d / f"{name}.pem", d / f"{name}.key")
        issued.write(*pair, password=password)
        return pair

    return Certs(
        d, d / "ca.pem",
        good=put("good", ca.issue(*HOSTS)),
        expired=put("expired", ca.issue(*HOSTS, not_before=NOW - dt.timedelta(days=60),
                                        not_after=NOW - dt.timedelta(days=1))),
        not_yet_valid=put("future", ca.issue(*HOSTS, not_before=NOW + dt.timedelta(days=2),
                                             not_after=NOW + dt.timedelta(days=400))),
        wrong_ca=put("wrongca", other.issue(*HOSTS)),
        wrong_host=put("wronghost", ca.issue("ehr.other.example")),
        five_days=put("fivedays", ca.issue(*HOSTS, days=5)),
        client=put("client", ca.issue(client_name="genrep test client")),
        client_wrong_ca=put("client-wrongca", other.issue(client_name="stranger")),
        client_encrypted=put("client-enc", ca.issue(client_name="genrep enc client"), KEY_PASSWORD),
    )


def profile_with(endpoints: dict[str, Endpoint], *, connect: float = 2.0, read: float = 3.0) -> Profile:
    return Profile(name="tls-test", kind="external", description="", endpoints=endpoints,
                   timeouts=Timeouts(connect=connect, read=read), file="tls-test.yaml")


def tls_endpoint(name: str, protocol: str, port: int, *, ca: Path | None, client: tuple[Path, Path] | None = None,
                 server_name: str = "", password_env: str = "", host: str = "127.0.0.1") -> Endpoint:
    opts = TLSOptions(ca_file=str(ca) if ca else "", client_cert=str(client[0]) if client else "",
                      client_key=str(client[1]) if client else "", client_key_password_env=password_env,
                      server_name=server_name)
    base = f"https://{host}:{port}/fhir" if protocol == "http" else ""
    return Endpoint(name, protocol, host, port, base_url=base, tls=True, tls_options=opts)


class RecordingServer:
    """A TCP server on loopback (TLS with ``ssl_context``) that records every byte of application
    data it receives, and the handshake errors it saw. ``reply(data_so_far) -> bytes | None`` may
    answer. Plaintext mode records the raw bytes, TLS mode the decrypted ones."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, reply=None):
        self.ctx, self.reply = ssl_context, reply
        self.data = bytearray()
        self.handshake_errors: list[str] = []
        self.connections = 0
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(8)
        self._srv.settimeout(0.1)
        self.port = self._srv.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._srv.close()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(3.0)
            try:
                if self.ctx is not None:
                    try:
                        conn = self.ctx.wrap_socket(conn, server_side=True)
                    except (ssl.SSLError, OSError) as exc:
                        self.handshake_errors.append(str(exc))
                        continue
                self._serve(conn)
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def _serve(self, conn):
        seen = bytearray()
        deadline = time.monotonic() + 4.0
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except (TimeoutError, OSError) as exc:
                if isinstance(exc, ssl.SSLError):
                    self.handshake_errors.append(str(exc))
                return
            if not chunk:
                return
            seen += chunk
            self.data += chunk
            if self.reply is not None:
                answer = self.reply(bytes(seen))
                if answer:
                    conn.sendall(answer)
                    seen.clear()
                    conn.settimeout(0.3)  # answered: do not hold the test up waiting for more


def good_server_context(certs: Certs, pair=None, *, client_ca: bool = False,
                        max_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = server_context(*(pair or certs.good), client_ca_file=certs.ca if client_ca else None)
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def test_generated_certificates_have_the_intended_properties(tmp_path):
    from cryptography import x509

    certs = make_certs(tmp_path)
    load = lambda pair: x509.load_pem_x509_certificate(pair[0].read_bytes())  # noqa: E731
    ca = x509.load_pem_x509_certificate(certs.ca.read_bytes())
    now = dt.datetime.now(dt.timezone.utc)
    good, expired, future = load(certs.good), load(certs.expired), load(certs.not_yet_valid)
    assert good.issuer == ca.subject and good.not_valid_before_utc < now < good.not_valid_after_utc
    assert expired.not_valid_after_utc < now
    assert future.not_valid_before_utc > now
    assert load(certs.wrong_ca).issuer != ca.subject
    assert 4.9 <= (load(certs.five_days).not_valid_after_utc - now).total_seconds() / 86400 <= 5.0
    san = good.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1"}
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    # keys are private to the user, and the encrypted client key really is encrypted
    assert certs.good[1].stat().st_mode & 0o077 == 0
    assert b"ENCRYPTED" in certs.client_encrypted[1].read_bytes()
    assert b"ENCRYPTED" not in certs.client[1].read_bytes()
