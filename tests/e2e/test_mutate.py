"""``genrep mutate`` end to end: the proxies pass bytes through unchanged with no operator (real
sockets), apply and count an active one, listen on loopback only; a small mutation run classifies
caught, survived and never triggered as expected and leaves no process, thread or port behind; an
interrupted run stops everything."""

from __future__ import annotations

import http.server
import json
import signal
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from genrep.errors import ConfigError
from genrep.mutate.operators import select
from genrep.mutate.proxy import HTTPProxy, MLLPProxy, Switch
from genrep.mutate.run import CAUGHT, NEVER, run_mutation, write_allure
from genrep.paths import PROJECT_ROOT
from genrep.results.allure import safe_text
from support import descendants

VT, FS, CR = b"\x0b", b"\x1c", b"\r"
ORU = ("MSH|^~\\&|GENREP|RIS|EHR|REGION|20240101120000||ORU^R01^ORU_R01|C1|P|2.5|||||UNICODE UTF-8\r"
       "OBR|1||GRX0001||RAD^Röntgen\rOBX|1|TX|RAD^Röntgen|1|Ingen fraktur.||||||F\r").encode("utf-8")


# -- an upstream that records what it got and answers each frame --------------------------------

class _MLLPUpstream:
    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.received = bytearray()
        self.closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self):
        conn, _ = self.sock.accept()
        conn.settimeout(10)
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                before = self.received.count(FS + CR)
                self.received += data
                for _ in range(self.received.count(FS + CR) - before):
                    conn.sendall(VT + b"MSH|^~\\&|EHR|REGION|||||ACK|A1|P|2.5\rMSA|AA|C1\r" + FS + CR)
        self.closed.set()

    def close(self):
        self.sock.close()


def _recv_until(sock: socket.socket, count: int, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    got = b""
    while got.count(FS + CR) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_mllp_proxy_passes_bytes_through_unchanged_with_no_operator():
    upstream = _MLLPUpstream()
    switch = Switch()
    with MLLPProxy("127.0.0.1", upstream.port, switch) as proxy:
        frame = VT + ORU + FS + CR
        junk = b"noise before a frame"
        sent = junk + frame + frame[:17]  # junk, one frame, and a frame split across writes ...
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as c:
            c.sendall(junk + frame + frame[:17])
            time.sleep(0.05)
            c.sendall(frame[17:] + frame + frame)  # ... then two frames in one write
            sent += frame[17:] + frame + frame
            acks = _recv_until(c, 4)
            c.sendall(VT + ORU[:40])  # a frame that never ends: forwarded as it came on close
            sent += VT + ORU[:40]
        assert upstream.closed.wait(10)
    assert bytes(upstream.received) == sent
    assert acks.count(b"MSA|AA|C1") == 4 and acks.startswith(VT)
    assert switch.counts.applied == 0
    upstream.close()


def test_mllp_proxy_applies_the_active_operator_and_counts_it():
    upstream = _MLLPUpstream()
    switch = Switch()
    op = select(["negation-word-dropped"])[0]
    switch.set(op)
    with MLLPProxy("127.0.0.1", upstream.port, switch) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as c:
            c.sendall(VT + ORU + FS + CR)
            _recv_until(c, 1)
    assert upstream.closed.wait(10)
    assert b"|Fraktur.|" in upstream.received and b"Ingen" not in upstream.received
    assert switch.counts.applied == 1 and switch.counts.seen == 1
    assert "-OBX" in switch.counts.example and "+OBX" in switch.counts.example
    upstream.close()


class _Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        if self.path.startswith("/fhir/Binary/"):
            data, ctype = "Ingen fraktur.\nInga tecken till blödning.".encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data = json.dumps({"resourceType": "Bundle", "path": self.path, "echo": body.decode("utf-8"),
                               "host": self.headers.get("Host"), "auth": self.headers.get("Authorization"),
                               "encoding": self.headers.get("Accept-Encoding")}).encode()
            ctype = "application/fhir+json"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("X-Upstream", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


@pytest.fixture
def http_upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_http_proxy_passes_requests_and_responses_through_unchanged(http_upstream):
    import requests
    port = http_upstream.server_address[1]
    direct = requests.Session()
    switch = Switch()
    with HTTPProxy("127.0.0.1", port, switch) as proxy, requests.Session() as s:
        for path in ("/fhir/DiagnosticReport?identifier=GRX", "/fhir/Binary/RPT-1-text"):
            a = s.get(f"http://127.0.0.1:{proxy.port}{path}", headers={"Authorization": "Bearer t0ken"}, timeout=5)
            b = direct.get(f"http://127.0.0.1:{port}{path}", headers={"Authorization": "Bearer t0ken"}, timeout=5)
            assert a.status_code == b.status_code == 200
            assert a.headers["Content-Type"] == b.headers["Content-Type"] and a.headers["X-Upstream"] == "yes"
            if "Binary" in path:
                assert a.content == b.content
            else:
                got = a.json()
                assert got["path"] == path and got["auth"] == "Bearer t0ken" and got["encoding"] == "identity"
                assert got["host"] == f"127.0.0.1:{port}"
        posted = s.post(f"http://127.0.0.1:{proxy.port}/fhir/x", data="åäö".encode(), timeout=5).json()
        assert posted["echo"] == "åäö"
        # a request for another host (absolute form) is refused, never forwarded
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as c:
            c.sendall(b"GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\nContent-Length: 0\r\n\r\n")
            assert c.recv(100).startswith(b"HTTP/1.1 400")
    assert switch.counts.applied == 0
    direct.close()


def test_http_proxy_applies_a_response_operator(http_upstream):
    import requests
    switch = Switch()
    switch.set(select(["binary-negation-dropped"])[0])
    with HTTPProxy("127.0.0.1", http_upstream.server_address[1], switch) as proxy:
        text = requests.get(f"http://127.0.0.1:{proxy.port}/fhir/Binary/RPT-1-text", timeout=5).text
        bundle = requests.get(f"http://127.0.0.1:{proxy.port}/fhir/DiagnosticReport", timeout=5).json()
    assert text == "Fraktur.\nInga tecken till blödning."
    assert bundle["resourceType"] == "Bundle"
    assert switch.counts.applied == 1 and switch.counts.seen == 2


def test_proxies_listen_on_loopback_only():
    for cls in (MLLPProxy, HTTPProxy):
        with pytest.raises(ConfigError, match="loopback"):
            cls("127.0.0.1", 1, Switch(), listen_host="0.0.0.0")


def _children() -> set[psutil.Process]:
    return descendants()


def _proxy_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("mllp-proxy", "http-proxy"))]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_small_mutation_run_classifies_and_cleans_up(tmp_path):
    before = _children()
    names = ("negation-word-dropped", "unit-mm-to-cm", "fhir-text-cut-5-chars", "decimal-comma-to-point",
             "adt-name-diacritics-folded", "adt-family-given-swapped")
    lines = []
    report = run_mutation(operator_names=names, select="final_CT_report or Negation_words", out_dir=tmp_path / "m",
                          budget=300, progress=lines.append)
    status = {o.name: o.status for o in report.operators}
    # the title cut is caught since the read-back compares the conclusion too; the registration is
    # read back after every ADT (name, birth date, sex), so a folded or swapped name is caught where
    # it once survived (the survivor path: tests/e2e/test_mutate_outbound.py, a harmless change)
    assert status == {"negation-word-dropped": CAUGHT, "unit-mm-to-cm": CAUGHT, "fhir-text-cut-5-chars": CAUGHT,
                      "decimal-comma-to-point": NEVER, "adt-name-diacritics-folded": CAUGHT,
                      "adt-family-given-swapped": CAUGHT}, lines
    assert report.control["scenarios"] == 2 and not report.control["failed"] and report.complete
    scores = report.by_integration()
    assert (scores["radiology"]["caught"], scores["radiology"]["survived"], scores["radiology"]["score"]) == (3, 0, 1.0)
    assert (scores["registration"]["caught"], scores["registration"]["survived"]) == (2, 0)
    folded = next(o for o in report.operators if o.name == "adt-name-diacritics-folded")
    assert folded.applied >= 1 and folded.kinds == ["combining_marks_lost"], folded
    assert "PID" in folded.example and safe_text(folded.example) == folded.example  # identities masked
    assert not report.survivors()
    assert json.loads((tmp_path / "m" / "mutation.json").read_text(encoding="utf-8"))["survivors"] == []
    # one Allure result per integration, no requirement label, each passed
    written = write_allure(report, tmp_path / "allure")
    results = [json.loads(w.read_text(encoding="utf-8")) for w in written if w.name.endswith("-result.json")]
    assert sorted(r["name"] for r in results) == ["Mutation score, radiology", "Mutation score, registration"]
    assert all(r["status"] == "passed" for r in results), results
    assert not any(lb["name"] == "requirement" for r in results for lb in r["labels"])
    # everything stopped: no simulator, no suite process, no proxy thread, the ports closed
    gone, alive = psutil.wait_procs(list(_children() - before), timeout=10)
    assert not alive and not _proxy_threads()
    profile = (tmp_path / "m" / "profile.yaml").read_text(encoding="utf-8")
    port = int(profile.split("radiology_mllp:")[1].split("port:")[1].split()[0])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ctrl_c_stops_the_suite_the_proxies_and_the_simulators(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "genrep.cli", "mutate", "--out", str(tmp_path / "m"),
                             "--operator", "negation-word-dropped", "--operator", "unit-mm-to-cm",
                             "-k", "final_CT_report or Negation_words or Blank_lines"],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tree: set[psutil.Process] = set()
    lines = []
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:  # wait until the operator runs have started
            lines.append(line)
            if "control run:" in line or time.monotonic() > deadline:
                break
        time.sleep(2.0)
        tree = set(psutil.Process(proc.pid).children(recursive=True))
        assert tree, "no simulators or suite running: " + "".join(lines)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, "".join(lines) + rest
    gone, alive = psutil.wait_procs(list(tree), timeout=10)
    assert not alive, [p.pid for p in alive]
    report = json.loads((tmp_path / "m" / "mutation.json").read_text(encoding="utf-8"))
    assert report["interrupted"] is True
