"""Settling a length limit in ``genrep explore`` without a live system: a padded example's padding
cut to a shorter length is exactly the example the strategy builds with that length; a failing
padded example is bisected to the limit in O(log n) live examples and reported complete without
Hypothesis's shrinker; a text that fails without its padding is left to Hypothesis; the settling is
deterministic for a seed and bounded by the budget."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import strategies as st

from genrep import explore as ex
from genrep.explore.examples import _with_padding, cut_padding, padding_cuts
from genrep.explore.shrink import SETTLE_SCAN, settle
from genrep.text.generated import GeneratedText

TEXTS = {
    "typed": GeneratedText("Lungor utan anmärkning.\rslut\r", None, "Lungor utan anmärkning.\nslut\n", ()),
    "conclusion": GeneratedText("Fynd.\n\nSlutsats: normal.", None, "Fynd.\n\nSlutsats: normal.", ("conclusion",)),
    "st wire": GeneratedText("a|b", "a\\F\\b", "a|b", (), "ST", "UNICODE UTF-8"),
    "ft wire": GeneratedText("a\nb", "a\\.br\\b", "a\nb", (), "FT", "8859/1"),
}
PLAIN = GeneratedText("Lungor utan anmärkning.", None, "Lungor utan anmärkning.", ())
NEGATION = GeneratedText("Ingen fraktur.", None, "Ingen fraktur.", ("negation",))


def _padded(g: GeneratedText, length: int) -> ex.Example:
    return _with_padding(g, g.charset or "UNICODE UTF-8", "ft-br", length, "hl7")


def _breaks(g: GeneratedText) -> int:
    return 2 if "conclusion" in g.features else 1


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_a_cut_padding_is_the_example_the_strategy_builds_with_that_length(name):
    g = TEXTS[name]
    example = _padded(g, 3000)
    cuts = padding_cuts(example)
    assert cuts[-1] == example.padding > 2900 and 0 not in cuts and cuts == sorted(set(cuts))
    for n in cuts[:5] + cuts[len(cuts) // 2:len(cuts) // 2 + 3] + cuts[-3:]:
        same = _padded(g, len(g.expected) + _breaks(g) + n)
        assert cut_padding(example, n) == same and same.padding == n
    with pytest.raises(ValueError):
        cut_padding(example, cuts[1] + 1)  # not a whole word
    assert padding_cuts(_padded(g, 0)) == []


def _fails_over(limit: int, calls: list, *, always: str = "") -> callable:
    def run(example: ex.Example) -> ex.Outcome:
        calls.append(example)
        if always and always in example.expected:
            return ex.Outcome("lost_negation", "critical", "[lost_negation/critical] lost")
        if len(example.expected.encode("utf-8")) > limit:
            return ex.Outcome("truncated", "high", "[truncated/high] cut")
        return ex.Outcome(stored=example.expected)
    return run


def test_settle_bisects_the_padding_to_the_limit_in_log_n_live_examples():
    calls: list = []
    run = _fails_over(4000, calls)
    example = _padded(PLAIN, 60_000)
    cuts = padding_cuts(example)
    found = settle(run, example, "truncated")
    smallest, outcome = found["truncated"]
    size = len(smallest.expected.encode("utf-8"))
    assert outcome.kind == "truncated" and size > 4000
    below = cut_padding(example, cuts[cuts.index(smallest.padding) - 1])
    assert len(below.expected.encode("utf-8")) <= 4000  # one word less passes: at the limit
    assert len(calls) <= math.ceil(math.log2(len(cuts))) + 2 < 20 < len(cuts)


def test_settle_leaves_a_text_that_fails_without_its_padding_to_hypothesis():
    calls: list = []
    assert settle(_fails_over(4000, calls, always="Ingen"), _padded(NEGATION, 20_000), "lost_negation") == {}
    assert len(calls) == 1  # the shortest cut failed already: no bisection
    assert settle(_fails_over(4000, calls), _padded(PLAIN, 3000), "truncated") == {}  # it passes: no limit


def test_settle_gives_up_when_the_kind_is_not_met_near_the_limit():
    def run(example):  # over the limit, but only the whole example fails as "mojibake"
        if len(example.expected) <= 4000:
            return ex.Outcome(stored=example.expected)
        kind = "mojibake" if example.padding > 19_000 else "truncated"
        return ex.Outcome(kind, "high", f"[{kind}/high] x")
    example = _padded(PLAIN, 20_000)
    assert len(padding_cuts(example)) > SETTLE_SCAN * 10
    assert settle(run, example, "mojibake") == {}


PADDED = st.builds(_padded, st.just(PLAIN), st.integers(0, 70_000))


def test_a_padded_failure_is_settled_at_the_limit_without_hypothesis_s_shrinker():
    calls: list = []
    state = ex.search(_fails_over(4000, calls), PADDED, examples=20, seed=0, deadline=time.monotonic() + 60,
                      progress=lambda line: None)
    example, outcome, shrinking = state.results()["truncated"]
    assert shrinking == "complete" and outcome.kind == "truncated" and not state.budget_spent
    assert 4000 < len(example.expected.encode("utf-8")) <= 4000 + 16  # a word above the limit
    assert "truncated" in state.settled and not state.minimal  # Hypothesis did not shrink it
    # twenty generated, then about log2(9,000 words) cuts per failing example settled
    assert len(calls) == state.examples_run <= 20 + 2 * 20


def test_settling_is_the_same_for_the_same_seed():
    runs = []
    for _ in range(2):
        calls: list = []
        ex.search(_fails_over(4000, calls), PADDED, examples=10, seed=5, deadline=time.monotonic() + 60,
                  progress=lambda line: None)
        runs.append([c.expected for c in calls])
    assert runs[0] == runs[1] and any(len(c) > 4000 for c in runs[0])


def test_a_kind_that_fails_without_padding_is_still_shrunk_by_hypothesis():
    texts = st.builds(_padded, st.sampled_from([PLAIN, NEGATION]), st.integers(0, 10_000))
    state = ex.search(_fails_over(10**9, [], always="Ingen"), texts, examples=30, seed=0,
                      deadline=time.monotonic() + 60, progress=lambda line: None)
    example, _, shrinking = state.results()["lost_negation"]
    assert shrinking == "complete" and "lost_negation" in state.minimal and "lost_negation" not in state.settled
    assert example.expected == "Ingen fraktur."  # Hypothesis took the padding away


def test_the_budget_bounds_the_settling(monkeypatch):
    from genrep.explore import shrink
    clock = type("Clock", (), {"now": 0.0, "monotonic": lambda self: self.now})()
    monkeypatch.setattr(shrink, "time", clock)  # each live example takes one second of the search's clock
    calls: list = []

    def slow(example):
        clock.now += 1.0
        return _fails_over(4000, calls)(example)
    state = ex.search(slow, st.just(_padded(PLAIN, 60_000)), examples=5, seed=0, deadline=3.5,
                      progress=lambda line: None)
    assert state.budget_spent and len(calls) == 4  # the example, then three cuts; the fifth not sent
    assert "truncated" not in state.settled
    example, _, shrinking = state.results()["truncated"]
    assert shrinking == "cut short by the budget" and example == min(
        (c for c in calls if len(c.expected) > 4000), key=lambda c: len(c.expected))


def test_hypothesis_s_shrinker_is_not_run_once_its_generation_is_over_however_many_examples_were_asked():
    """Hypothesis stops generating soon after a failure (at least 10 calls, twice the call of the
    last new kind): the calls after that are its shrinker's, which a settled kind does not need."""
    calls: list = []
    state = ex.search(_fails_over(4000, calls), PADDED, examples=300, seed=0, deadline=time.monotonic() + 120,
                      progress=lambda line: None)
    example, _, shrinking = state.results()["truncated"]
    assert shrinking == "complete" and not state.minimal and state.is_settled("truncated")
    assert 4000 < len(example.expected.encode("utf-8")) <= 4000 + 16
    assert len(calls) < 100  # Hypothesis's full shrink of the text: hundreds


def test_a_smaller_failure_of_a_settled_kind_from_another_text_is_not_complete():
    """A limit that shows as a kind (here lost_negation at 4,000 bytes) and, later, a smaller text that
    fails as that kind on its own: the settled example is not the smallest failure of the kind, so
    the kind is not settled (Hypothesis is to shrink it) and never reported complete from the cut."""
    lost = ex.Outcome("lost_negation", "critical", "[lost_negation/critical] lost")
    state = ex.Search()
    at_limit = _padded(PLAIN, 4010)
    state.record(at_limit, lost)
    state.settled["lost_negation"] = (at_limit, lost)
    assert state.is_settled("lost_negation") and state.results()["lost_negation"][2] == "complete"
    smaller = _padded(NEGATION, 600)
    state.record(smaller, lost)
    assert not state.is_settled("lost_negation")
    example, _, shrinking = state.results()["lost_negation"]
    assert example == smaller and shrinking == "incomplete"
