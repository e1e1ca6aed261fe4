"""A system under test that refuses connections, or accepts and never answers, fails its scenarios
within their timeouts; the run completes with NO-GO and never hangs (profile = external, loopback)."""

import socket
import subprocess
import sys
import textwrap
import threading

import pytest


def _profile(tmp_path, mllp_port: int, fhir_port: int) -> str:
    path = tmp_path / "blackhole.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: blackhole
        kind: external
        description: loopback endpoints that misbehave
        production: false
        endpoints:
          radiology_mllp: {{protocol: mllp, host: 127.0.0.1, port: {mllp_port}}}
          ehr_fhir: {{protocol: http, base_url: "http://127.0.0.1:{fhir_port}/fhir"}}
        timeouts: {{connect: 1, read: 1}}
        """), encoding="utf-8")
    return str(path)


@pytest.fixture
def silent_server():
    """Accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns, stop = [], threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _run(profile: str, tmp_path):
    return subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--env", profile,
                           "--results", str(tmp_path / "results"), "-m", "RAD-001 or RAD-R02"],
                          capture_output=True, text=True, timeout=240)


def test_refusing_endpoint_fails_scenarios_quickly(tmp_path):
    port = _closed_port()
    proc = _run(_profile(tmp_path, port, port), tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "VERDICT: NO-GO" in proc.stdout
    assert "refused the connection" in proc.stdout


def test_hanging_endpoint_fails_scenarios_within_timeout(tmp_path, silent_server):
    proc = _run(_profile(tmp_path, silent_server, silent_server), tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "VERDICT: NO-GO" in proc.stdout
    assert "no MLLP answer" in proc.stdout
