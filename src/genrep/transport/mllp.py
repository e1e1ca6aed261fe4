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

Real peers answer out of step (a late ACK, a duplicate, a commit ACK before the application ACK,
two ACKs in one write) and close connections after each answer. So ``MLLPClient.send`` matches the
answer to the message (MSA-2 against MSH-10: the one place the harness does it, for the steps and
the load users alike), and a profile endpoint chooses the connection policy and the resend rule;
the rules are in ``MLLPClient``'s docstring and docs/robustness.md ("Real peers").

The module is the client (connection, connection policy, resend rule, frame reading on the
socket); two siblings hold the rest and everything public is re-exported here:
``transport.mllp_framing`` (``frame``, ``FrameDecoder``: pure bytes) and ``transport.mllp_answers``
(matching answers to messages: ``AckMatching``, ``SkippedAck``, ``AckMismatch``,
``NoApplicationAck``).

Over 500 lines, kept one module: what is left here is one state machine (a connection, its policy,
the resend rule and the reads that feed the matching), whose methods share the connection's
state; the pure parts already live in the two siblings and ``mllp_lean``.
"""

from __future__ import annotations

import select
import socket
import ssl
import sys
import time
from collections import OrderedDict, deque

from genrep.errors import (ConnectionClosed, ConnectionRefused, ConnectTimeout, HL7Error,
                           ProtocolError, ReadTimeout, TransportError)
from genrep.hl7.ack import AckRequest, ack_request, read_ack_header
from genrep.text.identities import guard_outbound
from genrep.transport.mllp_answers import (_SKIPPED_KEPT, AckMatching, AckMismatch, NoApplicationAck,
                                           SkippedAck, _batch_requests)
from genrep.transport.mllp_framing import CR, FS, VT, FrameDecoder, FrameTooLarge, frame, is_one_frame
from genrep.transport.mllp_lean import LeanAnswer

__all__ = ["VT", "FS", "CR", "frame", "FrameTooLarge", "FrameDecoder", "MLLPClient", "AckMismatch",
           "NoApplicationAck", "SkippedAck", "CONNECTION_POLICIES", "RESEND_POLICIES"]

_RECV_SIZE = 65536

_IDLE_EVENTS = select.POLLIN | select.POLLPRI | getattr(select, "POLLRDHUP", 0) if hasattr(select, "poll") else 0


def _os_poll():
    """``select.poll`` as the OS gives it, also under gevent's monkey-patching (Locust's), which
    swaps in a cooperative poll that goes through gevent's hub (~40 us a call, genrep bench load).
    A poll with timeout 0 never blocks, so the OS's is safe in a greenlet. The library does not
    import gevent: it asks only a gevent that is already loaded for its original. None where there
    is no poll (Windows)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None:
        try:
            return monkey.get_original("select", "poll")
        except (AttributeError, ImportError, KeyError):
            pass
    return getattr(select, "poll", None)


def _idle_probe_of(sock: socket.socket):
    """A zero-timeout poll on ``sock``'s descriptor for ``_idle_and_open`` (one per connection), or
    None when the kernel cannot answer for the connection: TLS (its own buffer may hold data the
    descriptor does not show) or no poll on this system. Then the caller reads to find out."""
    poll = _os_poll()
    if poll is None or isinstance(sock, ssl.SSLSocket):
        return None
    try:
        probe = poll()
        probe.register(sock.fileno(), _IDLE_EVENTS)
    except (OSError, ValueError, TypeError):
        return None
    return probe


def _idle_and_open(probe) -> bool:
    """True only when the kernel says the connection ``probe`` watches (``_idle_probe_of``) is idle and
    open: nothing waits to be read, no FIN (``POLLRDHUP``) and no reset or error (``POLLERR``,
    ``POLLHUP``: always reported) came from the peer. False when it cannot tell (no probe) or
    something else is the case; then the caller reads the socket to find out. One syscall that
    never raises on the common path, where a non-blocking peek raises BlockingIOError every time
    (~15 us per message under gevent) and TCP_INFO plus FIONREAD took two (~6 us per message inside
    a Locust run, session 13)."""
    if probe is None:
        return False
    try:
        return not probe.poll(0)
    except (OSError, ValueError):
        return False


def _readable_now(sock: socket.socket) -> bool:
    """Whether ``sock`` has data (or EOF) to read right now, without waiting. Uses poll (any
    descriptor number; cooperative under gevent's monkey-patching), select where there is none."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


# -- connection policy and resend rule ----------------------------------------------------------
CONNECTION_POLICIES = ("persistent", "per_message")
RESEND_POLICIES = ("never", "unacknowledged")


class _NotWritten(Exception):
    """Internal: the write failed before the frame's end left (the receiver cannot hold the message)."""

    def __init__(self, error: TransportError):
        self.error = error


class MLLPClient(AckMatching, LeanAnswer):
    """Sync, blocking MLLP client on a plain socket (works under gevent monkey-patching, which Locust needs).

    Every wait is bounded: ``connect_timeout`` for the TCP (and TLS) handshake, ``read_timeout`` as
    one overall deadline for the answer to a message. After an error the socket is closed; the
    next ``send`` reconnects.

    **Answers are matched to messages** (``send``): the answer is the ACK whose MSA-2 equals the sent
    MSH-10. Frames for other control ids (a late or duplicated ACK, one for a message this client
    never sent) are recorded (``skipped``, ``last_skipped``) and never taken as the answer; when
    the answer arrives after such frames, ``send`` raises ``AckMismatch`` (``answer`` holds it), and
    when it does not arrive by the deadline, ``AckMismatch`` says what came instead. Enhanced mode:
    a commit accept (CA) is the answer unless the message asked for the application ACK always
    (MSH-16 AL), then the AA/AE/AR that follows is (``last_commit`` keeps the CA); CE and CR end
    the exchange. A refusal (AE/AR/CE/CR) whose MSA-2 is empty is taken as the answer (a receiver
    that could not read MSH-10 cannot quote it); an AA or CA naming no message is not. A payload
    with no readable MSH-10 (framing tests) is answered by the next frame, as it comes.

    **Connection policy** (``connection``, from the profile endpoint): ``persistent`` (default)
    keeps one connection and opens a new one when the peer closed it; ``per_message`` opens a new
    connection for every message and closes it after the answer (peers that close after each
    ACK: hl7apy's MLLPServer, engines' one-message-per-connection mode). A persistent client that
    sees the peer close a connection after its first answer treats the peer as one-message-per-
    connection from then on (``adapted``), so a peer that closes after each ACK costs at most one
    failed send (the one that raced the close), not every other one.

    **Resend rule** (``resend``): a message is sent again, on a new connection, with the same bytes
    (the same MSH-10), at most once and counted in ``resends``, only when (a) the write failed
    before the frame's end left this host (the receiver cannot hold a message whose end it never
    got: always safe), or (b) with ``resend: unacknowledged`` only, the whole frame was written and
    the connection closed or broke before a single byte of any answer came back (the profile says
    the receiver deduplicates by MSH-10, as HL7 original mode expects of it). Nothing else is ever
    resent: a timeout, a partial answer, an answer for another message, a refusal.
    """

    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0,
                 read_timeout: float = 10.0, max_frame: int = 16 * 1024 * 1024,
                 ssl_context=None, server_hostname=None, name: str = "",
                 connection: str = "persistent", resend: str = "never"):
        if connection not in CONNECTION_POLICIES:
            raise ValueError(f"connection must be one of {', '.join(CONNECTION_POLICIES)}, got {connection!r}")
        if resend not in RESEND_POLICIES:
            raise ValueError(f"resend must be one of {', '.join(RESEND_POLICIES)}, got {resend!r}")
        self.host, self.port = host, int(port)
        # "host:port", and what the identity guard names as the destination, made once (a load
        # user sends thousands of messages a second: an f-string per message is ~1 us inside a
        # Locust run)
        self.endpoint = f"{self.host}:{self.port}"
        self._destination = f"MLLP {self.endpoint}"
        self.name = name  # the profile's endpoint name, for error messages
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.max_frame = max_frame
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.connection = connection
        self.resend = resend
        self._sock: socket.socket | None = None
        self._decoder = FrameDecoder(max_frame)
        self._ready: deque[bytes] = deque()
        self.connections = 0          # how many connections were opened (diagnostics, tests)
        self._answers = 0             # frames received on the current connection
        self._received = 0            # bytes received on the current connection
        self.adapted = False          # the peer was seen closing after each answer (see the class doc)
        self.resends = 0              # messages sent a second time under the resend rule
        self.last_resent = False      # the last send() was resent once
        self.skipped: deque[SkippedAck] = deque(maxlen=_SKIPPED_KEPT)
        self.skipped_total = 0
        self.last_skipped: tuple[SkippedAck, ...] = ()
        self.last_commit: bytes | None = None
        #: the control id whose answer the last send proved a plain AA (transport.mllp_lean), else None
        self.last_plain_aa: str | None = None
        self._timeout: float | None = None  # the socket's timeout as last set here
        self._idle_probe = None             # a plain socket's zero-timeout poll (_idle_and_open)
        self._history: OrderedDict[str, str] = OrderedDict()  # control id -> sent|answered|committed
        self._pending: set[str] = set()  # sent in one raw batch and not yet answered (send_raw)

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
        self._timeout = self.connect_timeout
        self._idle_probe = _idle_probe_of(sock)
        self._decoder = FrameDecoder(self.max_frame)
        self._ready.clear()
        self._pending.clear()
        self.connections += 1
        self._answers = 0
        self._received = 0

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._timeout, self._idle_probe = None, None
        self._ready.clear()
        self._pending.clear()
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
        if _idle_and_open(self._idle_probe):
            return False                   # the common case, asked of the kernel without a read
        is_tls = isinstance(sock, ssl.SSLSocket)
        try:
            self._timeout = 0.0
            sock.settimeout(0.0)
            if is_tls:
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
                self._received += len(data)
                self._ready.extend(self._decoder.feed(data))
        except (BlockingIOError, InterruptedError, TimeoutError,
                ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False                   # nothing (or only TLS housekeeping) to read: alive
        except (FrameTooLarge, OSError):
            return True

    def _ensure_connected(self) -> socket.socket:
        """Connect lazily; a new connection when the policy says so or the peer closed this one."""
        if self._sock is not None:
            if self.connection == "per_message" or self.adapted:
                self.close()
            elif self._peer_closed():
                if self._answers == 1:     # closed after its first answer: one message per connection
                    self.adapted = True
                self.close()
        self.connect()
        assert self._sock is not None
        return self._sock

    def _write(self, sock: socket.socket, data: bytes) -> None:
        try:
            # not set again (~0.6 us) when already within 1 ms under it (the last answer's remaining)
            timeout = self.read_timeout
            if not timeout - 0.001 < (self._timeout or -1.0) <= timeout:
                self._timeout = timeout
                sock.settimeout(timeout)
            sock.sendall(data)
        except TimeoutError as e:
            self.close()
            raise ReadTimeout(f"MLLP endpoint {self.endpoint} did not take our data within "
                              f"{self.read_timeout} s") from e
        except ssl.SSLError as e:          # e.g. the server's TLS alert refusing our client certificate
            self.close()
            raise self._tls_error(e) from e
        except OSError as e:
            # sendall stops at the first error: the frame's last bytes (FS CR) never left this
            # host, so the receiver cannot hold the message (a frame that never ends is no message)
            self.close()
            raise _NotWritten(ConnectionClosed(
                f"MLLP endpoint {self.endpoint} closed the connection while we were sending: {e}")) from e

    # -- messaging ------------------------------------------------------------------------------
    def send(self, payload: bytes) -> bytes:
        """Send one framed message and return the payload of its answer (see the class doc:
        matched by MSA-2, connection policy, resend rule).

        Raises ``AckMismatch`` when the answers are not aligned with the messages,
        ``NoApplicationAck`` when a CA came but the application ACK asked for did not,
        ``ReadTimeout`` when nothing came, ``ConnectionClosed`` when the peer closed first.
        """
        guard_outbound(payload, destination=self._destination)  # before a byte leaves
        return self._exchange(frame(payload), ack_request(payload))

    def send_framed(self, data: bytes, request: AckRequest) -> bytes:
        """``send`` for a message framed ahead of time: ``data`` is the whole frame that leaves, and
        ``request`` what ``ack_request`` reads from its payload (a load template computes both once
        per template, not per message: ``load.workload.Payloads.oru_framed``). Everything after
        that is ``send``'s: the identity guard on the very bytes that leave (a template's fill is
        in the guard's memo), the answer matched by MSA-2, the connection policy and the resend
        rule. ``data`` must be exactly one frame whose only VT and FS are its first byte and its
        last but one (what ``frame`` makes of a payload with neither): anything else is refused."""
        if not is_one_frame(data):
            raise HL7Error("send_framed takes exactly one MLLP frame (VT payload FS CR, no other VT "
                           "or FS): use send() for a payload")
        guard_outbound(data, destination=self._destination)  # before a byte leaves
        return self._exchange(data, request)

    def _exchange(self, data: bytes, request: AckRequest | None) -> bytes:
        """Write the frame ``data`` and return the answer to ``request`` (``send``'s rules)."""
        if request is not None and request.silent_on_success:
            raise HL7Error(f"message {request.control_id!r} asks for no acknowledgement on success "
                           f"(MSH-15 {request.accept_ack}, MSH-16 {request.application_ack}): send() waits for "
                           "one; use send_raw(..., expect_response=False)")
        self.last_resent = False
        self.last_plain_aa = None
        while True:
            sock = self._ensure_connected()
            reused = self._answers > 0
            before = self._received   # bytes received on this connection before our write
            try:
                self._write(sock, data)
            except _NotWritten as e:
                if self.last_resent:
                    raise e.error from e.__cause__
                self._resent()
                continue
            if request is not None:
                self._pending = {request.control_id}
                self._note(request.control_id, "sent")
            try:
                deadline = time.monotonic() + self.read_timeout
                answer = (self._answer(request, deadline) if request is None
                          else self._lean_answer(request, deadline))
            except ConnectionClosed as e:
                if self._received != before:
                    raise                  # something came back after our write: never resent
                if reused and not self.adapted:
                    self.adapted = True    # it answered on this connection, then closed it
                if self.resend == "unacknowledged" and not self.last_resent:
                    self._resent()
                    continue
                if reused:
                    raise ConnectionClosed(
                        f"{e} right after we wrote on a connection it had answered on: a peer that "
                        "closes after each ACK; the message may or may not have been read, so it is "
                        "not resent (profile: connection: per_message for such a peer, or resend: "
                        "unacknowledged when it deduplicates by MSH-10)") from e
                raise
            if self.connection == "per_message" or self.adapted:
                self._close_after_answer()
            return answer

    def _close_after_answer(self) -> None:
        """Close a one-message connection; frames that came after the answer are recorded first."""
        extra: list[SkippedAck] = []
        for payload in self._ready:
            header = read_ack_header(payload)
            if header is not None:
                self._skip(header, payload, extra)
        if extra:
            self.last_skipped += tuple(extra)
        self.close()

    def _resent(self) -> None:
        self.last_resent = True
        self.resends += 1

    def send_raw(self, chunks: list[bytes], *, expect_response: bool = True,
                 pause: float = 0.0) -> bytes | None:
        """Write arbitrary bytes in the given chunks (split/coalesced/broken-frame tests).

        ``pause`` seconds are slept between chunks (so the peer sees separate reads). Returns the
        answer to the first complete frame written (matched by MSA-2 when that frame has an
        MSH-10; the answers to the other frames of the write are kept for ``receive``), or None
        when ``expect_response`` is False. Never resent.
        """
        chunks = [bytes(c) for c in chunks]
        # all chunks together: a number split over two writes is one number to the receiver
        joined = b"".join(chunks)
        guard_outbound(joined, destination=self._destination)
        sock = self._ensure_connected()
        requests = _batch_requests(joined) if expect_response else []
        for k, chunk in enumerate(chunks):
            if k and pause > 0:
                time.sleep(pause)
            if chunk:
                try:
                    self._write(sock, bytes(chunk))
                except _NotWritten as e:
                    raise e.error from e.__cause__
        if not expect_response:
            return None
        self._pending = {r.control_id for r in requests}
        for r in requests:
            self._note(r.control_id, "sent")
        answer = self._answer(requests[0] if requests else None, time.monotonic() + self.read_timeout)
        if self.connection == "per_message" and not self._pending:
            self._close_after_answer()
        return answer

    def receive(self, control_id: str | None = None) -> bytes:
        """The next answer within ``read_timeout`` (one overall deadline): the answer to
        ``control_id`` (matched as ``send`` does; answers to other messages of the same raw write
        stay for later), or with no control id simply the next frame (frames that arrived
        coalesced with an earlier answer first)."""
        deadline = time.monotonic() + self.read_timeout
        if control_id is None:
            return self._next_frame(deadline)
        return self._answer(AckRequest(control_id), deadline)

    # -- frame reading --------------------------------------------------------------------------
    def _next_frame(self, deadline: float) -> bytes:
        """The next complete frame payload before ``deadline``; frames already decoded first."""
        if self._ready:
            return self._ready.popleft()
        if self._sock is None:
            raise ConnectionClosed(f"not connected to MLLP endpoint {self.endpoint}: nothing to receive")
        while True:
            frames = self._ingest(self._recv_once(deadline))
            if frames:
                self._answers += len(frames)
                self._ready.extend(frames[1:])
                return frames[0]

    def _recv_once(self, deadline: float) -> bytes:
        """One read before ``deadline``: bytes (never empty); a timeout, close or break closes and raises."""
        sock = self._sock
        assert sock is not None
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            # not set again (~0.6 us under gevent) when it already is at most 1 ms over (the one
            # _write set, for a message's first read): the wait stays bounded, never cut short
            if not remaining <= (self._timeout or -1.0) < remaining + 0.001:
                self._timeout = remaining
                sock.settimeout(remaining)
            data = sock.recv(_RECV_SIZE)
        except TimeoutError as e:
            dec = self._decoder
            extra = f" ({dec.pending} bytes of an unfinished frame)" if dec.in_frame else ""
            self.close()
            raise ReadTimeout(f"no MLLP answer from {self.endpoint} within {self.read_timeout} s{extra}") from e
        except ssl.SSLError as e:          # TLS 1.3: a refused client certificate shows up here
            self.close()
            if isinstance(e, ssl.SSLEOFError) and self._answers:
                raise ConnectionClosed(f"MLLP endpoint {self.endpoint} cut the TLS session (no close_notify) "
                                       "before a complete answer arrived") from e
            raise self._tls_error(e) from e
        except OSError as e:
            self.close()
            raise ConnectionClosed(f"MLLP endpoint {self.endpoint} broke the connection before a "
                                   f"complete answer arrived: {e}") from e
        if not data:
            dec = self._decoder
            what = (f"in the middle of a frame ({dec.pending} payload bytes received)"
                    if dec.in_frame else "without answering")
            self.close()
            raise ConnectionClosed(f"MLLP endpoint {self.endpoint} closed the connection {what}")
        return data

    def _ingest(self, data: bytes) -> list[bytes]:
        """Bytes just read, counted and decoded: the frames they completed (not yet in ``_answers``)."""
        self._received += len(data)
        try:
            return self._decoder.feed(data)
        except FrameTooLarge as e:
            self.close()
            raise FrameTooLarge(f"MLLP endpoint {self.endpoint} sent a frame larger than {self.max_frame}"
                                f" bytes ({e.size} bytes seen so far)", size=e.size,
                                limit=e.limit, payloads=e.payloads) from e
