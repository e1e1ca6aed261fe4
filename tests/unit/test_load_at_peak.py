"""Failover at the peak (issue 18, part 1): faults planned in the steady phase of the go-live shape,
refused before Locust starts when they cannot happen as planned, and judged by their target's
objectives: Multum (failed checks, false "no interactions", recovery), NLL ("unavailable", never an
empty list; recovery once back), the radiology listener (nothing answered AA lost; recovery)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from genrep.errors import ConfigError, GenrepError
from genrep.faults import FaultDriver
from genrep.load.contract import OPERATIONS, load_load_contract
from genrep.load.fault_plan import FaultEvent, FaultSchedule, check_timing
from genrep.load.runner import (RUN_INCOMPLETE, FaultResult, LoadResult, StoredResult, evaluate, fault_results,
                                run_load)
from genrep.load.stats import OperationStats
from genrep.load.evaluation import mark_inconclusive
from genrep.load.generator import HOST_SATURATED
from genrep.load.windows import PRESCRIBE_UNANSWERED, WindowFigures, WindowRecorder
from genrep.load.workload import EMPTY, LIST, OTHER, UNAVAILABLE, medication_answer, unanswered_in_time
from genrep.paths import CONTRACTS_DIR

SHIPPED = (CONTRACTS_DIR / "load.yaml").read_text(encoding="utf-8")
CONTRACT = load_load_contract()
NLL_PLAN = "      - {target: nll, fault: error503, at: 60%, for: 15%, requirement: PERF-NLL-OUTAGE}\n"
T0 = 1_800_000_000.0


def with_plan(tmp_path, old: str, new: str) -> Path:
    assert old in SHIPPED
    p = tmp_path / "load.yaml"
    p.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    return p


# -- the plans: refused before anything starts ---------------------------------------------------

def test_the_at_peak_profiles_plan_their_faults_in_the_steady_phase():
    for name in ("failover_under_load", "nll_outage_under_load", "radiology_restart_under_load"):
        for duration in (20.0, 30.0, 60.0, 600.0):
            check_timing(CONTRACT.faults_for(name), duration, CONTRACT.ramp_s(name, duration))
    (nll,) = CONTRACT.faults_for("nll_outage_under_load")
    assert nll.at(60) == 36.0 and nll.lasts(60) == 9.0  # down at 36 s, back at 45 s, of a 60 s run
    (restart,) = CONTRACT.faults_for("radiology_restart_under_load")
    assert restart.params == {"delay": 3.0} and restart.group == "radiology-listener"


@pytest.mark.parametrize("plan, key, words", [
    ("      - {target: ris-listener, fault: restarted, at: 60%}\n", "target", "must be one of"),
    ("      - {target: nll, fault: error503, at: 60%, for: 0}\n", "for", "more than 0"),
    ("      - {target: nll, fault: error503, at: 60%, for: 100%}\n", "for", "share of the run"),
    ("      - {target: nll, fault: error503, at: 60%, for: soon}\n", "for", "share of the run"),
])
def test_a_plan_naming_an_unknown_target_or_a_bad_duration_is_refused_with_its_line(tmp_path, plan, key, words):
    path = with_plan(tmp_path, NLL_PLAN, plan)
    with pytest.raises(ConfigError) as info:
        load_load_contract(path)
    assert info.value.key == f"profiles.nll_outage_under_load.faults[0].{key}" and words in str(info.value)
    assert info.value.line == SHIPPED[:SHIPPED.index(NLL_PLAN)].count("\n") + 1


@pytest.mark.parametrize("plan, duration, words", [
    # outside the run
    ("      - {target: nll, fault: error503, at: 70, requirement: PERF-NLL-OUTAGE}\n", 60, "at second 70"),
    # its end outside the run: the recovery after it would never be seen
    ("      - {target: nll, fault: error503, at: 50, for: 15, requirement: PERF-NLL-OUTAGE}\n", 60, "for 15 s"),
    # judged at the peak but planned in the ramp (the first 30 s of 60)
    ("      - {target: nll, fault: error503, at: 20, requirement: PERF-NLL-OUTAGE}\n", 60, "during the ramp"),
])
def test_a_time_outside_the_run_or_the_steady_phase_is_refused(tmp_path, plan, duration, words):
    plans = load_load_contract(with_plan(tmp_path, NLL_PLAN, plan)).faults_for("nll_outage_under_load")
    with pytest.raises(ConfigError, match=words):
        check_timing(plans, duration, ramp_s=30.0)
    with pytest.raises(ConfigError, match=words):  # the schedule checks the same before it is built
        FaultSchedule(plans, Recording(), duration, ramp_s=30.0)


def test_a_fault_without_a_requirement_may_come_during_the_ramp(tmp_path):
    plans = load_load_contract(with_plan(tmp_path, NLL_PLAN, "      - {target: nll, fault: hang, at: 5}\n")
                               ).faults_for("nll_outage_under_load")
    check_timing(plans, 60, ramp_s=30.0)


def test_a_judged_fault_needs_objectives_to_be_judged_by(tmp_path):
    text = SHIPPED.replace("  nll:\n    operations: [read_medications]\n", "  nllx:\n    operations: [read_medications]\n")
    p = tmp_path / "load.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown fault target group"):
        load_load_contract(p)
    start, end = SHIPPED.index("  nll:\n    operations"), SHIPPED.index("  radiology-listener:\n")
    p.write_text(SHIPPED[:start] + SHIPPED[end:], encoding="utf-8")
    with pytest.raises(ConfigError, match="has no 'nll' entry to judge it by") as info:
        load_load_contract(p)
    assert info.value.key == "profiles.nll_outage_under_load.faults[0].requirement"


class _Proc:
    alive = True
    info: dict = {}


class _Venv:
    """A stand-in for the virtual environment: the EHR and NLL only, no Multum servers."""

    def __init__(self, profile):
        self.profile = profile
        self.processes = {"ehr": _Proc(), "nll": _Proc()}
        self.stopped = False

    def stop(self):
        self.stopped = True


def _forbid_locust(monkeypatch):
    calls = []

    def run_locust(*a, **kw):
        calls.append("locust")
        raise AssertionError("Locust must not start")
    monkeypatch.setattr("genrep.load.runner.run_locust", run_locust)
    return calls


def test_a_plan_in_the_ramp_is_refused_before_anything_starts(tmp_path, monkeypatch):
    calls = _forbid_locust(monkeypatch)
    started = []
    monkeypatch.setattr("genrep.sim.process.start_virtual_environment", lambda p: started.append(p) or _Venv(p))
    contract = load_load_contract(with_plan(tmp_path, NLL_PLAN,
                                            "      - {target: nll, fault: error503, at: 10%, requirement: PERF-NLL-OUTAGE}\n"))
    with pytest.raises(ConfigError, match="during the ramp"):
        run_load("nll_outage_under_load", users=10, duration_s=20, out_dir=tmp_path / "out", contract=contract)
    assert calls == [] and started == []


def test_a_target_the_environment_does_not_have_is_refused_before_locust_starts(tmp_path, monkeypatch):
    """multum-a is a known target, but this environment has no Multum server: the driver refuses
    the plan once the environment is up, before Locust starts, and the environment is stopped."""
    calls = _forbid_locust(monkeypatch)
    venvs = []
    monkeypatch.setattr("genrep.sim.process.start_virtual_environment", lambda p: venvs.append(_Venv(p)) or venvs[-1])
    with pytest.raises(ConfigError, match="no fault target 'multum-a' in the virtual environment") as info:
        run_load("failover_under_load", users=10, duration_s=20, out_dir=tmp_path / "out")
    assert info.value.key == "profiles.failover_under_load.faults[0]"
    assert calls == [] and venvs and venvs[0].stopped


# -- the schedule ---------------------------------------------------------------------------------

class Recording(FaultDriver):
    supported = frozenset({"error503", "killed", "restarted", "hang"})

    def __init__(self):
        self.calls: list[tuple] = []

    def inject(self, target, fault, **params):
        self.calls.append(("inject", target, fault, time.time()))

    def clear(self, target=None):
        self.calls.append(("clear", target, None, time.time()))


def test_a_fault_with_for_is_cleared_mid_run_and_timed_from_the_test_start(tmp_path, monkeypatch):
    from test_load_fault_plan import TimerDelays, planned_at
    plans = load_load_contract(with_plan(tmp_path, NLL_PLAN, "      - {target: nll, fault: error503, at: 0.6, for: 0.4}\n")
                               ).faults_for("nll_outage_under_load")
    driver = Recording()
    timers = TimerDelays(monkeypatch)
    origin = time.time() - 0.3  # Locust's test started 0.3 s ago: the fault comes 0.3 s from now
    before = time.time()
    schedule = FaultSchedule(plans, driver, duration_s=5.0).start(origin)
    after = time.time()
    # planned from the test's start, not from now (the timer's delay; a busy host cannot change it)
    earliest, latest = planned_at(timers.delays[0], before, after, origin)
    assert earliest - 1e-6 <= 0.6 <= latest + 1e-6, timers.delays
    deadline = time.monotonic() + 10  # until the mid-run clear came (a starved timer thread is late)
    while ("clear", "nll") not in [c[:2] for c in driver.calls] and time.monotonic() < deadline:
        time.sleep(0.01)
    schedule.stop()  # waits for the clear's timer: event.cleared is set
    (event,) = schedule.events
    assert [c[:3] for c in driver.calls] == [("inject", "nll", "error503"), ("clear", "nll", None),
                                              ("clear", None, None)]
    # never early; late only by what a starved timer thread may be (generous upper bounds)
    assert 0.5 <= event.injected - origin < 0.6 + 5 and 0.35 <= event.cleared - event.injected < 0.4 + 5
    assert event.back() == event.cleared
    # cleared 0.4 s after it was injected: the clear's timer, started after the injection
    assert len(timers.delays) == 2 and timers.delays[1] <= 0.4 + 1e-6
    assert event.cleared - event.injected >= 0.35
    schedule.raise_errors(completed=True)


def test_a_planned_fault_that_never_happened_fails_the_run(tmp_path):
    plans = CONTRACT.faults_for("failover_under_load")
    schedule = FaultSchedule(plans, Recording(), duration_s=60.0, ramp_s=30.0)  # never started
    schedule.raise_errors()  # the run did not complete: nothing to say
    with pytest.raises(GenrepError, match="multum-a killed was never injected"):
        schedule.raise_errors(completed=True)


def test_when_the_service_is_back():
    (kill,) = CONTRACT.faults_for("failover_under_load")
    (restart,) = CONTRACT.faults_for("radiology_restart_under_load")
    assert FaultEvent(kill, 10.0, returned=10.1).back() == 10.0        # failing over is the service's job
    assert FaultEvent(restart, 10.0, returned=13.0).back() == 13.0     # listening again
    (nll,) = CONTRACT.faults_for("nll_outage_under_load")
    assert FaultEvent(nll, 10.0, returned=10.1, cleared=19.0).back() == 19.0


# -- what the users see -----------------------------------------------------------------------------

def _bundle(n: int) -> bytes:
    return json.dumps({"resourceType": "Bundle", "total": n, "entry": [
        {"resource": {"resourceType": "MedicationRequest", "id": str(i)}} for i in range(n)]}).encode()


@pytest.mark.parametrize("status, body, kind", [
    (200, _bundle(3), LIST),
    (200, _bundle(0), EMPTY),  # nll-unavailable-empty: NLL down shown as "no medications"
    (503, b'{"resourceType": "OperationOutcome"}', UNAVAILABLE),
    (502, b"", UNAVAILABLE), (504, b"", UNAVAILABLE),
    (500, b"", OTHER), (200, b"<html>", OTHER), (200, b'{"resourceType": "Patient"}', OTHER),
])
def test_a_medication_list_read_is_a_list_unavailable_or_a_failure(status, body, kind):
    assert medication_answer(status, body)[0] == kind


# -- the judgement ----------------------------------------------------------------------------------

def _result(profile: str, faults=(), **kw) -> LoadResult:
    ops = {n: OperationStats(n, 100, 0, 5.0, 10.0, 20.0, 30.0, 6.0, 10.0) for n in OPERATIONS}
    return LoadResult(profile=profile, environment="virtual", users=1000, duration_s=60, workers=0, operations=ops,
                      exit_code=0, wall_s=70, out_dir=Path("."), stats_path=Path("s.json"), log_path=Path("l.log"),
                      ramp_s=30.0, faults=list(faults), **kw)


def _fault(profile: str, recovery=0.5, **counts) -> FaultResult:
    (plan,) = CONTRACT.faults_for(profile)
    return FaultResult(plan, 36.0, 36.0, recovery, (36.0, 39.0), counts)


def _by(outcomes, rid):
    return {o.metric: o for o in outcomes if o.requirement == rid}


@pytest.mark.parametrize("failed, false_neg, recovery, missed", [
    (0, 0, 0.0, set()),                                   # clean failover at the peak
    (81, 0, None, {"max_failed_checks", "max_recovery_s"}),  # multum-no-failover: checks keep failing
    (1, 2, 1.0, {"max_false_no_interactions"}),              # multum-silent-empty
])
def test_failover_at_the_peak_is_judged_by_the_multum_objectives(failed, false_neg, recovery, missed):
    r = _result("failover_under_load", [_fault("failover_under_load", recovery, failed_checks=failed)],
                false_no_interactions=false_neg)
    got = _by(evaluate(r, CONTRACT), "PERF-FAILOVER")
    assert {m for m, o in got.items() if not o.ok} == missed


def test_nll_down_at_the_peak_must_say_unavailable_never_empty():
    clean = _result("nll_outage_under_load", [_fault("nll_outage_under_load", 0.7, unavailable_answers=23)])
    outcomes = evaluate(clean, CONTRACT)
    assert all(o.ok for o in outcomes if o.requirement in ("PERF-NLL-OUTAGE", "PERF-NLL-NEVER-EMPTY"))
    # nll-unavailable-empty: every read during the outage showed an empty list, none said unavailable
    empty = _result("nll_outage_under_load", [_fault("nll_outage_under_load", 0.7, unavailable_answers=0)],
                    empty_lists=18)
    outcomes = evaluate(empty, CONTRACT)
    assert not _by(outcomes, "PERF-NLL-NEVER-EMPTY")["max_empty_lists"].ok
    assert _by(outcomes, "PERF-NLL-NEVER-EMPTY")["max_empty_lists"].describe().endswith("18 > 0")
    said = _by(outcomes, "PERF-NLL-OUTAGE")["min_unavailable_answers"]
    assert not said.ok and said.describe().endswith("0 < 1")


def test_nothing_aad_may_be_lost_across_a_listener_restart():
    fault = _fault("radiology_restart_under_load", 0.7, failed_sends_after=7)
    kept = _result("radiology_restart_under_load", [fault], stored=StoredResult(18, 1, 19, 18, [], sent=20))
    assert all(o.ok for o in _by(evaluate(kept, CONTRACT), "PERF-RADIOLOGY-RESTART").values())
    lost = _result("radiology_restart_under_load", [fault], stored=StoredResult(18, 1, 17, 18, ["LDX1"], sent=20))
    got = _by(evaluate(lost, CONTRACT), "PERF-RADIOLOGY-RESTART")
    assert not got["max_not_stored"].ok and not got["max_sample_missing"].ok and got["max_recovery_s"].ok


def test_a_fault_that_never_happened_measures_nothing_and_fails():
    for profile, rid in (("failover_under_load", "PERF-FAILOVER"), ("nll_outage_under_load", "PERF-NLL-OUTAGE")):
        got = _by(evaluate(_result(profile), CONTRACT), rid)
        assert got and not any(o.ok for o in got.values() if o.metric != "max_false_no_interactions")


def _figures(rows: dict[str, list[tuple[int, int]]]) -> WindowFigures:
    """name -> [(second, failures)], 5 requests a second."""
    rec = WindowRecorder()
    for name, seconds in rows.items():
        for second, failures in seconds:
            for i in range(5):
                rec.request(name, T0 + second + 0.5, 1.0, failed=i < failures)
    return WindowFigures(rec.to_dict(), T0)


def test_recovery_runs_from_the_service_back_to_the_last_failing_second():
    (nll,) = CONTRACT.faults_for("nll_outage_under_load")
    fails = {s: 5 for s in range(36, 45)} | {45: 1}  # down 36..45 (unavailable), one failure after
    reads = [(s, fails.get(s, 0)) for s in range(60)]
    notes = WindowRecorder()
    for s in range(36, 45):
        notes.note("medications_unavailable", T0 + s + 0.5)
    fig = _figures({"read_medications": reads, "prescribe": [(s, 0) for s in range(60)]})
    fig_notes = WindowFigures(notes.to_dict(), T0)
    fig.by_name.update(fig_notes.by_name)
    (res,) = fault_results([FaultEvent(nll, T0 + 36.0, returned=T0 + 36.0, cleared=T0 + 45.0)], CONTRACT, fig, [],
                           T0, 60.0)
    assert res.at_s == 36.0 and res.back_s == 45.0 and res.recovery_s == pytest.approx(1.0)
    assert res.counts["unavailable_answers"] == 9 and res.left_out == (36.0, pytest.approx(46.0))  # to recovered
    # still failing when the load ended: not recovered
    still = _figures({"read_medications": [(s, 5 if s >= 36 else 0) for s in range(60)]})
    (res,) = fault_results([FaultEvent(nll, T0 + 36.0, cleared=T0 + 45.0)], CONTRACT, still, [], T0, 60.0)
    assert res.recovery_s is None and res.left_out == (36.0, 50.0)  # never recovered: the whole allowance


def test_failed_checks_count_from_the_kill_on():
    (kill,) = CONTRACT.faults_for("failover_under_load")
    fig = _figures({"prescribe": [(s, 2 if s in (5, 37, 38) else 0) for s in range(60)]})  # 2 in the ramp
    (res,) = fault_results([FaultEvent(kill, T0 + 36.0)], CONTRACT, fig, [], T0, 60.0)
    assert res.counts["failed_checks"] == 4 and res.recovery_s == pytest.approx(3.0)


def test_no_check_after_the_kill_is_not_measured_never_zero_failed():
    """No prescription checked after the Multum kill (a starved generator): "0 failed checks" would
    be met with nothing measured. Not counted: the outcome says "not measured", never met."""
    (kill,) = CONTRACT.faults_for("failover_under_load")
    fig = _figures({"prescribe": [(s, 0) for s in range(30)], "read_report": [(s, 0) for s in range(60)]})
    (res,) = fault_results([FaultEvent(kill, T0 + 36.0)], CONTRACT, fig, [], T0, 60.0)
    assert "failed_checks" not in res.counts and res.counts["checks_after"] == 0
    got = _by(evaluate(_result("failover_under_load", [res]), CONTRACT), "PERF-FAILOVER")["max_failed_checks"]
    assert got.measured is None and not got.ok and "not measured" in got.describe()


def test_no_prescription_checked_in_the_run_is_no_proof_of_no_false_no_interactions():
    """'0 false "no interactions"' with no prescription checked at all would be met with nothing
    measured: not measured, never met."""
    fault = _fault("failover_under_load", 0.5, failed_checks=0)
    none = _result("failover_under_load", [fault])
    none.operations["prescribe"] = OperationStats("prescribe", 0, 0, None, None, None, None, None, 0.0)
    got = _by(evaluate(none, CONTRACT), "PERF-FAILOVER")["max_false_no_interactions"]
    assert got.measured is None and not got.ok and "no prescription was checked" in got.describe()
    unread = _result("nll_outage_under_load", [_fault("nll_outage_under_load", 0.7, unavailable_answers=3)])
    unread.operations["read_medications"] = OperationStats("read_medications", 0, 0, None, None, None, None, None, 0)
    empty = _by(evaluate(unread, CONTRACT), "PERF-NLL-NEVER-EMPTY")["max_empty_lists"]
    assert empty.measured is None and not empty.ok  # no list read: "0 shown empty" proves nothing
    checked = _by(evaluate(_result("failover_under_load", [fault]), CONTRACT), "PERF-FAILOVER")
    assert checked["max_false_no_interactions"].ok and checked["max_false_no_interactions"].measured == 0.0


def test_no_list_read_during_the_outage_is_not_measured_and_on_a_busy_host_inconclusive():
    """The NLL outage with no medication list read while NLL was down (the generator starved, or a
    crashed worker held the clinicians): nothing could say "unavailable", so the figure is not
    measured, never "0 < 1"; on a saturated host or in a stopped run that is inconclusive, never a
    product miss. Reads that came and never said "unavailable" stay a miss."""
    from genrep.load.evaluation import mark_inconclusive, operations_that_ran
    unread = _result("nll_outage_under_load", [_fault("nll_outage_under_load", 0.7, unavailable_answers=0,
                                                      reads_during_outage=0)])
    said = _by(evaluate(unread, CONTRACT), "PERF-NLL-OUTAGE")["min_unavailable_answers"]
    assert said.measured is None and said.status == "missed" and "not measured" in said.describe()
    ran = operations_that_ran(unread, CONTRACT)
    assert "read_medications" in ran
    for reason in ("host saturated", "run incomplete: 1 Locust worker(s) stopped mid-run (missing, never back)"):
        assert mark_inconclusive([said], reason, ran)[0].status == "inconclusive"
    assert mark_inconclusive([said], "host saturated", frozenset())[0].status == "missed"  # it never ran
    read = _result("nll_outage_under_load", [_fault("nll_outage_under_load", 0.7, unavailable_answers=0,
                                                    reads_during_outage=12)])
    said = _by(evaluate(read, CONTRACT), "PERF-NLL-OUTAGE")["min_unavailable_answers"]
    assert said.measured == 0.0 and said.describe().endswith("0 < 1")
    assert mark_inconclusive([said], "host saturated", ran)[0].status == "missed"


def test_a_recovery_nobody_saw_is_not_measured_never_zero_seconds():
    """Multum killed at 36 s and no prescription answered from then until its allowance (3 s) ran out:
    "recovered in 0 s" would be a pass nobody saw (review, session 9). Not measured: a miss on a quiet
    host, inconclusive on a saturated one (the machine starved the checks). Checks seen through the
    failover measure it as before, and a recovery seen late stays a measured miss."""
    from genrep.load.evaluation import mark_inconclusive
    (kill,) = CONTRACT.faults_for("failover_under_load")
    gap = _figures({"prescribe": [(s, 0) for s in list(range(36)) + list(range(50, 60))]})
    (res,) = fault_results([FaultEvent(kill, T0 + 36.0)], CONTRACT, gap, [], T0, 60.0)
    assert res.recovery_s is None and res.counts["recovery_unobserved"] == 1
    got = _by(evaluate(_result("failover_under_load", [res]), CONTRACT), "PERF-FAILOVER")["max_recovery_s"]
    assert got.status == "missed" and "nobody saw it recover" in got.describe()
    assert mark_inconclusive([got], "host saturated", frozenset({"prescribe"}))[0].status == "inconclusive"
    seen = _figures({"prescribe": [(s, 0) for s in range(60)]})
    (res,) = fault_results([FaultEvent(kill, T0 + 36.0)], CONTRACT, seen, [], T0, 60.0)
    assert res.recovery_s == 0.0 and "recovery_unobserved" not in res.counts
    late = _figures({"prescribe": [(s, 5 if 36 <= s < 44 else 0) for s in range(60)]})  # failing for 8 s
    (res,) = fault_results([FaultEvent(kill, T0 + 36.0)], CONTRACT, late, [], T0, 60.0)
    assert res.recovery_s == pytest.approx(8.0)


def test_nll_down_with_no_list_read_meanwhile_proves_no_list_was_shown_empty():
    """PERF-NLL-NEVER-EMPTY over an outage during which no list was read: "0 shown empty" is not
    measured (review, session 9); a list shown empty is a miss whenever it was shown."""
    unread = _result("nll_outage_under_load", [_fault("nll_outage_under_load", 0.7, reads_during_outage=0)])
    got = _by(evaluate(unread, CONTRACT), "PERF-NLL-NEVER-EMPTY")["max_empty_lists"]
    assert got.measured is None and got.status == "missed"
    shown = _result("nll_outage_under_load", [_fault("nll_outage_under_load", 0.7, reads_during_outage=0)],
                    empty_lists=2)
    assert _by(evaluate(shown, CONTRACT), "PERF-NLL-NEVER-EMPTY")["max_empty_lists"].describe().endswith("2 > 0")
    read = _result("nll_outage_under_load", [_fault("nll_outage_under_load", 0.7, reads_during_outage=7)])
    assert _by(evaluate(read, CONTRACT), "PERF-NLL-NEVER-EMPTY")["max_empty_lists"].status == "met"


@pytest.mark.parametrize("kw, message", [
    (dict(expect_workers=2), "--expect-workers: the workers must reach the master"),
    (dict(workers=2, master_bind_host="0.0.0.0"), "--master-bind-host is for --expect-workers"),
])
def test_a_master_nobody_could_reach_or_everybody_could_is_refused_before_locust_starts(tmp_path, monkeypatch,
                                                                                         kw, message):
    """--expect-workers without --master-bind-host would wait 120 s for workers that cannot reach a
    master on loopback; --master-bind-host with local --workers would open the master to every
    interface. Both refused before anything starts (review, session 9)."""
    calls = _forbid_locust(monkeypatch)
    with pytest.raises(ConfigError, match=message):
        run_load("steady_day", users=10, duration_s=20, out_dir=tmp_path / "out", **kw)
    assert calls == []


def test_failed_checks_the_client_gave_up_waiting_for_are_counted_apart():
    (kill,) = CONTRACT.faults_for("failover_under_load")
    rec = WindowRecorder()
    for s in range(60):
        for i in range(5):
            rec.request("prescribe", T0 + s + 0.5, 1.0, failed=s in (37, 38) and i < 3)
    for s in (37, 38):
        for _ in range(2):
            rec.note(PRESCRIBE_UNANSWERED, T0 + s + 0.5)
    rec.note(PRESCRIBE_UNANSWERED, T0 + 5.5)  # in the ramp, before the kill: not this fault's
    (res,) = fault_results([FaultEvent(kill, T0 + 36.0)], CONTRACT, WindowFigures(rec.to_dict(), T0), [], T0, 60.0)
    assert res.counts["failed_checks"] == 6 and res.counts["failed_checks_unanswered"] == 4


@pytest.mark.parametrize("failed, unanswered, quiet, saturated, stopped", [
    # a stop makes no timeouts (Ctrl-C ends users mid-request; a lost worker's requests are never
    # reported): in a stopped run a measured miss stays a miss, and nothing met is met
    (6, 4, "missed", "inconclusive", "missed"),   # 2 answered failures: within the limit without the timeouts
    (6, 3, "missed", "missed", "missed"),         # 3 answered failures: a miss whatever the machine
    (6, 0, "missed", "missed", "missed"),         # every failed check answered (multum-no-failover's kind)
    (1, 1, "met", "met", "inconclusive"),         # met is met on a saturated machine; never in a stopped run
    (3, 9, "missed", "inconclusive", "missed"),   # more notes than failures: capped at the failures
])
def test_a_failed_checks_miss_that_rests_on_client_timeouts_is_the_machines_when_it_was_saturated(
        failed, unanswered, quiet, saturated, stopped):
    """A starved generator times out requests it never got to read: on a saturated machine a
    failed-checks miss that is within the limit once those are left out is inconclusive, never a
    product miss; on a quiet machine a check nobody answered in time is a failed check like any
    other (a clinician waited in vain)."""
    fault = _fault("failover_under_load", 0.5, failed_checks=failed, failed_checks_unanswered=unanswered)
    got = _by(evaluate(_result("failover_under_load", [fault]), CONTRACT), "PERF-FAILOVER")["max_failed_checks"]
    assert got.status == quiet
    if quiet == "missed" and failed - unanswered <= 2:
        assert f"{min(unanswered, failed)} of them unanswered within the client's timeout" in got.describe()
    ran = frozenset({"prescribe"})
    assert mark_inconclusive([got], HOST_SATURATED, ran)[0].status == saturated
    assert mark_inconclusive([got], f"{RUN_INCOMPLETE}: a worker died", ran)[0].status == stopped


def test_only_a_client_timeout_is_unanswered_in_time():
    import gevent  # the Locust side's client raises gevent's Timeout: load/users.py passes it
    from geventhttpclient.useragent import RetriesExceeded
    # what FastHttpUser really hands back for a POST that timed out (max_retries 0: wrapped)
    assert unanswered_in_time(0, RetriesExceeded("http://ehr/prescribe", 0, original=TimeoutError("timed out")))
    assert not unanswered_in_time(0, RetriesExceeded("http://ehr/prescribe", 0,
                                                     original=ConnectionRefusedError("refused")))
    assert unanswered_in_time(0, TimeoutError("timed out"))
    assert unanswered_in_time(0, gevent.Timeout(1.0), (TimeoutError, gevent.Timeout))
    assert not unanswered_in_time(0, gevent.Timeout(1.0))
    assert not unanswered_in_time(0, ConnectionRefusedError("refused"))  # the system's, whatever the machine
    assert not unanswered_in_time(0, None)
    assert not unanswered_in_time(503, TimeoutError("x"))  # an answer came


def test_timeouts_excuse_a_failed_checks_miss_only_where_the_machine_was_saturated_after_the_kill():
    """The run mostly saturated, but the windows from the Multum kill on quiet: the checks that hung
    after the kill are the system's (a check hanging on the killed server is the defect itself), a
    miss even on a run judged saturated overall."""
    from genrep.load.generator import GeneratorReport, LoadWindow

    def gen(bound_after_kill: bool) -> GeneratorReport:
        windows = tuple(LoadWindow(t=t, end=t + 5.0, generator_cpu=40.0, host_cpu=99.0, load_avg=None,
                                   generator_bound=False, host_bound=t < 35.0 or bound_after_kill)
                        for t in range(0, 60, 5))
        return GeneratorReport(samples=60, processes=1, mean_cpu_percent=40, max_cpu_percent=60, busy_share=0.0,
                               limit_percent=90, locust_warnings=0, cpu_count=2, windows=windows, steady=(30.0, 60.0))
    fault = _fault("failover_under_load", 0.5, failed_checks=6, failed_checks_unanswered=5)
    ran = frozenset({"prescribe"})
    for bound_after_kill, status in ((True, "inconclusive"), (False, "missed")):
        r = _result("failover_under_load", [fault], generator=gen(bound_after_kill))
        got = _by(evaluate(r, CONTRACT), "PERF-FAILOVER")["max_failed_checks"]
        assert mark_inconclusive([got], HOST_SATURATED, ran)[0].status == status, bound_after_kill
