"""Generated texts a feature file asks for (``genrep.explore.batch``, ``genrep.text.generated.words``),
without a live system: the words in English and Swedish, an unknown word refused with every valid
one listed, the seed from the scenario's name, the same texts every run, and a failing batch naming
its first failing example and the smallest one shrinking reached, its classification first."""

from __future__ import annotations

import json
import time

import pytest

from genrep.errors import ConfigError
from genrep.explore import Outcome
from genrep.explore.batch import MAX_COUNT, run_batch, seed_for, text_request
from genrep.results.failure_kinds import kinds_in
from genrep.text.generated import HL7_FEATURES, NLL_FEATURES
from genrep.text.generated.words import WORDS, features_for, problem, split_words

SCENARIO = "Generated report texts with tables and negations are stored exactly as sent"


# ---------------------------------------------------------------------------------- words ---

@pytest.mark.parametrize("words,features", [
    ("tables and negations", ("table", "negation")),
    ("tabeller och negationer", ("table", "negation")),
    ("Tables, negations and escapes", ("table", "negation", "field_sep", "component_sep", "repetition_sep",
                                       "subcomponent_sep", "escape_char", "escape_lookalike")),
    ("tabeller, negationer i slutsatsen och escapesekvenser",
     ("table", "conclusion_negation", "field_sep", "component_sep", "repetition_sep", "subcomponent_sep",
      "escape_char", "escape_lookalike")),
    ("units, comparison signs, lists, long words, blank lines, NBSP and soft hyphens",
     ("unit", "comparison", "bullet_list", "numbered_list", "nbsp", "soft_hyphen", "long_word", "blank_line")),
    ("negations at wrap columns in the conclusion", ("conclusion_negation_wrap_column",)),
    ("negation_wrap_column and hex", ("negation_wrap_column", "hex")),  # a feature's own name
])
def test_words_name_features_in_english_and_swedish(words, features):
    assert features_for(words) == tuple(f for f in HL7_FEATURES if f in features)


def test_every_word_has_an_english_and_a_swedish_form_and_names_known_features():
    for english, swedish, features in WORDS:
        assert english and swedish and features
        assert set(features) <= set(HL7_FEATURES), features
        for word in english + swedish:
            assert features_for(word) == tuple(f for f in HL7_FEATURES if f in features), word


def test_an_unknown_word_is_refused_naming_it_the_closest_and_every_valid_word():
    with pytest.raises(ValueError) as err:
        features_for("tabels and negations")
    text = str(err.value)
    assert '"tabels"' in text and 'did you mean "tables"?' in text
    assert "tables (tabeller)" in text and "negations in the conclusion (negationer i slutsatsen)" in text
    assert problem("tabels and negations") == text
    assert problem("tabeller och negationer") is None
    assert split_words("a, b and c och d") == ["a", "b", "c", "d"]


def test_a_report_word_is_no_word_for_nll_texts():
    assert problem("negations", NLL_FEATURES) is None
    assert problem("negations in the conclusion", NLL_FEATURES).startswith('unknown text feature "negations in')


# -------------------------------------------------------------------------------- request ---

def test_the_seed_comes_from_the_scenario_name():
    assert seed_for(SCENARIO) == seed_for(SCENARIO) == 1584682569  # CRC-32: the same on every machine
    assert seed_for(SCENARIO + " ") != seed_for(SCENARIO)
    r = text_request("tables and negations", 25, SCENARIO)
    assert (r.count, r.features, r.seed, r.generator) == (25, ("table", "negation"), 1584682569, "hl7")
    assert text_request("", 3, SCENARIO).features == ()


@pytest.mark.parametrize("count,words,message", [
    (0, "tables", f"ask for 1 to {MAX_COUNT} texts"),
    (MAX_COUNT + 1, "tables", f"ask for 1 to {MAX_COUNT} texts"),
    (5, "tables and tabels", 'unknown text feature "tabels"'),
    (5, "formatting commands and repetitions", "cannot be required together"),
])
def test_a_bad_request_is_a_config_error_before_anything_is_sent(count, words, message):
    with pytest.raises(ConfigError, match=message):
        text_request(words, count, SCENARIO)


# ------------------------------------------------------------------------------ the batch ---

class StandIn:
    """A receiver that cuts every report at ``limit`` UTF-8 bytes (or passes them all)."""

    def __init__(self, limit: int | None = None, delay: float = 0.0):
        self.limit, self.delay, self.sent = limit, delay, []

    def run(self, example):
        self.sent.append(example)
        time.sleep(self.delay)
        data = example.expected.encode("utf-8")
        if self.limit is not None and len(data) > self.limit:
            stored = data[: self.limit].decode("utf-8", "ignore")
            return Outcome("truncated", "high", f"Report text differs: truncated\n- [truncated/high] Text "
                                                f"truncated at byte {self.limit}", stored, "--- sent\n+++ stored")
        return Outcome(stored=example.expected)


def test_a_clean_batch_sends_every_text_and_reads_each_back():
    target = StandIn()
    result = run_batch(target, text_request("tables and negations", 8, SCENARIO), environment="virtual")
    assert result.ok and result.message() == "" and result.first is None
    assert result.examples_run + result.repeats == 8 and len(target.sent) == result.examples_run
    assert all({"table", "negation"} <= set(e.features) for e in target.sent)
    assert "every one stored exactly as sent" in result.summary()
    assert [name for name, _, _ in result.attachments()] == ["Generated texts"]


def test_the_same_scenario_sends_the_same_texts_every_run():
    runs = []
    for _ in range(2):
        target = StandIn()
        run_batch(target, text_request("tabeller och negationer i slutsatsen", 6, "Ett scenario"))
        runs.append([(e.plain, e.wire, e.charset, e.convention) for e in target.sent])
    assert runs[0] == runs[1] and len(runs[0]) >= 5
    other = StandIn()
    run_batch(other, text_request("tabeller och negationer i slutsatsen", 6, "Ett annat scenario"))
    assert [(e.plain, e.wire) for e in other.sent] != [(p, w) for p, w, _, _ in runs[0]]


def test_a_failure_names_the_first_failing_text_and_the_smallest_its_kind_first():
    target = StandIn(limit=4000)
    result = run_batch(target, text_request("tables and negations", 25, SCENARIO), environment="virtual",
                       defects=("radiology-truncation",), shrink_seconds=3)
    assert not result.ok and result.kind == "truncated"
    first = result.first
    assert len(first.example.expected.encode("utf-8")) > 4000
    assert all(len(e.expected.encode("utf-8")) <= 4000 for e in target.sent[: first.index - 1])
    smallest = result.smallest.example
    assert 4000 < len(smallest.expected.encode("utf-8")) <= len(first.example.expected.encode("utf-8"))
    message = result.message()
    assert kinds_in(message)[0] == "truncated" and message.startswith("Report text differs: truncated")
    assert f"Generated text {first.index} of 25 failed first, as truncated" in message
    assert "seed 1584682569" in message
    names = [name for name, _, _ in result.attachments()]
    assert "First failing example: text sent" in names and "First failing example: expected text" in names
    assert "Regression scenario (.feature)" in names
    replay = json.loads(next(text for name, text, _ in result.attachments() if name.startswith("Finding")))
    assert replay["kind"] == "truncated" and replay["requirement"] == "RAD-R01"
    assert replay["defects"] == ["radiology-truncation"] and replay["seed"] == 1584682569


@pytest.mark.heavy  # shrinks for its whole time budget: make test runs it, make test-fast does not
def test_shrinking_stops_at_its_budget_with_the_smallest_so_far():
    target = StandIn(limit=500, delay=0.05)
    started = time.monotonic()
    result = run_batch(target, text_request("tables", 20, SCENARIO), shrink_seconds=1.0)
    assert time.monotonic() - started < 120  # bounded (a hang fails); the budget itself: the two lines below
    assert not result.ok and result.shrinking == "cut short by the budget" and result.budget_spent
    failing = [e for e in target.sent if len(e.expected.encode("utf-8")) > 500]
    assert len(result.smallest.example.expected.encode("utf-8")) == min(
        len(e.expected.encode("utf-8")) for e in failing)
    assert "hrinking cut short by the budget" in result.message()


# ---------------------------------------------------------------------- the linter's hook ---

def test_the_step_passes_the_words_first_so_the_linter_can_check_them_without_running(monkeypatch):
    """``steps.step_registry.fixture_parameters`` finds a step parameter passed first to a function of
    ``FIXTURE_LOADERS``; registering ``text_request`` there with ``words.problem`` lets ``genrep lint``
    report an unknown word with every valid one (the linter's owner adds that one entry)."""
    from genrep.paths import PROJECT_ROOT
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))
    from steps import step_registry

    class Words:
        what = "text feature words"

        def problem(self, value: str) -> str | None:
            return problem(value)

    monkeypatch.setitem(step_registry.FIXTURE_LOADERS, "text_request", Words())
    contexts = [c for m, c in step_registry.all_step_contexts()
                if m == "generated_steps" and "{features}" in c.parser.name]
    assert len(contexts) == 3  # English, and the two Swedish phrasings
    for ctx in contexts:
        kinds = step_registry.fixture_parameters.__wrapped__(ctx.step_func)
        assert set(kinds) == {"features"}
    ctx = next(c for c in contexts if c.parser.name.startswith("{count:d} generated"))
    values = ctx.parser.parse_arguments("50 generated report texts with tabels and negations")
    assert 'did you mean "tables"?' in kinds["features"].problem(values["features"])


def test_a_batch_cut_short_by_its_budget_is_not_a_pass():
    target = StandIn(delay=0.2)
    result = run_batch(target, text_request("tables", 50, SCENARIO), budget_seconds=1.0)
    assert result.first is None and result.budget_spent and not result.ok
    assert result.message().startswith("Not every generated text was verified: ")
    assert f"{result.examples_run} of 50 were sent" in result.message() and kinds_in(result.message()) == []


# ------------------------------------------------------------- the shrink time setting ---

def test_the_environment_sets_the_shrink_time_zero_reports_the_first_failing_text(monkeypatch):
    """``GENREP_SHRINK_SECONDS=0`` (genrep selftest's defect rows): the scenario still fails with
    its kind; the first failing text is reported as it is, and nothing more is sent after it."""
    from genrep.rehearsal import SHRINK_SECONDS_ENV
    monkeypatch.setenv(SHRINK_SECONDS_ENV, "0")
    target = StandIn(limit=4000)
    result = run_batch(target, text_request("tables and negations", 25, SCENARIO))
    assert not result.ok and result.kind == "truncated"
    assert len(target.sent) == result.first.index  # not one text sent after the first failure
    assert result.smallest.example == result.first.example
    assert not result.budget_spent and "Shrinking not tried (GENREP_SHRINK_SECONDS=0)" in result.message()


@pytest.mark.parametrize("value", ["-1", "601", "ten", "nan"])
def test_a_bad_shrink_time_setting_is_refused_naming_it(monkeypatch, value):
    from genrep.rehearsal import SHRINK_SECONDS_ENV
    monkeypatch.setenv(SHRINK_SECONDS_ENV, value)
    with pytest.raises(ConfigError, match="GENREP_SHRINK_SECONDS"):
        run_batch(StandIn(limit=4000), text_request("tables", 5, SCENARIO))
