"""`genrep contract check nll`: drift of the (virtual) NLL against the consumer's contract, as a CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from genrep.paths import PROJECT_ROOT

#: the golden corpus the virtual NLL is planted with: every prescription is a sample checked
GOLDEN_COUNT = len(json.loads((PROJECT_ROOT / "fixtures" / "nll" / "golden.json").read_text(encoding="utf-8"))
                   ["prescriptions"])


def genrep(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GENREP_ENV", "GENREP_DEFECTS")}
    return subprocess.run([sys.executable, "-m", "genrep.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_release_n_has_no_drift():
    proc = genrep("contract", "check", "nll")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DRIFT: none" in proc.stdout
    assert "BREAKING" not in proc.stdout
    assert "release N:" in proc.stdout and f"{GOLDEN_COUNT} sample prescription(s)" in proc.stdout


def test_release_n_plus_1_breaks_the_contract():
    proc = genrep("contract", "check", "nll", "--release", "N+1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "maxLength 512 -> 256" in out
    assert "line-breaks-changed" in out
    assert "MedicationRequest.dosageInstruction.additionalInstruction.text" in out  # the moved field
    assert "DRIFT: BREAKING" in out
    assert "DRIFT: none" not in out


def test_json_report():
    proc = genrep("contract", "check", "nll", "--release", "N+1", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)  # nothing but the JSON on stdout
    assert report["breaking"] is True
    assert report["provider_release"] == "N+1" and report["contract_release"] == "N"
    assert report["samples_checked"] == GOLDEN_COUNT
    breaking = {c["kind"] for c in report["changes"] if c["breaking"]}
    assert {"limit-changed", "line-breaks-changed", "removed"} <= breaking
    assert any("maxLength 512 -> 256" in c["detail"] for c in report["changes"])
    assert {c["kind"] for c in report["changes"] if not c["breaking"]} == {"added"}  # new elements: info only


def test_unknown_contract_name():
    proc = genrep("contract", "check", "radiologi")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no contract check for 'radiologi'" in proc.stderr
    assert "available: nll" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_release_refused_for_external_profile(tmp_path):
    path = tmp_path / "nll-test.yaml"
    path.write_text(textwrap.dedent("""\
        name: nll-test
        kind: external
        description: a real NLL test endpoint (never contacted by this test)
        endpoints:
          nll_fhir: {protocol: http, base_url: "http://127.0.0.1:9/fhir"}
        test_patients:
          nll: ["191212121212"]
        timeouts: {connect: 1, read: 1}
        """), encoding="utf-8")
    proc = genrep("contract", "check", "nll", "--env", str(path), "--release", "N+1")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--release only switches the virtual NLL" in proc.stderr
    assert "Traceback" not in proc.stderr
