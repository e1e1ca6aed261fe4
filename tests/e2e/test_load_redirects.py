"""Load obeys the profile, over real loopback sockets: the Locust users of load/users.py never follow
a redirect (to another host, from https to plaintext http, or to the same host), every redirect is a
failed request naming its target, nothing reaches the redirect's target, and a refused
personnummer stops the whole run before it is sent.

Locust runs headless as a subprocess (its gevent patching must never reach pytest), with the
GENREP_LOAD_* variables the runner would set and a small locustfile that subclasses the real users
with a short think time. The servers are threads of this process: a "redirector" on 127.0.0.1 (the
only host the profile names) and a "recorder" that counts every byte anyone sends it."""

from __future__ import annotations

import csv
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from genrep.paths import PROJECT_ROOT
from genrep.load.workload import IDENTITY_STOP_EXIT
from support import LoopbackListener

FOREIGN = "196408233234"  # checksum-valid, NOT on the test-identity allowlist
MARKER = "warfarin-marker-7f3a"


def http_recorder(host: str = "127.0.0.2") -> LoopbackListener:
    """A listener that accepts anything and counts the bytes it receives (answering 200, so a
    client that follows a redirect here finishes its request)."""
    return LoopbackListener(host, answer=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            read_timeout=1.0)


def redirector(target: str, *, tls_context: ssl.SSLContext | None = None):
    """An HTTP(S) server on 127.0.0.1 that redirects every request: FHIR report reads (302) and
    prescribing POSTs (307, which keeps method and body) to ``target``; medication reads (302) to
    a path on its own host, which must not be requested either. Records what it receives."""
    seen: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.command, self.path, body))
            if self.path.startswith("/DiagnosticReport"):
                code, location = 302, f"{target}/DiagnosticReport?from=redirect"
            elif self.path.startswith("/prescribe"):
                code, location = 307, f"{target}/prescribe"
            elif self.path.startswith("/MedicationRequest"):
                code, location = 302, "/moved"
            else:
                code, location = 200, None
            self.send_response(code)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def _env(base_url: str, tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENREP_LOAD_", "GENREP_IDENTITY_LATCH"))}
    env.update(PYTHONIOENCODING="utf-8", GENREP_LOAD_FHIR=base_url, GENREP_LOAD_API=base_url,
               GENREP_LOAD_MLLP_HOST="127.0.0.1", GENREP_LOAD_MLLP_PORT="9",  # no MLLP user runs
               GENREP_LOAD_PATIENT_ID="pat-redirect1", GENREP_LOAD_ACCESSION="LAREDIRECT01",
               GENREP_LOAD_ALLOWED_HOSTS="127.0.0.1", GENREP_LOAD_TIMEOUT="5",
               GENREP_LOAD_OUT=str(tmp_path / "out"))
    env.update(extra)
    return env


HARNESS_LOCUSTFILE = f"""
import sys
sys.path.insert(0, {str(PROJECT_ROOT / "load")!r})
from locust import constant
import users  # load/ is not a package


class RedirectClinician(users.ClinicianUser):
    wait_time = constant(0.05)


class RedirectPrescriber(users.PrescriberUser):
    wait_time = constant(0.05)
"""

BARE_LOCUSTFILE = f"""
import os
from locust import FastHttpUser, constant, task


class BarePrescriber(FastHttpUser):
    host = os.environ["GENREP_LOAD_API"]
    wait_time = constant(0.05)

    @task
    def prescribe(self):
        self.client.post("/prescribe", json={{"patient": "pat-redirect1", "new": {MARKER!r}}})
"""


def _locust(tmp_path: Path, source: str, env: dict, *, run_s: int = 4, users: int = 2,
            extra: tuple[str, ...] = ()) -> tuple[int, float, Path]:
    """Locust headless, bounded; (exit code, seconds taken, stats prefix)."""
    lf = tmp_path / "locustfile_redirects.py"
    lf.write_text(source, encoding="utf-8")
    stats = tmp_path / "stats"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(lf), "--headless", "-u", str(users),
                           "-r", str(users), "--run-time", f"{run_s}s", "--stop-timeout", "1",
                           "--only-summary", "--csv", str(stats), "--json-file", str(stats), *extra],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=run_s + 50)
    (tmp_path / "locust.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return proc.returncode, time.monotonic() - start, stats


def _processes(workers: int) -> tuple[str, ...]:
    """``--processes N`` with the master on a free port: Locust's default 5557 is shared by every
    run on the host, and another test's forked workers could join this master (seen under make test:
    a worker given user classes its locustfile does not have)."""
    if not workers:
        return ()
    from genrep.load.locust_process import free_port
    port = str(free_port())
    return ("--processes", str(workers), "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--master-port", port)


def _stats(stats: Path) -> tuple[dict[str, dict], list[dict]]:
    entries = {e["name"]: e for e in json.loads(stats.with_suffix(".json").read_text(encoding="utf-8"))}
    with open(f"{stats}_failures.csv", encoding="utf-8", newline="") as fh:
        failures = list(csv.DictReader(fh))
    return entries, failures


def _reasons(failures: list[dict], name: str) -> list[str]:
    return [f["Error"] for f in failures if f["Name"] == name]


def test_a_bare_fasthttpuser_follows_a_redirect_to_another_host_with_the_body(tmp_path):
    """The control: what was measured. Locust's own client resends the POST body to a host the
    profile does not name (so the recorder below does see traffic when a client follows)."""
    recorder = http_recorder()
    server, _seen = redirector(f"http://127.0.0.2:{recorder.port}")
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        code, took, _stats_prefix = _locust(tmp_path, BARE_LOCUSTFILE, _env(base, tmp_path), run_s=2, users=1)
    finally:
        server.shutdown()
        recorder.close()
    assert took < 40
    assert recorder.connections > 0 and MARKER.encode() in recorder.received, code


def test_redirects_are_failures_naming_the_target_and_nothing_reaches_it(tmp_path):
    recorder = http_recorder()
    server, seen = redirector(f"http://127.0.0.2:{recorder.port}")
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        code, took, stats = _locust(tmp_path, HARNESS_LOCUSTFILE, _env(base, tmp_path))
    finally:
        server.shutdown()
        recorder.close()
    log = (tmp_path / "locust.log").read_text(encoding="utf-8")
    assert took < 45
    assert code == 1, log[-3000:]  # the SLA gate: failures, not an identity stop (3) or a crash (2)
    assert recorder.connections == 0 and len(recorder.received) == 0
    assert not [s for s in seen if s[1] == "/moved"], "a same-host redirect was followed"
    entries, failures = _stats(stats)
    for name in ("read_report", "read_medications", "prescribe"):
        e = entries[name]
        assert e["num_requests"] > 0 and e["num_failures"] == e["num_requests"], (name, e)
    host = f"redirect to host 127.0.0.2 not in the profile (302, http://127.0.0.2:{recorder.port}/DiagnosticReport"
    assert [r for r in _reasons(failures, "read_report") if host in r], failures
    post = f"redirect to host 127.0.0.2 not in the profile (307, http://127.0.0.2:{recorder.port}/prescribe)"
    assert [r for r in _reasons(failures, "prescribe") if post in r], failures
    same = f"redirect not followed (302, {base}/moved)"
    assert [r for r in _reasons(failures, "read_medications") if same in r], failures
    # every POST the redirector saw carried the checked body, and went to the profile's host only
    posts = [s for s in seen if s[0] == "POST"]
    assert len(posts) == entries["prescribe"]["num_requests"]
    assert all(json.loads(b)["patient"] == "pat-redirect1" for _, _, b in posts)
    with open(f"{stats}_failures.csv", encoding="utf-8") as fh:
        print(fh.read())  # the counts for the report: pytest -s shows them


def test_a_redirect_from_https_to_plaintext_http_is_not_followed(tmp_path):
    """The TLS endpoint (throw-away CA, the profile's trust) redirects to plain http on the same
    host: a failure naming the downgrade; the plaintext listener receives nothing."""
    from genrep.transport.pki import make_pki
    from genrep.transport.tls import server_context
    pki = make_pki(tmp_path / "pki")
    plain = http_recorder("127.0.0.1")
    server, seen = redirector(f"http://127.0.0.1:{plain.port}",
                              tls_context=server_context(pki.server_cert, pki.server_key))
    try:
        base = f"https://127.0.0.1:{server.server_port}"
        profile = tmp_path / "load-profile.yaml"
        profile.write_text(
            "name: redirect-tls\nkind: external\nproduction: false\nendpoints:\n"
            f"  ehr_fhir:\n    protocol: http\n    base_url: {base}\n    tls:\n      ca_file: {pki.ca_file}\n"
            f"  ehr_api:\n    protocol: http\n    base_url: {base}\n    tls:\n      ca_file: {pki.ca_file}\n"
            "timeouts:\n  connect: 5\n  read: 5\n", encoding="utf-8")
        code, took, stats = _locust(tmp_path, HARNESS_LOCUSTFILE,
                                    _env(base, tmp_path, GENREP_LOAD_PROFILE_FILE=str(profile)))
    finally:
        server.shutdown()
        plain.close()
    log = (tmp_path / "locust.log").read_text(encoding="utf-8")
    assert took < 45
    assert code == 1, log[-3000:]
    assert seen, "the users never reached the TLS endpoint: " + log[-2000:]
    assert plain.connections == 0 and len(plain.received) == 0
    entries, failures = _stats(stats)
    down = f"redirect from https to plaintext http (307, http://127.0.0.1:{plain.port}/prescribe)"
    assert entries["prescribe"]["num_failures"] == entries["prescribe"]["num_requests"] > 0
    assert [r for r in _reasons(failures, "prescribe") if down in r], failures
    assert [r for r in _reasons(failures, "read_report")
            if "redirect from https to plaintext http (302, http://127.0.0.1:" in r], failures


RUN_S = 120  # --run-time of the refused-personnummer runs


@pytest.mark.timeout(RUN_S + 120)  # a run that is not stopped must fail on the bound below, not time out
@pytest.mark.parametrize("workers", [0, 2])
def test_a_refused_personnummer_stops_the_run_before_it_is_sent(tmp_path, workers):
    """The patient id of the run is a real-looking personnummer not on the allowlist: the first
    request holding it fails naming the refusal, nothing holding it reaches the server, and the
    whole run stops (exit code IDENTITY_STOP_EXIT) long before its run time; in distributed mode
    (a master and 2 workers) the worker that refused tells the master, which stops them all."""
    recorder = http_recorder()
    server, seen = redirector(f"http://127.0.0.2:{recorder.port}")
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        # a long run time: the stop cuts it, so a passing run is no slower, and the bound below (half
        # of it) leaves a saturated host's start-up room while a run that was not stopped overruns it
        code, took, stats = _locust(tmp_path, HARNESS_LOCUSTFILE,
                                    _env(base, tmp_path, GENREP_LOAD_PATIENT_ID=FOREIGN), run_s=RUN_S,
                                    users=4 if workers else 2,
                                    extra=_processes(workers))
    finally:
        server.shutdown()
        recorder.close()
    log = (tmp_path / "locust.log").read_text(encoding="utf-8")
    assert code == IDENTITY_STOP_EXIT, log[-3000:]
    # "stopped long before its run time", start-up (Python, Locust, forked workers) included
    assert took < RUN_S / 2, f"the run went on for {took:.1f} s after the refusal (run time {RUN_S} s)"
    assert not [s for s in seen if FOREIGN.encode() in s[1].encode() + s[2]], "a refused number was sent"
    assert FOREIGN not in log  # masked in every message
    assert len(recorder.received) == 0
    # the run ends before Locust's failures CSV is first written: the reason is in the log
    assert "identity refused, stopping the run: refusing to send to " in log
    assert "(19640823****) that is not on the test-identity allowlist" in log
    assert "didn't have proper args" not in log and "Traceback" not in log, log[-3000:]
    entries = {e["name"]: e for e in json.loads(stats.with_suffix(".json").read_text(encoding="utf-8"))}
    refused = [e for e in entries.values() if e["num_failures"]]
    assert refused and all(e["num_failures"] == e["num_requests"] for e in refused), entries
    assert not [s for s in seen if s[0] == "POST"]  # no prescribing POST (it holds the patient) was sent
