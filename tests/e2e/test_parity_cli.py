"""``genrep parity`` as a tester runs it, in a subprocess, each run bounded: exit 0 on the clean virtual
environment, 1 with a parity defect, 2 for an unknown --system or a bad profile, 3 when an entry point
cannot be reached (a profile copy pointing one entry point at a closed loopback port): an outage, never
"differs"."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from genrep.config.profile import load_profile
from genrep.paths import ENVIRONMENTS_DIR
from genrep.sim.process import start_virtual_environment

BOUND = 60.0  # seconds: two EHR nodes start, two smoke journeys run (about 5 s here)


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("GENREP_ENV", "GENREP_DEFECTS")}


def parity(*args: str) -> tuple[subprocess.CompletedProcess, str]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "parity", *args], capture_output=True, text=True,
                          timeout=BOUND * 2, env=_env())
    elapsed = time.monotonic() - t0
    out = proc.stdout[-4000:] + proc.stderr[-3000:]
    assert elapsed < BOUND, f"{elapsed:.1f} s\n{out}"
    assert "Traceback" not in out, out
    return proc, out


def test_clean_virtual_environment_exits_0():
    proc, out = parity()
    assert proc.returncode == 0, out
    assert proc.stdout.splitlines() == ["ehr: 2 entry points, reference node-a", "  node-a (node): alike",
                                        "  node-b (node): alike"], out


def test_a_parity_defect_exits_1_naming_the_entry_point_and_field(tmp_path):
    proc, out = parity("--defect", "parity-node-b-no-multum", "--results", str(tmp_path / "results"))
    assert proc.returncode == 1, out
    assert "  node-a (node): alike" in proc.stdout and "  node-b (node): DIFFERS" in proc.stdout, out
    assert "    differs: integrations.multum: reachable at node-a, not reachable here" in proc.stdout, out
    assert "UNREACHABLE" not in proc.stdout
    statuses = {}
    for f in (tmp_path / "results").glob("*-result.json"):
        data = json.loads(f.read_text(encoding="utf-8"))
        rid = next(lb["value"] for lb in data["labels"] if lb["name"] == "requirement")
        statuses[rid] = data["status"]
    assert statuses == {"PAR-001": "failed", "PAR-002": "failed", "PAR-003": "failed"}, statuses


def test_schedule_templates_defect_exits_1_in_json():
    proc, out = parity("--defect", "parity-node-b-no-schedule-templates", "--json", "--no-smoke")
    assert proc.returncode == 1, out
    report = json.loads(proc.stdout)
    assert report["exit"] == 1 and report["reference"] == "node-a"
    a, b = report["entry_points"]
    assert a["alike"] and not b["alike"] and b["unreachable"] == "" and b["smoke"] is None
    assert b["problems"] == ["no schedule templates are loaded",
                             "booking type 'Webbokning provtagning' has no resources (it cannot be booked)"]
    assert len(b["differences"]) == 2 and b["differences"][0].startswith("schedule templates missing")


def test_unknown_system_exits_2():
    proc, out = parity("--system", "radiology")
    assert proc.returncode == 2, out
    assert "configuration error" in proc.stderr and "'radiology'" in proc.stderr, out
    assert proc.stdout == ""


@pytest.mark.parametrize("change, key", [
    (lambda t: t.replace("{name: node-b,", "{name: node-a,"), "entry_points.ehr[1].name"),
    (lambda t: t.replace("kind: node, description: a second", "kind: vdi, description: a second"),
     "entry_points.ehr[1].kind"),
    (lambda t: t.split("entry_points:")[0], "entry_points"),  # names none: nothing to compare
])
def test_bad_profile_exits_2_naming_file_and_key(tmp_path, change, key):
    text = (ENVIRONMENTS_DIR / "virtual.yaml").read_text(encoding="utf-8")
    path = tmp_path / "bad-parity.yaml"
    path.write_text(change(text), encoding="utf-8")
    proc, out = parity("--env", str(path))
    assert proc.returncode == 2, out
    assert str(path) in proc.stderr and f"key '{key}'" in proc.stderr, out
    assert proc.stdout == ""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def running():
    """A running virtual environment an external profile copy points at."""
    venv = start_virtual_environment(load_profile("virtual", defects=()))
    try:
        yield venv.profile
    finally:
        venv.stop()


def test_an_entry_point_on_a_closed_port_exits_3_never_1(tmp_path, running):
    eps = running.endpoints
    mllp, fhir, api = eps["radiology_mllp"], eps["ehr_fhir"], eps["ehr_api"]
    closed = _closed_port()
    path = tmp_path / "node-b-down.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: node-b-down
        kind: external
        production: false
        endpoints:
          radiology_mllp: {{protocol: mllp, host: 127.0.0.1, port: {mllp.port}}}
          ehr_fhir: {{protocol: http, base_url: "{fhir.base_url}"}}
          ehr_api: {{protocol: http, base_url: "{api.base_url}"}}
        timeouts: {{connect: 1, read: 5}}
        entry_points:
          ehr:
            - name: node-a
              endpoints:
                ehr_fhir: {{protocol: http, base_url: "{fhir.base_url}"}}
            - name: node-b
              endpoints:
                radiology_mllp: {{protocol: mllp, host: 127.0.0.1, port: {closed}}}
                ehr_fhir: {{protocol: http, base_url: "http://127.0.0.1:{closed}/fhir"}}
                ehr_api: {{protocol: http, base_url: "http://127.0.0.1:{closed}/ehr"}}
        """), encoding="utf-8")
    proc, out = parity("--env", str(path))
    assert proc.returncode == 3, out
    assert "  node-a (node): alike" in proc.stdout, out           # the reachable one passes, smoke and all
    assert "  node-b (node): UNREACHABLE" in proc.stdout, out
    assert f"127.0.0.1:{closed}" in proc.stdout, out
    assert "DIFFERS" not in proc.stdout and "differs:" not in proc.stdout, out
