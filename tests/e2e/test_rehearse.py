"""README's first command, end to end: rehearsal against the clean virtual environment ends GO with
results, summary and verdict written; with a replayed defect it ends NO-GO naming the requirement."""

import json
import subprocess
import sys


def _rehearse(tmp_path, *extra):
    results = tmp_path / "allure-results"
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--results", str(results), *extra],
                          capture_output=True, text=True, timeout=600)
    return proc, results


def test_clean_rehearsal_is_go(tmp_path):
    proc, results = _rehearse(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "VERDICT: GO" in proc.stdout
    assert len(list(results.glob("*-result.json"))) >= 25
    verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] == "GO"
    assert all(r["status"] == "passed" for r in verdict["requirements"].values())
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "RAD-R12" in summary and ": GO" in summary


def test_rehearsal_with_defect_is_no_go_naming_requirement(tmp_path):
    proc, results = _rehearse(tmp_path, "--defect", "radiology-truncation", "-m", "RAD-R01 or RAD-001")
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
    proc, results = _rehearse(tmp_path, "-m", "RAD-001", "--load", "steady_day:5s:2")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "did not complete" in proc.stderr
    broken = [json.loads(p.read_text(encoding="utf-8")) for p in results.glob("*-result.json")]
    broken = [r for r in broken if any(lb.get("name") == "genrep_load" for lb in r["labels"])]
    rids = {lb["value"] for r in broken for lb in r["labels"] if lb["name"] == "requirement"}
    assert {"PERF-READ-REPORT", "PERF-SEND-ORU", "PERF-STORED"} <= rids
    assert all(r["status"] == "broken" and "load_run_failed" in r["statusDetails"]["message"] for r in broken)
