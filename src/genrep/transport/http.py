"""HTTP transport: a requests session with bounded waits, host checks, TLS and secret redaction.

Every request has a (connect, read) timeout, goes only to a host the environment profile names,
and maps requests' many exception types onto genrep's few (``ConnectionRefused``,
``ConnectTimeout``, ``ReadTimeout``, ``ProtocolError``, ``TLSError``/``CertificateError``) with
messages that say which endpoint failed, without the Authorization header or token ever appearing
in them.

TLS: an ``https`` base URL is verified with the ``ssl.SSLContext`` the caller gives (built from the
profile by ``genrep.transport.tls``), or the system trust store. Nothing is ever retried in plaintext: an
``http://`` URL (a Bundle ``next`` link, a redirect) is refused on a TLS transport, and redirects
are followed only to https on hosts the profile names.

Redaction (``genrep.secrets``): every token given to a transport is registered, and error bodies
are scrubbed of registered secrets. Error bodies
from a server are scrubbed of registered secrets before anyone sees them: a server that echoes the
token in its 401 must not carry it into an exception message or a report.
"""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3

from genrep.errors import (ConnectionClosed, ConnectionRefused, ConnectTimeout, ProtocolError, ReadTimeout,
                     TLSError)
from genrep.text.identities import guard_outbound
from genrep.secrets import redact, register_secret, scrub_secrets

class _Watch:
    """One request's overall deadline. urllib3's timeouts bound each socket read, so a server that
    drips its status line, headers or body a byte at a time never times out: when the deadline
    passes, the watchdog shuts the request's socket down, which ends whatever read is waiting."""

    def __init__(self):
        self.conn = None
        self.expired = False

    def expire(self) -> None:
        self.expired = True
        sock = getattr(self.conn, "sock", None)
        if sock is not None:
            try:  # socket.socket's shutdown, not SSLSocket's (which would unwrap under a reader)
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


_ACTIVE = threading.local()  # the _Watch of the request this thread is making


def _watched(connection_cls):
    class Watched(connection_cls):
        def request(self, *args, **kwargs):
            watch = getattr(_ACTIVE, "watch", None)
            if watch is not None:
                watch.conn = self
                if watch.expired:
                    raise urllib3.exceptions.ProtocolError("deadline passed before the request was sent")
            return super().request(*args, **kwargs)
    Watched.__name__ = f"Watched{connection_cls.__name__}"
    return Watched


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _watched(urllib3.connection.HTTPConnection)


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _watched(urllib3.connection.HTTPSConnection)


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections register with the request's watchdog (see ``_Watch``)."""

    def __init__(self, **kwargs):
        super().__init__(max_retries=0, **kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _TLSAdapter(_WatchedAdapter):
    """An adapter whose TLS is exactly the given SSLContext: requests would otherwise add its own
    CA bundle to the context (``cert_verify``), trusting every public CA for an endpoint whose
    profile names one private CA."""

    def __init__(self, ssl_context, server_hostname: str | None = None):
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname
        super().__init__()

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["ssl_context"] = self._ssl_context
        if self._server_hostname:
            pool_kwargs["server_hostname"] = self._server_hostname  # SNI and the name verified
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)

    def cert_verify(self, conn, url, verify, cert):
        conn.cert_reqs = "CERT_REQUIRED"  # always verified; the trust is the context's alone
        conn.ca_certs = None
        conn.ca_cert_dir = None


class _GuardedSession(requests.Session):
    """A session that follows a redirect only to https (when the transport is TLS) and only to a
    host the profile names: a redirect is never a way around TLS or the host allowlist."""

    transport: "HttpTransport"

    def send(self, request, **kwargs):
        """Every request, redirects included, passes the identity guard whole before it is sent:
        URL, headers (the credential aside) and body."""
        destination = self.transport._label()
        guard_outbound(request.url, destination=destination, kind="url")
        # as the bytes on the wire (http.client writes str headers as Latin-1), read as a receiver
        # would: UTF-8 where they are valid UTF-8
        headers = b"\n".join((k if isinstance(k, bytes) else k.encode("latin-1", "replace")) + b": "
                              + (v if isinstance(v, bytes) else str(v).encode("latin-1", "replace"))
                              for k, v in request.headers.items() if str(k).lower() != "authorization")
        guard_outbound(headers, destination=f"{destination} (headers)")
        body = request.body
        if body is not None:
            if not isinstance(body, (bytes, str)):
                raise ProtocolError(f"{destination}: a streamed request body cannot be scanned for "
                                    "identities before it is sent; refused")
            guard_outbound(body, destination=destination)
        return super().send(request, **kwargs)

    def get_redirect_target(self, resp):
        target = super().get_redirect_target(resp)
        if target:
            self.transport._check_url(urljoin(resp.url, target), redirect_from=resp.url)
        return target


class HttpTransport:
    """A requests.Session bound to one base URL, a host allowlist and timeouts.

    ``ssl_context`` (from ``genrep.transport.tls.client_context``) verifies an https base URL; without one,
    https uses the system trust store (``genrep.transport.tls.default_client_context``). ``server_hostname``
    is the name the server certificate must carry (default: the URL's host). ``name`` is the
    profile's endpoint name, used in error messages."""

    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float,
                 token: str | None = None, check_host=None, user_agent: str = "genrep",
                 max_body_bytes: int = 32 * 1024 * 1024, ssl_context=None,
                 server_hostname: str | None = None, name: str = ""):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.max_body_bytes = max_body_bytes
        self.name = name
        self._token = token
        register_secret(token)
        self._check_host = check_host
        self.tls = urlsplit(self.base_url).scheme.lower() == "https"
        if ssl_context is not None and not self.tls:
            raise TLSError(f"{self._label()}: TLS is configured but the URL {self.base_url} is plain http; "
                           "refusing to send in plaintext", endpoint=self._label(), reason="plaintext_url")
        self.session = _GuardedSession()
        self.session.transport = self
        self.session.trust_env = False  # no proxies from the environment: traffic goes where the profile says
        self.session.mount("http://", _WatchedAdapter())
        self.session.headers["User-Agent"] = user_agent
        if self.tls:
            if ssl_context is None:
                from genrep.transport.tls import default_client_context
                ssl_context = default_client_context()
            self.session.mount("https://", _TLSAdapter(ssl_context, server_hostname))
        else:
            self.session.mount("https://", _WatchedAdapter())
        self._trust = getattr(ssl_context, "genrep_trust", "") if ssl_context is not None else ""
        self.server_hostname = server_hostname or urlsplit(self.base_url).hostname or ""
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _label(self) -> str:
        return f"{self.name} ({self.base_url})" if self.name else self.base_url

    def _check_url(self, url: str, *, redirect_from: str | None = None) -> None:
        """Refuse a URL on another host than the profile names, or plain http on a TLS transport."""
        parts = urlsplit(url)
        if self._check_host:
            self._check_host(parts.hostname or "")
        if self.tls and parts.scheme.lower() != "https":
            what = f"a redirect from {redirect_from} to" if redirect_from else "the URL"
            raise TLSError(f"{self._label()}: refusing {what} {redact(url)}: plain http on a TLS endpoint "
                           "(no plaintext fallback)", endpoint=self._label(), reason="plaintext_url")

    def __repr__(self) -> str:  # never shows the token
        return f"HttpTransport({self.base_url})"

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """One request under one overall deadline (connect + read timeout) that holds whatever the
        server does: a watchdog ends the request when it passes, even mid-header."""
        total = self.timeout[0] + self.timeout[1]
        watch = _Watch()
        _ACTIVE.watch = watch
        timer = threading.Timer(total, watch.expire)
        timer.daemon = True
        timer.start()
        try:
            return self._request(method, path, total, **kwargs)
        except Exception:  # noqa: BLE001 - whatever the cut socket raised, past the deadline it is a timeout
            if watch.expired:
                where = redact(f"{method} {self.url(path)}", (self._token or "",))
                raise ReadTimeout(f"{where}: the response did not complete within {total:.1f} s") from None
            raise
        finally:
            timer.cancel()
            _ACTIVE.watch = None

    def _request(self, method: str, path: str, total: float, **kwargs) -> requests.Response:
        url = self.url(path)
        self._check_url(url)
        kwargs.setdefault("timeout", self.timeout)
        where = redact(f"{method} {url}", (self._token or "",))
        # The read timeout of requests bounds each socket read, not the response: a server that
        # drips one byte per second would never time out. So the body is streamed under one
        # overall deadline (and the watchdog of ``request`` ends a read that waits past it), and
        # under the size cap, before anyone sees the response.
        deadline = time.monotonic() + total
        try:
            resp = self.session.request(method, url, stream=True, **kwargs)
            body = bytearray()
            raw = resp.raw
            while True:
                # read1: whatever one socket read gives (read(n) would wait for all n bytes)
                chunk = raw.read1(65536, decode_content=True)
                if not chunk:
                    break
                body += chunk
                if len(body) > self.max_body_bytes:
                    resp.close()
                    raise ProtocolError(f"{where}: response larger than {self.max_body_bytes} bytes")
                if time.monotonic() > deadline:
                    resp.close()
                    raise ReadTimeout(f"{where}: the response did not complete within {total:.1f} s")
            # an error body is the server's diagnostics, never data under test: a server that
            # echoes the credential it was sent must not carry it into messages or reports
            resp._content = scrub_secrets(bytes(body)) if resp.status_code >= 400 else bytes(body)
            resp._content_consumed = True
            return resp
        except urllib3.exceptions.ReadTimeoutError:  # raised by raw.read1, not wrapped by requests
            raise ReadTimeout(f"{where}: the response stalled for more than {self.timeout[1]} s") from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout) as exc:
            from genrep.transport.tls import is_handshake_timeout, tls_error
            if self.tls and is_handshake_timeout(exc):  # urllib3 calls it a read timeout
                raise tls_error(exc, endpoint=self._label(), server_name=self.server_hostname, trust=self._trust,
                                timeout=self.timeout[0], reason="handshake_timeout") from None
            if isinstance(exc, requests.exceptions.ConnectTimeout):
                raise ConnectTimeout(f"{where}: no connection within {self.timeout[0]} s") from None
            raise ReadTimeout(f"{where}: no answer within {self.timeout[1]} s") from None
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError,
                urllib3.exceptions.SSLError) as exc:
            from genrep.transport.tls import find_ssl_error, tls_error
            if self.tls and find_ssl_error(exc) is not None:
                raise tls_error(exc, endpoint=self._label(), server_name=self.server_hostname,
                                trust=self._trust, timeout=self.timeout[0]) from None
            raise ConnectionClosed(f"{where}: the server closed the connection mid-response") from None
        except requests.exceptions.SSLError as exc:
            from genrep.transport.tls import tls_error
            raise tls_error(exc, endpoint=self._label(), server_name=self.server_hostname,
                            trust=self._trust, timeout=self.timeout[0]) from None
        except requests.exceptions.ConnectionError as exc:
            from genrep.transport.tls import find_ssl_error, tls_error
            if self.tls and find_ssl_error(exc) is not None:  # e.g. a TLS 1.3 alert after the handshake
                raise tls_error(exc, endpoint=self._label(), server_name=self.server_hostname,
                                trust=self._trust, timeout=self.timeout[0]) from None
            text = str(exc)
            if "Connection refused" in text or "Errno 111" in text:
                raise ConnectionRefused(f"{where}: connection refused (nothing listening)") from None
            if "RemoteDisconnected" in text or "Connection aborted" in text or "IncompleteRead" in text:
                raise ConnectionClosed(f"{where}: the server closed the connection mid-response") from None
            raise ConnectionRefused(f"{where}: cannot connect ({redact(text, (self._token or '',))[:200]})") from None
        except requests.exceptions.ChunkedEncodingError:
            raise ConnectionClosed(f"{where}: the response ended early (broken chunked body)") from None
        except requests.exceptions.RequestException as exc:
            raise ProtocolError(f"{where}: {type(exc).__name__}: {redact(str(exc), (self._token or '',))[:200]}") from None

    def close(self) -> None:
        self.session.close()
