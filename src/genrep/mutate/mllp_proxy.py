"""The MLLP mutation proxy: a thread per connection on a loopback port, in front of the EHR's
inbound MLLP endpoint.

``MLLPProxy`` reassembles frames in both directions (VT ... FS CR, however TCP splits or joins
them); each whole inbound frame's payload goes through the switch (channel ``mllp-inbound``), each
ACK too (``mllp-outbound``). Bytes outside a frame, and a frame that never ends (the client closes
first), are forwarded as they came. A frame over ``max_frame`` is forwarded unchanged. It listens
only on loopback, forwards only to its upstream (over TLS when ``ssl_context`` is given), bounds
every wait (connect, send, idle connections) and ``stop`` closes the listener and every open
connection and joins its threads with a deadline (all daemons).

Split from ``mutate.proxy`` (issue 13), which re-exports ``MLLPProxy``.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import threading
import time

from genrep.mutate.message import MLLP_INBOUND, MLLP_OUTBOUND, Message
from genrep.mutate.switch import RECV_SIZE, Switch, _loopback

__all__ = ["MLLPProxy"]

VT, FS, CR = b"\x0b", b"\x1c", b"\x0d"
MAX_FRAME = 16 * 1024 * 1024


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
