"""The explore pass of a dress rehearsal (``genrep.explore.rehearsal_budget``) with stand-in targets: a
clean pass writes a passed result per integration; a failing kind a failed result with its
requirement and classification; an unreachable integration a broken one (an error, never a
finding); NLL is skipped against a real profile; a rerun replaces only the pass's own results; the
budget bounds the pass. The same against the real virtual environment: tests/sim/test_explore_pass.py."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from genrep.errors import ConfigError, ConnectionRefused
from genrep.explore import Outcome
from genrep.explore import rehearsal_budget as rp
from genrep.results import writer
from genrep.results.reader import read_results

RUNNING = SimpleNamespace(name="virtual", kind="virtual", endpoints={"ehr_mllp": "running"}, defects=())


class StandIn:
    def __init__(self, integration: str, limit: int | None = None, error: Exception | None = None,
                 delay: float = 0.0):
        self.integration, self.limit, self.error, self.delay = integration, limit, error, delay
        self.prepared = self.closed = False
        self.sent = 0

    def prepare(self):
        self.prepared = True

    def run(self, example):
        if self.error is not None:
            raise self.error
        self.sent += 1
        time.sleep(self.delay)
        if self.limit is not None and len(example.expected.encode("utf-8")) > self.limit:
            return Outcome("truncated", "high", "Report text differs: truncated\n- [truncated/high] cut", "x", "-")
        return Outcome(stored=example.expected)

    def close(self):
        self.closed = True


@pytest.fixture
def targets(monkeypatch):
    made: dict[str, StandIn] = {}
    behaviour: dict[str, dict] = {}

    def fake(integration, profile):
        made[integration] = StandIn(integration, **behaviour.get(integration, {}))
        return made[integration]
    monkeypatch.setattr(rp, "_target", fake)
    return SimpleNamespace(made=made, behaviour=behaviour)


def _results(folder):
    out = {}
    for path in folder.glob("*-result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        labels = {}
        for lb in data["labels"]:
            labels.setdefault(lb["name"], []).append(lb["value"])
        out[data["fullName"]] = (data, labels)
    return out


def test_a_clean_pass_writes_a_passed_result_per_integration(tmp_path, targets):
    summary = rp.rehearsal_pass(RUNNING, tmp_path, examples=5)
    assert summary.ok and not summary.own_environment
    assert summary.counts() == {"integrations": 2, "passed": 2, "failed": 0, "errors": 0, "skipped": 0,
                                "examples_run": summary.counts()["examples_run"], "findings": 0}
    assert all(t.prepared and t.closed and t.sent >= 4 for t in targets.made.values())
    results = _results(tmp_path)
    assert set(results) == {"genrep.explore.pass.radiology", "genrep.explore.pass.nll"}
    for name, req in (("radiology", "RAD-001"), ("nll", "NLL-001")):
        data, labels = results[f"genrep.explore.pass.{name}"]
        assert data["status"] == "passed" and labels["requirement"] == [req]
        assert labels[rp.PRODUCER] == ["rehearsal"]
    assert all(r.status == "passed" for r in read_results(tmp_path))
    assert json.loads(json.dumps(summary.to_dict()))["counts"]["passed"] == 2


def test_a_failing_kind_becomes_a_failed_result_with_its_requirement_and_classification(tmp_path, targets):
    targets.behaviour["radiology"] = {"limit": 4000}
    findings, tmp_path = tmp_path / "findings", tmp_path / "results"
    summary = rp.rehearsal_pass(RUNNING, tmp_path, examples={"radiology": 10, "nll": 3}, budget_seconds=5,
                                findings_dir=findings)
    assert not summary.ok and [f.kind for f in summary.findings] == ["truncated"]
    radiology = summary.integrations[0]
    assert radiology.status == "failed" and radiology.findings[0].requirement == "RAD-R01"
    data, labels = _results(tmp_path)["genrep.explore.pass.radiology.truncated"]
    assert data["status"] == "failed" and labels["requirement"] == ["RAD-R01"]
    assert labels["classification"] == ["truncated"] and data["name"].startswith("genrep explore (rehearsal pass)")
    assert any(a["name"] == "Minimal example: expected text" for a in data["attachments"])
    assert _results(tmp_path)["genrep.explore.pass.nll"][0]["status"] == "passed"
    assert list(findings.glob("radiology-truncated-*.json"))
    assert [r.kinds for r in read_results(tmp_path) if r.failed] == [["truncated"]]
    assert any("[truncated/high] RAD-R01" in line for line in summary.lines())


def test_an_integration_that_cannot_be_reached_is_broken_never_a_finding(tmp_path, targets):
    targets.behaviour["nll"] = {"error": ConnectionRefused("connection refused by 127.0.0.1:9")}
    summary = rp.rehearsal_pass(RUNNING, tmp_path, examples=3)
    nll = summary.integrations[1]
    assert nll.status == "error" and "connection refused" in nll.error and not nll.findings
    assert not summary.ok and targets.made["nll"].closed
    data, labels = _results(tmp_path)["genrep.explore.pass.nll"]
    assert data["status"] == "broken" and labels["requirement"] == ["NLL-001"]
    assert [r.kinds for r in read_results(tmp_path) if r.failed] == [["error"]]


def test_nll_is_skipped_against_a_real_profile(tmp_path, targets):
    real = SimpleNamespace(name="region-test", kind="external", endpoints={"ehr_mllp": "x"}, defects=())
    summary = rp.rehearsal_pass(real, tmp_path, examples=3)
    assert summary.ok and summary.integrations[1].status == "skipped" and "nll" not in targets.made
    assert "admin API" in summary.integrations[1].skipped
    assert set(_results(tmp_path)) == {"genrep.explore.pass.radiology"}


def test_a_rerun_replaces_the_pass_s_own_results_only(tmp_path, targets):
    other = writer.Result(key="someone-else", name="another producer's check", full_name="x.y", status="passed")
    writer.write(tmp_path, [other], writer.Producer("genrep_load", "golive_morning"))
    targets.behaviour["radiology"] = {"limit": 4000}
    rp.rehearsal_pass(RUNNING, tmp_path, examples={"radiology": 10, "nll": 3}, budget_seconds=3)
    targets.behaviour.clear()
    rp.rehearsal_pass(RUNNING, tmp_path, examples=3)
    assert set(_results(tmp_path)) == {"x.y", "genrep.explore.pass.radiology", "genrep.explore.pass.nll"}


def test_the_budget_bounds_the_whole_pass(tmp_path, targets):
    targets.behaviour["radiology"] = {"limit": 100, "delay": 0.05}
    targets.behaviour["nll"] = {"delay": 0.05}
    started = time.monotonic()
    summary = rp.rehearsal_pass(RUNNING, tmp_path, examples=200, budget_seconds=3)
    assert time.monotonic() - started < 6
    assert summary.integrations[0].budget_spent and summary.integrations[0].findings
    assert summary.integrations[0].findings[0].shrinking == "cut short by the budget"


@pytest.mark.parametrize("kw,message", [
    ({"budget_seconds": 0}, "positive budget"),
    ({"integrations": ("radiology", "multum")}, "unknown integration"),
    ({"examples": 0}, "at least one example"),
])
def test_bad_input_is_refused_before_anything_starts(tmp_path, targets, kw, message):
    with pytest.raises(ConfigError, match=message):
        rp.rehearsal_pass(RUNNING, tmp_path, **kw)
    assert not targets.made
