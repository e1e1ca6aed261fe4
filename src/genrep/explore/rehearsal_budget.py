"""A small deterministic budget of ``genrep explore`` inside a dress rehearsal: :func:`rehearsal_pass`.

``make rehearse`` runs the feature suite, whose texts a tester chose; this pass adds a fixed number
of generated texts per integration (radiology over MLLP, read back in every representation; NLL
planted in the virtual NLL and read from the EHR's medication list), the same examples every run
(one seed), within one time budget for the whole pass. A failing kind is shrunk for what is left of
its integration's share of the budget (the smallest failing example so far when it runs out).

Results go into the rehearsal's Allure results folder through ``genrep.results.writer`` (producer
``genrep_explore_pass``, so a rerun replaces the pass's earlier results and nothing else): a failed
result per finding with its requirement (``findings.REQUIREMENTS``) and classification and the
example attached, as ``genrep explore`` writes them; a passed result per integration that ran
clean (requirement RAD-001 / NLL-001: generated texts read back as sent); a broken one for an
integration that could not be explored (unreachable, refused by the identity guard: an error, never
a finding). The verdict then counts the pass like any other result.

Environment: a running environment's profile (endpoints filled in, e.g. ``VirtualEnvironment.profile``)
is used as it is; an unstarted virtual profile gets a virtual environment of its own for the pass
(its defects), stopped before returning. NLL is explored on the virtual environment only (examples
are planted through the virtual NLL's admin API): against a real profile it is skipped, and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from genrep.errors import GenrepError
from genrep.explore.allure import allure_result
from genrep.explore.examples import INTEGRATIONS, example_strategy
from genrep.explore.findings import Finding, requirement_for, save_finding
from genrep.explore.shrink import search

#: examples per integration, the pass's time budget (seconds) and its seed: small and fixed
PASS_EXAMPLES = {"radiology": 40, "nll": 25}
PASS_BUDGET = 20.0
PASS_SEED = 0
PRODUCER = "genrep_explore_pass"
_CLEAN_REQUIREMENT = {"radiology": "RAD-001", "nll": "NLL-001"}


@dataclass
class IntegrationPass:
    """What the pass did on one integration."""

    integration: str
    examples: int                     # asked for
    examples_run: int = 0             # sent (the shrinker's tries included)
    repeats: int = 0                  # generated again identically: not sent again
    failing: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    budget_spent: bool = False
    seconds: float = 0.0
    skipped: str = ""                 # why it did not run (NLL against a real profile)
    error: str = ""                   # why it could not be explored (unreachable, refused ...)

    @property
    def status(self) -> str:
        """passed | failed | error | skipped."""
        return ("skipped" if self.skipped else "error" if self.error else "failed" if self.findings
                else "passed")

    def to_dict(self) -> dict:
        return {"integration": self.integration, "status": self.status, "examples": self.examples,
                "examples_run": self.examples_run, "repeats": self.repeats, "failing": dict(self.failing),
                "findings": [{"kind": f.kind, "severity": f.severity, "requirement": f.requirement,
                              "example": f.example.describe(), "shrinking": f.shrinking} for f in self.findings],
                "budget_spent": self.budget_spent, "seconds": self.seconds, "skipped": self.skipped,
                "error": self.error}


@dataclass
class PassSummary:
    """The pass: per integration what ran and what it found, and the Allure result files written."""

    environment: str
    seed: int
    budget_seconds: float
    integrations: list[IntegrationPass] = field(default_factory=list)
    result_files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    own_environment: bool = False     # a virtual environment was started for the pass

    @property
    def ok(self) -> bool:
        """Nothing found and nothing broken (a skipped integration is not a failure)."""
        return all(i.status in ("passed", "skipped") for i in self.integrations)

    @property
    def findings(self) -> list[Finding]:
        return [f for i in self.integrations for f in i.findings]

    def counts(self) -> dict[str, int]:
        return {"integrations": len(self.integrations),
                "passed": sum(i.status == "passed" for i in self.integrations),
                "failed": sum(i.status == "failed" for i in self.integrations),
                "errors": sum(i.status == "error" for i in self.integrations),
                "skipped": sum(i.status == "skipped" for i in self.integrations),
                "examples_run": sum(i.examples_run for i in self.integrations),
                "findings": len(self.findings)}

    def to_dict(self) -> dict:
        return {"environment": self.environment, "seed": self.seed, "budget_seconds": self.budget_seconds,
                "seconds": self.seconds, "own_environment": self.own_environment, "counts": self.counts(),
                "integrations": [i.to_dict() for i in self.integrations],
                "result_files": [str(p) for p in self.result_files]}

    def lines(self) -> list[str]:
        """The pass in words, one line per integration and per finding (for the rehearsal's output)."""
        c = self.counts()
        out = [f"explore pass on {self.environment} (seed {self.seed}, {self.seconds:.1f} s of a "
               f"{self.budget_seconds:.0f} s budget): {c['examples_run']} generated examples, "
               f"{c['findings']} finding(s)"]
        for i in self.integrations:
            if i.skipped:
                out.append(f"  {i.integration}: skipped ({i.skipped})")
            elif i.error:
                out.append(f"  {i.integration}: could not be explored: {i.error}")
            else:
                cut = ", budget spent" if i.budget_spent else ""
                out.append(f"  {i.integration}: {i.examples_run} sent, {i.status}{cut} ({i.seconds:.1f} s)")
                out += [f"    [{f.kind}/{f.severity}] {f.requirement}: {f.example.describe()} (shrinking {f.shrinking})"
                        for f in i.findings]
        return out


def _target(integration: str, profile):
    from genrep.explore.run import _identity
    from genrep.explore.targets import NLLTarget, RadiologyTarget
    from genrep.text.identities import IdentityGuard
    allowlist, identity = _identity(profile, integration)
    guard = IdentityGuard(allowlist)
    return (NLLTarget(profile, guard, identity) if integration == "nll"
            else RadiologyTarget(profile, guard, identity))


def _explore_one(result: IntegrationPass, profile, *, seed: int, deadline: float, where: str,
                 defects: tuple[str, ...], progress: Callable[[str], None]) -> None:
    started = time.monotonic()
    strategy = example_strategy(result.integration)
    target = _target(result.integration, profile)
    try:
        target.prepare()
        state = search(target.run, strategy, examples=result.examples, seed=seed, deadline=deadline,
                       progress=progress)
    finally:
        target.close()
    result.examples_run, result.repeats = state.examples_run, state.repeats
    result.failing, result.budget_spent = dict(state.failing), state.budget_spent
    for kind, (example, outcome, shrinking) in sorted(state.results().items()):
        result.findings.append(Finding(
            result.integration, kind, outcome.severity or "high", requirement_for(result.integration, kind),
            outcome.message, example, outcome.stored, outcome.diff, seed, where, defects, shrinking,
            state.examples_run, state.failing.get(kind, 0)))
    result.seconds = round(time.monotonic() - started, 1)


def _results(summary: PassSummary, catalogue: dict) -> list:
    from genrep.results import writer
    from genrep.results.allure import safe_text
    out = []
    labels = [("feature", "property-based exploration"), ("tag", "explore")]
    for i in summary.integrations:
        params = [("environment", summary.environment), ("seed", summary.seed), ("examples", i.examples),
                  ("examples run", i.examples_run), ("budget (s)", summary.budget_seconds)]
        for f in i.findings:
            r = allure_result(f, catalogue)
            out.append(replace(r, key=f"explore-pass-{f.integration}-{f.kind}",
                               full_name=f"genrep.explore.pass.{f.integration}.{f.kind}",
                               name=r.name.replace("genrep explore,", "genrep explore (rehearsal pass),", 1)))
        if i.status == "skipped":
            continue
        requirement = catalogue.get(_CLEAN_REQUIREMENT[i.integration])
        requirements = [requirement] if requirement is not None else []
        if i.status == "error":
            out.append(writer.Result(
                key=f"explore-pass-{i.integration}", full_name=f"genrep.explore.pass.{i.integration}",
                name=f"genrep explore (rehearsal pass), {i.integration}: could not be explored", status="broken",
                message=safe_text(i.error), requirements=requirements, labels=labels, parameters=params,
                description="The generated examples could not be sent or read back: an error of the run, "
                            "not a finding about the texts."))
        elif i.status == "passed":
            out.append(writer.Result(
                key=f"explore-pass-{i.integration}", full_name=f"genrep.explore.pass.{i.integration}",
                name=f"genrep explore (rehearsal pass), {i.integration}: {i.examples_run} generated examples "
                     "read back as sent",
                status="passed", requirements=requirements, labels=labels, parameters=params,
                description=(f"{i.examples_run} generated {i.integration} texts (seed {summary.seed}) sent through "
                             "the live integration and read back in every representation, each exactly as "
                             "expected" + ("; the budget ran out before all were sent" if i.budget_spent else "")
                             + ".")))
    return out


def rehearsal_pass(profile, results_dir: str | Path, *, seed: int = PASS_SEED,
                   examples: int | dict[str, int] | None = None, budget_seconds: float = PASS_BUDGET,
                   integrations: tuple[str, ...] = INTEGRATIONS, findings_dir: str | Path | None = None,
                   progress: Callable[[str], None] | None = None) -> PassSummary:
    """Explore each of ``integrations`` with a fixed number of seeded examples (``examples``: per
    integration, default :data:`PASS_EXAMPLES`) within ``budget_seconds`` for the whole pass, and
    write the pass's Allure results into ``results_dir`` (see the module docstring). ``profile``:
    a running environment's, or an unstarted virtual one (started and stopped here). ``findings_dir``:
    also save each finding's replay file and regression scenario there. Returns the summary;
    configuration errors (an unknown integration, a results folder genrep does not own) raise."""
    from genrep import outputs
    from genrep.config.contracts import load_catalogue
    from genrep.errors import ConfigError
    from genrep.explore.run import describe_environment
    from genrep.results import writer
    progress = progress or (lambda _: None)
    started = time.monotonic()
    if budget_seconds <= 0:
        raise ConfigError("the explore pass needs a positive budget in seconds")
    unknown = [i for i in integrations if i not in INTEGRATIONS]
    if unknown:
        raise ConfigError(f"unknown integration(s) {', '.join(unknown)} for the explore pass "
                          f"(supported: {', '.join(INTEGRATIONS)})")
    if isinstance(examples, int):
        counts = {i: examples for i in integrations}
    else:
        counts = {i: (examples or {}).get(i, PASS_EXAMPLES[i]) for i in integrations}
    if any(n < 1 for n in counts.values()):
        raise ConfigError("the explore pass needs at least one example per integration")
    results_dir = Path(results_dir)
    outputs.check(results_dir, what="Allure results folder")
    catalogue = load_catalogue()
    defects = tuple(getattr(profile, "defects", ()) or ())
    summary = PassSummary(describe_environment(profile, defects), seed, budget_seconds)
    deadline = started + budget_seconds
    venv = None
    try:
        live = profile
        if profile.kind == "virtual" and not profile.endpoints:
            from genrep.sim.process import start_virtual_environment
            venv = start_virtual_environment(profile)
            live, summary.own_environment = venv.profile, True
        for n, integration in enumerate(integrations):
            result = IntegrationPass(integration, counts[integration])
            summary.integrations.append(result)
            if integration == "nll" and live.kind != "virtual":
                result.skipped = (f"NLL examples are planted through the virtual NLL's admin API; "
                                  f"'{live.name}' is {live.kind}")
                continue
            # this integration's share of what is left, by its examples (what it leaves unused
            # goes to the next); a failing kind is shrunk until the share is spent
            left = max(0.0, deadline - time.monotonic())
            share = left * counts[integration] / sum(counts[i] for i in integrations[n:])
            try:
                _explore_one(result, live, seed=seed, deadline=time.monotonic() + share,
                             where=summary.environment, defects=defects, progress=progress)
            except GenrepError as exc:  # unreachable, refused by the guard ...: not a finding
                result.error = f"{type(exc).__name__}: {exc}"
            if findings_dir is not None:
                for f in result.findings:
                    save_finding(f, Path(findings_dir))
    finally:
        if venv is not None:
            venv.stop()
    summary.result_files = writer.write(results_dir, _results(summary, catalogue),
                                        writer.Producer(PRODUCER, "rehearsal"))
    summary.seconds = round(time.monotonic() - started, 1)
    return summary
