"""Defects, not failures (issue 15, part 2): failing scenarios clustered into defect candidates by
integration, failure kind and signature; a defect's severity is the highest of its requirements;
the gate counts what gate.yaml says (defects by default, or scenarios); summary, verdict.json,
scorecard and traceability show defects first with their scenarios under them."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.config.contracts import Requirement, load_catalogue, load_gate
from genrep.errors import ConfigError
from genrep.results import failure_kinds
from genrep.results.defects import cluster, family_of, normalise, primary_kind, symptoms
from genrep.results.gate import decide, summary_markdown, verdict_line
from genrep.results.reader import ScenarioResult
from genrep.results.readiness import scorecard_html, traceability_csv

CATALOGUE = load_catalogue()

TRUNCATED = ("AssertionError: Report text differs: lost_negation, truncated (the same in all 4 representations)\n"
             "- [lost_negation/critical] Negation lost: \"inga\" appears 2 times in the sent text, 1 time in the "
             "stored text\n- [truncated/high] Text truncated at character {at} of 969: the last {lost} characters "
             "(7 lines) are missing; the stored text ends with \"...ingen\".\nfixturefunc = <function then_matches>\n"
             "E   AssertionError: Report text differs: lost_negation, truncated\n"
             "E   - [truncated/high] Text truncated at character {at} of 969: the last 216 characters")
WORDS = ("AssertionError: patient instruction of 'Alvedon 500 mg tablett': Report text differs: extra_lines, lost_words\n"
         "- [extra_lines/medium] Extra lines: 2 lines in the stored text were not sent (stored lines 2, 5): \"feber.\".\n"
         "- [lost_words/high] Words lost: \"eller\", \"som\" (2 words of the sent text missing from the stored text).\n"
         "- [missing_lines/high] Lines missing: 1 line of the sent text is not in the stored text (sent line 3): \"x\".")
BREAKS = ("AssertionError: patient instruction of 'Alvedon 500 mg tablett': Report text differs: line_breaks_added\n"
          "- [line_breaks_added/medium] Line breaks added: the sent text has 3 lines, the stored text 5.")
FAILOVER = ("AssertionError: failover_failed: failover time never (no recovery in the window) (objective <= 3.00 s); "
            "{n} checks, {n} failed")
BALANCE = "AssertionError: unbalanced: multum-a answered 100% of the checks (allowed 50% +- 15%)"
NOT_PERFORMED = "AssertionError: check_not_performed: the interaction check was not performed: HTTP 503"
DOB = "AssertionError: wrong_birth_date: the EHR shows birth date 2000-01-01 for a person born 1900-01-01"


def failed(name: str, rids: list[str], message: str, status: str = "failed") -> ScenarioResult:
    return ScenarioResult(name=name, full_name=name, status=status, message=message, requirements=rids,
                          history_id=name)


def passed(name: str, rids: list[str]) -> ScenarioResult:
    return ScenarioResult(name=name, full_name=name, status="passed", message="", requirements=rids, history_id=name)


def replay_like() -> list[ScenarioResult]:
    """The shape of `rehearse --replay-2024`: five incidents behind many failing scenarios, journeys
    among them, and both NLL incidents showing in one scenario."""
    return [
        failed("RAD-001 stored as sent", ["RAD-001"], TRUNCATED.format(at=753, lost=216)),
        failed("RAD-R02 1000 lines", ["RAD-R02"], TRUNCATED.format(at=851, lost=41748)),
        failed("RAD-R03 repetitions", ["RAD-R03"], TRUNCATED.format(at=753, lost=216)),
        failed("JRN-001 chest pain", ["JRN-001"], TRUNCATED.format(at=753, lost=216)),
        failed("NLL-001 multi-line", ["NLL-001"], WORDS),
        failed("NLL-N10 golden corpus", ["NLL-N10"], WORDS),
        failed("JRN-012 release change", ["JRN-012"], WORDS),
        failed("NLL-N01 CRLF", ["NLL-N01"], BREAKS),
        failed("NLL-N05 new element", ["NLL-N05"], BREAKS),
        failed("MUL-M01 killed", ["MUL-M01"], FAILOVER.format(n=79)),
        failed("MUL-M03 503", ["MUL-M03"], FAILOVER.format(n=4)),
        failed("MUL-BAL balanced", ["MUL-BAL"], BALANCE),
        failed("JRN-006 Multum gone", ["JRN-006"], NOT_PERFORMED),
        failed("REG-002 over 100", ["REG-002"], DOB),
        failed("JRN-004 over 100 journey", ["JRN-004"], DOB),
        passed("RAD-R12 negation", ["RAD-R12"]),
    ]


def by_name(defects):
    return {sc.name: d for d in defects for sc in d.scenarios}


# -- the parts ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kinds, primary", [
    (["lost_negation", "truncated"], "truncated"),       # the truncation explains the negation it cut off
    # ... but never words lost too: the comparison counts the words after a cut as the cut, so these
    # were lost elsewhere (nll-word-loss drops the word at each wrap: a text's last word reads as a cut)
    (["truncated", "lost_words", "missing_lines", "extra_lines"], "lost_words"),
    (["extra_lines", "truncated", "lost_words"], "lost_words"),
    (["lost_words", "empty"], "empty"),
    (["extra_lines", "lost_words", "missing_lines"], "lost_words"),  # the most severe, the first named
    (["missing_lines", "extra_lines", "lost_words"], "missing_lines"),
    (["unbalanced", "false_no_interactions"], "false_no_interactions"),
    (["error"], "error"),
    ([], None),
])
def test_primary_kind(kinds, primary):
    assert primary_kind(kinds) == primary


def test_families_come_from_the_registry_categories():
    assert family_of("truncated") == family_of("empty") == failure_kinds.TRUNCATION
    assert family_of("failover_failed") == family_of("unbalanced") == family_of("check_not_performed") \
        == failure_kinds.FAILOVER
    assert family_of("lost_words") == "lost_words"  # the catch-all category: the kind is its own family
    assert family_of("false_no_interactions") == "false_no_interactions"  # a fail-safe violation stands alone
    assert family_of("brand_new_kind") == "brand_new_kind"
    assert family_of(None) == "unclassified"


def test_normalise_and_symptoms_take_out_what_varies_and_pytest_repeats():
    assert normalise('Words lost: "eller", "som" (2 words) at 12.5 s') == "Words lost: …, … (N words) at N s"
    signs = symptoms(failed("x", ["RAD-001"], TRUNCATED.format(at=753, lost=216)))
    assert signs == ["[lost_negation/critical] Negation lost: … appears N times in the sent text, N time in the "
                     "stored text", "[truncated/high] Text truncated at character N of N: the last N characters "
                     "(N lines) are missing; the stored text ends with …."]
    assert symptoms(failed("y", ["RAD-001"], "ConnectionRefused: port 2575 on 127.0.0.1")) == \
        ["ConnectionRefused: port N on N"]


# -- clustering ---------------------------------------------------------------------------------------

def test_each_replayed_incident_is_one_defect_with_its_scenarios_under_it():
    results = replay_like()
    defects = cluster(results, CATALOGUE)
    where = by_name(defects)
    assert len(defects) == 5 and sum(len(d.scenarios) for d in defects) == 15
    radiology = where["RAD-001 stored as sent"]
    assert radiology is where["RAD-R02 1000 lines"] is where["JRN-001 chest pain"]  # the journey joins radiology's
    assert radiology.integration == "radiology" and radiology.family == failure_kinds.TRUNCATION
    assert radiology.title == "radiology: text truncation, cut at 753 to 851 characters"
    assert radiology.severity == "critical"  # RAD-001 is critical, the others high
    multum = where["MUL-M01 killed"]
    assert multum is where["MUL-M03 503"] is where["MUL-BAL balanced"] is where["JRN-006 Multum gone"]
    assert where["NLL-001 multi-line"] is where["JRN-012 release change"] is not where["NLL-N01 CRLF"]
    assert where["REG-002 over 100"] is where["JRN-004 over 100 journey"]
    assert where["REG-002 over 100"].integration == "registration"
    # NLL-N10 shows the line-break incident too: listed there, filed under the word loss
    assert [sc.name for sc in where["NLL-N01 CRLF"].also] == ["NLL-001 multi-line", "NLL-N10 golden corpus",
                                                              "JRN-012 release change"]
    assert [d.id for d in defects] == ["D1", "D2", "D3", "D4", "D5"]
    assert [d.severity for d in defects] == sorted((d.severity for d in defects),
                                                   key=["critical", "high", "medium", "low"].index)
    assert radiology.describe() == (f"{radiology.id} critical, radiology: text truncation, cut at 753 to 851 "
                                    "characters: 4 scenarios, RAD-001, JRN-001, RAD-R02, RAD-R03")


def test_defect_keys_are_stable_across_runs():
    first = {d.key for d in cluster(replay_like(), CATALOGUE)}
    second = {d.key for d in cluster(list(reversed(replay_like())), CATALOGUE)}
    assert first == second and "radiology:text-truncation" in first and "nll:lost-words" in first


def test_a_field_limit_is_named_in_the_title():
    msg = ("AssertionError: Report text differs: truncated\n- [truncated/high] Text truncated at character 3998 of "
           "9000: the last 5002 characters (40 lines) are missing; 3998 characters / 4000 UTF-8 bytes is at a "
           "typical field limit (4000), count characters, not bytes")
    (d,) = cluster([failed("a", ["RAD-R01"], msg), failed("b", ["RAD-R02"], msg.replace("3998", "3990"))], CATALOGUE)
    assert d.title == "radiology: text truncation, cut at about 4,000 bytes (a typical field limit)"


def test_a_journey_joins_the_defect_sharing_its_symptoms():
    """Two radiology-and-NLL candidates of the same family: the journey goes with the one whose
    symptoms it shows."""
    rad_breaks = "AssertionError: Report text differs\n- [line_breaks_lost/high] Line breaks lost: 3 lines became 1"
    results = [failed("RAD-R03 conventions", ["RAD-R03"], rad_breaks), failed("NLL-N01 CRLF", ["NLL-N01"], BREAKS),
               failed("NLL-N05 new", ["NLL-N05"], BREAKS), failed("JRN-012 journey", ["JRN-012"], BREAKS)]
    where = by_name(cluster(results, CATALOGUE))
    assert where["JRN-012 journey"] is where["NLL-N01 CRLF"] is not where["RAD-R03 conventions"]


def test_a_journey_alone_stays_a_journey_defect():
    (d,) = cluster([failed("JRN-004 journey", ["JRN-004"], DOB)], CATALOGUE)
    assert d.integration == "journeys" and d.family == failure_kinds.IDENTITY


def test_unclassified_failures_of_different_requirements_are_not_merged():
    defects = cluster([failed("a", ["RAD-001"], "AssertionError: assert 1 == 2"),
                       failed("b", ["RAD-R02"], "AssertionError: assert 3 == 4"),
                       failed("c", ["RAD-001"], "AssertionError: assert 5 == 6")], CATALOGUE)
    assert sorted(len(d.scenarios) for d in defects) == [1, 2]
    assert all(d.family == "unclassified" and d.what.startswith("unclassified failure") for d in defects)


def test_a_fail_safe_violation_is_never_folded_into_failover():
    defects = cluster([failed("MUL-M01 killed", ["MUL-M01"], FAILOVER.format(n=3)),
                       failed("MUL-M05 silent", ["MUL-M05"], "AssertionError: false_no_interactions: shown as none")],
                      CATALOGUE)
    assert len(defects) == 2


SEVERITY_OF = {rid: r.severity for rid, r in CATALOGUE.items()}
KIND_NAMES = sorted(k for k in failure_kinds.KINDS)
RIDS = sorted(rid for rid, r in CATALOGUE.items() if r.integration != "security")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["failed", "broken", "passed", "skipped"]),
                          st.lists(st.sampled_from(RIDS), min_size=1, max_size=2, unique=True),
                          st.lists(st.sampled_from(KIND_NAMES), max_size=3, unique=True),
                          st.integers(0, 5000)), max_size=25))
def test_every_failure_is_under_exactly_one_defect_at_its_requirements_severity(items):
    results = []
    for i, (status, rids, kinds, n) in enumerate(items):
        message = "AssertionError: " + "\n".join(f"{k}: at {n} of {n + 1}" for k in kinds) if kinds else \
            f"AssertionError: assert {n} == {i}"
        results.append(ScenarioResult(name=f"s{i}", full_name=f"s{i}", status=status,
                                      message=message if status != "passed" else "", requirements=rids,
                                      history_id=f"h{i}"))
    defects = cluster(results, CATALOGUE)
    filed = [id(sc) for d in defects for sc in d.scenarios]
    assert sorted(filed) == sorted(id(r) for r in results if r.failed)  # each failure once, nothing else
    assert len(defects) <= sum(r.failed for r in results)
    order = ["critical", "high", "medium", "low"]
    for d in defects:
        assert d.severity == min((SEVERITY_OF[rid] for sc in d.scenarios for rid in sc.requirements), key=order.index)
        assert all(sc not in d.scenarios for sc in d.also)
    assert [order.index(d.severity) for d in defects] == sorted(order.index(d.severity) for d in defects)
    assert len({d.key for d in defects}) == len(defects)


# -- the gate counts what gate.yaml says -------------------------------------------------------------

HIGH_ALLOWED = {"interface test": {"critical": 0, "high": 1, "medium": 0, "low": 0},
                "*": {"critical": 0, "high": 0, "medium": 0, "low": 0}}


ONLY_RAN = {"every_requirement_verified": False, "negative_paths_per_integration": False}


def one_high_defect_in_three_scenarios() -> list[ScenarioResult]:
    return [failed(f"NLL-N05 #{i}", ["NLL-N05"], BREAKS) for i in range(3)] + [passed("NLL-N09", ["NLL-N09"])]


def test_the_gate_counts_defects_when_gate_yaml_says_so():
    v = decide(one_high_defect_in_three_scenarios(), CATALOGUE, HIGH_ALLOWED, count="defects", **ONLY_RAN)
    assert v.go and dict(v.defects["interface test"]) == {"high": 1}, v.reasons
    assert any("NLL-N05" in n and "within the allowance" in n for n in v.notes)


def test_counting_scenarios_counts_each_failing_scenario():
    v = decide(one_high_defect_in_three_scenarios(), CATALOGUE, HIGH_ALLOWED, count="scenarios", **ONLY_RAN)
    assert not v.go and dict(v.defects["interface test"]) == {"high": 3}
    assert any("3 high defect(s), allowed 1" in r and "count: scenarios" in r for r in v.failures)


def test_a_defect_counts_at_its_highest_severity_not_each_requirements():
    """NLL-N05 (high) and NLL-001 (critical) failing with the same symptoms: one critical defect; the
    high requirement is not 'within the allowance' though high is allowed."""
    results = [failed("NLL-N05", ["NLL-N05"], BREAKS), failed("NLL-001", ["NLL-001"], BREAKS)]
    v = decide(results, CATALOGUE, HIGH_ALLOWED, count="defects")
    (d,) = v.defect_candidates
    assert d.severity == "critical" and dict(v.defects["interface test"]) == {"critical": 1}
    assert not v.go and any(r.startswith("requirement NLL-N05 (high) failed") for r in v.failures)


def test_a_defect_counts_once_in_each_test_type_it_fails():
    results = [failed("RAD-001", ["RAD-001"], TRUNCATED.format(at=753, lost=216)),
               failed("JRN-001", ["JRN-001"], TRUNCATED.format(at=753, lost=216))]
    v = decide(results, CATALOGUE, count="defects")
    assert len(v.defect_candidates) == 1
    assert dict(v.defects["interface test"]) == {"critical": 1}
    assert dict(v.defects["end-to-end patient journey"]) == {"critical": 1}


def test_shipped_gate_counts_defects_and_bad_count_names_file_line_key(tmp_path):
    assert load_gate().count == "defects"
    path = tmp_path / "gate.yaml"
    path.write_text("gate: 1\ncount: failures\nthresholds:\n  default: {critical: 0, high: 0, medium: 0, low: 0}\n"
                    "scope:\n  parts:\n    f:\n      integrations: [radiology]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_gate(path)
    assert info.value.file == str(path) and info.value.key == "count" and info.value.line == 2
    assert "defects, scenarios" in str(info.value)
    with pytest.raises(ValueError, match="count must be one of"):
        decide([], CATALOGUE, count="failures")


def test_outputs_show_defects_first_with_their_scenarios_under_them():
    v = decide(replay_like(), CATALOGUE, count="defects")
    md = summary_markdown(v)
    assert "Defects: 5 defect candidates (4 critical, 1 high) behind 15 failing scenarios." in md
    assert md.index("## Defects:") < md.index("## Failed requirements") < md.index("## Requirements")
    rid = next(d.id for d in v.defect_candidates if d.integration == "radiology")
    assert md.index(f"### {rid} critical · radiology: text truncation") < md.index("scenario: JRN-001 chest pain")
    assert "also seen in: NLL-N10 golden corpus" in md
    why = md[md.index("## Why NO-GO"):md.index("## Defects:")]
    assert "requirement RAD-001" not in why and "requirement(s) failed, under the defects below" in why
    assert "5 defect candidates (4 critical, 1 high) behind 15 failing scenarios" in verdict_line(v)
    d = v.to_dict()
    assert list(d)[:2] == ["verdict", "defects"] and d["defects"]["candidates"] == 5
    assert d["defects"]["failing_scenarios"] == 15 and d["defects"]["counted"] == "defects"
    assert d["defects"]["list"][0]["id"] == "D1" and d["defects"]["list"][0]["severity"] == "critical"
    json.dumps(d)
    card = scorecard_html(v, title="T", environment="virtual")
    assert card.index("Defects: 5 defect candidates") < card.index("Open defects by test type")
    rows = list(csv.DictReader(io.StringIO(traceability_csv(v))))
    row = next(r for r in rows if r["scenario"] == "JRN-001 chest pain")
    assert row["defect"] == f"{rid} radiology:text-truncation"
    assert all(r["defect"] == "" for r in rows if r["scenario_status"] in ("passed", ""))


def test_requirement_catalogue_severity_order_is_the_gate_order():
    """A defect's severity is the highest of its requirements by the catalogue's order."""
    cat = {"X-1": Requirement("X-1", "t", "x", "interface test", "low", True, "c", "s"),
           "X-2": Requirement("X-2", "t", "x", "interface test", "medium", False, "c", "s")}
    (d,) = cluster([failed("a", ["X-1"], BALANCE.replace("multum", "x")), failed("b", ["X-2"], BALANCE)], cat)
    assert d.severity == "medium"
