"""HttpTransport bounds the whole response, not each read: a dripping server cannot stall a run."""

import socket
import threading
import time

import pytest

from genrep.errors import ProtocolError, ReadTimeout
from genrep.transport.http import HttpTransport


@pytest.fixture
def drip_server():
    """Answers with headers at once, then one body byte every 0.1 s for 100 bytes."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n")
            try:
                for _ in range(100):
                    if stop.is_set():
                        break
                    conn.sendall(b"x")
                    time.sleep(0.1)
            except OSError:
                pass
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(3)
    srv.close()


def test_dripping_body_hits_the_overall_deadline(drip_server):
    transport = HttpTransport(f"http://127.0.0.1:{drip_server}", connect_timeout=0.3, read_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(ReadTimeout, match="did not complete within"):
        transport.request("GET", "/slow")
    assert time.monotonic() - start < 5  # per-read timeouts alone would take ~10 s


def test_body_over_the_size_cap_is_refused(drip_server):
    transport = HttpTransport(f"http://127.0.0.1:{drip_server}", connect_timeout=1, read_timeout=30,
                              max_body_bytes=3)
    with pytest.raises(ProtocolError, match="larger than 3 bytes"):
        transport.request("GET", "/big")


@pytest.fixture
def stalling_server():
    """Sends headers and half the body, then stalls forever (until the test ends)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nhello")
            stop.wait(10)
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(3)
    srv.close()


def test_stalled_body_is_a_read_timeout(stalling_server):
    transport = HttpTransport(f"http://127.0.0.1:{stalling_server}", connect_timeout=0.3, read_timeout=0.5)
    with pytest.raises(ReadTimeout):
        transport.request("GET", "/stall")


def _serve_once(script):
    """A one-connection server running ``script(conn)``; returns (port, stop event, thread)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    stop = threading.Event()

    def serve():
        srv.settimeout(5)
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        conn.recv(65536)
        try:
            script(conn, stop)
        except OSError:
            pass
        conn.close()
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv.getsockname()[1], stop, t


def _drip(data: bytes, interval: float):
    def script(conn, stop):
        for i in range(len(data)):
            if stop.is_set():
                return
            conn.sendall(data[i:i + 1])
            time.sleep(interval)
    return script


@pytest.mark.parametrize("what,data", [
    ("status line and headers", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: "
                                + b"p" * 200 + b"\r\nContent-Length: 2\r\n\r\nok"),
    ("chunked body", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + b"".join(b"1\r\nx\r\n" for _ in range(100)) + b"0\r\n\r\n"),
])
def test_dripping_headers_or_chunks_hit_the_overall_deadline(what, data):
    """Every read returns a byte well within the read timeout, so per-read timeouts never fire:
    only the overall deadline (connect 0.3 + read 0.5 s) ends it. Dripped whole, it takes 20 s+."""
    port, stop, thread = _serve_once(_drip(data, 0.1))
    transport = HttpTransport(f"http://127.0.0.1:{port}", connect_timeout=0.3, read_timeout=0.5)
    start = time.monotonic()
    try:
        with pytest.raises(ReadTimeout, match=r"did not complete within 0\.8 s"):
            transport.request("GET", "/drip")
        assert time.monotonic() - start < 5
    finally:
        stop.set()
        thread.join(3)


def test_a_fast_answer_after_a_slow_one_is_not_cut():
    """The watchdog of a finished request never touches the next one on the same connection.

    The deadline is 5 s; /b starts 3.5 s after /a and is answered 2 s later, so it is still running
    when /a's deadline passes (however late the threads run: both waits are at least that long),
    and it has 3 s of its own deadline to spare for a starved machine."""
    def script(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        conn.recv(65536)
        time.sleep(2.0)  # /b ends after /a's deadline (3.5 + 2.0 > 5), within its own
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok2")
        stop.wait(5)
    port, stop, thread = _serve_once(script)
    transport = HttpTransport(f"http://127.0.0.1:{port}", connect_timeout=1.0, read_timeout=4.0)
    try:
        assert transport.request("GET", "/a").content == b"ok"
        time.sleep(3.5)
        assert transport.request("GET", "/b").content == b"ok2"
    finally:
        stop.set()
        thread.join(3)
