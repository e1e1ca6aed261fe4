"""The explore pass of a dress rehearsal (``genrep.explore.rehearsal_pass``) against the real virtual
environment: clean, it passes on both integrations within its budget and writes a passed result
each; with ``radiology-truncation`` it writes a failed result with the requirement (RAD-R01) and
the classification; given a running environment's profile it starts no environment of its own.

The budgets here are far above what the passes need (a few seconds on an idle machine): on a busy
CI host the budget must not be what ends a pass, or it would test the host's speed. That the budget
cuts a pass short (shrinking included) is tests/unit/test_explore_pass.py's
``test_the_budget_bounds_the_whole_pass``; here the pass must end on its own, before its budget."""

from __future__ import annotations

import json

import pytest

from genrep.config.profile import load_profile
from genrep.explore import PASS_BUDGET, rehearsal_pass
from genrep.results.reader import read_results
from genrep.sim.process import start_virtual_environment

#: the pass's budget in these tests, and what may come after it (stopping an environment of its own,
#: writing the results): both well under pytest's 120 s timeout, so a pass that ignores its budget fails here
BUDGET = 60.0
AFTER_BUDGET = 30.0


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
    assert BUDGET > PASS_BUDGET  # the default, which a clean pass needs a fraction of on an idle machine
    summary = rehearsal_pass(load_profile("virtual", defects=()), tmp_path, budget_seconds=BUDGET)
    assert summary.ok and summary.own_environment, "\n".join(summary.lines())
    assert [i.status for i in summary.integrations] == ["passed", "passed"]
    # every integration generated all it was asked for: the budget did not end it
    assert not any(i.budget_spent for i in summary.integrations), "\n".join(summary.lines())
    assert all(i.examples_run >= 0.7 * i.examples for i in summary.integrations)  # a repeat is not resent
    assert summary.seconds <= BUDGET + AFTER_BUDGET, summary.seconds
    assert sorted((s, lb["requirement"][0]) for s, lb in _labels(tmp_path)) == [("passed", "NLL-001"),
                                                                                  ("passed", "RAD-001")]
    print("\n".join(summary.lines()))


@pytest.mark.heavy  # a virtual environment and an explore pass: make test runs it, make test-fast does not
def test_a_running_environment_is_used_as_it_is_and_a_defect_is_a_failed_result(tmp_path):
    venv = start_virtual_environment(load_profile("virtual", defects=("radiology-truncation",)))
    try:
        summary = rehearsal_pass(venv.profile, tmp_path, budget_seconds=BUDGET, integrations=("radiology",))
    finally:
        venv.stop()
    assert not summary.own_environment and not summary.ok, "\n".join(summary.lines())
    assert "truncated" in {f.kind for f in summary.findings}
    failed = [lb for s, lb in _labels(tmp_path) if s == "failed"]
    truncated = next(lb for lb in failed if lb["classification"] == ["truncated"])
    assert truncated["requirement"] == ["RAD-R01"] and truncated["genrep_explore_pass"] == ["rehearsal"]
    assert all(set(r.kinds) & {"truncated", "mojibake", "lost_words", "lost_negation"}
               for r in read_results(tmp_path) if r.failed)
    # the search ended on its own (the failing kinds shrunk to the end), not by the budget
    assert not summary.integrations[0].budget_spent, "\n".join(summary.lines())
    assert summary.seconds <= BUDGET + AFTER_BUDGET, summary.seconds
