"""genrep.preflight: credentials, endpoint probes, the outage latch (issue 17, parts 2 and 3)."""

from __future__ import annotations

import http.server
import socket
import textwrap
import threading

import pytest

from genrep import preflight
from genrep.config.profile import load_profile
from genrep.errors import ConnectionClosed, ConnectionRefused, ConnectTimeout, ProtocolError, ReadTimeout, TransportError
from genrep.results.failure_kinds import KINDS, kinds_in


def _profile(tmp_path, body: str):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent("""\
        name: p
        kind: external
        description: test
        production: false
        timeouts: {connect: 1, read: 1}
        """) + textwrap.dedent(body), encoding="utf-8")
    return load_profile(str(path))


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_missing_credentials_are_one_problem_each(tmp_path, monkeypatch):
    monkeypatch.delenv("PF_TOKEN_A", raising=False)
    monkeypatch.setenv("PF_TOKEN_B", "x")
    p = _profile(tmp_path, """\
        endpoints:
          a: {protocol: http, base_url: "http://127.0.0.1:1/fhir", credentials_env: PF_TOKEN_A}
          b: {protocol: http, base_url: "http://127.0.0.1:1/api", credentials_env: PF_TOKEN_B}
        """)
    problems = preflight.check_credentials(p)
    assert [pr.kind for pr in problems] == ["credentials"]
    assert "PF_TOKEN_A" in problems[0].text
    report = preflight.run_preflight(p)
    assert report.exit_code == 2 and len(report.problems) == 1  # no network probe with a token missing


def test_refused_endpoint_is_unreachable(tmp_path):
    port = _closed_port()
    p = _profile(tmp_path, f"""\
        endpoints:
          radiology_mllp: {{protocol: mllp, host: 127.0.0.1, port: {port}}}
        """)
    report = preflight.run_preflight(p)
    assert report.exit_code == 3
    assert "refused the connection" in report.problems[0].text
    with pytest.raises(TransportError, match="radiology_mllp"):
        preflight.raise_for(report, "test")


def _fhir_server(status: int):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.mark.parametrize("status,code", [(200, 0), (401, 2), (503, 3)])
def test_fhir_metadata_read(tmp_path, monkeypatch, status, code):
    monkeypatch.setenv("PF_TOKEN", "secret-token")
    srv = _fhir_server(status)
    try:
        p = _profile(tmp_path, f"""\
            endpoints:
              ehr_fhir: {{protocol: http, base_url: "http://127.0.0.1:{srv.server_address[1]}/fhir",
                         credentials_env: PF_TOKEN}}
            """)
        report = preflight.run_preflight(p)
    finally:
        srv.shutdown()
        srv.server_close()
    assert report.exit_code == code, report.problems
    if code == 0:
        assert "FHIR metadata HTTP 200" in report.checked[0]
    assert all("secret-token" not in pr.text for pr in report.problems)


def test_endpoints_needed_by_integration_tags(tmp_path):
    p = _profile(tmp_path, """\
        endpoints:
          radiology_mllp: {protocol: mllp, host: 127.0.0.1, port: 1}
          ehr_fhir: {protocol: http, base_url: "http://127.0.0.1:1/fhir"}
          ehr_api: {protocol: http, base_url: "http://127.0.0.1:1/ehr"}
        """)
    names = lambda tags: sorted(e.name for e in preflight.endpoints_needed(p, tags))  # noqa: E731
    assert names([{"radiology", "RAD-001"}]) == ["ehr_fhir", "radiology_mllp"]
    assert names([{"multum"}]) == ["ehr_api"]
    assert names([{"untagged"}]) == ["ehr_api", "ehr_fhir", "radiology_mllp"]   # unknown: every endpoint
    assert names(None) == ["ehr_api", "ehr_fhir", "radiology_mllp"]
    assert names([]) == []


def test_unavailability_is_only_the_connection_family():
    assert preflight.is_unavailability(ConnectionRefused("MLLP endpoint x refused the connection"))
    assert preflight.is_unavailability(ConnectTimeout("no connection within 1 s"))
    assert preflight.is_unavailability(ReadTimeout("no MLLP answer from x within 1 s"))
    assert preflight.is_unavailability(TransportError("cannot connect to MLLP endpoint x: Name or service not known"))
    assert not preflight.is_unavailability(ReadTimeout("no_ack: committed but no application ACK"))  # the product's
    assert not preflight.is_unavailability(ProtocolError("broken frame"))
    assert not preflight.is_unavailability(ConnectionClosed("closed mid-answer"))
    assert not preflight.is_unavailability(AssertionError("not_stored: ..."))


def test_marked_exception_carries_the_kind():
    exc = ReadTimeout("no MLLP answer from 127.0.0.1:9 within 1 s")
    preflight.mark_unavailable(exc, ["radiology_mllp"])
    text = f"genrep.errors.ReadTimeout: {exc}"
    assert kinds_in(text) == ["environment_unavailable"]
    assert KINDS["environment_unavailable"].category == "Environment unreachable"


def test_outage_latch_blocks_after_consecutive_failures_across_processes(tmp_path):
    path = tmp_path / "outages.jsonl"
    a, b = preflight.OutageLatch(path, block_after=3), preflight.OutageLatch(path, block_after=3)
    a.record(["radiology_mllp"], down=True, text="no MLLP answer")
    b.record(["radiology_mllp"], down=True, text="no MLLP answer")
    assert a.blocked(["radiology_mllp"]) is None
    b.record(["radiology_mllp"], down=False)          # a scenario got through: the count starts again
    for latch in (a, b, a):
        latch.record(["radiology_mllp"], down=True, text="no MLLP answer from x")
    assert b.blocked(["ehr_api"]) is None
    err = b.blocked_error(["ehr_api", "radiology_mllp"])
    assert isinstance(err, preflight.EnvironmentUnavailableError)
    assert kinds_in(f"genrep.preflight.EnvironmentUnavailableError: {err}") == ["environment_unavailable"]
    assert "blocked, not attempted" in str(err) and "radiology_mllp" in str(err)


def test_gate_never_counts_an_outage_as_a_defect():
    from genrep.config.contracts import load_catalogue
    from genrep.results.gate import decide
    from genrep.results.reader import ScenarioResult
    msg = ("genrep.errors.ReadTimeout: no MLLP answer from 127.0.0.1:9 within 1 s\n"
           "environment_unavailable: radiology_mllp could not be reached")
    down = ScenarioResult("A final CT report", "f", "broken", msg, ["RAD-001"], "h")
    ok = ScenarioResult("Another", "g", "passed", "", ["RAD-R21"], "i")
    v = decide([down, ok], load_catalogue())
    assert v.status == "INCOMPLETE", v.reasons
    assert not v.defect_candidates and not v.failures
    assert any("environment unavailable" in g.describe() and "no MLLP answer" in g.describe() for g in v.missing)
    v = decide([down], load_catalogue())
    assert v.status == "INCOMPLETE"
