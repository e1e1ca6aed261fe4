"""TLS for MLLP and FHIR: client contexts from the profile, server contexts for the simulators, and
clear refusal errors.

Client side (what the harness uses against a virtual or a real environment):

* ``client_context(profile, endpoint)``: verification on, host-name check on, TLS 1.2 at least, the
  profile's CA file (or the system trust store), and the client certificate chain for mutual TLS
  (key password from the environment variable or file the profile names).
* ``tls_error``: an ``ssl`` failure becomes a ``CertificateError`` (``expired``, ``not_yet_valid``,
  ``untrusted``, ``hostname_mismatch``) or a ``TLSError`` (``plaintext``, ``client_cert_required``,
  ``client_cert_rejected``, ...) naming the endpoint. Nothing is ever retried without TLS.

Server side: ``server_context`` and ``peer_client_context`` for the simulators. The throw-away test
certificates are ``genrep.transport.pki``; building clients from a profile endpoint is
``genrep.transport.endpoints``; ``genrep certs check`` is ``genrep.certs``.
"""

from __future__ import annotations

import os
import ssl
import threading

from genrep.config.profile import Endpoint, Profile
from genrep.errors import CertificateError, ConfigError, TLSError

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
    from genrep.secrets import redact
    msg = redact(msg)
    cls = CertificateError if reason in CERTIFICATE_REASONS else TLSError
    return cls(f"{reason}: {msg}", endpoint=endpoint, reason=reason)


