"""README's first command, end to end: a rehearsal of the features alone against the clean virtual
environment passes every scenario, but is INCOMPLETE (exit 4), naming the performance acceptance
test that never ran; accepted as partial it is PARTIAL GO, recorded. With a replayed defect it ends
NO-GO naming the requirement. (`make rehearse`, load included, is the GO: checked by hand, ~4 min.)"""

import json
import os
import subprocess
import sys

import pytest

from genrep.rehearsal import SHRINK_SECONDS_ENV


def _rehearse(tmp_path, *extra, env=None):
    results = tmp_path / "allure-results"
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--results", str(results), *extra],
                          capture_output=True, text=True, timeout=600, env=env)
    return proc, results


@pytest.mark.timeout(900)  # the whole feature suite and the explore pass: ~30 s quiet, more under make test
def test_clean_rehearsal_without_load_is_incomplete_never_go(tmp_path):
    # on xdist workers, as `make rehearse` runs the suite (REHEARSE_WORKERS, 4 there): 2 here, the same
    # code path for ~6 s of CPU less (each worker is a pytest with its own simulators)
    proc, results = _rehearse(tmp_path, "--workers", "2")
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "VERDICT: INCOMPLETE" in proc.stdout and "VERDICT: GO" not in proc.stdout
    assert all(p in proc.stdout for p in ("golive_morning", "failover_under_load", "nll_outage_under_load",
                                          "radiology_restart_under_load", "soak"))
    assert len(list(results.glob("*-result.json"))) >= 25
    verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] == "INCOMPLETE" and verdict["failures"] == []
    perf = {rid for rid, r in verdict["requirements"].items() if rid.startswith("PERF-")}
    assert len(perf) >= 8 and set(verdict["untested_requirements"]) == perf
    assert all(r["status"] == "passed" for rid, r in verdict["requirements"].items() if rid not in perf)
    assert {(g["kind"], g["name"]) for g in verdict["scope"]["missing"]} == {
        ("integration", "performance-load"), ("load profile", "golive_morning"),
        ("load profile", "failover_under_load"), ("load profile", "nll_outage_under_load"),
        ("load profile", "radiology_restart_under_load"), ("load profile", "soak")}
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "RAD-R12" in summary and ": INCOMPLETE" in summary and "PERF-STORED" in summary
    assert "Verdict: INCOMPLETE" in (tmp_path / "scorecard.html").read_text(encoding="utf-8")

    # a pre-merge pipeline accepting the run without the performance part: PARTIAL GO, exit 0, recorded
    gate = subprocess.run([sys.executable, "-m", "genrep.cli", "gate", "--results", str(results),
                           "--accept-partial", "performance"], capture_output=True, text=True, timeout=120)
    assert gate.returncode == 0, gate.stdout[-3000:] + gate.stderr[-2000:]
    assert "VERDICT: PARTIAL GO (waived by --accept-partial performance" in gate.stdout
    verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] == "PARTIAL GO" and verdict["scope"]["accepted_partial"] == ["performance"]
    assert len(verdict["scope"]["waived"]) == 6  # performance-load and its five load profiles
    assert "## Waived" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_rehearsal_with_defect_is_no_go_naming_requirement(tmp_path):
    # the verdict is what is checked here (the HTML report: the clean run above, tests/e2e/test_allure_html.py),
    # not the smallest failing text: the generated-text scenarios report their first failing text
    # unshrunk (shrinking, ~20 s of CPU, is tests/e2e/test_generated_steps.py's)
    proc, results = _rehearse(tmp_path, "--defect", "radiology-truncation", "-m", "RAD-R01 or RAD-001", "--no-html",
                              env=dict(os.environ, **{SHRINK_SECONDS_ENV: "0"}))
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "VERDICT: NO-GO" in proc.stdout
    assert "RAD-R01" in proc.stdout and "critical" in proc.stdout


def test_unknown_profile_is_a_clear_error(tmp_path):
    proc, _ = _rehearse(tmp_path, "--env", "does-not-exist")
    assert proc.returncode == 2
    assert "no environment profile 'does-not-exist'" in proc.stderr


def test_unknown_defect_is_a_clear_error(tmp_path):
    proc, _ = _rehearse(tmp_path, "--defect", "radiology-nonsense")
    assert proc.returncode == 2
    assert "unknown defect" in proc.stderr and "radiology-truncation" in proc.stderr


def test_a_load_profile_that_cannot_run_is_a_no_go_never_silence(tmp_path):
    """`rehearse --load` with a load that cannot complete (2 users cannot cover the 4 user classes):
    its requirements are failed with the reason, so the verdict cannot pass them by omission."""
    proc, results = _rehearse(tmp_path, "-m", "RAD-001", "--load", "steady_day:5s:2", "--no-html")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "did not complete" in proc.stderr
    broken = [json.loads(p.read_text(encoding="utf-8")) for p in results.glob("*-result.json")]
    broken = [r for r in broken if any(lb.get("name") == "genrep_load" for lb in r["labels"])]
    rids = {lb["value"] for r in broken for lb in r["labels"] if lb["name"] == "requirement"}
    assert {"PERF-READ-REPORT", "PERF-SEND-ORU", "PERF-STORED"} <= rids
    assert all(r["status"] == "broken" and "load_run_failed" in r["statusDetails"]["message"] for r in broken)


def test_an_unknown_accept_partial_part_is_refused_before_anything_runs(tmp_path):
    proc, results = _rehearse(tmp_path, "--accept-partial", "load")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "--accept-partial 'load': no such part" in proc.stderr and "functional, performance" in proc.stderr
    assert not results.exists() and "genrep rehearse: environment" not in proc.stdout
