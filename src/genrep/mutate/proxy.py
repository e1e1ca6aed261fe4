"""The mutation proxies: an MLLP proxy and an HTTP proxy, threads on loopback ports, each in front
of one endpoint, passing every message through the active operator (``Switch``).

* ``MLLPProxy``: reassembles frames in both directions (VT ... FS CR, however TCP splits or joins
  them); each whole inbound frame's payload goes through the switch (channel ``mllp-inbound``), each
  ACK too (``mllp-outbound``). Bytes outside a frame, and a frame that never ends (the client
  closes first), are forwarded as they came. A frame over ``max_frame`` is forwarded unchanged.
* ``HTTPProxy``: forwards each request to the one upstream it was given (same path; a request for
  any other host is refused with 400, ``Accept-Encoding`` is set to identity so bodies are plain);
  the response body goes through the switch (``http-response``) with the request path, content type
  and status; ``Content-Length`` is set to the body sent, and an operator may answer with another
  status or content type (a failure turned into a 200). The same proxy sits on the EHR's outbound
  paths (``channels``: ``nll-request``/``nll-response``, ``multum-request``/``multum-response``)
  where the environment lets it (``genrep.sim.process``: the virtual environment's ``outbound``).

Both listen only on loopback (another address is refused) and forward only to the endpoint they were
given, over TLS when that endpoint uses it (``ssl_context``); towards the harness they speak plain
TCP/HTTP on loopback. Every wait is bounded (connect, read, idle connections); ``stop`` closes the
listener and every open connection and joins the threads with a deadline. All threads are daemons,
so an interrupted run (Ctrl-C) never waits on them.

With no operator active, bytes pass through unchanged. ``Switch`` is the runtime switch shared by
both proxies: ``set(operator)`` makes one operator active (or none) for every connection from then
on, so one running environment serves all operators; it counts the messages an operator applied to
and changed, and keeps the first change as an example.

Why ~560 lines in one module: the two proxies share the switch, the loopback-only listener, the
bounded waits and the shutdown; apart, each would carry a copy of them.
"""

from __future__ import annotations

import http.client
import http.server
import ipaddress
import selectors
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field

from genrep.errors import ConfigError
from genrep.mutate.message import INBOUND_HTTP, MLLP_INBOUND, MLLP_OUTBOUND, Message, change_example

VT, FS, CR = b"\x0b", b"\x1c", b"\x0d"
RECV_SIZE = 65536
MAX_FRAME = 16 * 1024 * 1024
MAX_BODY = 64 * 1024 * 1024
MAX_RECORDED_BYTES = 64 * 1024 * 1024
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "trailers", "transfer-encoding", "upgrade", "proxy-connection"}


def _loopback(host: str) -> None:
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"a mutation proxy listens on loopback only, not on {host!r}")


# -- the switch ----------------------------------------------------------------------------------

@dataclass
class Counts:
    seen: int = 0       # messages on the operator's channel
    applied: int = 0    # ... that it applied to and changed
    errors: int = 0     # ... where it raised (the message was passed on unchanged)
    example: str = ""   # the first change, as a diff (not masked: the caller masks)
    error: str = ""


@dataclass
class Switch:
    """Which operator is active, and what it did. Thread-safe; ``record`` keeps every message seen
    while no operator is active (for pre-screening operators on a clean run's traffic)."""

    operator: object = None
    counts: Counts = field(default_factory=Counts)
    record: bool = False
    recorded: list[Message] = field(default_factory=list)
    _recorded_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, operator, *, record: bool = False) -> None:
        with self._lock:
            self.operator = operator
            self.counts = Counts()
            self.record = record
            if record:
                self.recorded, self._recorded_bytes = [], 0

    def process(self, message: Message) -> Message:
        with self._lock:
            op, counts = self.operator, self.counts
            if op is None:
                if self.record and self._recorded_bytes + len(message.data) <= MAX_RECORDED_BYTES:
                    self.recorded.append(message)
                    self._recorded_bytes += len(message.data)
                return message
            if op.channel != message.channel:
                return message
            counts.seen += 1
        try:
            out = op.apply(message) if op.applies(message) else message
        except Exception as exc:  # noqa: BLE001 - a broken operator must never break the traffic
            with self._lock:
                counts.errors += 1
                counts.error = counts.error or f"{type(exc).__name__}: {exc}"
            return message
        if out.same_as(message):
            return message
        with self._lock:
            counts.applied += 1
            if not counts.example:
                counts.example = change_example(message, out)
        return out


# -- MLLP ----------------------------------------------------------------------------------------

def _readable(sock: socket.socket, timeout: float) -> bool:
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        return bool(sel.select(timeout))


class _FramePump:
    """One direction of an MLLP connection: reassemble frames, pass payloads through the switch."""

    def __init__(self, switch: Switch, channel: str, max_frame: int):
        self.switch, self.channel, self.max_frame = switch, channel, max_frame
        self.buf = bytearray()
        self.in_frame = False
        self.oversized = False  # forwarding an oversized frame as it comes

    def feed(self, data: bytes) -> bytes:
        """The bytes to forward for ``data`` (complete frames processed, partial ones held)."""
        out = bytearray()
        self.buf += data
        while self.buf:
            if not self.in_frame:
                j = self.buf.find(VT)
                if j < 0:
                    out += self.buf
                    self.buf.clear()
                    break
                out += self.buf[:j]
                del self.buf[:j + 1]
                self.in_frame = True
                continue
            end = self.buf.find(FS + CR)
            if self.oversized:
                if end < 0:
                    keep = 1 if self.buf.endswith(FS) else 0
                    out += self.buf[:len(self.buf) - keep]
                    del self.buf[:len(self.buf) - keep]
                    break
                out += self.buf[:end + 2]
                del self.buf[:end + 2]
                self.in_frame = self.oversized = False
                continue
            if end < 0:
                if len(self.buf) > self.max_frame:  # too large to hold: forward it as it comes
                    out += VT + self.buf
                    self.buf.clear()
                    self.oversized = True
                break
            payload = bytes(self.buf[:end])
            del self.buf[:end + 2]
            self.in_frame = False
            msg = self.switch.process(Message(self.channel, payload))
            out += VT + msg.data + FS + CR
        return bytes(out)

    def rest(self) -> bytes:
        """What is held when the sender closes: an unfinished frame, forwarded as it came."""
        held = (VT if self.in_frame and not self.oversized else b"") + bytes(self.buf)
        self.buf.clear()
        self.in_frame = self.oversized = False
        return held


class MLLPProxy:
    def __init__(self, upstream_host: str, upstream_port: int, switch: Switch, *, listen_host: str = "127.0.0.1",
                 listen_port: int = 0, ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
                 connect_timeout: float = 5.0, idle_timeout: float = 300.0, max_frame: int = MAX_FRAME):
        _loopback(listen_host)
        self.upstream = (upstream_host, upstream_port)
        self.switch = switch
        self.listen_host, self.listen_port = listen_host, listen_port
        self.ssl_context, self.server_hostname = ssl_context, server_hostname or upstream_host
        self.connect_timeout, self.idle_timeout, self.max_frame = connect_timeout, idle_timeout, max_frame
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: set[threading.Thread] = set()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.connections = 0
        self.upstream_failures = 0

    @property
    def port(self) -> int:
        assert self._listener is not None, "not started"
        return self._listener.getsockname()[1]

    def start(self) -> "MLLPProxy":
        family = socket.AF_INET6 if ":" in self.listen_host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.listen_host, self.listen_port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._spawn(self._accept_loop, "mllp-proxy-accept")
        return self

    def _spawn(self, target, name: str, *args) -> None:
        t = threading.Thread(target=self._run, args=(target, *args), name=name, daemon=True)
        with self._lock:
            self._threads.add(t)
        t.start()

    def _run(self, target, *args) -> None:
        try:
            target(*args)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        try:
            sock.close()
        except OSError:
            pass

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                if not _readable(self._listener, 0.2):
                    continue
                client, _ = self._listener.accept()
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.05)
                continue
            self.connections += 1
            self._track(client)
            self._spawn(self._connection, "mllp-proxy-conn", client)

    def _connect_upstream(self) -> socket.socket:
        sock = socket.create_connection(self.upstream, timeout=self.connect_timeout)
        if self.ssl_context is not None:
            try:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=self.server_hostname)
            except BaseException:
                sock.close()
                raise
        sock.settimeout(30.0)  # bounds each send; reads are polled
        return sock

    def _connection(self, client: socket.socket) -> None:
        try:
            upstream = self._connect_upstream()
        except (OSError, ssl.SSLError):
            self.upstream_failures += 1
            self._close(client)  # the harness sees the connection closed, as with the EHR down
            return
        self._track(upstream)
        client.settimeout(30.0)
        activity = [time.monotonic()]
        done = threading.Event()

        def pump(src, dst, channel):
            frames = _FramePump(self.switch, channel, self.max_frame)
            try:
                while not self._stop.is_set():
                    if time.monotonic() - activity[0] > self.idle_timeout:
                        break
                    if not _readable(src, 0.2):
                        continue
                    data = src.recv(RECV_SIZE)
                    if not data:
                        held = frames.rest()
                        if held:
                            dst.sendall(held)
                        break
                    activity[0] = time.monotonic()
                    out = frames.feed(data)
                    if out:
                        dst.sendall(out)
            except (OSError, ssl.SSLError):
                pass
            finally:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except (OSError, ValueError):
                    pass

        back = threading.Thread(target=lambda: (pump(upstream, client, MLLP_OUTBOUND), done.set()),
                                name="mllp-proxy-ack", daemon=True)
        back.start()
        try:
            pump(client, upstream, MLLP_INBOUND)
            # the client finished sending: its last ACKs may still come back, within bounds
            done.wait(self.idle_timeout if not self._stop.is_set() else 0)
        finally:
            self._close(client)
            self._close(upstream)
            back.join(2.0)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._listener is not None:
            try:
                self._listener.close()
            except OSError:
                pass
        with self._lock:
            socks, threads = list(self._sockets), list(self._threads)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._close(s)
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> "MLLPProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- HTTP ----------------------------------------------------------------------------------------

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
