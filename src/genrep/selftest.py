"""Self-verification: every check goes red on the defect it exists for, and stays green when clean.

For each switchable defect of the virtual environment (``genrep.sim.defects.DEFECTS``) the feature
suite runs against an environment with only that defect on; the scenarios of the requirements the
defect names must fail, with the expected classification in their failure message. A clean run
must have no failure at all (no false alarm). The result is printed as a detection matrix and
written to ``reports/selftest/matrix.json``.

By default a defect run selects only the scenarios of the requirements meant to catch it (fast:
scenarios that wait out a read-back deadline are few); ``full=True`` runs the whole suite per
defect and reports every extra scenario that also caught it. A defect run reports the first failing
generated text as it is (``GENREP_SHRINK_SECONDS=0``): the matrix proves detection; shrinking to
a minimal example costs up to 10 s of CPU per failing scenario (a length limit about 2 s: bisection)
and is proven by its own tests.

The runs are forked by one suite server (``rehearsal.forked_suite_runs``, ``genrep.suite_launcher``):
each skips a new interpreter's start-up and imports (~2 s of CPU a run, of ~3).

The runs start longest first (``run_order``): a row's time is mostly waiting (the referral rows
wait out the contract's 4 s bound and 5 s more per scenario to tell late feedback from none: about
two minutes each), so with rows started in the matrix's order the two referral rows began last and
the matrix took their time on top of everyone else's. The order comes from the durations of an
earlier matrix, measured and checked in like pytest-split's ``.test_durations``
(``selftest_durations.json``, refreshed with ``genrep selftest --store-durations``); a row it does not
know starts first (it may be long); ``--full`` rows run the whole suite and start in the matrix's
order. The durations order the runs and nothing else: the matrix and
its verdict are the same in any order. Each row's seconds are in ``matrix.json``.

The runs go to ``reports/selftest/<defect>/allure-results``, cleared through ``genrep.outputs``
like every output folder. Interrupted (Ctrl-C, SIGTERM), every suite run still going is stopped
before the interruption goes on (the runs wait in threads, which an interruption never reaches).
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from genrep import outputs
from genrep.results.reader import ScenarioResult, read_results
from genrep.paths import REPORTS_DIR
from genrep.rehearsal import SHRINK_SECONDS_ENV, forked_suite_runs, run_features, stop_all_suite_runs
from genrep.sim.defects import DEFECTS, Defect

#: each row's seconds in an earlier full matrix (``--store-durations``): the order runs start in
DURATIONS_FILE = Path(__file__).with_name("selftest_durations.json")


@dataclass
class DefectOutcome:
    defect: Defect | None  # None = the clean run
    results: list[ScenarioResult]
    missed: list[str] = field(default_factory=list)  # requirement ids that did not catch it
    wrong_kind: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0  # the row's suite run, start to results read

    @property
    def name(self) -> str:
        return self.defect.name if self.defect else "clean"

    @property
    def failures(self) -> list[ScenarioResult]:
        return [r for r in self.results if r.failed]

    @property
    def ok(self) -> bool:
        if self.error:
            return False
        if self.defect is None:
            return bool(self.results) and not self.failures
        return not self.missed and not self.wrong_kind


def evaluate(defect: Defect | None, results: list[ScenarioResult]) -> DefectOutcome:
    out = DefectOutcome(defect, results)
    if defect is None:
        return out
    for rid in defect.detected_by:
        tagged = [r for r in results if rid in r.requirements]
        failed = [r for r in tagged if r.failed]
        if not failed:
            out.missed.append(rid)
        elif not any(set(r.kinds) & set(defect.expected_kinds) for r in failed):
            out.wrong_kind.append(rid)
    return out


def _matrix_defects() -> list[Defect]:
    """The defects of the feature-suite matrix: every one but the load defects (performance-load),
    too rare for the functional scenarios (the load tests prove them, tests/e2e/test_load_*.py)."""
    return [d for d in DEFECTS.values() if d.integration != "performance-load"]


def run_order(names: list[str], durations: dict[str, float]) -> list[str]:
    """``names`` in the order their runs should start: the rows ``durations`` does not know first (a
    new row may be long), then longest first (ties and the unknown in the given order). Started
    this way on N parallel slots, the longest rows overlap each other instead of ending the matrix
    (longest processing time first)."""
    known = [n for n in names if isinstance(durations.get(n), (int, float))]
    unknown = [n for n in names if n not in known]
    return unknown + sorted(known, key=lambda n: -durations[n])


class DurationsUnreadable(ValueError):
    """The stored durations exist but cannot be read: nothing is stored over them."""


def _read_durations(path: Path) -> dict[str, float]:
    """The stored row durations ({} when there is no file); ``DurationsUnreadable`` when the file
    exists but is not a JSON object of names to seconds."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DurationsUnreadable(f"{path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise DurationsUnreadable(f"{path.name}: not a JSON object")
    return {k: float(v) for k, v in data.items()
            if isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0}


def load_durations(path: Path | None = None, echo=print) -> dict[str, float]:
    """The stored row durations (``DURATIONS_FILE`` unless ``path``); an unreadable or malformed
    file orders nothing (every row unknown: the matrix's own order), and says so: ordering is never
    a reason to fail."""
    try:
        return _read_durations(path or DURATIONS_FILE)
    except DurationsUnreadable as exc:
        echo(f"genrep selftest: row durations not read ({exc}); rows start in the matrix's order")
        return {}


def store_durations(outcomes: list["DefectOutcome"], path: Path | None = None) -> Path:
    """Each row's measured seconds, merged into the stored ones, for the next matrix's order: only
    rows that passed (an errored or failing row's time says nothing about the row), and only names
    that are rows of the feature-suite matrix today (a removed or renamed defect is dropped; a
    performance-load defect named with ``--defect`` is not a matrix row). A file that exists but
    cannot be read is never overwritten (``DurationsUnreadable``): a subset run would replace every
    other row's figure. Written whole to a temporary file, then renamed over the old one."""
    path = path or DURATIONS_FILE
    rows = {"clean", *(d.name for d in _matrix_defects())}
    merged = {k: v for k, v in _read_durations(path).items() if k in rows}
    merged.update({o.name: round(o.seconds, 1) for o in outcomes if o.ok and o.name in rows})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _run_one(defect: Defect | None, full: bool) -> DefectOutcome:
    start = time.monotonic()
    outcome = _run_row(defect, full)
    outcome.seconds = time.monotonic() - start
    return outcome


def _run_row(defect: Defect | None, full: bool) -> DefectOutcome:
    name = defect.name if defect else "clean"
    results_dir = REPORTS_DIR / "selftest" / name / "allure-results"
    marks = None if (defect is None or full) else " or ".join(defect.detected_by)
    try:
        # a defect row proves detection: the first failing generated text is reported as it is,
        # not shrunk (up to 10 s of CPU per failing scenario; tests/e2e/test_generated_steps.py proves shrinking)
        outcome = run_features(defects=(defect.name,) if defect else (), results_dir=results_dir,
                               marks=marks, timeout=900,
                               extra_env={SHRINK_SECONDS_ENV: "0"} if defect is not None else None)
        if outcome.returncode not in (0, 1):
            tail = "\n".join(outcome.output.strip().splitlines()[-15:])
            return DefectOutcome(defect, [], error=f"suite run failed (exit {outcome.returncode}):\n{tail}")
        return evaluate(defect, read_results(results_dir))
    except Exception as exc:  # report, do not crash the matrix
        return DefectOutcome(defect, [], error=f"{type(exc).__name__}: {exc}")


def render(outcomes: list[DefectOutcome]) -> str:
    lines = ["Detection matrix (defect -> requirements meant to catch it)", ""]
    for o in outcomes:
        if o.defect is None:
            verdict = "OK" if o.ok else "FALSE ALARM" if not o.error else "ERROR"
            lines.append(f"{'clean':30s} {verdict:12s} {len(o.results)} scenarios, {len(o.failures)} failed")
            for r in o.failures:
                lines.append(f"    false alarm: {r.name}: {r.message.strip().splitlines()[0][:160] if r.message.strip() else ''}")
        else:
            cells = []
            for rid in o.defect.detected_by:
                mark = "MISSED" if rid in o.missed else "WRONG-KIND" if rid in o.wrong_kind else "caught"
                cells.append(f"{rid}:{mark}")
            verdict = "OK" if o.ok else "ERROR" if o.error else "NOT DETECTED"
            lines.append(f"{o.name:30s} {verdict:12s} {' '.join(cells)}")
            kinds = sorted({k for r in o.failures for k in r.kinds})
            if kinds:
                lines.append(f"{'':30s} {'':12s} classified as: {', '.join(kinds)}")
        if o.error:
            lines.append(f"    {o.error}")
    return "\n".join(lines)


def run_selftest(*, defects: list[str] | None = None, integration: str | None = None, jobs: int = 3,
                 full: bool = False, store: bool = False, echo=print) -> int:
    # the load defects are left out unless named (``_matrix_defects``)
    unknown = [d for d in (defects or []) if d not in DEFECTS]
    if unknown:
        echo(f"unknown defect(s): {', '.join(unknown)}; known: {', '.join(sorted(DEFECTS))}")
        return 2
    # a defect named twice is one row (one results folder per row)
    chosen = ([DEFECTS[d] for d in dict.fromkeys(defects)] if defects
              else _matrix_defects() if integration is None
              else [d for d in DEFECTS.values() if d.integration == integration])
    runs: list[Defect | None] = [None, *chosen]
    echo(f"genrep selftest: {len(runs)} suite runs (clean + {len(chosen)} defects), {jobs} at a time")
    out = outputs.claim(REPORTS_DIR / "selftest", what="selftest folder")
    with forked_suite_runs():  # one suite server forks every run: ~2 s of CPU less a run
        pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        by_name = {(d.name if d else "clean"): d for d in runs}
        # longest first (run_order); the matrix keeps its own order
        started = {n: pool.submit(_run_one, by_name[n], full)
                   for n in run_order(list(by_name), {} if full else load_durations(echo=echo))}
        futures = [started[n] for n in by_name]
        try:
            outcomes = [f.result() for f in futures]
        except BaseException:  # interrupted: stop the runs in progress (and one just starting)
            pool.shutdown(wait=False, cancel_futures=True)
            deadline = time.monotonic() + 60
            while not all(f.done() for f in futures) and time.monotonic() < deadline:
                stop_all_suite_runs()
                time.sleep(0.2)
            raise
        pool.shutdown()
    text = render(outcomes)
    echo(text)
    (out / "matrix.txt").write_text(text + "\n", encoding="utf-8")
    (out / "matrix.json").write_text(json.dumps([{
        "defect": o.name, "ok": o.ok, "missed": o.missed, "wrong_kind": o.wrong_kind, "error": o.error,
        "scenarios": len(o.results), "seconds": round(o.seconds, 1),
        "failed": [{"name": r.name, "requirements": r.requirements, "kinds": r.kinds} for r in o.failures],
    } for o in outcomes], indent=2, ensure_ascii=False), encoding="utf-8")
    ok = all(o.ok for o in outcomes)
    if store:
        if full:
            echo("genrep selftest: --store-durations ignored with --full (the rows run the whole suite)")
        else:
            try:
                echo(f"row durations of the rows that passed stored: {store_durations(outcomes)}")
            except (OSError, DurationsUnreadable) as exc:
                echo(f"genrep selftest: row durations not stored ({DURATIONS_FILE}: {exc})")
    echo(f"SELFTEST: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1
