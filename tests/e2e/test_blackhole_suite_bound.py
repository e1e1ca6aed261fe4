"""A black-hole system under test bounds the whole rehearsal, not only each wait.

``test_unreachable`` proves a refusing or silent endpoint ends in NO-GO with the right reason; this
proves the time: ``genrep rehearse`` against endpoints that never answer finishes within

    scenarios x (connect + read) + START_MARGIN

seconds (the profile's timeouts), every scenario fails within one connect + read of its own, and
the run ends NO-GO with exit code 1. Two black holes on loopback:

- ``silent``: accepts the TCP connection and never answers (the read timeout must fire);
- ``syn-drop``: a listener whose accept queue is full, so the kernel drops every SYN and connect
  never completes (the connect timeout must fire; skipped where the kernel does not drop them).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager

import pytest

CONNECT, READ = 1.0, 1.0
# a few radiology scenarios: sends, a split frame, an expected no-answer, a version sequence
SELECT = ("final_ct_report or negation_words or split_across_many or never_ends "
          "or preliminary_final_and_corrected")
SCENARIOS = 5
START_MARGIN = 45.0     # interpreter, pytest collection of every feature, verdict outputs (loaded CI)
SCENARIO_SLACK = 2.0    # per scenario, beyond its one connect + read: step code, Allure writing
BOUND = SCENARIOS * (CONNECT + READ) + START_MARGIN


def _profile(tmp_path, port: int) -> str:
    path = tmp_path / "blackhole.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: blackhole
        kind: external
        description: loopback endpoints that swallow everything
        production: false
        endpoints:
          radiology_mllp: {{protocol: mllp, host: 127.0.0.1, port: {port}}}
          ehr_fhir: {{protocol: http, base_url: "http://127.0.0.1:{port}/fhir"}}
        timeouts: {{connect: {CONNECT:g}, read: {READ:g}}}
        """), encoding="utf-8")
    return str(path)


@contextmanager
def _silent():
    """Accepts every connection, reads nothing, answers nothing."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        for c in conns:
            c.close()
        srv.close()


@contextmanager
def _syn_drop():
    """A listener that never accepts, its backlog filled: further SYNs are dropped (Linux)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(4):  # fill the accept queue until a connect no longer completes
            s = socket.socket()
            s.settimeout(0.5)
            fillers.append(s)
            try:
                s.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:
            pytest.skip("this kernel completes connections beyond the listen backlog: no SYN black hole")
        yield port
    finally:
        for s in fillers:
            s.close()
        srv.close()


HOLES = {"silent": _silent, "syn-drop": _syn_drop}
# the bounded wait that must have fired (genrep.transport.mllp's messages)
REASON = {"silent": "no MLLP answer", "syn-drop": "did not accept a connection within"}


def _scenario_results(results) -> list[dict]:
    out = []
    for path in results.glob("*-result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if any(lb.get("name") == "framework" and lb.get("value") == "pytest-bdd"
               for lb in data.get("labels", [])):
            out.append(data)
    return out


@pytest.mark.parametrize("hole", sorted(HOLES))
def test_blackhole_run_finishes_within_timeouts_bound(tmp_path, hole):
    results = tmp_path / "results"
    with HOLES[hole]() as port:
        cmd = [sys.executable, "-m", "genrep.cli", "rehearse", "--env", _profile(tmp_path, port),
               "--results", str(results), "-k", SELECT, "--no-html"]
        t0 = time.monotonic()
        # the subprocess bound is only a backstop (2 x BOUND): the assertion below is the check
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=2 * BOUND)
        elapsed = time.monotonic() - t0
    out = proc.stdout[-3000:] + proc.stderr[-2000:]
    scenarios = _scenario_results(results)
    assert len(scenarios) == SCENARIOS, (f"{len(scenarios)} scenarios ran, {SCENARIOS} selected "
                                         f"(-k changed?)\n{out}")
    assert elapsed <= BOUND, (f"{hole}: the run took {elapsed:.1f} s, bound {BOUND:.0f} s = "
                              f"{SCENARIOS} x ({CONNECT:g} + {READ:g}) + {START_MARGIN:g}\n{out}")
    assert proc.returncode == 1, out
    assert "VERDICT: NO-GO" in proc.stdout
    assert REASON[hole] in proc.stdout, out
    slow = {d["name"]: (d["stop"] - d["start"]) / 1000 for d in scenarios
            if (d["stop"] - d["start"]) / 1000 > CONNECT + READ + SCENARIO_SLACK}
    assert not slow, f"{hole}: scenarios over one connect + read (+{SCENARIO_SLACK:g} s): {slow}"
    assert all(d["status"] in ("failed", "broken") for d in scenarios), \
        [(d["name"], d["status"]) for d in scenarios]
    print(f"\n{hole}: {SCENARIOS} scenarios, run {elapsed:.1f} s (bound {BOUND:.0f} s), "
          f"slowest scenario {max((d['stop'] - d['start']) / 1000 for d in scenarios):.2f} s")
