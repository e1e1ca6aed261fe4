"""The HTTP mutation proxy: a threading HTTP server on a loopback port, in front of one HTTP
endpoint.

``HTTPProxy`` forwards each request to the one upstream it was given (same path; a request for any
other host is refused with 400, ``Accept-Encoding`` is set to identity so bodies are plain); the
response body goes through the switch (``http-response``) with the request path, content type and
status; ``Content-Length`` is set to the body sent, and an operator may answer with another status
or content type (a failure turned into a 200). The same proxy sits on the EHR's outbound paths
(``channels``: ``nll-request``/``nll-response``, ``multum-request``/``multum-response``) where the
environment lets it (``genrep.sim.process``: the virtual environment's ``outbound``). It listens
only on loopback, speaks TLS to its upstream when told to (``tls``, ``use_tls``), bounds every
wait (connect, each read, the whole body, idle keep-alive connections) and ``stop`` ends every
open connection.

Split from ``mutate.proxy`` (issue 13), which re-exports ``HTTPProxy``.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import ssl
import sys
import threading
import time

from genrep.mutate.message import INBOUND_HTTP, Message
from genrep.mutate.switch import RECV_SIZE, Switch, _loopback

__all__ = ["HTTPProxy"]

MAX_BODY = 64 * 1024 * 1024
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "trailers", "transfer-encoding", "upgrade", "proxy-connection"}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_HTTPServer"

    def setup(self) -> None:
        self.timeout = self.server.proxy.idle_timeout  # an idle keep-alive connection is closed
        super().setup()
        self.server.proxy._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._untrack(self.connection)

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: request lines hold identifiers

    def _refuse(self, code: int, text: str) -> None:
        body = text.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        proxy = self.server.proxy
        if not self.path.startswith("/"):  # absolute-form: a request for somewhere else
            self._refuse(400, "this proxy forwards only to its own endpoint")
            return
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self._refuse(411, "chunked request bodies are not supported; send Content-Length")
            return
        size = int(length) if length and length.isdigit() else 0
        if size > MAX_BODY:
            self._refuse(413, "request body too large")
            return
        body = self.rfile.read(size) if size else b""
        request_channel, response_channel = proxy.channels
        if body:
            body = proxy.switch.process(Message(request_channel, body, self.headers.get("Content-Type", ""),
                                                self.path)).data
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in _HOP_BY_HOP and k.lower() not in ("host", "accept-encoding", "content-length")}
        headers["Host"] = proxy.host_header
        headers["Accept-Encoding"] = "identity"
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        try:
            status, reason, resp_headers, data = proxy.upstream_request(self.command, self.path, body, headers)
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            self._refuse(502, f"upstream unreachable: {type(exc).__name__}")
            return
        content_type = next((v for k, v in resp_headers if k.lower() == "content-type"), "")
        if data and self.command != "HEAD":
            sent = Message(response_channel, data, content_type, self.path, status)
            out = proxy.switch.process(sent)
            data = out.data
            if out.status != status:  # an operator answered with another status
                status, reason = out.status, http.client.responses.get(out.status, "")
            if out.content_type != content_type:
                resp_headers = [(k, v) for k, v in resp_headers if k.lower() != "content-type"]
                resp_headers.append(("Content-Type", out.content_type))
        self.send_response(status, reason)
        for k, v in resp_headers:
            if k.lower() not in _HOP_BY_HOP and k.lower() not in ("content-length", "content-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: "HTTPProxy"

    def handle_error(self, request, client_address) -> None:
        # a client that gave up first (the EHR's own timeout while the upstream hangs) is not an error
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to the upstream, verifying the certificate against the profile's server name."""

    def __init__(self, *args, server_hostname: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._server_name = server_hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


class HTTPProxy:
    def __init__(self, upstream_host: str, upstream_port: int, switch: Switch, *, tls: bool = False,
                 listen_host: str = "127.0.0.1", listen_port: int = 0, ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str | None = None, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 idle_timeout: float = 60.0, channels: tuple[str, str] = INBOUND_HTTP, name: str = "http-proxy"):
        _loopback(listen_host)
        self.channels = channels  # (request body channel, response body channel)
        self.name = name          # its threads' name (an outbound proxy names its path)
        self.upstream = (upstream_host, upstream_port)
        self.tls = tls
        self.switch = switch
        self.listen_host, self.listen_port = listen_host, listen_port
        if tls and ssl_context is None:
            ssl_context = ssl.create_default_context()
        self.ssl_context, self.server_hostname = ssl_context, server_hostname or upstream_host
        self.connect_timeout, self.read_timeout, self.idle_timeout = connect_timeout, read_timeout, idle_timeout
        host = f"[{upstream_host}]" if ":" in upstream_host else upstream_host
        default = 443 if tls else 80
        self.host_header = host if upstream_port == default else f"{host}:{upstream_port}"
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    def use_tls(self, ssl_context: ssl.SSLContext | None, server_hostname: str | None = None) -> None:
        """The upstream's TLS settings, once known (an outbound proxy is started before the
        environment's client certificates are handed out): used from the next request on."""
        self.tls = True
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.server_hostname = server_hostname or self.upstream[0]

    def start(self) -> "HTTPProxy":
        _HTTPServer.address_family = socket.AF_INET6 if ":" in self.listen_host else socket.AF_INET
        server = _HTTPServer((self.listen_host, self.listen_port), _Handler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def _track(self, sock) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _untrack(self, sock) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def upstream_request(self, method: str, path: str, body: bytes, headers: dict):
        """One request to the upstream, bounded: connect, each read, and the whole body."""
        host, port = self.upstream
        if self.tls:
            conn = _SNIConnection(host, port, timeout=self.connect_timeout, context=self.ssl_context,
                                  server_hostname=self.server_hostname)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            conn.sock.settimeout(self.read_timeout)
            resp = conn.getresponse()
            deadline = time.monotonic() + self.connect_timeout + self.read_timeout
            chunks, size = [], 0
            while True:
                chunk = resp.read1(RECV_SIZE) if hasattr(resp, "read1") else resp.read(RECV_SIZE)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY or time.monotonic() > deadline:
                    raise http.client.HTTPException("upstream response too large or too slow")
            return resp.status, resp.reason, resp.getheaders(), b"".join(chunks)
        finally:
            conn.close()

    def stop(self, timeout: float = 5.0) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # returns once serve_forever has seen it (poll interval 0.2 s)
        server.server_close()
        with self._lock:
            socks = list(self._sockets)
        for s in socks:  # open keep-alive connections end now, not after their idle timeout
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "HTTPProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
