"""``genrep explore`` and ``genrep explore --replay``: one run against the live environment.

``explore`` checks its input, starts the virtual environment when the profile is virtual (stopped
on every exit path), registers the test patient through the integration's target, runs the search
within the budget, then saves each kind's minimal example as a finding (JSON and ``.feature``), one
Allure result per finding and the run itself (``OUT/explore.json``). ``replay`` runs a saved
finding's example once more, by default on the defects it was found with. The CLI
(``genrep.cli.explore``) turns a :class:`Report` or :class:`Replay` into output and exit codes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from genrep.errors import ConfigError
from genrep.explore.allure import write_allure
from genrep.explore.examples import INTEGRATIONS, example_strategy
from genrep.explore.findings import Finding, load_finding, requirement_for, save_finding
from genrep.explore.names import DEFAULT_BUDGET, DEFAULT_EXAMPLES  # one home: the CLI reads them there
from genrep.explore.shrink import search
from genrep.explore.targets import NLLTarget, Outcome, RadiologyTarget, require_virtual_nll
from genrep.paths import REPORTS_DIR

DEFAULT_OUT = REPORTS_DIR / "explore"


@dataclass
class Report:
    integration: str
    environment: str
    defects: tuple[str, ...]
    seed: int
    examples: int
    budget: float
    examples_run: int = 0        # sent to the environment
    repeats: int = 0             # generated again identically (by the shrinker mostly): not sent again
    failing_examples: int = 0
    budget_spent: bool = False
    live_seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    wall_seconds: float = 0.0

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "findings"}
        data["defects"] = list(self.defects)
        data["findings"] = [{"kind": f.kind, "severity": f.severity, "requirement": f.requirement,
                             "example": f.example.describe(), "shrinking": f.shrinking, "file": f.path}
                            for f in self.findings]
        return data


def _identity(profile, integration: str):
    from genrep.text.identities import Allowlist
    allowlist = Allowlist.load()
    named = profile.test_patients.get(integration, ())
    for identity in allowlist.identities:
        if identity.number in named:
            return allowlist, identity
    if named:
        raise ConfigError(f"test_patients.{integration} names no number on the test-identity allowlist",
                          file=profile.file, key=f"test_patients.{integration}")
    return allowlist, allowlist.pick(0)


@contextmanager
def environment(env: str | None, defects: tuple[str, ...], integration: str, progress=print):
    """The live profile (the virtual environment started, and stopped on every exit path) and the
    integration's target, prepared (test patient registered)."""
    from genrep.config.profile import load_profile
    from genrep.sim.defects import DEFECTS, parse_defects
    from genrep.text.identities import IdentityGuard
    parse_defects(defects)  # unknown names fail before anything starts
    profile = load_profile(env, defects=tuple(defects))
    if integration == "nll":
        require_virtual_nll(profile)
    for name in defects:
        d = DEFECTS[name.partition(":")[0].strip()]
        if d.integration != integration:
            progress(f"NOTE: defect {d.name} belongs to {d.integration}; exploring {integration} may not reach it")
    allowlist, identity = _identity(profile, integration)
    guard = IdentityGuard(allowlist)
    venv, target = None, None
    try:
        live = profile
        if profile.kind == "virtual":
            from genrep.sim.process import start_virtual_environment
            venv = start_virtual_environment(profile)
            live = venv.profile
        target = (NLLTarget(live, guard, identity) if integration == "nll"
                  else RadiologyTarget(live, guard, identity))
        target.prepare()
        yield profile, target
    finally:
        try:
            if target is not None:
                target.close()
        finally:
            if venv is not None:
                venv.stop()


def describe_environment(profile, defects: tuple[str, ...]) -> str:
    """``virtual``, ``virtual with defect radiology-truncation``, ``region-test (external)``."""
    name = profile.name if profile.name == profile.kind else f"{profile.name} ({profile.kind})"
    return name + (f" with defect {', '.join(defects)}" if defects else "")


def explore(*, env: str | None = None, integration: str = "radiology", generator: str | None = None,
            require: tuple[str, ...] = (), examples: int = DEFAULT_EXAMPLES, seed: int = 0,
            budget: float = DEFAULT_BUDGET, defects: tuple[str, ...] = (), out_dir: Path = DEFAULT_OUT,
            results_dir: Path | None = None, progress: Callable[[str], None] = print) -> Report:
    """Explore ``integration`` (see the package docstring); findings saved under ``OUT/findings``,
    the run in ``OUT/explore.json`` and one Allure result per finding in ``results_dir``."""
    from genrep import outputs
    started = time.monotonic()
    deadline = started + budget
    if examples < 1:
        raise ConfigError("--examples must be at least 1")
    if budget <= 0:
        raise ConfigError("--budget must be a positive number of seconds")
    out_dir = Path(out_dir)
    results_dir = Path(results_dir) if results_dir else out_dir / "allure-results"
    strategy = example_strategy(integration, generator, require=tuple(require))
    outputs.check(out_dir, what="explore output folder (--out)")
    outputs.check(results_dir, what="Allure results folder (--results)")
    with environment(env, tuple(defects), integration, progress) as (profile, target):
        where = describe_environment(profile, tuple(defects))
        progress(f"genrep explore: {integration} on {where}, up to {examples} examples, seed {seed}, "
                 f"budget {budget:.0f} s")
        state = search(target.run, strategy, examples=examples, seed=seed, deadline=deadline, progress=progress)
    report = Report(integration, where, tuple(defects), seed, examples, budget, state.examples_run,
                    state.repeats, sum(state.failing.values()), state.budget_spent, round(state.live_seconds, 1))
    outputs.claim(out_dir, what="explore output folder (--out)")
    for kind, (example, outcome, shrinking) in sorted(state.results().items()):
        finding = Finding(integration, kind, outcome.severity or "high", requirement_for(integration, kind),
                          outcome.message, example, outcome.stored, outcome.diff, seed, where, tuple(defects),
                          shrinking, state.examples_run, state.failing.get(kind, 0))
        save_finding(finding, out_dir / "findings")
        report.findings.append(finding)
    write_allure(report.findings, results_dir, integration)
    report.wall_seconds = round(time.monotonic() - started, 1)
    (out_dir / "explore.json").write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    return report


@dataclass
class Replay:
    finding: Finding
    environment: str
    outcome: Outcome


def replay(path: str | Path, *, env: str | None = None, defects: tuple[str, ...] | None = None,
           progress: Callable[[str], None] = print) -> Replay:
    """Run a saved finding's example once more (fresh accession and control id) against ``env``
    (default GENREP_ENV or virtual). ``defects`` default, in the virtual environment, to the ones
    the finding was found with; ``()`` is the clean environment."""
    finding = load_finding(path)
    if finding.integration not in INTEGRATIONS:
        raise ConfigError(f"unknown integration {finding.integration!r}", file=str(path), key="integration")
    if finding.example.integration != finding.integration:
        raise ConfigError("the example's integration differs from the finding's", file=str(path), key="example")
    if defects is None:
        from genrep.config.profile import load_profile
        defects = finding.defects if load_profile(env, defects=()).kind == "virtual" else ()
    with environment(env, tuple(defects), finding.integration, progress) as (profile, target):
        where = describe_environment(profile, tuple(defects))
        progress(f"genrep explore --replay: {finding.integration} {finding.kind} example "
                 f"({finding.example.describe()}) on {where}")
        outcome = target.run(finding.example)
    return Replay(finding, where, outcome)
