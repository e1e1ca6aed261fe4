"""MLLP framing and client, over real loopback sockets."""

from __future__ import annotations

import importlib.util
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.errors import (ConnectionClosed, ConnectionRefused, HL7Error, ProtocolError,
                           ReadTimeout, TransportError)
from genrep.transport.mllp import CR, FS, VT, FrameDecoder, FrameTooLarge, MLLPClient, frame

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mllp_echo", ROOT / "bench" / "mllp_echo.py")
mllp_echo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mllp_echo)

# the benchmark echo answers every frame with one fixed ACK quoting ECHO1: the messages sent to it
# carry that control id (the client matches MSA-2 to MSH-10, tests/unit/test_mllp_ack_matching.py)
ORU = ("MSH|^~\\&|SECTRA|RIS|EHR|KS|20250101120000||ORU^R01^ORU_R01|ECHO1|P|2.5|||||SE|UNICODE UTF-8\r"
       "OBX|1|TX|RAD^Utlåtande||Ingen blödning. Övre lob utan anmärkning: åäö ÅÄÖ\r").encode("utf-8")
ACK_PAYLOAD = mllp_echo.ACK[1:-2]


# ---------------------------------------------------------------- helpers: loopback servers
class ScriptedServer:
    """Threaded TCP server on 127.0.0.1 running ``handler(conn)`` per accepted connection."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self._thread.join(timeout=2)

    def _accept(self):
        self.sock.settimeout(0.05)                      # close() does not wake accept()
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.accepted += 1
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn, self._stop)
        except OSError:
            pass


def read_frames(conn, n=1):
    """Server side: read until n complete frames arrived; return their payloads (or fewer on EOF)."""
    dec, out = FrameDecoder(), []
    while len(out) < n:
        data = conn.recv(65536)
        if not data:
            break
        out.extend(dec.feed(data))
    return out


@pytest.fixture
def echo_port():
    port, stop = mllp_echo.start_in_thread()
    yield port
    stop()


# CI runs on a CPU-starved machine: a bound saying "the timeout fired, it did not hang" is the
# timeout plus SLACK seconds (a starved thread may be seconds late), never the timeout plus a little
SLACK = 5.0


def wait_until_peer_closed(c: MLLPClient, timeout: float = 10.0) -> None:
    """Until the peer's close reached the client's idle connection (readable: at EOF), if it has one."""
    if c._sock is not None:
        assert select.select([c._sock], [], [], timeout)[0], "the server did not close the connection"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- frame()
def test_frame_wraps_payload():
    assert frame(b"abc") == b"\x0babc\x1c\x0d"
    assert VT + b"" + FS + CR == frame(b"")


def test_frame_rejects_bytes_that_would_break_framing():
    with pytest.raises(HL7Error, match="vertical tab"):
        frame(b"OBX|1|TX|||pasted\x0bRTF")
    with pytest.raises(HL7Error, match="end marker"):
        frame(b"a\x1c\x0db")
    assert frame(b"a\x1cb") == b"\x0ba\x1cb\x1c\x0d"    # lone FS is payload


# ---------------------------------------------------------------- FrameDecoder
def test_split_at_every_byte_position():
    wire = frame(ORU)
    for cut in range(len(wire) + 1):
        dec = FrameDecoder()
        got = dec.feed(wire[:cut]) + dec.feed(wire[cut:])
        assert got == [ORU], cut
        assert dec.pending == 0 and dec.discarded == 0


def test_byte_by_byte():
    dec = FrameDecoder()
    got = []
    for b in frame(ORU) + frame(b"second"):
        got += dec.feed(bytes([b]))
    assert got == [ORU, b"second"]


def test_many_frames_coalesced_in_one_feed():
    payloads = [f"MSH|{i}|åäö".encode() for i in range(500)]
    dec = FrameDecoder()
    assert dec.feed(b"".join(frame(p) for p in payloads)) == payloads
    assert dec.pending == 0


def test_garbage_before_vt_is_discarded_and_counted():
    dec = FrameDecoder()
    assert dec.feed(b"\r\nnoise" + frame(b"A") + b"xx" + frame(b"B")) == [b"A", b"B"]
    assert dec.discarded == len(b"\r\nnoise") + 2
    assert dec.feed(b"trailing") == []
    assert dec.discarded == len(b"\r\nnoise") + 2 + len(b"trailing")
    assert dec.pending == 0


def test_vt_inside_unfinished_frame_restarts_it():
    dec = FrameDecoder()
    assert dec.feed(b"\x0bhalf a mess") == []
    assert dec.pending == len(b"half a mess")
    assert dec.feed(b"age\x0bwhole\x1c\x0d") == [b"whole"]
    assert dec.discarded == 1 + len(b"half a message")


def test_fs_without_cr_is_payload_even_across_feeds():
    dec = FrameDecoder()
    assert dec.feed(b"\x0ba\x1cb\x1c") == []
    assert dec.feed(b"c\x1c") == []
    assert dec.feed(b"\x0d") == [b"a\x1cb\x1cc"]


def test_missing_fs_never_completes():
    dec = FrameDecoder()
    assert dec.feed(b"\x0bMSH|no end\r") == []
    assert dec.in_frame and dec.pending == len(b"MSH|no end\r")


def test_max_size_raises_then_continues_with_next_frame():
    dec = FrameDecoder(max_size=10)
    assert dec.feed(frame(b"0123456789")) == [b"0123456789"]          # exactly the limit: fine
    with pytest.raises(FrameTooLarge) as ei:
        dec.feed(b"\x0b0123456789A")
    assert isinstance(ei.value, ProtocolError)
    assert ei.value.size == 11 and ei.value.limit == 10
    # the rest of the oversized frame is dropped, the next frame decodes normally
    assert dec.feed(b"BCDEF\x1c\x0d" + frame(b"next")) == [b"next"]
    assert dec.pending == 0


def test_max_size_in_coalesced_read_keeps_order():
    dec = FrameDecoder(max_size=4)
    with pytest.raises(FrameTooLarge) as ei:
        dec.feed(frame(b"ok1") + frame(b"toolong") + frame(b"ok2"))
    assert ei.value.payloads == [b"ok1"]                 # handled before the error
    assert dec.feed(b"") == [b"ok2"]                     # the rest of the read is kept


@settings(max_examples=200, deadline=None)
@given(payloads=st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b"")),
                         max_size=12),
       cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=25))
def test_property_any_chunking_gives_payloads_in_order(payloads, cuts):
    wire = b"".join(frame(p) for p in payloads)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    dec = FrameDecoder()
    got = []
    for a, b in zip(points, points[1:]):
        got += dec.feed(wire[a:b])
    assert got == payloads
    assert dec.pending == 0 and dec.discarded == 0


# ---------------------------------------------------------------- MLLPClient
def test_many_messages_on_one_persistent_connection(echo_port):
    with MLLPClient("127.0.0.1", echo_port, read_timeout=2) as c:
        for _ in range(300):
            assert c.send(ORU) == ACK_PAYLOAD
        assert c.connections == 1
        assert c.endpoint == f"127.0.0.1:{echo_port}"


def test_utf8_payload_round_trips_byte_for_byte():
    def echo(conn, stop):
        while (frames := read_frames(conn)):
            conn.sendall(frame(frames[0]))

    with ScriptedServer(echo) as srv, MLLPClient("127.0.0.1", srv.port, read_timeout=2) as c:
        assert c.send(ORU) == ORU
        assert c.send("Ö".encode("latin-1")) == b"\xd6"


def test_response_split_byte_by_byte():
    def dribble(conn, stop):
        while read_frames(conn):
            for b in frame(ORU[:120]):
                conn.sendall(bytes([b]))

    with ScriptedServer(dribble) as srv, MLLPClient("127.0.0.1", srv.port, read_timeout=5) as c:
        assert c.send(b"one") == ORU[:120]
        assert c.send(b"two") == ORU[:120]


def test_two_responses_coalesced_are_both_returned():
    def double(conn, stop):
        read_frames(conn)
        conn.sendall(frame(b"first") + frame(b"second"))
        stop.wait(5)

    with ScriptedServer(double) as srv, MLLPClient("127.0.0.1", srv.port, read_timeout=2) as c:
        assert c.send(b"x") == b"first"
        assert c.receive() == b"second"


def test_send_raw_split_and_coalesced_frames(echo_port):
    wire = frame(ORU)
    with MLLPClient("127.0.0.1", echo_port, read_timeout=2) as c:
        assert c.send_raw([wire[:5], wire[5:50], wire[50:]], pause=0.01) == ACK_PAYLOAD
        assert c.send_raw([frame(b"a") + frame(b"b")]) == ACK_PAYLOAD
        assert c.receive() == ACK_PAYLOAD
        assert c.send_raw([b"\x0bincomplete"], expect_response=False) is None


def test_refused_port_fails_fast():
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(ConnectionRefused, match=f"MLLP endpoint 127.0.0.1:{port} refused the connection"):
        MLLPClient("127.0.0.1", port, connect_timeout=30).send(b"x")
    assert time.monotonic() - t0 < 10      # refused at once, never waited out to the connect timeout


def test_silent_server_gives_read_timeout_within_bound():
    with ScriptedServer(lambda conn, stop: stop.wait(5)) as srv:
        c = MLLPClient("127.0.0.1", srv.port, read_timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(ReadTimeout, match=f"no MLLP answer from 127.0.0.1:{srv.port} within 0.5 s"):
            c.send(b"hello")
        assert 0.45 <= time.monotonic() - t0 < 0.5 + SLACK
        assert not c.connected                            # closed after the error


def test_trickling_server_cannot_extend_the_deadline():
    def trickle(conn, stop):
        read_frames(conn)
        conn.sendall(VT)
        while not stop.wait(0.05):                        # one byte every 50 ms, never FS CR
            conn.sendall(b"x")

    with ScriptedServer(trickle) as srv:
        c = MLLPClient("127.0.0.1", srv.port, read_timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(ReadTimeout, match="unfinished frame"):
            c.send(b"hello")
        assert time.monotonic() - t0 < 0.5 + SLACK   # the trickle never ends: only the deadline stops it


def test_server_closing_mid_frame_gives_connection_closed():
    def half(conn, stop):
        read_frames(conn)
        conn.sendall(b"\x0bMSH|^~\\&|half")
        conn.close()

    with ScriptedServer(half) as srv:
        c = MLLPClient("127.0.0.1", srv.port, read_timeout=2)
        with pytest.raises(ConnectionClosed, match="middle of a frame"):
            c.send(b"x")
        assert not c.connected


def test_server_closing_without_answer_is_not_resent():
    received = []

    def swallow(conn, stop):
        received.extend(read_frames(conn))
        conn.close()

    with ScriptedServer(swallow) as srv:
        c = MLLPClient("127.0.0.1", srv.port, read_timeout=2)
        with pytest.raises(ConnectionClosed, match="without answering"):
            c.send(b"once")
        time.sleep(0.05)
        assert received == [b"once"] and srv.accepted == 1


def test_reconnects_once_after_server_closed_idle_connection():
    def one_per_connection(conn, stop):                 # like hl7apy's MLLPServer
        if read_frames(conn):
            conn.sendall(frame(b"ACK"))
        conn.close()

    with ScriptedServer(one_per_connection) as srv:
        with MLLPClient("127.0.0.1", srv.port, read_timeout=2) as c:
            assert c.send(b"m1") == b"ACK"
            wait_until_peer_closed(c)                     # server has closed the idle connection
            assert c.send(b"m2") == b"ACK"
            wait_until_peer_closed(c)
            assert c.send(b"m3") == b"ACK"
            assert srv.accepted == 3 and c.connections == 3


def test_oversized_response_raises_frame_too_large():
    def big(conn, stop):
        read_frames(conn)
        conn.sendall(frame(b"x" * 5000))
        stop.wait(5)

    with ScriptedServer(big) as srv:
        c = MLLPClient("127.0.0.1", srv.port, read_timeout=2, max_frame=1000)
        with pytest.raises(FrameTooLarge, match="larger than 1000 bytes"):
            c.send(b"x")
        assert not c.connected


def test_next_send_after_error_reconnects(echo_port):
    c = MLLPClient("127.0.0.1", echo_port, read_timeout=0.3)
    c.send_raw([b"\x0bnever finished"], expect_response=False)
    with pytest.raises(ReadTimeout):
        c.receive()
    c.read_timeout = 10                                   # the echo answers this one: a long wait
    assert c.send(b"again") == ACK_PAYLOAD and c.connections == 2
    c.close()


def test_all_errors_are_transport_errors():
    for cls in (ConnectionRefused, ReadTimeout, ConnectionClosed, FrameTooLarge):
        assert issubclass(cls, TransportError)


def test_works_under_gevent_monkey_patching(echo_port):
    import gevent  # noqa: F401  (a dev dependency: the client must work under Locust's gevent)
    code = textwrap.dedent(f"""
        from gevent import monkey; monkey.patch_all()
        import gevent
        from genrep.transport.mllp import MLLPClient
        def run():
            with MLLPClient("127.0.0.1", {echo_port}, read_timeout=2) as c:
                return [c.send(b"MSH|x") for _ in range(50)]
        jobs = [gevent.spawn(run) for _ in range(4)]
        gevent.joinall(jobs, raise_error=True)
        assert all(len(j.value) == 50 for j in jobs)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30, cwd=ROOT)


def test_client_works_on_a_descriptor_above_1023(echo_port):
    """A load run with thousands of users holds thousands of sockets; the idle-connection check
    must not use select(), which refuses descriptors >= 1024 (found by golive_morning at 6,000
    users: half the MLLP requests failed with 'filedescriptor out of range in select()')."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard descriptor limit ({hard}) is too low to reach 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = [socket.socket() for _ in range(1100)]  # push the next descriptors above 1023
    try:
        client = MLLPClient("127.0.0.1", echo_port, connect_timeout=2, read_timeout=2)
        client.connect()
        assert client._sock.fileno() >= 1024
        for _ in range(3):  # the second and third send run the idle check
            assert b"MSA|AA|" in client.send(b"MSH|^~\\&|A|B|C|D|20250101||ADT^A04|ECHO1|P|2.5\r")
        client.close()
    finally:
        for s in filler:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
