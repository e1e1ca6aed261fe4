"""``genrep mutate``: run the chosen scenarios once per corruption operator and classify each one.

One environment serves every operator. For a virtual profile the simulators are started here (an
external profile's endpoints are used as they are); an MLLP proxy is put in front of the EHR's
inbound MLLP endpoint (``radiology_mllp``) and an HTTP proxy in front of its FHIR endpoint
(``ehr_fhir``); a derived profile (``OUT/profile.yaml``, kind external, every other endpoint as it
was) points the suite at the proxies. In the virtual environment two more HTTP proxies sit on the
EHR's own outbound paths (``genrep.sim.process``'s ``outbound`` option: the EHR is given their URLs
for NLL and the Multum load balancer, the harness still reads NLL itself), so operators on what NLL
and Multum answer the EHR can run; against an external environment those operators are *not
applicable* (the EHR's outbound calls cannot be rerouted from here) and say so. The virtual
environment's faults reach the suite through the derived profile's ``faults`` section: the command
driver, each command asking ``mutate.fault_relay`` in this process to inject through the running
simulators (the journeys and the NLL and Multum failure scenarios need them).

Each integration's operators run against scenarios that exercise it (``INTEGRATION_MARKS``:
radiology and registration against the radiology and registration features, whose every scenario
registers its patient and reads the registration back; medication_list against the NLL features;
multum against the Multum features); ``-k``/``-m`` chooses one selection for all. Per selection:

1. a clean control run (no operator): every chosen scenario must pass, else nothing can be called
   caught and the run stops there; the proxies record its traffic;
2. pre-screening: an operator that changes none of the control run's messages is *never triggered*
   without a suite run (the harness sends the same messages every run; ``prescreen=False`` runs it);
3. per operator: the virtual EHR's store is reset, the operator is switched on in the proxies, the
   scenarios run (``genrep.rehearsal.run_features``; stopping at the first failure unless
   ``all_scenarios``), and the operator is **caught** (a scenario failed), **survived** (it changed at
   least one message, counted by the proxies, and every scenario passed; its ``note`` says what that
   means) or **never triggered** (it changed no message);
4. a second control run at the end: if it fails, the environment drifted and the report says so.

The mutation score of an integration is caught / (caught + survived) over its operators. The JSON
report (``OUT/mutation.json``) lists every operator and each survivor with one example of what it
changed (identities masked, secrets redacted) and a note; ``write_allure`` writes one Allure result
per integration through ``results.writer``, with no requirement label (see ``write_allure``).

Everything is bounded by ``budget`` seconds, and every proxy, the fault relay and every process are
stopped on every exit path (an error, Ctrl-C, SIGTERM through the CLI).

The pieces (issue 13): ``mutate.report`` (outcomes, scores, ``mutation.json``, the Allure results),
``mutate.environment`` (the environment behind the proxies, the derived profile) and this module
(the selections, the control runs, each operator's run and its classification). Every name is
importable from here as before.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

from genrep import outputs
from genrep.config.profile import load_profile
from genrep.errors import ConfigError, GenrepError
from genrep.mutate.environment import FHIR_ENDPOINT, MLLP_ENDPOINT, _Env, derived_profile
from genrep.mutate.operators import select as select_operators
from genrep.mutate.operators.base import Operator
from genrep.mutate.report import (CAUGHT, CHANNEL_WORDS, ERROR, NEVER, NOT_APPLICABLE, NOT_RUN, STATUSES, SURVIVED,
                                  TARGET_SCORE, Outcome, Report, survivor_note, write_allure, write_json)
from genrep.paths import REPORTS_DIR
from genrep.rehearsal import forked_suite_runs, run_features
from genrep.results.allure import safe_text

__all__ = ["CAUGHT", "CHANNEL_WORDS", "DEFAULT_MARKS", "DEFAULT_OUT", "ERROR", "FHIR_ENDPOINT", "INTEGRATION_MARKS",
           "MLLP_ENDPOINT", "NEVER", "NOT_APPLICABLE", "NOT_RUN", "STATUSES", "SURVIVED", "TARGET_SCORE", "Outcome",
           "Report", "derived_profile", "run_mutation", "survivor_note", "write_allure", "write_json"]

DEFAULT_MARKS = "radiology and not journey"  # features/radiology
#: the scenarios each integration's operators run against when no -k / -m is given (journeys are
#: left out for time: each crosses every integration and is covered by the integrations' own features)
INTEGRATION_MARKS = {
    "radiology": DEFAULT_MARKS,
    "registration": "(registration or radiology) and not journey",  # each registers and reads it back
    "medication_list": "nll and not journey",
    "multum": "multum and not journey",
}
DEFAULT_OUT = REPORTS_DIR / "mutate"


# -- running -------------------------------------------------------------------------------------

@contextmanager
def _pytest_addopts(extra: str):
    """``PYTEST_ADDOPTS`` with ``extra`` for the suite runs started inside (restored after)."""
    old = os.environ.get("PYTEST_ADDOPTS")
    if extra:
        os.environ["PYTEST_ADDOPTS"] = f"{old} {extra}" if old else extra
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTEST_ADDOPTS", None)
        else:
            os.environ["PYTEST_ADDOPTS"] = old


def _failures(results_dir: Path) -> tuple[int, list[tuple[str, list[str]]]]:
    """(scenarios run, [(failed scenario, its failure kinds)]) from a run's Allure results."""
    from genrep.results.reader import read_results
    try:
        results = read_results(results_dir)
    except ConfigError:
        return 0, []
    return len(results), [(r.name, r.kinds) for r in results if r.failed]


def _groups(ops: list[Operator], select: str | None, marks: str | None) -> list[tuple[str | None, str | None,
                                                                                       list[int]]]:
    """(``-k``, ``-m``, indices of the operators run against that selection), in operator order: one
    selection for all when the caller chose one, else each integration's (``INTEGRATION_MARKS``)."""
    if select or marks:
        return [(select, marks, list(range(len(ops))))]
    groups: dict[str, list[int]] = {}
    for i, op in enumerate(ops):
        groups.setdefault(INTEGRATION_MARKS.get(op.integration, DEFAULT_MARKS), []).append(i)
    return [(None, m, idx) for m, idx in groups.items()]


def _label(select: str | None, marks: str | None) -> str:
    return " ".join(p for p in ((f"-k {select!r}" if select else ""), (f"-m {marks!r}" if marks else "")) if p)


def run_mutation(*, env: str | None = None, operator_names: tuple[str, ...] = (),
                 integrations: tuple[str, ...] = ("radiology",), select: str | None = None,
                 marks: str | None = None, budget: float = 1800.0, seed: int = 0, out_dir: Path = DEFAULT_OUT,
                 prescreen: bool = True, all_scenarios: bool = False, target: float = TARGET_SCORE,
                 extra_operators: tuple[Operator, ...] = (), progress=print) -> Report:
    """Run the mutation analysis (see the module docstring) and write ``OUT/mutation.json``.

    ``extra_operators``: operator instances run after the chosen ones (a test's own operator)."""
    started = time.monotonic()
    deadline = started + budget
    ops = (select_operators(operator_names, integrations, seed=seed) if operator_names or not extra_operators
           else []) + list(extra_operators)
    profile = load_profile(env, defects=())
    out_dir = Path(out_dir)
    outputs.check(out_dir, what="mutation output folder (--out)")
    groups = _groups(ops, select, marks)
    report = Report(environment=f"{profile.name} ({profile.kind})",
                    selection={"k": select, "m": marks, "operators": [o.name for o in ops],
                               "runs": [{"k": k, "m": m, "integrations": sorted({ops[i].integration for i in idx})}
                                        for k, m, idx in groups]},
                    seed=seed,
                    operators=[Outcome(o.name, o.changes, o.channel, o.integration, o.effect) for o in ops],
                    target=target)
    report.control = {"scenarios": 0, "failed": [], "seconds": 0.0, "messages_recorded": 0, "runs": []}
    outputs.claim(out_dir, what="mutation output folder (--out)")
    environment = _Env(profile)
    try:
        progress(f"genrep mutate: environment '{profile.name}' ({profile.kind}), {len(ops)} operator(s), "
                 f"{len(groups)} scenario selection(s), budget {budget:.0f} s")
        environment.start()
        assert environment.mllp is not None and environment.http is not None
        if environment.outbound:
            progress("  outbound proxies: " + ", ".join(f"{name} (the EHR calls it instead of {name})"
                                                        for name in environment.outbound))
        profile_path = out_dir / "profile.yaml"
        profile_path.write_text("# written by genrep mutate: the environment behind its proxies\n"
                                + yaml.safe_dump(derived_profile(environment.live, environment.mllp.port,
                                                                 environment.http.port,
                                                                 faults=environment.faults_section()),
                                                 sort_keys=False, allow_unicode=True), encoding="utf-8")

        def suite(results: Path, k: str | None, m: str | None, *, exitfirst: bool) -> tuple[int, list, float, int]:
            remaining = deadline - time.monotonic()
            if remaining <= 5:
                raise _BudgetSpent()
            t0 = time.monotonic()
            with _pytest_addopts("-x" if exitfirst else ""):
                try:
                    outcome = run_features(env=str(profile_path), results_dir=results, select=k,
                                           marks=m, timeout=remaining, quiet=True)
                except GenrepError as exc:
                    if "exceeded" in str(exc):
                        raise _BudgetSpent() from None
                    raise
                finally:
                    environment.clear_faults()
            if outcome.identity_refusal:
                raise GenrepError(f"IDENTITY REFUSED, the run was stopped: {outcome.identity_refusal}")
            tail = "\n".join(outcome.output.strip().splitlines()[-15:])
            if outcome.killed_by:
                raise GenrepError(f"the feature run was killed by {outcome.killed_by} before it ended:\n{tail}")
            if outcome.returncode not in (0, 1):
                raise GenrepError(f"the feature run ended with pytest exit code {outcome.returncode} "
                                  f"(collection or configuration error):\n{tail}")
            count, failed = _failures(results)
            return count, failed, time.monotonic() - t0, outcome.returncode

        with forked_suite_runs():  # dozens of suite runs: each forked by one suite server (~2 s of CPU less)
            for n, (k, m, indices) in enumerate(groups):
                _run_group(n, k, m, [(ops[i], report.operators[i]) for i in indices], report, environment, suite,
                           out_dir, deadline=deadline, prescreen=prescreen, all_scenarios=all_scenarios,
                           progress=progress)
        report.complete = all(o.status != NOT_RUN for o in report.operators) and not report.control.get("note")
    except _BudgetSpent:
        report.control.setdefault("note", f"the budget of {budget:.0f} s ran out")
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    finally:
        try:
            environment.stop()
        finally:
            report.wall_seconds = time.monotonic() - started
            write_json(report, out_dir / "mutation.json")
    return report


def _run_group(n: int, k: str | None, m: str | None, pairs: list[tuple[Operator, Outcome]], report: Report,
               environment: _Env, suite, out_dir: Path, *, deadline: float, prescreen: bool, all_scenarios: bool,
               progress) -> None:
    """One selection of scenarios: its control run, its operators, the control again."""
    label = _label(k, m)
    runs = out_dir / "runs" / f"{n + 1}"
    applicable = []
    for op, result in pairs:
        if environment.can_run(op):
            applicable.append((op, result))
            continue
        result.status = NOT_APPLICABLE
        result.note = (f"its channel ({op.channel}: {CHANNEL_WORDS.get(op.channel, op.channel)}) is one of the EHR's "
                       "outbound paths, which only the virtual environment lets a proxy sit on")
        progress(f"  {op.name:38s} not applicable here ({op.channel})")
    if not applicable:
        return
    run = {"selection": label, "integrations": sorted({op.integration for op, _ in applicable})}
    report.control["runs"].append(run)
    # 1. the clean control run, recording the traffic
    environment.reset_store()
    environment.switch.set(None, record=True)
    try:
        count, failed, seconds, _ = suite(runs / "control", k, m, exitfirst=False)
    finally:
        recorded = list(environment.switch.recorded)
        environment.switch.set(None)
    run.update(scenarios=count, failed=[x for x, _ in failed], seconds=round(seconds, 1),
               messages_recorded=len(recorded))
    for key in ("scenarios", "seconds", "messages_recorded"):
        report.control[key] = round(report.control[key] + run[key], 1)
    report.control["failed"] += run["failed"]
    progress(f"  control run: {count} scenario(s) ({label}), {len(failed)} failed, {seconds:.1f} s, "
             f"{len(recorded)} messages seen by the proxies")
    if count == 0:
        raise ConfigError(f"the selection {label} runs no scenario (check -k / -m)")
    if failed:
        run["note"] = report.control["note"] = (
            "the suite is not green on the clean environment: no operator can be classified "
            "(caught needs a clean control run)")
        for _, result in applicable:
            result.note = f"not run: the control run {label} failed"
        progress(f"  control run FAILED: {', '.join(x for x, _ in failed[:5])}; its operators are not classified")
        return
    per_run = seconds

    # 2. and 3. each operator
    for op, result in applicable:
        if prescreen and not _applies_to_any(op, recorded):
            result.status, result.prescreened = NEVER, True
            result.note = f"changes none of the {len(recorded)} messages of the control run"
            progress(f"  {op.name:38s} never triggered (pre-screened)")
            continue
        if deadline - time.monotonic() < per_run * 1.5 + 5:
            result.note = "not run: the budget would run out"
            progress(f"  {op.name:38s} not run (budget)")
            continue
        _run_one(op, result, environment, lambda results, exitfirst: suite(results, k, m, exitfirst=exitfirst),
                 runs / "operator", all_scenarios)
        progress(f"  {op.name:38s} {result.status:16s} changed {result.applied:3d} message(s), "
                 f"{len(result.failed)} failed, {result.seconds:.1f} s"
                 + (f" [{result.note}]" if result.note and result.status != SURVIVED else ""))

    # 4. the control again: the environment must still be clean
    environment.switch.set(None)
    if deadline - time.monotonic() >= per_run * 1.5 + 5:
        environment.reset_store()
        count2, failed2, seconds2, _ = suite(runs / "control", k, m, exitfirst=False)
        run["after"] = {"scenarios": count2, "failed": [x for x, _ in failed2], "seconds": round(seconds2, 1)}
        after = report.control.setdefault("after", {"scenarios": 0, "failed": [], "seconds": 0.0})
        after["scenarios"] += count2
        after["failed"] += run["after"]["failed"]
        after["seconds"] = round(after["seconds"] + seconds2, 1)
        if failed2:
            run["note"] = report.control["note"] = ("the control run after the operators FAILED: results may be "
                                                    "unreliable")


class _BudgetSpent(Exception):
    pass


def _applies_to_any(op: Operator, messages) -> bool:
    for m in messages:
        if m.channel != op.channel:
            continue
        try:
            if op.applies(m) and op.apply(m).data != m.data:
                return True
        except Exception:  # noqa: BLE001 - it would raise in the proxy too: run it and see
            return True
    return False


def _run_one(op: Operator, result: Outcome, environment: _Env, suite, results: Path, all_scenarios: bool) -> None:
    t0 = time.monotonic()
    environment.reset_store()
    environment.switch.set(op)
    try:
        count, failed, _, _ = suite(results, exitfirst=not all_scenarios)
    finally:
        counts = environment.switch.counts
        environment.switch.set(None)
        result.seconds = round(time.monotonic() - t0, 1)
    result.applied, result.seen = counts.applied, counts.seen
    result.failed = [safe_text(n) for n, _ in failed]
    result.kinds = sorted({k for _, kinds in failed for k in kinds})
    result.example = safe_text(counts.example)
    if counts.errors:
        result.note = f"the operator raised on {counts.errors} message(s): {counts.error}"
    if counts.applied == 0:
        result.status = NEVER
        if failed:
            result.note = (f"{len(failed)} scenario(s) failed though the operator changed nothing: "
                           "a flaky scenario or environment")
    elif failed:
        result.status = CAUGHT
    else:
        result.status = SURVIVED
        result.note = survivor_note(op, counts.applied, count)
