"""The listener front the virtual radiology listener is restarted in (genrep.faults.listener_front):
bytes relayed untouched; a restart drops every open connection, refuses new ones while down, and
relays again once back. Real sockets on loopback."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from types import SimpleNamespace

import pytest

from genrep.errors import GenrepError
from genrep.faults import listener_front
from genrep.faults.listener_front import ListenerFront
from genrep.faults.sim import SimFaultDriver


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _roundtrip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_relays_drops_refuses_and_comes_back(echo, monkeypatch):
    # the front stays down up to 30 s (a starved machine cannot end it before the checks below ran),
    # and comes back as soon as they did: its down time is an Event wait the test ends
    checked = threading.Event()
    monkeypatch.setattr(listener_front, "time", SimpleNamespace(sleep=checked.wait))
    front = ListenerFront("127.0.0.1", echo)
    port = front.start()
    restart = None
    try:
        message = b"\x0bMSH|^~\\&|" + "blödning".encode() * 2000 + b"\x1c\r"
        before = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert _roundtrip(before, message) == message  # untouched, whatever its size
        restart = threading.Thread(target=front.restart, args=(30.0,))
        restart.start()
        deadline = time.monotonic() + 10  # until every connection was dropped and it is down
        while front.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert front.down and front.restarts == 1
        with pytest.raises(OSError) as dropped:  # the open connection was dropped (reset)
            for _ in range(3):
                if not _roundtrip(before, b"x"):
                    raise ConnectionResetError("closed")
        assert not isinstance(dropped.value, TimeoutError)  # dropped, not left hanging
        during = socket.create_connection(("127.0.0.1", port), timeout=10)
        with pytest.raises(OSError) as refused:  # refused while down: accepted and reset at once
            if not _roundtrip(during, b"y"):
                raise ConnectionResetError("closed")
        assert not isinstance(refused.value, TimeoutError)
        assert front.down  # the checks above ran while it was down
        checked.set()      # ends the down time
        restart.join(10)
        assert not restart.is_alive()
        after = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert _roundtrip(after, b"back again") == b"back again"
        assert (front.restarts, front.dropped) == (1, 1) and front.refused >= 1 and not front.down
        for s in (before, during, after):
            s.close()
    finally:
        checked.set()      # a failed check never leaves the restart waiting behind the test
        if restart is not None:
            restart.join(10)
        front.stop()


def test_loopback_only():
    with pytest.raises(GenrepError, match="loopback only"):
        ListenerFront("10.0.0.5", 2575)


class _Sim:
    alive = True
    info: dict = {}


class _Venv:
    def __init__(self, profile):
        self.profile = profile
        self.processes = {"ehr": _Sim()}

    def process(self, name):
        return self.processes[name]


def test_the_sim_driver_routes_the_radiology_endpoint_through_a_front_and_restarts_there(echo):
    from genrep.config.profile import Endpoint, load_profile
    profile = load_profile(None).with_endpoints({
        "radiology_mllp": Endpoint("radiology_mllp", "mllp", "127.0.0.1", echo),
        "ehr_fhir": Endpoint("ehr_fhir", "http", "127.0.0.1", 1, base_url="http://127.0.0.1:1/fhir")})
    driver = SimFaultDriver(_Venv(profile))
    assert "radiology-listener" in driver.targets and driver.supported_by("radiology-listener") == {"restarted"}
    with pytest.raises(GenrepError, match="no listener front"):
        driver.inject("radiology-listener", "restarted", delay=0.1)
    routed = driver.route(profile, {"radiology-listener"})
    try:
        front_port = routed.endpoint("radiology_mllp").port
        assert front_port != echo and routed.endpoint("ehr_fhir") == profile.endpoint("ehr_fhir")
        t = time.monotonic()
        driver.inject("radiology-listener", "restarted", delay=0.3)  # returns once it listens again
        assert 0.3 <= time.monotonic() - t < 0.3 + 5 and driver.front.restarts == 1
        with socket.create_connection(("127.0.0.1", front_port), timeout=5) as s:
            assert _roundtrip(s, b"ORU") == b"ORU"
        driver.clear()
        assert driver.route(profile, {"nll"}) is profile  # nothing stands in front of NLL
    finally:
        driver.close()
    assert driver.front is None
