"""Completeness (issue 15, part 1): gate.yaml's scope says what a GO needs; a run lacking any part is
INCOMPLETE (exit 4), never GO; a failure still makes NO-GO; a waived part (--accept-partial) gives
PARTIAL GO, recorded, never a plain GO. Bad scope input names file, line and key."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrep.cli import main
from genrep.cli.verdict import VERDICT_EXIT
from genrep.config.contracts import (LoadProfileScope, Scope, ScopePart, load_catalogue, load_gate)
from genrep.errors import ConfigError
from genrep.results.gate import Gap, decide, summary_markdown, verdict_line
from genrep.results.readiness import scorecard_html
from genrep.results.reader import ScenarioResult

CATALOGUE = load_catalogue()
RULES = load_gate()
SCOPE = RULES.scope
PERF = [rid for rid, r in CATALOGUE.items() if r.integration == "performance-load"]
PROFILES = {"golive_morning": (60, 6000), "failover_under_load": (30, 6000), "nll_outage_under_load": (30, 6000),
            "radiology_restart_under_load": (30, 6000), "soak": (30, 20)}
LOAD_PROFILES = set(PROFILES)


def scenario(rid: str, status: str = "passed", message: str = "") -> ScenarioResult:
    return ScenarioResult(name=f"scenario of {rid}", full_name=f"features/x.feature:{rid}", status=status,
                          message=message, requirements=[rid], history_id=rid)


def load_result(profile: str, rid: str, *, duration: float, users: int, status: str = "passed") -> ScenarioResult:
    """What genrep.load.runner.write_allure_results writes, as the reader reads it back."""
    return ScenarioResult(name=f"{rid} under load ({profile})", full_name=f"load/{profile}.py:{rid}", status=status,
                          message="" if status == "passed" else "sla_missed: p95 too slow", requirements=[rid],
                          history_id=f"{profile}-{rid}", parameters={"users": str(users), "duration": f"{duration:g} s"},
                          labels=[("requirement", rid), ("genrep_load", profile)])


def complete_run(*, without_profiles=(), without_integrations=(), profile_sizes=None) -> list[ScenarioResult]:
    """Every requirement of the shipped catalogue verified, and every load profile of the shipped scope
    run at its size; minus what is left out."""
    sizes = dict(PROFILES, **(profile_sizes or {}))
    out = [scenario(rid) for rid, r in CATALOGUE.items()
           if r.integration not in ("performance-load", "security") and r.integration not in without_integrations]
    if "performance-load" not in without_integrations:
        for profile, (duration, users) in sizes.items():
            if profile not in without_profiles:
                out += [load_result(profile, rid, duration=duration, users=users) for rid in PERF]
    return out


def judge(results, **kw):
    return decide(results, CATALOGUE, RULES.thresholds, scope=SCOPE, **kw)


# -- the shipped scope ------------------------------------------------------------------------------

def test_shipped_scope_needs_the_feature_suite_and_the_performance_acceptance_test():
    assert SCOPE.names == ("functional", "performance")
    perf = SCOPE.parts[1]
    assert perf.integrations == ("performance-load",) and perf.test_types == ("performance",)
    assert {lp.name: (lp.min_duration_s, lp.min_users) for lp in perf.load_profiles} == {
        "golive_morning": (60.0, 6000), "failover_under_load": (30.0, 6000), "nll_outage_under_load": (30.0, 6000),
        "radiology_restart_under_load": (30.0, 6000), "soak": (30.0, None)}
    functional = SCOPE.parts[0]
    assert set(functional.integrations) == {"radiology", "registration", "nll", "multum", "journeys", "access",
                                            "referrals", "parity", "erx"}
    assert "environment parity" in functional.test_types


@pytest.mark.parametrize("file, marker", [("Makefile", "LOAD ?="), ("docs/ci/github-actions.yml", "--load"),
                                          ("docs/ci/gitlab-ci.yml", "genrep rehearse --load")])
def test_the_shipped_full_rehearsals_meet_the_scope_minimums(file, marker):
    """`make rehearse` (default LOAD) and the CI templates' release rehearsals must be able to say GO:
    each runs every load profile the scope needs, each at least its minimum (default users)."""
    import re
    from genrep.paths import PROJECT_ROOT
    text = re.sub(r"\\\n\s*", " ", (PROJECT_ROOT / file).read_text())  # continuation lines joined
    line = next(x for x in text.splitlines() if marker in x)
    specs = dict(m.groups() for m in re.finditer(r"--load\s+([a-z_]+):(\S+)", line))
    needed = {lp.name: lp for part in SCOPE.parts for lp in part.load_profiles}
    assert set(needed) <= set(specs), line
    for name, lp in needed.items():
        duration, *users = specs[name].split(":")
        assert float(duration.rstrip("s")) >= (lp.min_duration_s or 0), (name, duration)
        assert not users or int(users[0]) >= (lp.min_users or 0)


# -- the verdict ------------------------------------------------------------------------------------

def test_a_complete_clean_run_is_go():
    v = judge(complete_run())
    assert v.status == "GO" and v.go and not v.missing and not v.waived, v.reasons
    assert VERDICT_EXIT[v.status] == 0
    assert v.to_dict()["scope"]["complete"] is True


def test_a_run_without_load_is_incomplete_naming_what_is_missing():
    """`genrep rehearse` without --load, `make rehearse LOAD=`: the 8 PERF-* requirements never ran,
    nor did the three load profiles. Never GO."""
    v = judge(complete_run(without_integrations=("performance-load",)))
    assert v.status == "INCOMPLETE" and not v.go and not v.failures
    assert VERDICT_EXIT[v.status] == 4
    missing = {(g.kind, g.name) for g in v.missing}
    assert missing == {("integration", "performance-load")} | {("load profile", p) for p in LOAD_PROFILES}
    gap = next(g for g in v.missing if g.kind == "integration")
    critical = sum(CATALOGUE[rid].severity == "critical" for rid in PERF)
    assert set(gap.requirements) == set(PERF) and len(PERF) >= 8 and f"({critical} critical)" in gap.why
    assert {"PERF-FAILOVER", "PERF-STORED"} <= set(PERF) and critical >= 2
    assert all(v.requirements[rid].status == "untested" for rid in PERF)  # untested shows as such
    assert set(v.to_dict()["untested_requirements"]) == set(PERF)
    line = verdict_line(v)
    assert line.startswith("VERDICT: INCOMPLETE") and "golive_morning" in line and "soak" in line
    assert f"{len(PERF)} requirement(s) untested" in line
    md = summary_markdown(v)
    assert md.startswith("# genrep dress rehearsal: INCOMPLETE") and "## Why INCOMPLETE" in md
    assert "PERF-STORED" in md and "| UNTESTED |" in md and "Why NO-GO" not in md
    card = scorecard_html(v, title="T", environment="virtual")
    assert "Verdict: INCOMPLETE" in card and "Missing from this run" in card and "Verdict: GO" not in card


def test_a_gate_without_scope_would_say_go_on_the_same_run():
    """The defect this guards against: judged without the scope, the run without load passes."""
    results = complete_run(without_integrations=("performance-load",))
    assert decide(results, CATALOGUE, RULES.thresholds).go
    assert not judge(results).go


def test_a_failure_still_makes_no_go_and_the_missing_parts_are_still_named():
    results = complete_run(without_integrations=("performance-load",))
    results[0] = scenario(results[0].requirements[0], "failed", "AssertionError: not_stored: AA, nothing stored")
    v = judge(results)
    assert v.status == "NO-GO" and VERDICT_EXIT[v.status] == 1 and v.failures
    assert {g.name for g in v.missing} >= {"performance-load", "soak"}
    md = summary_markdown(v)
    assert "## Why NO-GO" in md and "## Missing from this run" in md


@pytest.mark.parametrize("profile, sizes, why", [
    ("golive_morning", {"golive_morning": (60, 100)}, "ran 100 users, needs at least 6000"),
    ("soak", {"soak": (10, 20)}, "ran 10 s, needs at least 30 s"),
    ("golive_morning", {"golive_morning": (59.5, 10)}, "ran 59.5 s, needs at least 60 s; ran 10 users"),
])
def test_a_load_profile_smaller_than_its_minimum_is_missing(profile, sizes, why):
    v = judge(complete_run(profile_sizes=sizes))
    assert v.status == "INCOMPLETE"
    (gap,) = v.missing
    assert gap.kind == "load profile" and gap.name == profile and why in gap.why


def test_one_load_profile_left_out_is_missing_even_when_all_perf_requirements_ran():
    v = judge(complete_run(without_profiles=("soak",)))
    assert v.status == "INCOMPLETE" and [(g.kind, g.name) for g in v.missing] == [("load profile", "soak")]
    assert "never ran" in v.missing[0].why and "at least 30 s" in v.missing[0].why


def test_a_load_run_that_did_not_complete_is_no_go_and_named():
    """genrep.load.runner.write_failed_run_results: broken results, no duration or users."""
    results = complete_run(without_profiles=("soak",))
    results += [ScenarioResult(name=f"{rid} under load (soak): the run", full_name=f"load/soak.py:{rid}:run",
                               status="broken", message="load_run_failed: the load profile soak did not complete",
                               requirements=[rid], history_id=rid, labels=[("genrep_load", "soak")]) for rid in PERF]
    v = judge(results)
    assert v.status == "NO-GO"
    assert [(g.name, g.why.split(" (")[0]) for g in v.missing] == [("soak", "did not complete")]


def test_a_missing_test_type_is_named():
    results = [r for r in complete_run() if CATALOGUE[r.requirements[0]].test_type != "regression"]
    v = judge(results)
    assert v.status == "INCOMPLETE" and ("test type", "regression") in {(g.kind, g.name) for g in v.missing}


def test_an_untested_requirement_of_an_integration_that_ran_is_missing():
    results = [r for r in complete_run() if r.requirements != ["RAD-R02"]]
    v = judge(results)
    assert v.status == "INCOMPLETE"
    assert [g.describe() for g in v.missing] == ["requirement RAD-R02 untested: no executed scenario verifies it"]
    assert v.missing[0].part == "functional"


def test_accept_partial_gives_partial_go_recorded_never_plain_go():
    v = judge(complete_run(without_integrations=("performance-load",)), accept_partial=["performance"])
    assert v.status == "PARTIAL GO" and not v.go and not v.missing and VERDICT_EXIT[v.status] == 0
    assert {g.name for g in v.waived} == {"performance-load"} | LOAD_PROFILES
    d = v.to_dict()
    assert d["verdict"] == "PARTIAL GO" and d["scope"]["accepted_partial"] == ["performance"]
    assert d["scope"]["complete"] is False and len(d["scope"]["waived"]) == 1 + len(LOAD_PROFILES)
    assert all("accepted as partial" in r for r in v.reasons)
    line = verdict_line(v)
    assert line.startswith("VERDICT: PARTIAL GO") and "--accept-partial performance" in line and "soak" in line
    md = summary_markdown(v)
    assert "# genrep dress rehearsal: PARTIAL GO" in md and "## Waived" in md and "not a go-live verdict" in md
    card = scorecard_html(v, title="T", environment="virtual")
    assert "Verdict: PARTIAL GO" in card and "Waived" in card


def test_accept_partial_waives_only_its_part():
    results = [r for r in complete_run(without_integrations=("performance-load",)) if r.requirements != ["RAD-R02"]]
    v = judge(results, accept_partial=["performance"])
    assert v.status == "INCOMPLETE" and [g.name for g in v.missing] == ["RAD-R02"]


def test_accept_partial_never_hides_a_failure():
    results = complete_run(without_integrations=("performance-load",))
    results[0] = scenario(results[0].requirements[0], "failed", "AssertionError: x")
    assert judge(results, accept_partial=["performance", "functional"]).status == "NO-GO"


def test_accept_partial_of_a_complete_run_is_go():
    v = judge(complete_run(), accept_partial=["performance"])
    assert v.status == "GO" and v.to_dict()["scope"]["accepted_partial"] == ["performance"]


@pytest.mark.parametrize("name", ["perf", "Performance", "", "all"])
def test_accept_partial_of_an_unknown_part_is_refused(name):
    with pytest.raises(ConfigError, match="no such part") as info:
        judge(complete_run(), accept_partial=[name])
    assert "functional, performance" in str(info.value) and "gate.yaml" in str(info.value)


REMOVABLE = ["radiology", "registration", "nll", "multum", "journeys", "performance-load"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(integrations=st.sets(st.sampled_from(REMOVABLE)), profiles=st.sets(st.sampled_from(sorted(PROFILES))),
       waive=st.sets(st.sampled_from(["functional", "performance"])), failing=st.booleans())
def test_never_go_unless_the_whole_scope_ran(integrations, profiles, waive, failing):
    results = complete_run(without_integrations=tuple(integrations), without_profiles=tuple(profiles))
    if failing and results:
        results[-1] = ScenarioResult(**{**results[-1].__dict__, "status": "failed", "message": "AssertionError: x"})
    v = judge(results, accept_partial=sorted(waive))
    if profiles == set(PROFILES):  # no profile ran: nor did the performance-load integration
        integrations = integrations | {"performance-load"}
    if "performance-load" in integrations:
        profiles = set(PROFILES)
    left_out = set(integrations) | {f"profile {p}" for p in profiles}
    missing_names = {g.name if g.kind != "load profile" else f"profile {g.name}" for g in v.missing + v.waived
                     if g.kind in ("integration", "load profile")}
    assert missing_names == left_out
    failed = (failing and results) or not results  # no results at all: nothing was verified
    if failed:
        assert v.status == "NO-GO"
    elif not left_out:
        assert v.status == "GO"
    else:
        parts = {SCOPE.part_of_integration(i) for i in integrations} | ({"performance"} if profiles else set())
        assert v.status == ("PARTIAL GO" if parts <= waive else "INCOMPLETE"), (v.status, parts, waive)
    assert v.go == (not failed and not left_out)


# -- gate.yaml scope: bad input names file, line and key ---------------------------------------------

HEAD = "gate: 1\nthresholds:\n  default: {critical: 0, high: 0, medium: 0, low: 0}\n"
GOOD_PART = "    functional:\n      integrations: [radiology]\n"


@pytest.mark.parametrize("body, key, line, text", [
    ("", "scope", None, "required key is missing"),
    ("scope:\n  parts: {}\n", "scope.parts", 5, "at least one part"),
    ("scope:\n  part: {}\n", "scope.part", 5, "unknown key"),
    ("scope:\n  parts:\n    functional:\n      test_types: [interface tests]\n",
     "scope.parts.functional.test_types", 7, "unknown test type 'interface tests'"),
    ("scope:\n  parts:\n    functional:\n      integrations: [radiolgy]\n",
     "scope.parts.functional.integrations", 7, "unknown integration 'radiolgy'"),
    ("scope:\n  parts:\n    functional:\n      integrations: [radiology, radiology]\n",
     "scope.parts.functional.integrations", 7, "listed twice"),
    ("scope:\n  parts:\n    functional:\n      integration: [radiology]\n",
     "scope.parts.functional.integration", 7, "unknown key"),
    ("scope:\n  parts:\n    functional: {}\n", "scope.parts.functional", 6, "at least one test type"),
    ("scope:\n  parts:\n    functional: [radiology]\n", "scope.parts.functional", 6, "expected a mapping"),
    ("scope:\n  parts:\n    Functional:\n      integrations: [radiology]\n", "scope.parts.Functional", 6, "lower case"),
    ("scope:\n  parts:\n" + GOOD_PART + "    performance:\n      load_profiles:\n        golive_mornin: {}\n",
     "scope.parts.performance.load_profiles.golive_mornin", 10, "unknown load profile"),
    ("scope:\n  parts:\n" + GOOD_PART + "    performance:\n      load_profiles:\n        soak: {min_duration: soon}\n",
     "scope.parts.performance.load_profiles.soak.min_duration", 10, "expected a duration"),
    ("scope:\n  parts:\n" + GOOD_PART + "    performance:\n      load_profiles:\n        soak: {min_duration: 0s}\n",
     "scope.parts.performance.load_profiles.soak.min_duration", 10, "more than 0 s"),
    ("scope:\n  parts:\n" + GOOD_PART + "    performance:\n      load_profiles:\n        soak:\n"
     "          min_users: -3\n", "scope.parts.performance.load_profiles.soak.min_users", 11, "positive"),
    ("scope:\n  parts:\n" + GOOD_PART + "    performance:\n      load_profiles:\n        soak: {min_user: 3}\n",
     "scope.parts.performance.load_profiles.soak.min_user", 10, "unknown key"),
    ("scope:\n  parts:\n" + GOOD_PART + "    performance:\n      load_profiles:\n        soak: 30s\n",
     "scope.parts.performance.load_profiles.soak", 10, "expected a mapping"),
    ("scope:\n  parts:\n" + GOOD_PART + "    more:\n      integrations: [radiology]\n",
     "scope.parts.more", 8, "already in part 'functional'"),
])
def test_bad_scope_names_file_line_and_key(tmp_path, body, key, line, text):
    path = tmp_path / "gate.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_gate(path)
    err = info.value
    assert err.file == str(path) and err.key == key and err.line == line and text in str(err), str(err)


def test_a_profile_with_no_minimum_must_still_have_run(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text(HEAD + "scope:\n  parts:\n    performance:\n      load_profiles:\n        soak:\n"
                    "        steady_day: {min_duration: 2m}\n", encoding="utf-8")
    scope = load_gate(path).scope
    assert scope.parts[0].load_profiles == (LoadProfileScope("soak", None, None, 8),
                                            LoadProfileScope("steady_day", 120.0, None, 9))
    v = decide([scenario("RAD-001")], CATALOGUE, scope=scope, every_requirement_verified=False,
               negative_paths_per_integration=False)
    assert v.status == "INCOMPLETE" and [g.name for g in v.missing] == ["soak", "steady_day"]


def test_scope_is_a_value_the_caller_can_build():
    scope = Scope((ScopePart("mine", integrations=("radiology",)),))
    v = decide([scenario("RAD-001")], CATALOGUE, scope=scope)
    assert v.status == "INCOMPLETE" and all(g.part == "mine" for g in v.missing)


# -- the command line: exit codes and the verdict line ------------------------------------------------

def write_results(folder, results):
    folder.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(results):
        labels = [{"name": "requirement", "value": rid} for rid in r.requirements]
        labels += [{"name": n, "value": v} for n, v in r.labels if n != "requirement"]
        data = {"name": r.name, "fullName": r.full_name, "status": r.status, "historyId": r.history_id,
                "labels": labels, "parameters": [{"name": k, "value": v} for k, v in r.parameters.items()]}
        if r.message:
            data["statusDetails"] = {"message": r.message}
        (folder / f"{i:05d}-result.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("leave_out, accept, code, word", [
    ((), [], 0, "GO"),
    (("performance-load",), [], 4, "INCOMPLETE"),
    (("performance-load",), ["--accept-partial", "performance"], 0, "PARTIAL GO"),
    (("performance-load", "nll"), ["--accept-partial", "performance"], 4, "INCOMPLETE"),
])
def test_gate_command_exit_codes(tmp_path, capsys, leave_out, accept, code, word):
    results = tmp_path / "allure-results"
    write_results(results, complete_run(without_integrations=leave_out))
    assert main(["gate", "--results", str(results), *accept]) == code
    out = capsys.readouterr().out
    assert f"VERDICT: {word}" in out and (word != "GO" or "VERDICT: GO\n" in out)
    verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] == word
    if "performance-load" in leave_out:
        assert "PERF-STORED" in verdict["untested_requirements"] and "soak" in out
        assert "PERF-STORED" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_gate_command_refuses_an_unknown_part(tmp_path, capsys):
    results = tmp_path / "allure-results"
    write_results(results, complete_run())
    assert main(["gate", "--results", str(results), "--accept-partial", "load"]) == 2
    assert "no such part" in capsys.readouterr().err
    assert not (tmp_path / "verdict.json").exists()


def test_the_verdict_line_names_a_few_gaps_of_each_kind_and_counts_the_rest():
    """A saturated host leaves every load threshold unjudged: 80 gaps of kind 'scenario'. The CI line
    names the first few of each kind and counts the rest; every load profile is still named, and
    summary.md and verdict.json keep every gap."""
    v = judge(complete_run(without_integrations=("performance-load",)))
    unjudged = [Gap("scenario", f"send_oru under load ({i}): p95 <= 1000 ms", "verified nothing, load figures "
                    "inconclusive (host saturated)", "performance") for i in range(80)]
    v.missing = v.missing + unjudged
    line = verdict_line(v)
    assert all(p in line for p in LOAD_PROFILES) and "performance-load" in line
    assert "send_oru under load (4)" in line and "send_oru under load (5)" not in line
    assert "75 more of kind 'scenario' (every one in summary.md and verdict.json)" in line
    assert len(line) < 1500
    assert all(g.name in summary_markdown(v) for g in unjudged)
    v.missing = v.missing[:-74]  # six of a kind: every one named
    line = verdict_line(v)
    assert "send_oru under load (5)" in line and "more of kind" not in line
