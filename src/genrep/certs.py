"""``genrep certs check``: days until expiry, chain and host name of each TLS endpoint's server
certificate and of the harness's client certificate, and one Allure result per certificate
(requirement SEC-CERT-001) so the gate counts certificates like any other check."""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from genrep.config.profile import Endpoint, Profile
from genrep.errors import ConfigError
from genrep.results import writer
from genrep.results.failure_kinds import failure
from genrep.transport.pki import _utcnow
from genrep.transport.tls import _no_password, classify, client_context, describe_trust, tls_error

CERT_REQUIREMENT = "SEC-CERT-001"

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


def probe_connect(profile: Profile, endpoint: Endpoint, *, timeout: float) -> tuple[str, str] | None:
    """Whether ``endpoint`` can be reached: a TCP connect bounded by ``timeout`` and, for a TLS
    endpoint, the handshake with the profile's own context (trust, client certificate, host name),
    the way ``check_server`` connects. No application data is sent. None when it worked, else
    ``(problem, text)``: problem ``unreachable`` (host not found, refused, timed out) or ``tls``."""
    ctx = client_context(profile, endpoint, shared=False)  # ConfigError: the profile's TLS files
    where = f"{endpoint.name} ({endpoint.host}:{endpoint.port})"
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except socket.gaierror as exc:
        return "unreachable", f"{where}: the host name {endpoint.host!r} does not resolve ({exc.strerror or exc})"
    except ConnectionRefusedError:
        return "unreachable", f"{where}: refused the connection (nothing listening)"
    except TimeoutError:
        return "unreachable", f"{where}: did not accept a connection within {timeout:g} s"
    except OSError as exc:
        return "unreachable", f"{where}: cannot connect ({exc.strerror or exc})"
    try:
        if ctx is not None:
            try:
                ctx.wrap_socket(sock, server_hostname=endpoint.server_name).close()
            except ssl.SSLError as exc:
                return "tls", str(tls_error(exc, endpoint=where, trust=describe_trust(endpoint)))
            except (TimeoutError, OSError) as exc:
                return "unreachable", (f"{where}: the TLS handshake did not complete within {timeout:g} s"
                                       if isinstance(exc, TimeoutError) else
                                       f"{where}: the TLS handshake failed ({exc.strerror or exc})")
    finally:
        sock.close()
    return None


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
    counts certificates like any other check. Earlier certificate results in the folder (of any
    environment) are replaced."""
    from genrep.config.contracts import load_catalogue
    req = load_catalogue().get(CERT_REQUIREMENT)
    if req is None:
        raise ConfigError(f"requirement {CERT_REQUIREMENT} is not in the requirement catalogue",
                          file="contracts/requirements.yaml")
    stamp = int(time.time() * 1000)
    results = []
    for s in statuses:
        ok = s.ok(min_days)
        key = f"{s.kind}:{s.label}"
        message = ""
        if not ok:
            kind = "cert_unreachable" if not s.reachable else (
                "cert_invalid" if any(not p.startswith("expiring") for p in s.failures(min_days)) else "cert_expiring")
            message = failure(kind, s.describe(min_days))
        results.append(writer.Result(
            key=f"cert-{key}", name=f"{'Server' if s.kind == 'server' else 'Client'} certificate {s.label}: "
                                   f"valid for at least {min_days} days",
            full_name=f"certs:{environment}:{key}", status="passed" if ok else "failed", message=message,
            description=req.criterion, requirements=[req], start_ms=stamp,
            # the Allure severity certs has always written (tests/unit/test_tls_certs.py pins it); the
            # suite's rule (writer.ALLURE_SEVERITY) would say blocker for a critical requirement
            severity="critical" if req.severity == "critical" else "normal",
            labels=[("feature", "Certificates"), ("tag", "security")],
            parameters=[(n, v) for n, v in (
                ("kind", s.kind), ("address", s.address), ("server name", s.server_name),
                ("subject", s.subject), ("issuer", s.issuer), ("not after", s.not_after),
                ("days left", "" if s.days_left is None else f"{s.days_left:.1f}"),
                ("minimum days", min_days), ("chain valid", s.chain_ok), ("host name valid", s.hostname_ok),
                ("trust", s.trust)) if v not in ("", None)]))
    return writer.write(results_dir, results, writer.Producer("genrep_certs", environment, every_value=True))
