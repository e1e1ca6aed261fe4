"""HttpTransport bounds the whole response, not each read: a dripping server cannot stall a run."""

import socket
import threading
import time

import pytest

from genrep.errors import ProtocolError, ReadTimeout
from genrep.http import HttpTransport


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
