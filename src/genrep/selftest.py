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

The runs go to ``reports/selftest/<defect>/allure-results``, cleared through ``genrep.outputs``
like every output folder. Interrupted (Ctrl-C, SIGTERM), every suite run still going is stopped
before the interruption goes on (the runs wait in threads, which an interruption never reaches).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from genrep import outputs
from genrep.results.reader import ScenarioResult, read_results
from genrep.paths import REPORTS_DIR
from genrep.rehearsal import SHRINK_SECONDS_ENV, forked_suite_runs, run_features, stop_all_suite_runs
from genrep.sim.defects import DEFECTS, Defect


@dataclass
class DefectOutcome:
    defect: Defect | None  # None = the clean run
    results: list[ScenarioResult]
    missed: list[str] = field(default_factory=list)  # requirement ids that did not catch it
    wrong_kind: list[str] = field(default_factory=list)
    error: str = ""

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


def _run_one(defect: Defect | None, full: bool) -> DefectOutcome:
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


def run_selftest(*, defects: list[str] | None = None, integration: str | None = None, jobs: int = 2,
                 full: bool = False, echo=print) -> int:
    # load defects (performance-load) are too rare for the functional scenarios: the load tests prove them
    # (tests/e2e/test_load_*.py), so the feature-suite matrix leaves them out unless named
    chosen = [DEFECTS[d] for d in defects] if defects else [
        d for d in DEFECTS.values()
        if (integration is None and d.integration != "performance-load") or d.integration == integration]
    unknown = [d for d in (defects or []) if d not in DEFECTS]
    if unknown:
        echo(f"unknown defect(s): {', '.join(unknown)}; known: {', '.join(sorted(DEFECTS))}")
        return 2
    runs: list[Defect | None] = [None, *chosen]
    echo(f"genrep selftest: {len(runs)} suite runs (clean + {len(chosen)} defects), {jobs} at a time")
    out = outputs.claim(REPORTS_DIR / "selftest", what="selftest folder")
    with forked_suite_runs():  # one suite server forks every run: ~2 s of CPU less a run
        pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        futures = [pool.submit(_run_one, d, full) for d in runs]
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
        "scenarios": len(o.results),
        "failed": [{"name": r.name, "requirements": r.requirements, "kinds": r.kinds} for r in o.failures],
    } for o in outcomes], indent=2, ensure_ascii=False), encoding="utf-8")
    ok = all(o.ok for o in outcomes)
    echo(f"SELFTEST: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1
