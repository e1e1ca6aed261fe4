"""`genrep gate` on bad input never says GO; `rehearse --replay-2024` ends NO-GO naming requirement and severity."""

import json
import subprocess
import sys


def _gate(results):
    return subprocess.run([sys.executable, "-m", "genrep.cli", "gate", "--results", str(results)],
                          capture_output=True, text=True, timeout=120)


def test_missing_empty_and_foreign_results_are_errors_never_go(tmp_path):
    proc = _gate(tmp_path / "nope")
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "GO" not in proc.stdout
    (tmp_path / "empty").mkdir()
    proc = _gate(tmp_path / "empty")
    assert proc.returncode == 2 and "no Allure result files" in proc.stderr
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "a-result.json").write_text(json.dumps({"tests": 3, "failures": 0}), encoding="utf-8")
    proc = _gate(foreign)
    assert proc.returncode == 2 and "not an Allure test result" in proc.stderr


def test_unknown_requirement_tag_is_no_go(tmp_path):
    (tmp_path / "x-result.json").write_text(json.dumps({
        "name": "s", "status": "passed", "labels": [{"name": "requirement", "value": "RAD-999"}]}),
        encoding="utf-8")
    proc = _gate(tmp_path)
    assert proc.returncode == 1 and "VERDICT: NO-GO" in proc.stdout and "RAD-999" in proc.stdout


def test_replay_2024_ends_no_go_naming_requirement_and_severity(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--replay-2024", "-m", "REG-002",
                           "--results", str(tmp_path / "allure-results"), "--no-html"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-1000:]
    assert "registration-dob" in proc.stdout and "VERDICT: NO-GO" in proc.stdout
    assert "requirement REG-002 (high) failed" in proc.stdout
