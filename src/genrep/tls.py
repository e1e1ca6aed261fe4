"""TLS for MLLP and FHIR: client contexts from the profile, server contexts for the simulators,
throw-away test certificates, clear refusal errors, and the certificate check (``genrep certs check``).

Client side (what the harness uses against a virtual or a real environment):

* ``client_context(profile, endpoint)``: verification on, host-name check on, TLS 1.2 at least, the
  profile's CA file (or the system trust store), and the client certificate chain for mutual TLS
  (key password from the environment variable or file the profile names).
* ``mllp_client_for`` / ``http_transport_for``: the one place a client is built from a profile
  endpoint, so every integration client gets the same TLS, timeouts, host check and credentials.
* ``tls_error``: an ``ssl`` failure becomes a ``CertificateError`` (``expired``, ``not_yet_valid``,
  ``untrusted``, ``hostname_mismatch``) or a ``TLSError`` (``plaintext``, ``client_cert_required``,
  ``client_cert_rejected``, ...) naming the endpoint. Nothing is ever retried without TLS.

Server side: ``server_context`` for the simulators. Certificates: ``ThrowawayCA`` and ``make_pki``
(``cryptography``) make a CA, server and client certificates at start-up of the virtual
environment, and for tests also expired, not-yet-valid, wrongly signed and wrong-host ones.
Checking: ``check_server`` / ``check_client_certificate`` and ``write_allure_results``.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .config import Endpoint, Profile
from .errors import CertificateError, ConfigError, TLSError

TLS_MIN_VERSION = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
SERVER_HANDSHAKE_TIMEOUT = 10.0  # seconds a simulator waits for a client to finish its handshake
CERT_REQUIREMENT = "SEC-CERT-001"

# -- client contexts ------------------------------------------------------------------------------


class StrictEOFContext(ssl.SSLContext):
    """A client context whose sockets report a TLS session cut without close_notify as an error
    (``ssl.SSLEOFError``) instead of a clean end. That is how a server refusing our client
    certificate after a TLS 1.3 handshake looks, and it is also how a truncated response looks;
    libraries (urllib3) wrap sockets with the lenient default, so the context enforces it."""

    def wrap_socket(self, *args, **kwargs):
        kwargs["suppress_ragged_eofs"] = False
        return super().wrap_socket(*args, **kwargs)


def _new_client_context(ca_file: str | None, min_version: str) -> ssl.SSLContext:
    ctx = StrictEOFContext(ssl.PROTOCOL_TLS_CLIENT)  # verify_mode CERT_REQUIRED, check_hostname on
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)      # only this trust, not the system's as well
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = TLS_MIN_VERSION[min_version]
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


# Loading a trust store costs tens of milliseconds (the system store: ~140 certificates), so
# contexts are built once per distinct setting and shared. Shared contexts must not be modified.
_SHARED: dict[tuple, ssl.SSLContext] = {}
_SHARED_LOCK = threading.Lock()


def _shared(key: tuple, build) -> ssl.SSLContext:
    with _SHARED_LOCK:
        ctx = _SHARED.get(key)
    if ctx is None:
        ctx = build()
        with _SHARED_LOCK:
            ctx = _SHARED.setdefault(key, ctx)
    return ctx


def _file_stamp(path: str) -> tuple:
    try:
        st = os.stat(path)
        return (path, st.st_mtime_ns, st.st_size)
    except OSError:
        return (path,)


def default_client_context(min_version: str = "TLSv1.2") -> ssl.SSLContext:
    """Verification and host-name check on, the system trust store, TLS 1.2 at least (shared: do
    not modify it)."""
    def build():
        ctx = _new_client_context(None, min_version)
        ctx.genrep_trust = "the system trust store"  # named in refusal messages
        return ctx
    return _shared(("default", min_version), build)


def _no_password() -> bytes:
    # An encrypted key without a configured password must fail, never prompt on a terminal
    # (OpenSSL's default would read a password from the tty and hang a CI job).
    return b""


def client_context(profile: Profile, endpoint: Endpoint, *, shared: bool = True) -> ssl.SSLContext | None:
    """The SSLContext for a TLS endpoint (None for a plaintext one). Problems with the CA file,
    the client certificate, its key or its password are ConfigErrors naming the profile key.

    Contexts are shared between clients with the same settings (same files, unchanged on disk, same
    key password); ``shared=False`` gives a private one that the caller may modify."""
    if not endpoint.tls:
        return None
    opts = endpoint.tls_options
    password = profile.key_password(endpoint) if opts.client_cert else None
    if not shared:
        return _build_client_context(profile, endpoint, password)
    stamp = (opts, password, *(_file_stamp(f) for f in (opts.ca_file, opts.client_cert, opts.client_key) if f))
    return _shared(stamp, lambda: _build_client_context(profile, endpoint, password))


def _build_client_context(profile: Profile, endpoint: Endpoint, password: str | None) -> ssl.SSLContext:
    opts = endpoint.tls_options
    key = f"{endpoint.config_key}.tls"
    where = profile.file or None
    try:
        ctx = _new_client_context(opts.ca_file or None, opts.min_version)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load trusted CA certificates from {opts.ca_file} "
                          f"({getattr(exc, 'reason', None) or exc.strerror or exc})", file=where,
                          key=f"{key}.ca_file") from None
    ctx.genrep_trust = describe_trust(endpoint)  # named in refusal messages
    if opts.client_cert:
        try:
            ctx.load_cert_chain(opts.client_cert, opts.client_key or None,
                                password=password if password is not None else _no_password)
        except ssl.SSLError as exc:
            hint = ("wrong or missing key password, or the key does not belong to the certificate"
                    if (password is None or "BAD_DECRYPT" in str(exc) or "KEY_VALUES_MISMATCH" in str(exc)
                        or "PEM lib" in str(exc)) else str(getattr(exc, "reason", exc)))
            raise ConfigError(f"cannot use the client certificate {opts.client_cert} with key "
                              f"{opts.client_key or '(in the certificate file)'}: {hint}", file=where,
                              key=f"{key}.client_cert") from None
        except OSError as exc:
            raise ConfigError(f"cannot read the client certificate or key ({exc.strerror})", file=where,
                              key=f"{key}.client_cert") from None
    return ctx


def describe_trust(endpoint: Endpoint) -> str:
    ca = endpoint.tls_options.ca_file
    return f"trusted CA file {ca}" if ca else "the system trust store"


# -- factories: every client built from a profile endpoint -----------------------------------------


def _resolve(profile: Profile, endpoint: str | Endpoint) -> Endpoint:
    if isinstance(endpoint, Endpoint):
        profile.check_host(endpoint.host)
        return endpoint
    return profile.endpoint(endpoint)


def mllp_client_for(profile: Profile, endpoint: str | Endpoint, *, connect_timeout: float | None = None,
                    read_timeout: float | None = None, max_frame: int = 16 * 1024 * 1024):
    """An MLLPClient for a profile endpoint: its TLS (if any), the profile's timeouts, its name."""
    from .mllp import MLLPClient
    ep = _resolve(profile, endpoint)
    if ep.protocol != "mllp":
        raise ConfigError(f"endpoint {ep.name} is {ep.protocol}, not mllp", file=profile.file or None,
                          key=f"{ep.config_key}.protocol")
    return MLLPClient(ep.host, ep.port,
                      connect_timeout=profile.timeouts.connect if connect_timeout is None else connect_timeout,
                      read_timeout=profile.timeouts.read if read_timeout is None else read_timeout,
                      max_frame=max_frame, ssl_context=client_context(profile, ep),
                      server_hostname=ep.server_name if ep.tls else None, name=ep.name)


def http_transport_for(profile: Profile, endpoint: str | Endpoint, *, with_token: bool = True,
                       user_agent: str = "genrep", connect_timeout: float | None = None,
                       read_timeout: float | None = None, max_body_bytes: int = 32 * 1024 * 1024,
                       transport_class=None):
    """An HttpTransport for a profile endpoint: TLS, token (if the profile names one), host check."""
    from .http import HttpTransport
    ep = _resolve(profile, endpoint)
    if ep.protocol != "http":
        raise ConfigError(f"endpoint {ep.name} is {ep.protocol}, not http", file=profile.file or None,
                          key=f"{ep.config_key}.protocol")
    cls = transport_class or HttpTransport
    return cls(ep.base_url,
               connect_timeout=profile.timeouts.connect if connect_timeout is None else connect_timeout,
               read_timeout=profile.timeouts.read if read_timeout is None else read_timeout,
               token=profile.token(ep) if with_token else None, check_host=profile.check_host,
               user_agent=user_agent, max_body_bytes=max_body_bytes,
               ssl_context=client_context(profile, ep),
               server_hostname=ep.tls_options.server_name or None, name=ep.name)


# -- server contexts (simulators) ------------------------------------------------------------------


def server_context(cert_file: str | os.PathLike, key_file: str | os.PathLike, *,
                   client_ca_file: str | os.PathLike | None = None,
                   min_version: str = "TLSv1.2") -> ssl.SSLContext:
    """A server SSLContext; with ``client_ca_file`` a client certificate signed by it is required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_MIN_VERSION[min_version]
    ctx.load_cert_chain(str(cert_file), str(key_file), password=_no_password)
    if client_ca_file:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(client_ca_file))
    return ctx


def peer_client_context(ca_file: str | os.PathLike, cert_file: str | os.PathLike | None = None,
                        key_file: str | os.PathLike | None = None) -> ssl.SSLContext:
    """A client context from files (a simulator calling another simulator)."""
    ctx = _new_client_context(str(ca_file), "TLSv1.2")
    if cert_file:
        ctx.load_cert_chain(str(cert_file), str(key_file) if key_file else None, password=_no_password)
    return ctx


# -- errors ----------------------------------------------------------------------------------------

_VERIFY_CODES = {  # OpenSSL X509_V_ERR_*
    9: "not_yet_valid", 10: "expired", 62: "hostname_mismatch", 64: "hostname_mismatch",
    2: "untrusted", 7: "untrusted", 18: "untrusted", 19: "untrusted", 20: "untrusted", 21: "untrusted",
    27: "untrusted", 30: "untrusted", 31: "untrusted",
}
_PLAINTEXT_MARKERS = ("WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE",
                      "HTTP_REQUEST", "wrong version number", "record layer failure", "packet length too long")
CERTIFICATE_REASONS = ("expired", "not_yet_valid", "untrusted", "hostname_mismatch", "invalid")


def find_ssl_error(exc: BaseException | None) -> ssl.SSLError | None:
    """The ``ssl`` error somewhere in an exception chain (requests and urllib3 wrap it two or three
    levels deep); a certificate verification error is preferred over others."""
    found = [e for e in _chain(exc) if isinstance(e, ssl.SSLError)]
    for e in found:
        if isinstance(e, ssl.SSLCertVerificationError):
            return e
    return found[0] if found else None


def _chain(exc: BaseException | None):
    stack, seen = [exc], set()
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        yield e
        stack += [e.__cause__, e.__context__, getattr(e, "reason", None)]
        stack += [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]


def is_handshake_timeout(exc: BaseException | None) -> bool:
    """Whether a timeout in an exception chain happened in the TLS handshake (urllib3 reports it
    as a read timeout)."""
    return any(isinstance(e, TimeoutError) and "handshake" in str(e).lower() for e in _chain(exc))


def classify(exc: BaseException) -> str:
    """The reason an ssl failure happened, as one word (see ``tls_error``)."""
    err = find_ssl_error(exc)
    text = str(err if err is not None else exc)
    low = text.lower()
    if isinstance(err, ssl.SSLCertVerificationError):
        code = getattr(err, "verify_code", None)
        if code in _VERIFY_CODES:
            return _VERIFY_CODES[code]
        msg = (getattr(err, "verify_message", "") or low).lower()
        if "expired" in msg:
            return "expired"
        if "not yet valid" in msg:
            return "not_yet_valid"
        if "hostname" in msg or "ip address mismatch" in msg or "doesn't match" in msg:
            return "hostname_mismatch"
        if "issuer" in msg or "self-signed" in msg or "self signed" in msg:
            return "untrusted"
        return "invalid"
    if "certificate required" in low:
        return "client_cert_required"
    if "alert certificate expired" in low or "alert unknown ca" in low or "alert bad certificate" in low \
            or "alert certificate unknown" in low or "alert certificate revoked" in low \
            or "alert unsupported certificate" in low:
        return "client_cert_rejected"
    if any(m.lower() in low for m in _PLAINTEXT_MARKERS):
        return "plaintext"
    if "protocol version" in low or "unsupported protocol" in low or "no protocols available" in low:
        return "protocol_version"
    if "handshake failure" in low:
        return "handshake_failure"
    if isinstance(err, ssl.SSLEOFError) or "eof" in low or "unexpected eof" in low:
        return "peer_closed"
    return "handshake_failed"


def _reason_text(reason: str, server_name: str, trust: str) -> str:
    return {
        "expired": "the server certificate has expired",
        "not_yet_valid": "the server certificate is not yet valid (its validity starts in the future)",
        "untrusted": f"the server certificate is not signed by a trusted CA ({trust})",
        "hostname_mismatch": f"the server certificate does not carry the name {server_name!r}",
        "invalid": "the server certificate was refused",
        "plaintext": "the endpoint did not answer with TLS (a plaintext port?)",
        "client_cert_required": "the server requires a client certificate (mutual TLS) and got none it accepts",
        "client_cert_rejected": "the server refused our client certificate (expired, or not from a CA it trusts)",
        "protocol_version": "no TLS version both sides accept",
        "handshake_failure": ("the server ended the handshake (handshake failure: often a missing or refused "
                              "client certificate, or no common cipher)"),
        "peer_closed": ("the server ended the TLS session during or right after the handshake (with mutual "
                        "TLS this is usually a missing or refused client certificate)"),
        "handshake_timeout": "the TLS handshake did not finish in time (a plaintext endpoint waiting for data does this)",
        "handshake_failed": "the TLS handshake failed",
    }.get(reason, "the TLS handshake failed")


def tls_error(exc: BaseException | None, *, endpoint: str, server_name: str = "", trust: str = "",
              timeout: float | None = None, reason: str | None = None) -> TLSError:
    """A ``CertificateError`` / ``TLSError`` for an ssl failure talking to ``endpoint``: which
    problem, for which endpoint, and that nothing was sent in plaintext. (Never includes secrets:
    ssl messages carry none.)"""
    reason = reason or (classify(exc) if exc is not None else "handshake_failed")
    err = find_ssl_error(exc) if exc is not None else None
    detail = ""
    if err is not None:
        detail = (getattr(err, "verify_message", None) or getattr(err, "reason", None) or str(err)).strip()
        detail = str(detail).replace("_", " ").lower() if detail.isupper() else detail
    if reason == "handshake_timeout" and timeout is not None:
        detail = f"no answer within {timeout:g} s"
    text = _reason_text(reason, server_name, trust or "the configured trust")
    msg = f"TLS to {endpoint} refused: {text}" + (f" ({detail})" if detail else "") + \
        "; nothing was sent in plaintext and there is no plaintext fallback"
    from .http import redact
    msg = redact(msg)
    cls = CertificateError if reason in CERTIFICATE_REASONS else TLSError
    return cls(f"{reason}: {msg}", endpoint=endpoint, reason=reason)


# -- throw-away certificates (cryptography) ----------------------------------------------------------


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


@dataclass
class Issued:
    """A certificate and its private key (``cryptography`` objects)."""

    cert: object
    key: object

    def cert_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: str | None = None) -> bytes:
        from cryptography.hazmat.primitives import serialization
        enc = (serialization.BestAvailableEncryption(password.encode("utf-8")) if password
               else serialization.NoEncryption())
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)

    def write(self, cert_path: str | os.PathLike, key_path: str | os.PathLike | None = None, *,
              password: str | None = None, chain: bytes = b"") -> None:
        _write_private(Path(cert_path), self.cert_pem() + chain)
        if key_path is not None:
            _write_private(Path(key_path), self.key_pem(password))


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by this user only (0600), also when the file already existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)


class ThrowawayCA:
    """A certificate authority made on the spot (EC P-256), for the virtual environment and tests.

    ``issue("127.0.0.1", "localhost")`` gives a server certificate for those names;
    ``issue(client_name="genrep")`` a client certificate. ``not_before``/``not_after`` (or ``days``)
    make expired or not-yet-valid certificates; another ``ThrowawayCA`` gives a wrongly signed one."""

    def __init__(self, name: str = "genrep throw-away test CA", *, days: float = 3650):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "genrep (not for production)"),
                               x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _utcnow()
        ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - _dt.timedelta(hours=1)).not_valid_after(now + _dt.timedelta(days=days))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(ski, critical=False)
                     .sign(self.key, hashes.SHA256()))

    def cert_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: str | os.PathLike) -> None:
        _write_private(Path(path), self.cert_pem())

    def issue(self, *hosts: str, client_name: str | None = None, days: float = 365,
              not_before: _dt.datetime | None = None, not_after: _dt.datetime | None = None) -> Issued:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        if not hosts and not client_name:
            raise ValueError("give host names/addresses (server) or client_name (client)")
        key = ec.generate_private_key(ec.SECP256R1())
        now = _utcnow()
        start = not_before or (now - _dt.timedelta(hours=1))
        end = not_after or (now + _dt.timedelta(days=days))
        cn = client_name or hosts[0]
        names = []
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "genrep (not for production)"),
                                            x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                   .issuer_name(self.name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client_name
                                                         else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)


@dataclass
class ThrowawayPKI:
    """Files of a throw-away PKI in ``directory`` (see ``make_pki``)."""

    directory: Path
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path          # the harness's client certificate (key encrypted if a password was given)
    client_key: Path
    peer_client_cert: Path     # a second client identity (the virtual EHR calling the NLL simulator)
    peer_client_key: Path


def make_pki(directory: str | os.PathLike, *, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
             client_key_password: str | None = None, days: float = 365) -> ThrowawayPKI:
    """A CA, a server certificate for ``hosts`` and two client certificates, as PEM files (0600) in
    ``directory``, which is made private (0700): the server and peer keys are not encrypted. The
    caller owns the folder and removes it (``genrep.sim.process`` does, on every exit path)."""
    d = Path(directory)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    ca = ThrowawayCA()
    pki = ThrowawayPKI(d, d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem",
                       d / "client.key", d / "peer-client.pem", d / "peer-client.key")
    ca.write(pki.ca_file)
    ca.issue(*hosts, days=days).write(pki.server_cert, pki.server_key)
    ca.issue(client_name="genrep harness", days=days).write(pki.client_cert, pki.client_key,
                                                             password=client_key_password)
    ca.issue(client_name="genrep virtual EHR", days=days).write(pki.peer_client_cert, pki.peer_client_key)
    return pki


# -- certificate checks (genrep certs check) ---------------------------------------------------------


def host_matches(cert, name: str) -> bool:
    """Whether a certificate (``cryptography`` x509) carries ``name`` in its subjectAltName, as a
    TLS client checks it (RFC 6125: exact DNS name or one left-most wildcard label; an IP address
    only as an IP entry; no common-name fallback)."""
    from cryptography import x509
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return ip in san.get_values_for_type(x509.IPAddress)
    host = name.lower().rstrip(".")
    for pattern in san.get_values_for_type(x509.DNSName):
        p = pattern.lower().rstrip(".")
        if p == host:
            return True
        if p.startswith("*.") and "*" not in p[2:] and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == p[2:]:
                return True
    return False


def _name_of(name) -> str:
    return name.rfc4514_string()


@dataclass
class CertStatus:
    """What the check found about one certificate."""

    kind: str                   # server | client
    label: str                  # endpoint names (server) or the profile key (client)
    address: str = ""           # host:port (server) or file path (client)
    server_name: str = ""
    subject: str = ""
    issuer: str = ""
    not_before: str = ""
    not_after: str = ""
    days_left: float | None = None
    trust: str = ""
    chain_ok: bool | None = None
    hostname_ok: bool | None = None
    problems: list[str] = field(default_factory=list)   # expired, not_yet_valid, untrusted, ...
    error: str = ""
    handshake_ms: float | None = None
    reachable: bool = True

    def failures(self, min_days: int) -> list[str]:
        out = list(self.problems)
        if self.days_left is not None and 0 <= self.days_left < min_days:
            out.append(f"expiring (under {min_days} days)")
        return out

    def ok(self, min_days: int) -> bool:
        return self.reachable and not self.failures(min_days)

    def describe(self, min_days: int) -> str:
        what = (f"server certificate of {self.label} ({self.address}, name {self.server_name!r})"
                if self.kind == "server" else f"client certificate {self.label} ({self.address})")
        if not self.reachable:
            return f"{what}: not checked, {self.error}"
        days = "" if self.days_left is None else f"{self.days_left:.1f} days left (until {self.not_after})"
        bad = self.failures(min_days)
        return f"{what}: {days}" + (f"; {', '.join(bad)}" if bad else "; ok") + \
            (f" [{self.error}]" if self.error and bad else "")

    def to_dict(self, min_days: int) -> dict:
        return {"kind": self.kind, "label": self.label, "address": self.address,
                "server_name": self.server_name, "subject": self.subject, "issuer": self.issuer,
                "not_before": self.not_before, "not_after": self.not_after,
                "days_left": None if self.days_left is None else round(self.days_left, 2),
                "trust": self.trust, "chain_valid": self.chain_ok, "hostname_valid": self.hostname_ok,
                "reachable": self.reachable, "problems": self.failures(min_days),
                "ok": self.ok(min_days), "error": self.error,
                "handshake_ms": None if self.handshake_ms is None else round(self.handshake_ms, 1)}


def _fill_validity(status: CertStatus, cert, now: _dt.datetime) -> None:
    status.subject, status.issuer = _name_of(cert.subject), _name_of(cert.issuer)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    status.not_before, status.not_after = start.isoformat(), end.isoformat()
    status.days_left = (end - now).total_seconds() / 86400
    if end <= now:
        status.problems.append("expired")
    if start > now:
        status.problems.append("not_yet_valid")


def _handshake(host: str, port: int, ctx: ssl.SSLContext, server_name: str, timeout: float) -> ssl.SSLSocket:
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        return ctx.wrap_socket(sock, server_hostname=server_name)
    except BaseException:
        sock.close()
        raise


def check_server(profile: Profile, endpoint: Endpoint, *, timeout: float | None = None,
                 labels: list[str] | None = None, now: _dt.datetime | None = None) -> CertStatus:
    """Connect to a TLS endpoint and judge its certificate: days until expiry, chain against the
    configured trust, name against ``server_name`` (or the host). No application data is sent."""
    from cryptography import x509
    timeout = profile.timeouts.connect if timeout is None else timeout
    now = now or _utcnow()
    status = CertStatus("server", ", ".join(labels or [endpoint.name]), f"{endpoint.host}:{endpoint.port}",
                        endpoint.server_name, trust=describe_trust(endpoint))
    verified = client_context(profile, endpoint, shared=False)  # modified below: a private one
    assert verified is not None, "check_server needs a TLS endpoint"
    # 1. the chain, against the configured trust (the name is judged separately, below)
    verified.check_hostname = False
    start = time.perf_counter()
    try:
        _handshake(endpoint.host, endpoint.port, verified, endpoint.server_name, timeout).close()
        status.handshake_ms = (time.perf_counter() - start) * 1000
        status.chain_ok = True
    except ssl.SSLError as exc:
        reason = classify(exc)
        status.error = str(tls_error(exc, endpoint=status.label, trust=status.trust))
        if reason in ("expired", "not_yet_valid", "untrusted", "invalid"):
            status.chain_ok = False
            if reason in ("untrusted", "invalid"):
                status.problems.append(reason)
        else:
            status.problems.append(reason)
    except (TimeoutError, OSError) as exc:
        status.reachable = False
        status.error = f"cannot connect to {endpoint.host}:{endpoint.port} ({exc.__class__.__name__}: " \
                       f"{getattr(exc, 'strerror', None) or exc or 'timed out'})"
        return status
    # 2. the certificate itself, read without verifying (to report on it even when refused above)
    peek = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    peek.check_hostname = False
    peek.verify_mode = ssl.CERT_NONE
    opts = endpoint.tls_options
    if opts.client_cert:  # a server requiring mutual TLS ends a TLS 1.2 handshake without one
        peek.load_cert_chain(opts.client_cert, opts.client_key or None,
                             password=profile.key_password(endpoint) or _no_password)
    try:
        with _handshake(endpoint.host, endpoint.port, peek, endpoint.server_name, timeout) as s:
            der = s.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError) as exc:
        if not status.problems:
            status.problems.append(classify(exc) if isinstance(exc, ssl.SSLError) else "unreadable")
        status.error = status.error or f"cannot read the certificate ({exc})"
        return status
    if not der:
        status.problems.append("no_certificate")
        return status
    cert = x509.load_der_x509_certificate(der)
    _fill_validity(status, cert, now)
    status.hostname_ok = host_matches(cert, endpoint.server_name)
    if not status.hostname_ok:
        status.problems.append("hostname_mismatch")
    return status


def check_client_certificate(profile: Profile, endpoint: Endpoint, *, labels: list[str] | None = None,
                             now: _dt.datetime | None = None) -> CertStatus:
    """The profile's client certificate for ``endpoint``: days until expiry, and whether it can be
    used at all (its key, the key's password)."""
    from cryptography import x509
    opts = endpoint.tls_options
    now = now or _utcnow()
    status = CertStatus("client", ", ".join(labels or [f"{endpoint.config_key}.tls.client_cert"]),
                        opts.client_cert)
    try:
        cert = x509.load_pem_x509_certificate(Path(opts.client_cert).read_bytes())
    except (OSError, ValueError) as exc:
        status.problems.append("unreadable")
        status.error = f"cannot read {opts.client_cert} as a PEM certificate ({exc})"
        return status
    _fill_validity(status, cert, now)
    try:
        client_context(profile, endpoint, shared=False)  # loads the chain with its key and password
    except ConfigError as exc:
        status.problems.append("unusable")
        status.error = str(exc)
    return status


def check_profile(profile: Profile, *, timeout: float | None = None) -> list[CertStatus]:
    """Every TLS endpoint's server certificate (endpoints sharing host, port, name and trust are
    checked once) and every client certificate the profile names."""
    servers: dict[tuple, list[Endpoint]] = {}
    clients: dict[tuple, list[Endpoint]] = {}
    for ep in profile.endpoints.values():
        if not ep.tls:
            continue
        o = ep.tls_options
        servers.setdefault((ep.host, ep.port, ep.server_name, o.ca_file, o.client_cert), []).append(ep)
        if o.client_cert:
            clients.setdefault((o.client_cert, o.client_key), []).append(ep)
    out = [check_server(profile, eps[0], timeout=timeout, labels=[e.name for e in eps]) for eps in servers.values()]
    for eps in clients.values():
        keys = dict.fromkeys("virtual (generated at start-up)" if e.origin == "virtual"
                             else f"{e.config_key}.tls.client_cert" for e in eps)
        label = f"{', '.join(keys)} for {', '.join(e.name for e in eps)}"
        out.append(check_client_certificate(profile, eps[0], labels=[label]))
    return out


def write_allure_results(results_dir: str | os.PathLike, statuses: list[CertStatus], *, min_days: int,
                         environment: str) -> list[Path]:
    """One Allure result per certificate, labelled with the requirement SEC-CERT-001, so the gate
    counts certificates like any other check. Earlier certificate results in the folder are replaced."""
    from .contracts import load_catalogue
    req = load_catalogue().get(CERT_REQUIREMENT)
    if req is None:
        raise ConfigError(f"requirement {CERT_REQUIREMENT} is not in the requirement catalogue",
                          file="contracts/requirements.yaml")
    from . import outputs
    d = outputs.claim(results_dir, what="Allure results folder")  # genrep's own, or refused untouched
    for old in d.glob("*-result.json"):
        try:
            data = json.loads(old.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
        if any(lb.get("name") == "genrep_certs" for lb in data.get("labels", []) if isinstance(lb, dict)):
            old.unlink()
    written = []
    stamp = int(time.time() * 1000)
    for s in statuses:
        ok = s.ok(min_days)
        key = f"{s.kind}:{s.label}"
        rid = str(uuid.uuid4())
        data = {
            "uuid": rid, "historyId": f"genrep-cert-{key}", "testCaseId": f"genrep-cert-{key}",
            "name": f"{'Server' if s.kind == 'server' else 'Client'} certificate {s.label}: "
                    f"valid for at least {min_days} days",
            "fullName": f"certs:{environment}:{key}", "status": "passed" if ok else "failed",
            "stage": "finished", "start": stamp, "stop": stamp,
            "description": req.criterion,
            "labels": [{"name": "requirement", "value": CERT_REQUIREMENT},
                       {"name": "feature", "value": "Certificates"},
                       {"name": "story", "value": f"{CERT_REQUIREMENT} {req.title}"},
                       {"name": "severity", "value": "critical" if req.severity == "critical" else "normal"},
                       {"name": "tag", "value": "security"},
                       {"name": "genrep_certs", "value": environment}],
            "parameters": [{"name": n, "value": str(v)} for n, v in (
                ("kind", s.kind), ("address", s.address), ("server name", s.server_name),
                ("subject", s.subject), ("issuer", s.issuer), ("not after", s.not_after),
                ("days left", "" if s.days_left is None else f"{s.days_left:.1f}"),
                ("minimum days", min_days), ("chain valid", s.chain_ok), ("host name valid", s.hostname_ok),
                ("trust", s.trust)) if v not in ("", None)],
        }
        if not ok:
            kind = "cert_unreachable" if not s.reachable else (
                "cert_invalid" if any(not p.startswith("expiring") for p in s.failures(min_days)) else "cert_expiring")
            data["statusDetails"] = {"message": f"{kind}: {s.describe(min_days)}"}
        path = d / f"{rid}-result.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written
