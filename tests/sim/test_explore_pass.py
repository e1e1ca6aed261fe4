"""The explore pass of a dress rehearsal (``genrep.explore.rehearsal_pass``) against the real virtual
environment: clean, it passes on both integrations within its budget and writes a passed result
each; with ``radiology-truncation`` it writes a failed result with the requirement (RAD-R01) and
the classification; given a running environment's profile it starts no environment of its own."""

from __future__ import annotations

import json

import pytest

from genrep.config.profile import load_profile
from genrep.explore import PASS_BUDGET, rehearsal_pass
from genrep.results.reader import read_results
from genrep.sim.process import start_virtual_environment


def _labels(folder) -> list[tuple[str, dict]]:
    out = []
    for path in folder.glob("*-result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        labels: dict = {}
        for lb in data["labels"]:
            labels.setdefault(lb["name"], []).append(lb["value"])
        out.append((data["status"], labels))
    return out


@pytest.mark.heavy  # a virtual environment and an explore pass: make test runs it, make test-fast does not
def test_a_clean_virtual_environment_passes_within_the_budget(tmp_path):
    summary = rehearsal_pass(load_profile("virtual", defects=()), tmp_path)
    assert summary.ok and summary.own_environment, "\n".join(summary.lines())
    assert [i.status for i in summary.integrations] == ["passed", "passed"]
    assert all(i.examples_run >= 0.7 * i.examples for i in summary.integrations)  # a repeat is not resent
    assert summary.seconds <= PASS_BUDGET + 5, summary.seconds
    assert sorted((s, lb["requirement"][0]) for s, lb in _labels(tmp_path)) == [("passed", "NLL-001"),
                                                                                  ("passed", "RAD-001")]
    print("\n".join(summary.lines()))


@pytest.mark.heavy  # a virtual environment and an explore pass: make test runs it, make test-fast does not
def test_a_running_environment_is_used_as_it_is_and_a_defect_is_a_failed_result(tmp_path):
    venv = start_virtual_environment(load_profile("virtual", defects=("radiology-truncation",)))
    try:
        summary = rehearsal_pass(venv.profile, tmp_path, budget_seconds=12, integrations=("radiology",))
    finally:
        venv.stop()
    assert not summary.own_environment and not summary.ok, "\n".join(summary.lines())
    assert "truncated" in {f.kind for f in summary.findings}
    failed = [lb for s, lb in _labels(tmp_path) if s == "failed"]
    truncated = next(lb for lb in failed if lb["classification"] == ["truncated"])
    assert truncated["requirement"] == ["RAD-R01"] and truncated["genrep_explore_pass"] == ["rehearsal"]
    assert all(set(r.kinds) & {"truncated", "mojibake", "lost_words", "lost_negation"}
               for r in read_results(tmp_path) if r.failed)
    assert summary.seconds <= 12 + 6, summary.seconds
