"""``genrep.explore`` without a live system: a finding becomes an Allure result with its requirement,
its classification and the minimal example attached (identities masked); the requirement table;
the search (Hypothesis shrinking each kind apart, the budget, errors never shrunk, repeats not
re-sent); findings saved and read back; the regression scenario; the example strategy's parts."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import strategies as st

from genrep import explore as ex
from genrep.explore.examples import _first_lines, _with_padding
from genrep.config.contracts import load_catalogue
from genrep.errors import ConfigError, ConnectionRefused
from genrep.results import writer
from genrep.results.failure_kinds import kinds_in
from genrep.results.reader import read_results
from genrep.text.fidelity import KINDS, NEGATION_WORDS
from genrep.text.generated import GeneratedText
from genrep.text.identities import Allowlist, mask

CATALOGUE = load_catalogue()
TEST_NUMBER = Allowlist.load().pick(0).number  # an allowlisted test personnummer: masked all the same


def _finding(**kw) -> ex.Finding:
    text = f"Pat {TEST_NUMBER}.\nIngen fraktur.\n" + ex.padding_text(3990)
    example = ex.Example("radiology", text, text, charset="UNICODE UTF-8", convention="obx-per-line",
                         features=("negation",), padding=3990, generator="hl7")
    base = dict(integration="radiology", kind="truncated", severity="high", requirement="RAD-R01",
                message="Report text differs: truncated\n- [truncated/high] Text truncated at character 3734",
                example=example, stored=text[:3734], diff="--- sent\n+++ stored\n-...", seed=7,
                environment="virtual with defect radiology-truncation", defects=("radiology-truncation",),
                shrinking="complete", examples_run=120, failing_examples=40)
    base.update(kw)
    return ex.Finding(**base)


# ------------------------------------------------------------------- finding -> Allure result ---

def test_a_finding_becomes_a_failed_allure_result_with_its_requirement_and_classification(tmp_path):
    finding = _finding()
    result = ex.allure_result(finding, CATALOGUE)
    assert result.status == "failed" and [r.id for r in result.requirements] == ["RAD-R01"]
    assert kinds_in(result.message) == ["truncated"]  # the classification, as the reader reads it
    data = writer.build(result, writer.Producer("genrep_explore", "radiology"))
    labels = [(lb["name"], lb["value"]) for lb in data["labels"]]
    assert ("requirement", "RAD-R01") in labels and ("classification", "truncated") in labels
    assert ("genrep_explore", "radiology") in labels and ("epic", "radiology") in labels
    assert data["links"] == [{"name": "RAD-R01", "url": writer.requirement_url("RAD-R01"), "type": "tms"}]
    assert data["historyId"] == "genrep-explore-radiology-truncated"
    params = {p["name"]: p["value"] for p in data["parameters"]}
    assert params["seed"] == "7" and params["defects"] == "radiology-truncation"

    ex.write_allure([finding], tmp_path / "results", "radiology")
    read, = read_results(tmp_path / "results")
    assert read.failed and read.requirements == ["RAD-R01"] and read.kinds == ["truncated"]


def test_the_minimal_example_is_attached_with_identities_masked(tmp_path):
    finding = _finding()
    names = [a.name for a in ex.allure_result(finding, CATALOGUE).attachments]
    assert names[:4] == ["Minimal example: text sent", "Minimal example: expected text", "Text read back",
                         "Diff expected -> read back"]
    assert {"Finding (replay file)", "Regression scenario (.feature)"} <= set(names)
    paths = ex.write_allure([finding], tmp_path / "results", "radiology")
    data = json.loads(paths[0].read_text(encoding="utf-8"))
    sent = next(a for a in data["attachments"] if a["name"] == "Minimal example: text sent")
    shown = (tmp_path / "results" / sent["source"]).read_text(encoding="utf-8")
    assert shown.startswith(mask(f"Pat {TEST_NUMBER}.")) and "Ingen fraktur." in shown
    every = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "results").iterdir())
    assert TEST_NUMBER not in every and TEST_NUMBER[-4:] + "." not in every


def test_a_rerun_replaces_the_integrations_earlier_results_only(tmp_path):
    ex.write_allure([_finding(), _finding(kind="mojibake", requirement="RAD-R09")], tmp_path / "r", "radiology")
    ex.write_allure([_finding(integration="nll", kind="lost_words", requirement="NLL-N03")], tmp_path / "r", "nll")
    ex.write_allure([], tmp_path / "r", "radiology")  # a clean rerun: no finding left from the last one
    assert [r.requirements for r in read_results(tmp_path / "r")] == [["NLL-N03"]]


def test_every_classification_maps_to_a_catalogued_requirement_of_its_integration():
    kinds = set(KINDS) | {"not_stored", "no_ack", "refused", "duplicated", "representations_disagree",
                          "conclusion_not_in_report", "nll_unavailable", "missing_prescription", "missing_field"}
    for integration in ex.INTEGRATIONS:
        for kind in kinds:
            req = CATALOGUE[ex.requirement_for(integration, kind)]
            assert req.integration == integration, (integration, kind, req.id)
    # the scenarios' tags for the same losses (features/radiology): negation RAD-R12, truncation RAD-R01
    assert ex.requirement_for("radiology", "lost_negation") == "RAD-R12"
    assert ex.requirement_for("radiology", "truncated") == "RAD-R01"
    assert ex.requirement_for("radiology", "not_stored") == "RAD-R21"
    assert ex.requirement_for("nll", "line_breaks_lost") == "NLL-N01"


# ---------------------------------------------------------------------------------- the search ---

def _sized(n: int, negation: bool = False) -> ex.Example:
    text = ("Ingen " if negation else "") + "a" * n
    return ex.Example("radiology", text, text)


SIZES = st.builds(_sized, st.integers(0, 10_000), st.booleans())


def _fails_over(limit: int, calls: list | None = None):
    def run(example: ex.Example) -> ex.Outcome:
        if calls is not None:
            calls.append(example)
        if len(example.expected) > limit:
            return ex.Outcome("truncated", "high", "Report text differs: truncated\n- [truncated/high] cut")
        return ex.Outcome(stored=example.expected)
    return run


def test_hypothesis_shrinks_a_failure_to_the_limit():
    state = ex.search(_fails_over(2000), SIZES, examples=30, seed=0, deadline=time.monotonic() + 60,
                      progress=lambda line: None)
    example, outcome, shrinking = state.results()["truncated"]
    assert shrinking == "complete" and len(example.expected) == 2001 and outcome.kind == "truncated"
    assert not state.budget_spent and state.examples_run >= 1


def test_each_classification_is_shrunk_apart():
    def run(example):
        if example.expected.startswith("Ingen ") and len(example.expected) > 100:
            return ex.Outcome("lost_negation", "critical", "[lost_negation/critical] lost")
        if len(example.expected) > 3000:
            return ex.Outcome("truncated", "high", "[truncated/high] cut")
        return ex.Outcome()
    state = ex.search(run, SIZES, examples=50, seed=1, deadline=time.monotonic() + 60, progress=lambda line: None)
    found = {kind: len(e.expected) for kind, (e, _, _) in state.results().items()}
    assert found == {"lost_negation": 101, "truncated": 3001}


def test_the_same_seed_gives_the_same_examples():
    runs = []
    for _ in range(2):
        calls: list = []
        ex.search(_fails_over(10**9, calls), SIZES, examples=10, seed=3, deadline=time.monotonic() + 60,
                  progress=lambda line: None)
        runs.append([c.expected for c in calls])
    assert runs[0] == runs[1] and len(runs[0]) == 10


def test_a_spent_budget_sends_nothing_more_and_reports_the_smallest_so_far():
    calls: list = []

    def slow(example):
        time.sleep(0.05)
        return _fails_over(100, calls)(example)
    state = ex.search(slow, SIZES, examples=50, seed=0, deadline=time.monotonic() + 1.0, progress=lambda line: None)
    assert state.budget_spent
    example, _, shrinking = state.results()["truncated"]
    assert shrinking == "cut short by the budget"
    assert len(example.expected) == min(len(c.expected) for c in calls if len(c.expected) > 100)

    nothing = ex.search(_fails_over(0, calls := []), SIZES, examples=5, seed=0, deadline=time.monotonic() - 1,
                        progress=lambda line: None)
    assert nothing.budget_spent and nothing.examples_run == 0 and not calls


def test_an_unreachable_environment_stops_at_once_and_is_never_shrunk():
    calls = []

    def refused(example):
        calls.append(example)
        raise ConnectionRefused("connection refused by 127.0.0.1:9")
    with pytest.raises(ConnectionRefused):
        ex.search(refused, SIZES, examples=20, seed=0, deadline=time.monotonic() + 60, progress=lambda line: None)
    assert len(calls) == 1


def test_an_example_rebuilt_by_the_shrinker_is_not_sent_again():
    calls: list = []
    state = ex.search(_fails_over(5, calls), st.just(_sized(50)), examples=5, seed=0,
                      deadline=time.monotonic() + 60, progress=lambda line: None)
    assert len(calls) == 1 and state.results()["truncated"][0] == _sized(50)


# ------------------------------------------------------------------------ findings on disk ---

def test_a_finding_round_trips_through_its_json_and_names_its_replay(tmp_path):
    finding = _finding(example=ex.Example("radiology", "Ingen\r\nfraktur ", "Ingen\nfraktur ", "Ingen\\.br\\fraktur ",
                                          "FT", "8859/1", "ft-br", ("negation", "crlf"), 0, "hl7"))
    path, feature = ex.save_finding(finding, tmp_path / "findings")
    assert path.name == f"radiology-truncated-{finding.example.digest()}.json" and feature.suffix == ".feature"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {"plain", "wire", "expected"} <= set(data["example"]) and data["seed"] == 7 and data["kind"] == "truncated"
    back = ex.load_finding(path)
    assert back.example == finding.example and back.defects == finding.defects and back.path == str(path)


@pytest.mark.parametrize("content, why", [
    ("{not json", "not a readable JSON finding"),
    ('{"kind": "truncated"}', "not a genrep explore finding"),
    (json.dumps({"format": ex.FORMAT, "kind": "truncated"}), "needs every field"),
])
def test_a_bad_finding_file_is_refused_naming_it(tmp_path, content, why):
    path = tmp_path / "f.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=why) as exc:
        ex.load_finding(path)
    assert str(path) in str(exc.value)
    with pytest.raises(ConfigError, match="not found"):
        ex.load_finding(tmp_path / "missing.json")


def _docstring(feature: str) -> str:
    from gherkin.parser import Parser
    doc = Parser().parse(feature)
    scenario = [c["scenario"] for c in doc["feature"]["children"] if "scenario" in c][0]
    return next(s["docString"]["content"] for s in scenario["steps"] if "docString" in s)


def test_the_regression_scenario_uses_existing_steps_and_holds_the_text():
    finding = _finding()
    feature = ex.regression_feature(finding)
    assert "  @RAD-R01 @negative\n" in feature
    for step in ("Given the report text:", "When the RIS sends the report\n", "Then the EHR acknowledges with AA",
                 "And the report read back from the EHR matches the sent text"):
        assert step in feature
    assert _docstring(feature) == finding.example.expected and "NOTE" not in feature

    quoted = _finding(example=ex.Example("radiology", 'Se """bilaga"""\n\tIngen', 'Se """bilaga"""\n\tIngen',
                                         convention="repetitions"))
    feature = ex.regression_feature(quoted)
    assert _docstring(feature) == 'Se """bilaga"""\n\tIngen'
    assert 'When the RIS sends the report using the "repetitions" convention' in feature


def test_a_wire_finding_sends_the_escaped_value_and_says_what_a_step_cannot_hold():
    finding = _finding(example=ex.Example("radiology", "a|b\nIngen", "a|b\nIngen", "a\\F\\b~Ingen", "TX",
                                          "8859/1", "ft-br"))
    feature = ex.regression_feature(finding)
    assert "When the RIS sends a report whose OBX-5 holds the escaped value:" in feature
    assert "And the report read back reads:" in feature and _docstring(feature) == "a\\F\\b~Ingen"
    assert "# NOTE: the example's OBX-2 was TX" in feature and "# NOTE: the example's MSH-18 was 8859/1" in feature


def test_an_nll_finding_plants_the_instruction_with_its_line_breaks():
    finding = _finding(integration="nll", kind="line_breaks_lost", requirement="NLL-N01",
                       example=ex.Example("nll", "1 tablett\r2 gånger", "1 tablett\r2 gånger", convention="CR"))
    feature = ex.regression_feature(finding)
    assert "@NLL-N01 @negative" in feature
    assert "Given the patient has a prescription in NLL whose instruction, with CR line breaks, is:" in feature
    assert _docstring(feature) == "1 tablett\n2 gånger"


# ------------------------------------------------------------------------------- the examples ---

def test_padding_is_neutral_text_ending_with_a_whole_word():
    words = set(NEGATION_WORDS)
    for n in list(range(0, 300)) + [3735, 4000, 70_000]:
        text = ex.padding_text(n)
        assert len(text) <= n and text == text.rstrip() and (n < 40 or len(text) > n - 20)
        assert not re.search(r"[0-9|^~&\\]", text)
        assert not {w.casefold() for w in re.findall(r"\w+", text)} & words
        whole = ex.padding_text(n + 40)
        assert whole.startswith(text) and (not text or len(whole) == len(text) or whole[len(text)] in " \n")


def test_padding_keeps_plain_expected_and_wire_in_step():
    plain = GeneratedText("Ingen fraktur.\rslut\r", None, "Ingen fraktur.\nslut\n", ("negation",))
    padded = _with_padding(plain, "UNICODE UTF-8", "ft-br", 200, "hl7")
    filler = padded.expected[len(plain.expected) + 1:]
    assert padded.plain == plain.plain + "\r" + filler  # CR + LF would read as one CR LF
    assert padded.expected == plain.expected + "\n" + filler and padded.padding == len(filler) > 100
    st_wire = GeneratedText("a|b", "a\\F\\b", "a|b", (), "ST", "UNICODE UTF-8")
    padded = _with_padding(st_wire, "UNICODE UTF-8", "ft-br", 200, "hl7")
    assert padded.wire_type == "TX" and padded.wire == "a\\F\\b~" + padded.expected[4:].replace("\n", "~")
    ft = GeneratedText("a\nb", "a\\.br\\b", "a\nb", (), "FT", "8859/1")
    assert _with_padding(ft, "8859/1", "ft-br", 200, "hl7").wire.startswith("a\\.br\\b\\.br\\")
    assert _with_padding(ft, "8859/1", "ft-br", 0, "hl7").wire == "a\\.br\\b"


def test_first_lines_keep_typed_and_expected_in_step():
    g = GeneratedText("Ingen fraktur.\r\nrad två\rrad tre", None, "Ingen fraktur.\nrad två\nrad tre", ())
    one = _first_lines(g, 1)
    assert (one.plain, one.expected) == ("Ingen fraktur.", "Ingen fraktur.") and "negation" in one.features
    two = _first_lines(g, 2)
    assert (two.plain, two.expected) == ("Ingen fraktur.\r\nrad två", "Ingen fraktur.\nrad två")
    assert _first_lines(g, 5) is g


@pytest.mark.parametrize("integration, generator, why", [
    ("radiology", "nll", "cannot apply to the radiology integration: nll_texts are FHIR strings"),
    ("nll", "hl7", "cannot apply to the nll integration: hl7_texts hold HL7 delimiters"),
    ("nll", "clinical", "cannot apply to the nll integration"),
    ("multum", None, "unknown integration"),
])
def test_a_generator_that_cannot_apply_says_so(integration, generator, why):
    with pytest.raises(ConfigError, match=why):
        ex.example_strategy(integration, generator)


def test_a_feature_the_generator_cannot_make_is_refused():
    with pytest.raises(ConfigError, match="unknown feature"):
        ex.example_strategy("radiology", "hl7", require=("no_such_feature",))
    with pytest.raises(ConfigError, match="cannot make such radiology texts"):
        ex.example_strategy("radiology", "clinical", require=("esc_F",))  # a wire feature: not clinical text
    ex.example_strategy("radiology", "hl7", require=("negation_wrap_column", "esc_F"))  # these apply
