"""Gate rules file, Allure metadata, traceability matrix and the HTML scorecard."""

import csv
import io
import json
import re

import pytest

from genrep.results.allure_meta import CATEGORIES, write_meta_result, write_metadata
from genrep.config.contracts import Requirement, load_gate
from genrep.errors import ConfigError
from genrep.results.gate import decide
from genrep.results.readiness import scorecard_html, traceability_csv
from genrep.results.reader import ScenarioResult, read_results

CAT = {
    "RAD-1": Requirement("RAD-1", "Report intact", "radiology", "interface test", "critical", False, "c", "s"),
    "RAD-2": Requirement("RAD-2", "Negative path", "radiology", "interface test", "high", True, "c", "s"),
    "RAD-3": Requirement("RAD-3", "Never run", "radiology", "interface test", "medium", True, "c", "s"),
}


def _result(name, status, reqs, message="", params=None):
    return ScenarioResult(name=name, full_name=name, status=status, message=message, requirements=reqs,
                          history_id=name, parameters=params or {})


def test_shipped_gate_rules_are_the_programme_rule():
    rules = load_gate()
    assert rules.thresholds["*"] == {"critical": 0, "high": 0, "medium": 0, "low": 0}
    assert rules.thresholds["functional test of requirements"] == {"critical": 0, "high": 0, "medium": 20,
                                                                   "low": 100}


@pytest.mark.parametrize("body, key", [
    ("gate: 1\nthresholds:\n  default: {critical: 0, high: 0, medium: 0, low: 0, blocker: 1}\n",
     "thresholds.default.blocker"),
    ("gate: 1\nthresholds:\n  exploratory: {critical: 0, high: 0, medium: 0, low: 0}\n", "thresholds.exploratory"),
    ("gate: 1\nthresholds:\n  default: {critical: -1, high: 0, medium: 0, low: 0}\n", "thresholds.default.critical"),
    ("gate: 1\nthresholds:\n  functional test of requirements: {critical: 0, high: 0, medium: 0, low: 0}\n",
     "thresholds"),
    ("gate: 1\nthresholds:\n  default: {critical: 0, high: 0, medium: 0, low: 0}\ncoverage: {all: true}\n",
     "coverage.all"),
])
def test_bad_gate_rules_name_file_and_key(tmp_path, body, key):
    path = tmp_path / "gate.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_gate(path)
    assert str(path) in str(info.value) and key in str(info.value)


def test_traceability_lists_every_requirement_and_its_scenarios():
    results = [_result("s1", "passed", ["RAD-1"]), _result("s2", "failed", ["RAD-2"], "[truncated/high] cut")]
    verdict = decide(results, CAT)
    rows = list(csv.DictReader(io.StringIO(traceability_csv(verdict))))
    by_req = {}
    for row in rows:
        by_req.setdefault(row["requirement"], []).append(row)
    assert set(by_req) == {"RAD-1", "RAD-2", "RAD-3"}
    assert by_req["RAD-2"][0]["scenario_status"] == "failed" and by_req["RAD-2"][0]["classification"] == "truncated"
    assert by_req["RAD-3"][0]["requirement_status"] == "untested"


def test_scorecard_states_verdict_in_words_with_measured_indicators():
    results = [_result("s1", "passed", ["RAD-1"]), _result("s2", "failed", ["RAD-2"], "failover_failed: x",
                                                           {"measured failover seconds": "4.20",
                                                            "failover objective seconds": "3.00"})]
    page = scorecard_html(decide(results, CAT), title="T", environment="virtual")
    assert "Verdict: NO-GO" in page and "RAD-3" in page and "UNTESTED" in page
    assert "4.20 s (objective &lt;= 3.00 s)" in page
    assert not re.search(r"(src|href)=\"https?://", page)  # no outside calls
    go = scorecard_html(decide([_result("a", "passed", ["RAD-1"]), _result("b", "passed", ["RAD-2"]),
                                _result("c", "passed", ["RAD-3"])], CAT), title="T", environment="v")
    assert "Verdict: GO" in go and "Why NO-GO" not in go


def test_metadata_and_meta_result_are_written_and_ignored_by_the_gate(tmp_path):
    (tmp_path / "x-result.json").write_text(json.dumps({"name": "s", "status": "passed", "labels": [
        {"name": "requirement", "value": "RAD-1"}]}), encoding="utf-8")
    write_metadata(tmp_path, profile_name="virtual", profile_kind="virtual", defects=("radiology-truncation",),
                   contracts={"radiology": "1"})
    write_meta_result(tmp_path, "Traceability", {"matrix": ("a,b\n", "text/csv")})
    cats = json.loads((tmp_path / "categories.json").read_text(encoding="utf-8"))
    assert {c["name"] for c in cats} == {c["name"] for c in CATEGORIES}
    assert "radiology-truncation" in (tmp_path / "environment.properties").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "executor.json").read_text(encoding="utf-8"))["name"] == "genrep"
    results = read_results(tmp_path)
    assert [r.name for r in results] == ["s"]  # the genrep entry is not a scenario


@pytest.mark.parametrize("message, category", [
    ("Report text differs: truncated\n- [truncated/high] Text truncated at character 10", "Text truncation"),
    ("- [lost_negation/critical] Negation lost", "Lost negation (critical: a finding may read as its opposite)"),
    ("failover_failed: failover time never", "Failover, failback and fail-safe"),
    ("no MLLP answer from 127.0.0.1:1 within 1.0 s", "Environment unreachable"),
])
def test_categories_match_failure_classifications(message, category):
    # Allure matches messageRegex against the whole message (Java full match); Python fullmatch is the same
    first = next(c["name"] for c in CATEGORIES
                 if "failed" in c["matchedStatuses"] and re.fullmatch(c.get("messageRegex", "(?s).*"), message))
    assert first == category
