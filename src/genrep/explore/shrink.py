"""The search of ``genrep explore``: Hypothesis generates examples and shrinks each failing kind against the live system, within the budget.

``search`` runs an ``@given`` function programmatically with ``max_examples``, ``@seed(seed)``
(the same seed gives the same examples), no database, no deadline, phases explicit/generate/shrink.
A failing example raises one exception class per classification (:func:`failure_type`), so
Hypothesis **shrinks each kind apart** to a minimal failing example and raises them all at the end.
An example the shrinker builds again identically is not sent again (its outcome is reused). The
budget bounds everything: once it runs out the next example is not sent, generation and shrinking
stop, and the smallest failing example seen so far for each kind is reported ("cut short by the
budget"). Transport, configuration and identity-guard errors stop the search at once, never shrunk.
It knows nothing of integrations: it calls ``run_example`` and reads the :class:`Outcome`.

**Settling a length limit (our own code, beside Hypothesis's shrinker).** A failing example whose
text is padded to a length (``examples.padding_cuts``) is first cut down by *bisecting its padding*
with live probes: the shortest cut that still fails (the cut one word shorter passes, and so does
the shortest cut of all: in between, failing is taken to grow with the length, as a limit does; a
cut that passes above a failing one ends the settling), then upwards word
by word to the first cut that fails as the example's own kind: the smallest failing example of
that kind this text makes, found in O(log n) round trips (about 15 for 70,000 characters). Every
cut is the example the strategy itself builds from the same generated text with a shorter length
(``examples.cut_padding``), so valid by construction, and the search stays deterministic for a
seed. A kind so cut to a limit is *settled* (shrinking "complete") while no smaller failing example
of it is known (a text that fails as that kind on its own is Hypothesis's to shrink); once
Hypothesis's generation is over (its own rule, ``generation_over``) and every failing kind is
settled, Hypothesis's shrinker is not run. The generated text before the padding is not simplified. Why not leave it to Hypothesis:
its shrinker rebuilds every candidate through the whole text strategy (three quarters of a shrink's
CPU; measured: a full shrink of ``--defect radiology-truncation`` took ~120 s of CPU and 1,198 live
examples, 15 of them generated) and works through the text's hundreds of choices before it lowers
the length, while the finding (a limit) depends on the length alone. A kind that still fails with
one word of padding (the generated text fails on its own, e.g. a lost negation) is not settled:
Hypothesis shrinks it as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from genrep.errors import GenrepError
from genrep.explore.examples import Example, cut_padding, padding_cuts
from genrep.explore.targets import Outcome


class ExploreFailure(AssertionError):
    """A failing example (one subclass per classification, so Hypothesis shrinks each kind apart)."""

    def __init__(self, message: str, example: Example, outcome: Outcome):
        super().__init__(message)
        self.example, self.outcome = example, outcome


_FAILURE_TYPES: dict[str, type[ExploreFailure]] = {}


def failure_type(kind: str) -> type[ExploreFailure]:
    if kind not in _FAILURE_TYPES:
        _FAILURE_TYPES[kind] = type(f"ExploreFailure_{kind}", (ExploreFailure,), {})
    return _FAILURE_TYPES[kind]


class _OutOfBudget(BaseException):
    """Raised in place of the next example once the budget is spent: stops Hypothesis at once."""


class _Settled(BaseException):
    """Raised once generation is over and every failing kind is settled: Hypothesis's shrinker is not needed."""


class _Stopped(BaseException):
    """An error that is not a finding (transport, configuration, identity guard): stop, never shrink."""


@dataclass
class Search:
    """What one exploration saw: every example's outcome counted, the smallest failure per kind."""

    examples_run: int = 0        # sent to the live system
    repeats: int = 0             # examples the shrinker rebuilt identically: the earlier outcome reused
    live_seconds: float = 0.0    # spent sending and reading back (the rest: generating and shrinking)
    failing: dict[str, int] = field(default_factory=dict)
    smallest: dict[str, tuple[Example, Outcome]] = field(default_factory=dict)
    minimal: dict[str, tuple[Example, Outcome]] = field(default_factory=dict)  # Hypothesis's final answer
    settled: dict[str, tuple[Example, Outcome]] = field(default_factory=dict)  # cut to a limit (see above)
    budget_spent: bool = False
    flaky: bool = False
    first_kind: str | None = None  # the kind of the first failing example
    error: BaseException | None = None

    def record(self, example: Example, outcome: Outcome) -> None:
        self.examples_run += 1
        if not outcome.failed:
            return
        self.failing[outcome.kind] = self.failing.get(outcome.kind, 0) + 1
        if self.first_kind is None:
            self.first_kind = outcome.kind
        best = self.smallest.get(outcome.kind)
        if best is None or _size_key(example) < _size_key(best[0]):
            self.smallest[outcome.kind] = (example, outcome)

    def is_settled(self, kind: str) -> bool:
        """``kind`` was cut to a length limit, and no smaller failing example of it is known (one from
        another text, e.g. a content failure found later or in another scan, is Hypothesis's to shrink)."""
        settled, smallest = self.settled.get(kind), self.smallest.get(kind)
        return (settled is not None and smallest is not None
                and _size_key(settled[0]) <= _size_key(smallest[0]))

    def results(self) -> dict[str, tuple[Example, Outcome, str]]:
        """kind -> (minimal example, its outcome, how far shrinking got)."""
        out = {}
        for kind, (example, outcome) in self.smallest.items():
            if kind in self.minimal:
                example, outcome = self.minimal[kind]
                out[kind] = (example, outcome, "complete")
            elif self.is_settled(kind):  # at a limit, and nothing smaller of the kind known: complete
                example, outcome = self.settled[kind]
                out[kind] = (example, outcome, "complete")
            else:
                out[kind] = (example, outcome, "cut short by the budget" if self.budget_spent
                             else "the minimal example passed when replayed (flaky)" if self.flaky
                             else "incomplete")
        return out


def _size_key(example: Example) -> tuple:
    nbytes, lines = example.size
    return (nbytes, lines, len(example.wire or ""), len(example.features))


def search(run_example: Callable[[Example], Outcome], strategy, *, examples: int, seed: int,
           deadline: float, progress: Callable[[str], None] = print,
           shrink_seconds: float | None = None, first_kind_only: bool = False) -> Search:
    """Run ``run_example`` on up to ``examples`` generated examples (Hypothesis, seeded), shrinking
    every failing kind against the live system until ``deadline`` (``time.monotonic``), and at most
    ``shrink_seconds`` after the first failure when given. ``first_kind_only``: stop generating at
    the first failure and shrink only its kind (sooner to a small example). A failing padded example
    is first cut to its length limit (:func:`settle`); when every kind wanted is so settled after
    generation, Hypothesis's shrinker is not run (see the module docstring)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Flaky, HypothesisException

    state = Search()
    ticker = {"last": time.monotonic(), "first_failure": None}
    limit = [deadline]  # brought forward to shrink_seconds after the first failure
    seen: dict[str, Outcome] = {}  # the shrinker often rebuilds an example it has run: not sent again

    def report_progress(example: Example, outcome: Outcome) -> None:
        now = time.monotonic()
        if outcome.failed and ticker["first_failure"] is None:
            ticker["first_failure"] = state.examples_run
            if shrink_seconds is not None:
                limit[0] = min(limit[0], now + shrink_seconds)
            progress(f"  example {state.examples_run}: {outcome.kind} ({example.describe()}); shrinking "
                     "against the live system")
            ticker["last"] = now
        elif now - ticker["last"] >= 5.0 or (ticker["first_failure"] is None and state.examples_run % 10 == 0):
            ticker["last"] = now
            if state.smallest:
                smallest = ", ".join(f"{k} {e.size[0]} bytes/{e.size[1]} lines" for k, (e, _) in state.smallest.items())
                progress(f"  {state.examples_run} examples run; smallest failing so far: {smallest}")
            else:
                progress(f"  {state.examples_run} examples run, none failing")

    def send(example: Example) -> Outcome:
        """One example through the live system, once: an example built again reuses its outcome."""
        key = example.digest()
        outcome = seen.get(key)
        if outcome is not None:
            state.repeats += 1
            return outcome
        if time.monotonic() >= limit[0]:
            raise _OutOfBudget()
        sent = time.monotonic()
        try:
            outcome = run_example(example)
            state.live_seconds += time.monotonic() - sent
        except (KeyboardInterrupt, _OutOfBudget):
            raise
        except BaseException as exc:  # not a finding: never shrunk against the live system
            state.error = exc
            raise _Stopped() from exc
        if len(seen) < 100_000:
            seen[key] = outcome
        state.record(example, outcome)
        report_progress(example, outcome)
        return outcome

    tried: dict[str, list[str]] = {}  # kind -> digests of the examples cut so far
    calls = [0]
    kinds_at: dict[str, int] = {}  # kind -> the call that first failed as it
    first_failure_at = [0.0]

    def generation_over() -> bool:
        """Whether Hypothesis has stopped generating and only its shrinker calls now: its own rule
        (``ConjectureRunner.should_generate_more``, Hypothesis 6) after a failure, on our count of
        calls, which leaves out the invalid examples Hypothesis counts too, so this ends no earlier
        than Hypothesis does: ``examples`` calls; or at least 10 calls and twice the call at which
        the last new kind appeared (at most 1,000 after the first); or 10 s after the first failure
        (11 here: our clock starts before Hypothesis records the failure)."""
        if calls[0] >= examples:
            return True
        if not kinds_at:
            return False
        if time.monotonic() - first_failure_at[0] > 11.0:
            return True
        first, last = min(kinds_at.values()), max(kinds_at.values())
        return calls[0] >= 10 and calls[0] >= min(first + 1000, last * 2)

    def settle_all() -> None:
        """Cut each failing kind's smallest padded example to its limit (see the module docstring),
        each example once and each kind at most ``SETTLE_TRIES`` times; kinds met meanwhile too."""
        progress_made = True
        while progress_made:
            progress_made = False
            for kind, (example, _) in list(state.smallest.items()):
                done = tried.setdefault(kind, [])
                if (state.is_settled(kind) or example.padding <= 0 or len(done) >= SETTLE_TRIES
                        or example.digest() in done):
                    continue
                done.append(example.digest())
                progress_made = True
                before = state.examples_run
                for other, (cut, outcome) in settle(send, example, kind).items():
                    known = state.settled.get(other)
                    if known is None or _size_key(cut) < _size_key(known[0]):
                        state.settled[other] = (cut, outcome)
                        progress(f"  {other}: cut to a length limit in {state.examples_run - before} live examples "
                                 f"({cut.describe()})")

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink), verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=not first_kind_only, print_blob=False)
    @hypothesis_seed(seed)
    @given(strategy)
    def probe(example: Example) -> None:
        if time.monotonic() >= limit[0]:
            raise _OutOfBudget()
        calls[0] += 1
        outcome = send(example)
        if outcome.failed and outcome.kind not in kinds_at:
            kinds_at[outcome.kind] = calls[0]
            first_failure_at[0] = first_failure_at[0] or time.monotonic()
        if not all(state.is_settled(k) for k in state.smallest):
            settle_all()
        wanted = ({state.first_kind} if first_kind_only else set(state.failing)) - {None}
        if wanted and all(state.is_settled(k) for k in wanted) and (first_kind_only or generation_over()):
            raise _Settled()
        if outcome.failed:
            raise failure_type(outcome.kind)(outcome.message, example, outcome)

    try:
        probe()
    except _OutOfBudget:
        state.budget_spent = True
    except _Settled:
        pass
    except _Stopped:
        assert state.error is not None
        raise state.error from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        unexpected = []
        for leaf in _leaves(exc):
            if isinstance(leaf, ExploreFailure):
                state.minimal[leaf.outcome.kind] = (leaf.example, leaf.outcome)
            elif isinstance(leaf, Flaky):
                state.flaky = True
            elif isinstance(leaf, _OutOfBudget):
                state.budget_spent = True
            elif isinstance(leaf, _Settled):
                pass
            else:
                unexpected.append(leaf)
        for leaf in unexpected:
            if not isinstance(leaf, HypothesisException):
                raise leaf  # from the generators themselves: a harness defect, never a finding
        if unexpected and not state.smallest:  # e.g. Unsatisfiable: no example could be made
            first = unexpected[0]
            raise GenrepError(f"genrep explore: the generator could not make examples ({type(first).__name__}: "
                              f"{str(first).splitlines()[0] if str(first) else ''})") from first
    return state


#: how often a kind's (smallest) padded example is cut to a limit before it is left to Hypothesis
SETTLE_TRIES = 3
#: cuts tried upwards from the shortest failing one for the first that fails as the example's kind
SETTLE_SCAN = 16


def settle(send: Callable[[Example], Outcome], example: Example, kind: str) -> dict[str, tuple[Example, Outcome]]:
    """Cut ``example`` (failing as ``kind``) to a length limit: bisect its padding for the shortest
    cut that fails (the cut one word shorter passes), then go up word by word to the first cut that
    fails as ``kind``. Returns kind -> (example, outcome) for every kind so found at its smallest
    cut of this text: empty when the shortest cut fails already (the text fails without the
    padding; Hypothesis's shrinker is the one to shrink it) or ``kind`` is not met within
    ``SETTLE_SCAN`` cuts. Every cut goes through ``send`` (the live system, the budget, the cache)."""
    cuts = padding_cuts(example)
    if not cuts:
        return {}

    def at(i: int) -> tuple[Example, Outcome]:
        candidate = cut_padding(example, cuts[i])
        return candidate, send(candidate)

    if at(0)[1].failed:
        return {}
    lo, hi = 0, len(cuts) - 1  # lo passes, hi fails (the example itself)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if at(mid)[1].failed:
            hi = mid
        else:
            lo = mid
    found: dict[str, tuple[Example, Outcome]] = {}
    for i in range(hi, min(len(cuts), hi + SETTLE_SCAN)):
        candidate, outcome = at(i)
        if not outcome.failed:  # not a limit after all (it fails, passes, fails): left to Hypothesis
            return {}
        found.setdefault(outcome.kind, (candidate, outcome))
        if outcome.kind == kind:
            return found
    return {}


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions in a group (Hypothesis raises one per bug); a Flaky group is one leaf."""
    from hypothesis.errors import Flaky
    if isinstance(exc, BaseExceptionGroup) and not isinstance(exc, Flaky):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
