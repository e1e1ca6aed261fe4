"""A system under test that refuses connections, does not resolve, or accepts and never answers is
found by the pre-flight before any scenario starts: exit 3, one line per endpoint, ``VERDICT: none``,
within seconds (profile = external, loopback); a missing token is exit 2 (issue 17, part 2).
An outage that begins mid-run is ``test_blackhole_suite_bound``'s."""

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

#: a bound against a hang, not the issue's figure: "exit 2 in under 5 s" and "exit 3 in under 10 s"
#: are measured by the command on a quiet machine (2.6 s and 5.0 s; docs/robustness.md) - under
#: `make test`'s 4 workers on 2 cores the same runs took up to 9-11 s, all of it Python start-up;
#: CI runs 6 workers on 2 cores. The subprocess timeouts are above it, so the bound is what reports
HANG_BOUND = 60.0


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


def _run(profile: str, tmp_path, *extra, env=None):
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--env", profile,
                           "--results", str(tmp_path / "results"), "-m", "RAD-001 or RAD-R02", *extra],
                          capture_output=True, text=True, timeout=240, env=env)
    return proc, time.monotonic() - t0


def test_refusing_endpoint_stops_at_preflight(tmp_path):
    port = _closed_port()
    proc, elapsed = _run(_profile(tmp_path, port, port), tmp_path)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "VERDICT: none" in proc.stdout
    assert "refused the connection" in proc.stderr
    assert proc.stderr.count("refused the connection") == 2  # one line per endpoint
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").glob("*-result.json"))
    assert elapsed < HANG_BOUND


def test_hanging_endpoint_stops_at_preflight(tmp_path, silent_server):
    """MLLP accepts (the connect passes); the FHIR metadata read on the same silent port times out."""
    proc, elapsed = _run(_profile(tmp_path, silent_server, silent_server), tmp_path)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "VERDICT: none" in proc.stdout
    assert "FHIR metadata read failed" in proc.stderr
    assert elapsed < HANG_BOUND


def _example_env(**tokens):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENREP_")}
    env.update(tokens)
    return env


def test_example_profile_without_token_exits_2_within_5_s(tmp_path):
    """The example external profile and no token: exit 2 in under 5 s, one line per missing variable."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--env", "example-external",
                           "--results", str(tmp_path / "results")], capture_output=True, text=True,
                          timeout=2 * HANG_BOUND, env=_example_env())
    elapsed = time.monotonic() - t0
    out = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 2, out
    assert "VERDICT: none" in proc.stdout, out
    for var in ("GENREP_EHR_FHIR_TOKEN", "GENREP_EHR_API_TOKEN", "GENREP_NLL_TOKEN"):
        assert proc.stderr.count(var) == 1, out
    assert "Traceback" not in out
    assert elapsed < HANG_BOUND, f"{elapsed:.1f} s\n{out}"
    print(f"\nno token: exit 2 in {elapsed:.2f} s")


def test_unresolvable_hosts_exit_3_within_10_s(tmp_path):
    """Every host of the profile unresolvable (``.invalid``, RFC 6761), tokens set: exit 3 in under 10 s."""
    example = (__import__("genrep.paths", fromlist=["x"]).ENVIRONMENTS_DIR / "example-external.yaml")
    text = example.read_text(encoding="utf-8").replace("test.region.example", "test.region.invalid")
    profile = tmp_path / "unresolvable.yaml"
    profile.write_text(text.replace("name: example-external", "name: unresolvable"), encoding="utf-8")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--env", str(profile),
                           "--results", str(tmp_path / "results")], capture_output=True, text=True, timeout=2 * HANG_BOUND,
                          env=_example_env(GENREP_EHR_FHIR_TOKEN="t1", GENREP_EHR_API_TOKEN="t2",
                                           GENREP_NLL_TOKEN="t3"))
    elapsed = time.monotonic() - t0
    out = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 3, out
    assert "VERDICT: none" in proc.stdout, out
    for name in ("radiology_mllp", "ehr_fhir", "ehr_api", "nll_fhir"):
        assert f"  - {name} (" in proc.stderr, out
    assert "Traceback" not in out
    assert elapsed < HANG_BOUND, f"{elapsed:.1f} s\n{out}"
    print(f"\nunresolvable hosts: exit 3 in {elapsed:.2f} s")


def test_load_runs_the_preflight_too(tmp_path):
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "load", "golive_morning", "--env", "example-external",
                           "--out", str(tmp_path / "load")], capture_output=True, text=True, timeout=2 * HANG_BOUND,
                          env=_example_env())
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "genrep load pre-flight" in proc.stderr and "GENREP_EHR_FHIR_TOKEN" in proc.stderr
    assert elapsed < HANG_BOUND
