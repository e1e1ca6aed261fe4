"""Benchmark baseline (``genrep.benchmarks.load``): the MLLP counterpart of a bare ``FastHttpUser``.

A bare Locust ``User`` with a raw socket (gevent's, as every Locust user has) on one persistent
connection: it writes a pre-built frame, reads until ``FS CR`` and fires a request event, nothing
else (no ACK check, no message building, no identity scan). It cycles through ORU^R01 messages
built once at start by the library builder (``Payloads.oru``: allowlisted identity, guard-checked),
like the raw loop. What the harness's ``RisUser`` costs on top of this is the harness overhead."""

import os
import socket
import time

import cpu_meter  # noqa: F401 - the Locust process's CPU per request (bench/cpu_meter.py)
from locust import User, constant, task

from genrep.load.workload import Payloads

HOST, PORT = os.environ["GENREP_LOAD_MLLP_HOST"], int(os.environ["GENREP_LOAD_MLLP_PORT"])
_payloads = Payloads()
FRAMES = [b"\x0b" + _payloads.oru(f"{HOST}:{PORT}")[0] + b"\x1c\x0d" for _ in range(64)]


class BareMllpUser(User):
    wait_time = constant(0)

    def on_start(self):
        self.sock = socket.create_connection((HOST, PORT), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.n = 0

    def on_stop(self):
        self.sock.close()

    @task
    def send(self):
        start = time.perf_counter()
        self.sock.sendall(FRAMES[self.n % len(FRAMES)])
        self.n += 1
        buf = b""
        while not buf.endswith(b"\x1c\x0d"):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the MLLP responder closed the connection")
            buf += chunk
        self.environment.events.request.fire(request_type="MLLP", name="raw", response_time=(time.perf_counter() - start) * 1000,
                                             response_length=len(buf), exception=None, context={})
