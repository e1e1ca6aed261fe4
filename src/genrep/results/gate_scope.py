"""The scope check of the gate: what of gate.yaml ``scope`` (test types, integrations, load profiles
with their minimum duration and users) a run lacks, the manual results that verify nothing, and
the parts a caller may waive (``--accept-partial``). Each thing missing is a ``Gap``; a gap keeps a
run from GO (INCOMPLETE) unless its part is waived (PARTIAL GO).

Its own module because completeness is a question apart from pass or fail: it reads which results
executed and how long and with how many users the load profiles ran, not whether they passed.
``genrep.results.gate_decision.decide`` calls it; ``check_accept_partial`` and ``test_type_of`` are
importable from ``genrep.results.gate`` as before (issue 13).
"""

from __future__ import annotations

from collections.abc import Iterable

from genrep.config.contracts import Requirement, Scope
from genrep.errors import ConfigError
from genrep.results.gate_verdict import Gap, RequirementStatus
from genrep.results.reader import ScenarioResult


def check_accept_partial(scope: Scope | None, names: Iterable[str]) -> list[str]:
    """The part names a caller waives, each one a part of ``scope``; otherwise a ConfigError that
    names the parts there are (a typo must not waive nothing silently, nor everything)."""
    names = list(dict.fromkeys(names))
    known = scope.names if scope is not None else ()
    for name in names:
        if name not in known:
            raise ConfigError(f"--accept-partial {name!r}: no such part in the gate's scope "
                              f"(parts: {', '.join(known) or 'none'})", file=getattr(scope, "file", None),
                              key="scope.parts")
    return names


def _number(value) -> float | None:
    """A result parameter as a number: allure-python stores reprs ('60 s', "'6000'")."""
    text = str(value).strip().strip("'\"").strip()
    if text.endswith(" s"):
        text = text[:-2]
    try:
        return float(text)
    except ValueError:
        return None


def test_type_of(result: ScenarioResult, requirement: Requirement) -> str:
    """The test type a result counts in: a manual result's own (user acceptance test ...), else its
    requirement's."""
    return result.manual_test_type or requirement.test_type


def _part_of_test_type(scope: Scope | None, test_type: str) -> str | None:
    return next((p.name for p in scope.parts if test_type in p.test_types), None) if scope is not None else None


def manual_gaps(results: list[ScenarioResult], scope: Scope | None) -> list[Gap]:
    """Manual results that verify nothing (blocked, not run, stale passes): each a gap, never a defect."""
    return [Gap("manual result", r.name, (r.message.splitlines() or [r.status])[0],
                _part_of_test_type(scope, r.manual_test_type), tuple(r.requirements))
            for r in results if r.manual_test_type and not r.executed]


def scope_gaps(results: list[ScenarioResult], catalogue: dict[str, Requirement], scope: Scope,
                statuses: dict[str, RequirementStatus]) -> list[Gap]:
    """What of ``scope`` the results lack: test types and integrations with no executed scenario,
    load profiles that never ran, did not complete, or ran shorter or with fewer users than needed."""
    gaps: list[Gap] = []
    executed = [r for r in results if r.executed]
    ran_types = {test_type_of(r, catalogue[rid]) for r in executed for rid in r.requirements if rid in catalogue}
    # an integration ran when the suite exercised it: a manual result alone does not make it so
    ran_integrations = {catalogue[rid].integration for r in executed if not r.manual_test_type
                        for rid in r.requirements if rid in catalogue}
    for part in scope.parts:
        for test_type in part.test_types:
            if test_type not in ran_types:
                gaps.append(Gap("test type", test_type, "never ran: no executed scenario verifies a requirement "
                                "of this test type", part.name))
        for integration in part.integrations:
            if integration not in ran_integrations:
                rids = tuple(rid for rid, rs in statuses.items() if rs.requirement.integration == integration)
                critical = sum(statuses[rid].requirement.severity == "critical" for rid in rids)
                gaps.append(Gap("integration", integration,
                                f"never ran: its {len(rids)} requirement(s) are untested"
                                + (f" ({critical} critical)" if critical else "")
                                + (f": {', '.join(rids)}" if rids else ""), part.name, rids))
        for lp in part.load_profiles:
            mine = [r for r in results if r.load_profile == lp.name]
            measured = [r for r in mine if r.executed and r.parameters.get("duration") is not None]
            needs = lp.describe()
            if not mine:
                gaps.append(Gap("load profile", lp.name, f"never ran (the scope needs {needs})", part.name))
                continue
            if not measured:
                gaps.append(Gap("load profile", lp.name, f"did not complete (the scope needs {needs})", part.name))
                continue
            duration = min((_number(r.parameters.get("duration")) or 0.0) for r in measured)
            users = min((_number(r.parameters.get("users")) or 0.0) for r in measured)
            short = []
            if lp.min_duration_s and duration < lp.min_duration_s:
                short.append(f"ran {duration:g} s, needs at least {lp.min_duration_s:g} s")
            if lp.min_users and users < lp.min_users:
                short.append(f"ran {users:g} users, needs at least {lp.min_users}")
            if short:
                gaps.append(Gap("load profile", lp.name, "too small: " + "; ".join(short), part.name))
    return gaps
