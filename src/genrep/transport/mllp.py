"""MLLP framing and a synchronous MLLP client.

MLLP wraps each HL7 v2 message as ``0x0B <message> 0x1C 0x0D``: no length, no checksum, TLS
underneath when used. A single ``recv()`` is not a frame: frames arrive split across reads and
several frames arrive in one read, so everything here reads until ``FS CR`` through an incremental
decoder.

Why our own client instead of a library one:

* hl7apy's ``MLLPServer``/client side handles one message per connection (measured 225 msg/s on a
  9.7 KB ORU), which is useless as a load path and hides persistent-connection bugs.
* python-hl7's MLLP helpers default to ASCII and crash on å/ä/ö, and they are asyncio-based.
* We need a *synchronous* client on a plain socket with bounded waits (connect timeout, one overall
  read deadline that a trickling peer cannot stretch) that keeps working under gevent
  monkey-patching, which Locust imposes. So: no threads, no asyncio, only ``socket`` calls that
  gevent patches (``create_connection``, ``settimeout``, ``recv``, ``sendall``).

Payloads are ``bytes``: the caller encodes according to MSH-18 (8859/1 or UTF-8); this module
never decodes text. Every payload passes the identity guard (``identities.guard_outbound``) before
a byte is written, whoever built it.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections import deque

from genrep.errors import (ConnectionClosed, ConnectionRefused, ConnectTimeout, HL7Error,
                           ProtocolError, ReadTimeout, TransportError)
from genrep.text.identities import guard_outbound

__all__ = ["VT", "FS", "CR", "frame", "FrameTooLarge", "FrameDecoder", "MLLPClient"]

VT, FS, CR = b"\x0b", b"\x1c", b"\x0d"
_VT, _FS, _CR = 0x0B, 0x1C, 0x0D
_END = FS + CR
_RECV_SIZE = 65536


def frame(payload: bytes) -> bytes:
    """Wrap one payload as an MLLP frame: ``VT + payload + FS + CR``.

    A payload containing VT (0x0B) or the end marker FS CR cannot be framed: a receiver would cut
    or restart the message there. That happens with text pasted from RTF (vertical tab) that was
    not HL7-escaped (``\\X0B\\``), so it is rejected with a clear error instead of being sent as a
    silently broken frame. Use ``MLLPClient.send_raw`` to send deliberately broken frames.
    """
    payload = bytes(payload)
    if VT in payload:
        raise HL7Error(f"message contains a raw 0x0B (vertical tab) at byte {payload.index(VT)}: "
                       "it would restart the MLLP frame; escape it as \\X0B\\")
    if FS in payload and _END in payload:  # a 1-byte search first: memchr, not a 2-byte scan
        raise HL7Error(f"message contains the MLLP end marker 0x1C 0x0D at byte "
                       f"{payload.index(_END)}: it would end the frame early")
    return VT + payload + _END


def _readable_now(sock: socket.socket) -> bool:
    """Whether ``sock`` has data (or EOF) to read right now, without waiting. Uses poll (any
    descriptor number; cooperative under gevent's monkey-patching), select where there is none."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


class FrameTooLarge(ProtocolError):
    """A frame grew past the configured maximum payload size.

    ``size`` is the number of payload bytes seen so far (at least ``limit + 1``), ``limit`` the
    maximum. ``payloads`` holds frames that completed earlier in the same ``feed()`` call and must
    be handled before this error (usually empty).
    """

    def __init__(self, message: str, *, size: int | None = None, limit: int | None = None,
                 payloads: list[bytes] | None = None):
        self.size, self.limit = size, limit
        self.payloads = list(payloads or [])
        super().__init__(message)


class FrameDecoder:
    """Incremental MLLP frame reassembly: feed() whatever recv() gave, get back complete payloads.

    Rules:

    * Bytes outside a frame (before a VT) are dropped and counted in ``discarded``; not an error.
    * A VT inside an unfinished frame restarts the frame; the aborted bytes (its VT and payload so
      far) are counted in ``discarded``.
    * The end is FS CR. A FS followed by any other byte is payload; a FS at the end of a chunk waits
      for the next byte.
    * When a frame in progress exceeds ``max_size`` payload bytes, ``feed`` raises
      ``FrameTooLarge`` and resets: the rest of that frame (everything up to the next VT) is
      discarded, so the caller can answer AR and decide whether to close. Input after the overflow
      point that has not been decoded yet is kept and decoded by the next ``feed`` call
      (``feed(b"")`` is fine). Frames completed earlier in the same call are on the exception's
      ``payloads``.
    """

    def __init__(self, max_size: int | None = None):
        if max_size is not None and max_size < 0:
            raise ValueError("max_size must be >= 0 or None")
        self.max_size = max_size
        self._buf = bytearray()
        self._in_frame = False
        self._fs_seen = False        # last byte of the previous chunk was FS inside a frame
        self._backlog = b""          # undecoded input left over after a FrameTooLarge
        self._discarded = 0

    @property
    def pending(self) -> int:
        """Bytes buffered of an incomplete frame (payload so far, without the VT), plus any
        undecoded backlog left after a FrameTooLarge."""
        return len(self._buf) + self._fs_seen + len(self._backlog)

    @property
    def in_frame(self) -> bool:
        """True after a VT until the frame's FS CR."""
        return self._in_frame

    @property
    def discarded(self) -> int:
        """Bytes received outside a frame (or in an aborted frame) and dropped."""
        return self._discarded

    def reset(self) -> None:
        """Forget any partial frame and backlog (counters are kept)."""
        self._buf.clear()
        self._in_frame = self._fs_seen = False
        self._backlog = b""

    def feed(self, data: bytes) -> list[bytes]:
        n = len(data)
        if (not self._in_frame and not self._backlog and n > 2 and data[0] == _VT
                and data.find(FS, 1) == n - 2 and data[n - 1] == _CR and data.find(VT, 1) < 0
                and (self.max_size is None or n - 3 <= self.max_size)):
            return [bytes(data[1:n - 2])]  # the common case: exactly one whole frame in one read
        if self._backlog:
            data, self._backlog = self._backlog + bytes(data), b""
        else:
            data = bytes(data)
        out: list[bytes] = []
        buf = self._buf
        i, n = 0, len(data)
        while i < n:
            if not self._in_frame:
                j = data.find(VT, i)
                if j < 0:
                    self._discarded += n - i
                    break
                self._discarded += j - i
                self._in_frame = True
                i = j + 1
                continue
            if self._fs_seen:                      # FS ended the previous chunk
                self._fs_seen = False
                if data[i] == _CR:
                    out.append(bytes(buf))
                    buf.clear()
                    self._in_frame = False
                    i += 1
                    continue
                self._take(FS, data, i, out)       # lone FS is payload; data[i] is scanned next
                continue
            j_fs = data.find(FS, i)
            j_vt = data.find(VT, i, j_fs if j_fs >= 0 else n)
            j = j_vt if j_vt >= 0 else (j_fs if j_fs >= 0 else n)
            if j > i:
                self._take(data[i:j], data, j, out)
            i = j
            if j == n:
                break
            if data[j] == _VT:                     # restart: abort the unfinished frame
                self._discarded += 1 + len(buf)
                buf.clear()
                i = j + 1
                continue
            # data[j] is FS
            if j + 1 == n:
                self._fs_seen = True
                break
            if data[j + 1] == _CR:
                out.append(bytes(buf))
                buf.clear()
                self._in_frame = False
                i = j + 2
            else:
                self._take(FS, data, j + 1, out)
                i = j + 1
        return out

    def _take(self, chunk: bytes, data: bytes, resume: int, out: list[bytes]) -> None:
        """Append payload bytes; on overflow reset, keep the undecoded rest and raise."""
        size = len(self._buf) + len(chunk)
        if self.max_size is None or size <= self.max_size:
            self._buf += chunk
            return
        self.reset()
        rest = data[resume:]
        k = rest.find(VT)                          # the rest of the oversized frame is dropped
        self._discarded += len(rest) if k < 0 else k
        self._backlog = b"" if k < 0 else rest[k:]
        raise FrameTooLarge(f"MLLP frame exceeds {self.max_size} bytes ({size} bytes seen so far)",
                            size=size, limit=self.max_size, payloads=out)


class MLLPClient:
    """Sync, blocking MLLP client on a plain socket (works under gevent monkey-patching, which Locust needs).

    One persistent connection, opened lazily. Every wait is bounded: ``connect_timeout`` for the
    TCP (and TLS) handshake, ``read_timeout`` as one overall deadline for a complete answer frame.
    After any error the socket is closed; the next ``send`` reconnects.
    """

    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0,
                 read_timeout: float = 10.0, max_frame: int = 16 * 1024 * 1024,
                 ssl_context=None, server_hostname=None, name: str = ""):
        self.host, self.port = host, int(port)
        self.name = name  # the profile's endpoint name, for error messages
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.max_frame = max_frame
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self._sock: socket.socket | None = None
        self._decoder = FrameDecoder(max_frame)
        self._ready: deque[bytes] = deque()
        self.connections = 0          # how many connections were opened (diagnostics, tests)
        self._answers = 0

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def tls(self) -> bool:
        return self.ssl_context is not None

    def _label(self) -> str:
        return f"MLLP endpoint {self.name} ({self.endpoint})" if self.name else f"MLLP endpoint {self.endpoint}"

    def _tls_error(self, exc: BaseException | None, *, reason: str | None = None) -> TransportError:
        from genrep.transport.tls import tls_error
        return tls_error(exc, endpoint=self._label(), server_name=self.server_hostname or self.host,
                         trust=getattr(self.ssl_context, "genrep_trust", ""), timeout=self.connect_timeout,
                         reason=reason)

    @property
    def connected(self) -> bool:
        return self._sock is not None

    # -- connection -----------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the connection if it is not open. Raises ConnectionRefused / ConnectTimeout."""
        if self._sock is not None:
            return
        ep = self.endpoint
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except ConnectionRefusedError as e:
            raise ConnectionRefused(f"MLLP endpoint {ep} refused the connection") from e
        except TimeoutError as e:          # socket.timeout is TimeoutError since 3.10
            raise ConnectTimeout(f"MLLP endpoint {ep} did not accept a connection within "
                                 f"{self.connect_timeout} s") from e
        except OSError as e:
            raise TransportError(f"cannot connect to MLLP endpoint {ep}: {e}") from e
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                # the handshake is bounded by the connect timeout (set on the socket above); any
                # failure closes the socket: no byte of HL7 is ever written without TLS
                # suppress_ragged_eofs=False: a TLS session cut without close_notify (a server
                # aborting after the handshake, e.g. refusing our client certificate) is an error
                sock = self.ssl_context.wrap_socket(
                    sock, server_hostname=self.server_hostname or self.host, suppress_ragged_eofs=False)
        except TimeoutError as e:
            sock.close()
            raise self._tls_error(e, reason="handshake_timeout") from e
        except ssl.SSLError as e:          # expired/untrusted/wrong-host certificate, plaintext peer
            sock.close()
            raise self._tls_error(e) from e
        except OSError as e:               # reset or closed during the handshake
            sock.close()
            if self.ssl_context is not None:
                raise self._tls_error(e, reason="peer_closed") from e
            raise ProtocolError(f"cannot set up the connection to MLLP endpoint {ep}: {e}") from e
        self._sock = sock
        self._decoder = FrameDecoder(self.max_frame)
        self._ready.clear()
        self.connections += 1
        self._answers = 0             # frames received on this connection

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._ready.clear()
        self._decoder = FrameDecoder(self.max_frame)
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def __enter__(self) -> "MLLPClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _peer_closed(self) -> bool:
        """Non-blocking check whether the peer closed (or reset) the idle connection.

        Data the peer sent unasked is kept (decoded into the buffer), not thrown away.
        """
        sock = self._sock
        assert sock is not None
        try:
            sock.settimeout(0.0)
            if isinstance(sock, ssl.SSLSocket):
                # TLS allows no MSG_PEEK: poll (not select, which fails for descriptors above
                # 1023, and a load run with thousands of users has them), then TLS's own buffer
                if not _readable_now(sock) and not sock.pending():
                    return False
            elif not sock.recv(1, socket.MSG_PEEK):
                # a non-blocking peek: BlockingIOError on a live, idle connection (the common
                # case). Under gevent a zero-timeout recv never waits, where a gevent poll(0) cost
                # ~40 us per message (genrep bench load)
                return True
            while True:
                data = sock.recv(_RECV_SIZE)
                if not data:
                    return True
                self._ready.extend(self._decoder.feed(data))
        except (BlockingIOError, InterruptedError, TimeoutError,
                ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False                   # nothing (or only TLS housekeeping) to read: alive
        except (FrameTooLarge, OSError):
            return True

    def _ensure_connected(self) -> socket.socket:
        """Connect lazily; reconnect once if the peer closed the persistent connection."""
        if self._sock is not None and self._peer_closed():
            self.close()
        self.connect()
        assert self._sock is not None
        return self._sock

    def _write(self, sock: socket.socket, data: bytes) -> None:
        try:
            sock.settimeout(self.read_timeout)
            sock.sendall(data)
        except TimeoutError as e:
            self.close()
            raise ReadTimeout(f"MLLP endpoint {self.endpoint} did not take our data within "
                              f"{self.read_timeout} s") from e
        except ssl.SSLError as e:          # e.g. the server's TLS alert refusing our client certificate
            self.close()
            raise self._tls_error(e) from e
        except OSError as e:
            self.close()
            raise ConnectionClosed(f"MLLP endpoint {self.endpoint} closed the connection while we "
                                   f"were sending: {e}") from e

    # -- messaging ------------------------------------------------------------------------------
    def send(self, payload: bytes) -> bytes:
        """Send one framed message and return the payload of the response frame.

        Never resends: once bytes were written, any failure is raised to the caller (the
        harness decides about retries, since a resent message may be stored twice).
        """
        guard_outbound(payload, destination=f"MLLP {self.endpoint}")  # before a byte leaves
        data = frame(payload)
        sock = self._ensure_connected()
        self._write(sock, data)
        return self.receive()

    def send_raw(self, chunks: list[bytes], *, expect_response: bool = True,
                 pause: float = 0.0) -> bytes | None:
        """Write arbitrary bytes in the given chunks (split/coalesced/broken-frame tests).

        ``pause`` seconds are slept between chunks (so the peer sees separate reads). Returns the
        next response payload, or None when ``expect_response`` is False.
        """
        chunks = [bytes(c) for c in chunks]
        # all chunks together: a number split over two writes is one number to the receiver
        guard_outbound(b"".join(chunks), destination=f"MLLP {self.endpoint}")
        sock = self._ensure_connected()
        for k, chunk in enumerate(chunks):
            if k and pause > 0:
                time.sleep(pause)
            if chunk:
                self._write(sock, bytes(chunk))
        return self.receive() if expect_response else None

    def receive(self) -> bytes:
        """Read the next complete frame payload within ``read_timeout`` (one overall deadline).

        Frames that arrived coalesced with an earlier answer are returned first.
        """
        if self._ready:
            return self._ready.popleft()
        sock = self._sock
        ep = self.endpoint
        if sock is None:
            raise ConnectionClosed(f"not connected to MLLP endpoint {ep}: nothing to receive")
        deadline = time.monotonic() + self.read_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                data = sock.recv(_RECV_SIZE)
            except TimeoutError as e:
                dec = self._decoder
                extra = f" ({dec.pending} bytes of an unfinished frame)" if dec.in_frame else ""
                self.close()
                raise ReadTimeout(f"no MLLP answer from {ep} within {self.read_timeout} s"
                                  f"{extra}") from e
            except ssl.SSLError as e:      # TLS 1.3: a refused client certificate shows up here
                self.close()
                if isinstance(e, ssl.SSLEOFError) and self._answers:
                    raise ConnectionClosed(f"MLLP endpoint {ep} cut the TLS session (no close_notify) "
                                           "before a complete answer arrived") from e
                raise self._tls_error(e) from e
            except OSError as e:
                self.close()
                raise ConnectionClosed(f"MLLP endpoint {ep} broke the connection before a "
                                       f"complete answer arrived: {e}") from e
            if not data:
                dec = self._decoder
                what = (f"in the middle of a frame ({dec.pending} payload bytes received)"
                        if dec.in_frame else "without answering")
                self.close()
                raise ConnectionClosed(f"MLLP endpoint {ep} closed the connection {what}")
            try:
                frames = self._decoder.feed(data)
            except FrameTooLarge as e:
                self.close()
                raise FrameTooLarge(f"MLLP endpoint {ep} sent a frame larger than {self.max_frame}"
                                    f" bytes ({e.size} bytes seen so far)", size=e.size,
                                    limit=e.limit, payloads=e.payloads) from e
            if frames:
                self._answers += len(frames)
                self._ready.extend(frames[1:])
                return frames[0]
