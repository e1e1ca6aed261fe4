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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from genrep.errors import GenrepError
from genrep.explore.examples import Example
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
    budget_spent: bool = False
    flaky: bool = False
    error: BaseException | None = None

    def record(self, example: Example, outcome: Outcome) -> None:
        self.examples_run += 1
        if not outcome.failed:
            return
        self.failing[outcome.kind] = self.failing.get(outcome.kind, 0) + 1
        best = self.smallest.get(outcome.kind)
        if best is None or _size_key(example) < _size_key(best[0]):
            self.smallest[outcome.kind] = (example, outcome)

    def results(self) -> dict[str, tuple[Example, Outcome, str]]:
        """kind -> (minimal example, its outcome, how far shrinking got)."""
        out = {}
        for kind, (example, outcome) in self.smallest.items():
            if kind in self.minimal:
                example, outcome = self.minimal[kind]
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
    the first failure and shrink only its kind (sooner to a small example)."""
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

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink), verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=not first_kind_only, print_blob=False)
    @hypothesis_seed(seed)
    @given(strategy)
    def probe(example: Example) -> None:
        if time.monotonic() >= limit[0]:
            raise _OutOfBudget()
        key = example.digest()
        outcome = seen.get(key)
        if outcome is None:
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
        else:
            state.repeats += 1
        if outcome.failed:
            raise failure_type(outcome.kind)(outcome.message, example, outcome)

    try:
        probe()
    except _OutOfBudget:
        state.budget_spent = True
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


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions in a group (Hypothesis raises one per bug); a Flaky group is one leaf."""
    from hypothesis.errors import Flaky
    if isinstance(exc, BaseExceptionGroup) and not isinstance(exc, Flaky):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
