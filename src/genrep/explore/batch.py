"""Generated texts a feature file asks for: ``Given 50 generated report texts with tables and negations``.

What the steps of ``steps/generated_steps.py`` call, so that they stay thin:

* :func:`text_request` turns the step's words and count (``genrep.text.generated.words``: English or
  Swedish, e.g. "tables, negations and escapes" / "tabeller, negationer och escapesekvenser") into
  a :class:`Request`: the required features and a seed taken from the scenario's name (CRC-32), so
  the same scenario sends the same texts every run. An unknown word, or features the generator
  cannot make together, is a ConfigError that names the valid words.
* :func:`run_batch` sends each generated text through a target (``targets.RadiologyTarget`` on the
  scenario's client and registered test patient: identities only from the allowlist) as a final
  report, reads it back in every representation and compares it with the exact expected text:
  ``shrink.search``, Hypothesis seeded with the request's seed. On a failure the failing kind is
  shrunk against the live system for at most ``shrink_seconds``; the result names the first
  failing example and the smallest one shrinking reached (complete, or cut short by the budget).
  The whole batch is bounded by ``budget_seconds``: a batch whose budget ran out before every text
  was sent is not a pass (the texts never sent were never verified).
* :class:`BatchResult` says it in words: ``message()`` (the failure kind first, as the results
  reader and the selftest classify it), ``attachments()`` (texts sent, expected, read back, diffs,
  the replay file and a regression scenario; the steps attach them masked) and ``summary()``.

The examples are the explore examples of the integration (``examples.example_strategy``: padded
towards the contract's size limit; a report over the agreed maximum may be refused), with the
hl7 generator for radiology: typed delimiters and already-escaped OBX-5 values are report texts too.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from genrep.errors import ConfigError
from genrep.explore.examples import GENERATORS, Example, example_strategy
from genrep.explore.findings import Finding, requirement_for
from genrep.explore.scenario import regression_feature
from genrep.explore.shrink import search
from genrep.rehearsal import SHRINK_SECONDS_ENV
from genrep.explore.targets import Outcome

#: seconds for a whole batch (sending, reading back, shrinking) and for shrinking after the first failure
DEFAULT_BATCH_BUDGET = 180.0
DEFAULT_SHRINK_SECONDS = 10.0
MAX_COUNT = 1000


def shrink_seconds_setting() -> float:
    """The shrink time the environment asks for (``GENREP_SHRINK_SECONDS``), else the default."""
    raw = os.environ.get(SHRINK_SECONDS_ENV, "").strip()
    if not raw:
        return DEFAULT_SHRINK_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 600:
        raise ConfigError(f"{SHRINK_SECONDS_ENV}={raw!r}: a number of seconds from 0 to 600")
    return value


def seed_for(name: str) -> int:
    """The seed of a scenario: CRC-32 of its name (stable across runs, machines and Python versions)."""
    return zlib.crc32(name.encode("utf-8"))


@dataclass(frozen=True)
class Request:
    """What a feature asked for: ``count`` texts with ``features`` (from ``words``), seeded."""

    count: int
    words: str
    features: tuple[str, ...]
    seed: int
    scenario: str = ""
    integration: str = "radiology"
    generator: str = "hl7"

    def describe(self) -> str:
        wanted = f" with {self.words} ({', '.join(self.features)})" if self.features else ""
        return f"{self.count} generated {self.integration} texts{wanted}, seed {self.seed}"


def text_request(words: str, count: int, scenario: str, *, integration: str = "radiology") -> Request:
    """The :class:`Request` of a step: ``count`` texts, the features ``words`` name (empty: none
    required), seeded from ``scenario`` (its name). ConfigError for a bad count or unknown words,
    naming the valid ones, before anything is sent. (The words come first: a linter that checks a
    step's parameters finds the one passed here; ``genrep.text.generated.words.problem`` says
    what is wrong with it without running anything.)"""
    from genrep.text.generated import HL7_FEATURES, NLL_FEATURES
    from genrep.text.generated.words import features_for
    if not 1 <= count <= MAX_COUNT:
        raise ConfigError(f"generated texts: ask for 1 to {MAX_COUNT} texts, not {count}")
    generator = GENERATORS[integration][0]
    known = NLL_FEATURES if integration == "nll" else HL7_FEATURES
    try:
        features = features_for(words, known) if words.strip() else ()
    except ValueError as exc:
        raise ConfigError(f"generated texts: {exc}") from None
    try:
        example_strategy(integration, generator, require=features)  # features it cannot make together
    except (ConfigError, ValueError) as exc:
        raise ConfigError(f"generated texts with {words}: {exc}") from None
    return Request(count, words.strip(), features, seed_for(scenario), scenario, integration, generator)


@dataclass
class Failing:
    """A failing example: its place among the examples sent (1-based), and what it did."""

    index: int
    example: Example
    outcome: Outcome


@dataclass
class BatchResult:
    request: Request
    environment: str = ""
    defects: tuple[str, ...] = ()
    examples_run: int = 0                # sent (the shrinker's tries included)
    repeats: int = 0                     # generated again identically: not sent again
    failing: dict[str, int] = field(default_factory=dict)  # kind -> failing examples sent
    first: Failing | None = None         # the first example that failed
    smallest: Failing | None = None      # its kind's smallest failing example (shrunk)
    shrinking: str = ""                  # complete | cut short by the budget | ...
    budget_spent: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No text failed, and every one was sent (a budget spent first verified only some)."""
        return self.first is None and not self.budget_spent

    @property
    def kind(self) -> str | None:
        return self.first.outcome.kind if self.first else None

    def summary(self) -> str:
        r = self.request
        head = (f"{r.describe()}: {self.examples_run} sent to {self.environment or 'the EHR'} and read back in "
                f"{self.seconds:.1f} s" + (f" ({self.repeats} generated twice, sent once)" if self.repeats else ""))
        if self.first is None:
            if self.budget_spent:
                return head + "; each of them stored exactly as sent, but the budget ran out before all were sent"
            return head + "; every one stored exactly as sent"
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.failing.items()))
        return head + f"; failing (shrinking included): {kinds}"

    def message(self) -> str:
        """The failure as the scenario reports it: the (smallest) example's classified message
        first, then which generated text failed first and how far shrinking got."""
        if self.first is None:
            if not self.budget_spent:
                return ""
            return (f"Not every generated text was verified: {self.examples_run} of {self.request.count} were sent "
                    f"and read back as sent before the budget of the batch ran out ({self.seconds:.0f} s); "
                    "the others were never sent.")
        shown = self.smallest or self.first
        first = self.first
        lines = [shown.outcome.message.strip()]
        lines.append(f"Generated text {first.index} of {self.request.count} failed first, as {first.outcome.kind} "
                     f"({first.example.describe()}; seed {self.request.seed}).")
        if self.smallest is not None and self.smallest.example != first.example:
            lines.append(f"Smallest failing example (shrinking {self.shrinking}): {shown.example.describe()}; "
                         "the message above is about it, and it is attached with the first.")
        elif self.shrinking:
            lines.append(f"Shrinking {self.shrinking}: the first failing example is the smallest found.")
        return "\n".join(lines)

    def finding(self) -> Finding | None:
        """The smallest failing example as a ``genrep explore`` finding (replay file, regression scenario)."""
        shown = self.smallest or self.first
        if shown is None:
            return None
        r, o = self.request, shown.outcome
        return Finding(r.integration, o.kind or "changed_text", o.severity or "high",
                       requirement_for(r.integration, o.kind or ""), o.message, shown.example, o.stored, o.diff,
                       r.seed, self.environment, self.defects, self.shrinking or "not tried", self.examples_run,
                       sum(self.failing.values()))

    def attachments(self) -> list[tuple[str, str, str]]:
        """(name, text, kind) for Allure (``results.allure.attach_text`` masks identities): the
        request; on a failure the first and the smallest failing example (text sent, OBX-5 value,
        expected, read back, diff), the replay file and the regression scenario."""
        out = [("Generated texts", self.summary(), "text")]
        if self.first is None:
            return out
        shown = [("First failing example", self.first)]
        if self.smallest is not None and self.smallest.example != self.first.example:
            shown.append((f"Smallest failing example (shrinking {self.shrinking})", self.smallest))
        for label, f in shown:
            ex, o = f.example, f.outcome
            out.append((f"{label}: text sent", ex.plain, "text"))
            if ex.wire is not None:
                out.append((f"{label}: OBX-5 value ({ex.wire_type})", ex.wire, "hl7"))
            out.append((f"{label}: expected text", ex.expected, "text"))
            if o.stored is not None:
                out.append((f"{label}: text read back", o.stored, "text"))
            if o.diff:
                out.append((f"{label}: diff expected -> read back", o.diff, "diff"))
        finding = self.finding()
        if finding is not None:
            out.append(("Finding (replay file: genrep explore --replay FILE)",
                        json.dumps(finding.to_dict(), indent=2, ensure_ascii=False), "json"))
            out.append(("Regression scenario (.feature)", regression_feature(finding), "text"))
        return out


def run_batch(target, req: Request, *, budget_seconds: float = DEFAULT_BATCH_BUDGET,
              shrink_seconds: float | None = None, environment: str = "", defects: tuple[str, ...] = (),
              progress: Callable[[str], None] | None = None) -> BatchResult:
    """Send the request's texts through ``target`` (``run(example) -> Outcome``) and read each back;
    shrink the first failing kind for at most ``shrink_seconds`` (default: :func:`shrink_seconds_setting`;
    the whole batch within ``budget_seconds``). Transport, configuration and identity errors are
    raised, never findings."""
    if shrink_seconds is None:
        shrink_seconds = shrink_seconds_setting()
    if budget_seconds <= 0 or shrink_seconds < 0:
        raise ConfigError("generated texts: the budget must be positive seconds")
    strategy = example_strategy(req.integration, req.generator, require=req.features)
    result = BatchResult(req, environment, tuple(defects))
    started = time.monotonic()
    sent = [0]

    def run(example: Example) -> Outcome:
        outcome = target.run(example)
        sent[0] += 1
        if outcome.failed and result.first is None:
            result.first = Failing(sent[0], example, outcome)
        return outcome

    state = search(run, strategy, examples=req.count, seed=req.seed, deadline=started + budget_seconds,
                   progress=progress or (lambda _: None), shrink_seconds=shrink_seconds,
                   first_kind_only=True)
    result.examples_run, result.repeats = state.examples_run, state.repeats
    result.failing, result.budget_spent = dict(state.failing), state.budget_spent
    if result.first is not None:
        shrunk = state.results().get(result.first.outcome.kind)
        if shrunk is not None:
            example, outcome, how = shrunk
            result.smallest, result.shrinking = Failing(0, example, outcome), how
        if shrink_seconds == 0:  # stopped at the first failure on purpose: no budget ran out
            result.shrinking, result.budget_spent = f"not tried ({SHRINK_SECONDS_ENV}=0)", False
    result.seconds = round(time.monotonic() - started, 1)
    return result
