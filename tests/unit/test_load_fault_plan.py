"""A load profile's faults as data (contracts/load.yaml, profiles.NAME.faults): validated with file,
key and line; timed within the run; checked against the driver before the load starts; injected at
their second through genrep.faults and cleared at the end; judged under their requirement."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from genrep.config.contracts import load_catalogue
from genrep.errors import ConfigError, GenrepError
from genrep.faults import FaultDriver
from genrep.load.contract import check_requirements, load_load_contract
from genrep.load.fault_plan import FaultSchedule, check_timing
from genrep.load.runner import LoadResult, evaluate, write_failed_run_results
from genrep.load.stats import OperationStats
from genrep.paths import CONTRACTS_DIR

SHIPPED = (CONTRACTS_DIR / "load.yaml").read_text(encoding="utf-8")
PLAN = "      - {target: multum-a, fault: killed, at: 60%, requirement: PERF-FAILOVER}\n"


def write(tmp_path, text) -> Path:
    p = tmp_path / "load.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def with_plan(tmp_path, plan: str) -> Path:
    assert PLAN in SHIPPED
    return write(tmp_path, SHIPPED.replace(PLAN, plan, 1))


def line_of(text: str, fragment: str) -> int:
    return text[:text.index(fragment)].count("\n") + 1


def test_shipped_plan():
    c = load_load_contract()
    (plan,) = c.faults_for("failover_under_load")
    assert (plan.target, plan.fault, plan.at_s, plan.at_share, plan.params, plan.requirement) == (
        "multum-a", "killed", None, 0.6, {}, "PERF-FAILOVER")
    assert plan.describe() == "multum-a killed" and plan.at(10) == 6.0 and plan.lasts(10) is None
    assert plan.key == "profiles.failover_under_load.faults[0]" and plan.line == line_of(SHIPPED, PLAN.strip())
    assert c.faults_for("steady_day") == () and c.faults_for("no_such_profile") == ()
    assert c.fault_requirements("failover_under_load") == ["PERF-FAILOVER"] and c.fault_requirements("soak") == []


def test_seconds_params_and_several_faults(tmp_path):
    c = load_load_contract(with_plan(tmp_path, (
        "      - {target: nll, fault: slow, at: 3, params: {delay: 1.5}}\n"
        "      - {target: multum-b, fault: version, at: 2.5, params: {version: '2024.10'}}\n")))
    slow, version = c.faults_for("failover_under_load")
    assert (slow.target, slow.fault, slow.at_s, slow.params, slow.requirement) == ("nll", "slow", 3.0,
                                                                                   {"delay": 1.5}, None)
    assert slow.at(60) == 3.0 and slow.describe() == "nll slow delay=1.5"
    assert version.params == {"version": "2024.10"}
    assert "PERF-FAILOVER" not in c.fault_requirements()


@pytest.mark.parametrize("plan, key, words", [
    ("      - {target: multum-c, fault: killed, at: 40%}\n", "faults[0].target", "must be one of multum-a"),
    ("      - {target: nll, fault: explode, at: 40%}\n", "faults[0].fault", "must be one of stopped"),
    ("      - {target: nll, fault: hang, at: 140%}\n", "faults[0].at", "share of it from 0% to 100%"),
    ("      - {target: nll, fault: hang, at: 0}\n", "faults[0].at", "more than 0"),
    ("      - {target: nll, fault: hang, at: soon}\n", "faults[0].at", "a second of the run"),
    ("      - {target: nll, fault: hang, at: true}\n", "faults[0].at", "more than 0"),
    ("      - {target: nll, fault: hang}\n", "faults[0].at", "required key is missing"),
    ("      - {target: nll, fault: slow, at: 3, params: {delay: -1}}\n", "faults[0].params", "0 to 600"),
    ("      - {target: nll, fault: slow, at: 3, params: {speed: 1}}\n", "faults[0].params", "unknown parameter"),
    ("      - {target: nll, fault: hang, at: 3, when: later}\n", "faults[0].when", "unknown key"),
    ("      - {target: nll, fault: hang, at: 3, requirement: perf-x}\n", "faults[0].requirement", "must look like"),
    ("      - {target: nll, fault: hang, at: 3, requirement: PERF-PRESCRIBE}\n", "faults[0].requirement",
     "not be an operation's"),
    ("      - nll hang\n", "faults[0]", "expected a mapping"),
    ("      []\n", "faults", "non-empty list"),
])
def test_mistakes_name_file_key_and_line(tmp_path, plan, key, words):
    path = with_plan(tmp_path, plan)
    with pytest.raises(ConfigError) as info:
        load_load_contract(path)
    err = info.value
    assert err.file == str(path) and err.key == f"profiles.failover_under_load.{key}", (err.key, str(err))
    assert words in str(err)
    text = path.read_text(encoding="utf-8")
    assert err.line in (line_of(text, plan.strip()), line_of(text, "    faults:"))


def test_a_fault_requirement_must_be_a_performance_requirement_in_the_catalogue(tmp_path):
    c = load_load_contract(with_plan(tmp_path, "      - {target: nll, fault: hang, at: 3, requirement: PERF-NOPE}\n"))
    with pytest.raises(ConfigError, match="PERF-NOPE is not in") as info:
        check_requirements(c, load_catalogue())
    assert info.value.key == "profiles.failover_under_load.faults[0].requirement"


def test_a_fault_planned_after_the_run_ends_is_refused_with_its_line(tmp_path):
    path = with_plan(tmp_path, "      - {target: nll, fault: hang, at: 30}\n")
    plans = load_load_contract(path).faults_for("failover_under_load")
    check_timing(plans, 31)
    with pytest.raises(ConfigError, match="at second 30, but the run lasts 10 s") as info:
        check_timing(plans, 10)
    assert (info.value.key, info.value.line) == ("profiles.failover_under_load.faults[0].at",
                                                 line_of(path.read_text(encoding="utf-8"), "- {target: nll"))


class Recording(FaultDriver):
    supported = frozenset({"hang", "killed", "slow"})

    def __init__(self, fail: bool = False):
        self.calls: list[tuple] = []
        self.fail = fail

    def inject(self, target, fault, **params):
        self.calls.append(("inject", target, fault, params, time.monotonic()))
        if self.fail:
            raise GenrepError("the admin API answered 500")

    def clear(self, target=None):
        self.calls.append(("clear", target))


def wait_for(cond, timeout: float = 10.0) -> bool:
    """Poll ``cond`` until it holds or ``timeout`` s passed (a starved timer thread can be late)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def plans_of(tmp_path, plan: str):
    return load_load_contract(with_plan(tmp_path, plan)).faults_for("failover_under_load")


class TimerDelays:
    """``threading.Timer`` in ``genrep.load.fault_plan``, recording each delay it is given: when a
    fault is planned is checked from the delays, which a busy host cannot make late."""

    def __init__(self, monkeypatch):
        import threading

        from genrep.load import fault_plan
        self.delays: list[float] = []
        real, delays = threading.Timer, self.delays

        def timer(interval, function, args=None, kwargs=None):
            delays.append(interval)
            return real(interval, function, args, kwargs)
        monkeypatch.setattr(fault_plan.threading, "Timer", timer)


def planned_at(delay: float, before: float, after: float, origin: float) -> tuple[float, float]:
    """The seconds after ``origin`` a timer started between the epochs ``before`` and ``after``
    with ``delay`` fires at: (earliest, latest)."""
    return delay + before - origin, delay + after - origin


def test_schedule_injects_at_each_second_and_clears_at_the_end(tmp_path, monkeypatch):
    plans = plans_of(tmp_path, "      - {target: nll, fault: slow, at: 0.2, params: {delay: 1}}\n"
                               "      - {target: multum-a, fault: killed, at: 40%}\n")
    driver = Recording()
    timers = TimerDelays(monkeypatch)
    t0 = time.monotonic()
    before = time.time()
    schedule = FaultSchedule(plans, driver, duration_s=1.0).start()
    after = time.time()
    # each timer planned for its second after the start (0.2 s; 40 % of 1 s), whatever the host's speed
    for delay, at in zip(timers.delays[:2], (0.2, 0.4)):
        earliest, latest = planned_at(delay, before, after, schedule.origin)
        assert earliest - 1e-6 <= at <= latest + 1e-6, (delay, at)
    assert wait_for(lambda: len([c for c in driver.calls if c[0] == "inject"]) == 2)
    schedule.stop()
    injected = [c for c in driver.calls if c[0] == "inject"]
    assert [(c[1], c[2], c[3]) for c in injected] == [("nll", "slow", {"delay": 1.0}), ("multum-a", "killed", {})]
    # never early; late only by what a starved timer thread may be (generous upper bounds)
    assert 0.15 <= injected[0][4] - t0 < 0.2 + 5 and 0.35 <= injected[1][4] - t0 < 0.4 + 5
    assert driver.calls[-1] == ("clear", None)
    assert [p.describe() for _, p in schedule.injected] == ["nll slow delay=1.0", "multum-a killed"]
    schedule.raise_errors()  # nothing failed


def test_schedule_stopped_early_injects_nothing_more(tmp_path):
    driver = Recording()
    schedule = FaultSchedule(plans_of(tmp_path, "      - {target: nll, fault: hang, at: 50}\n"), driver, 60).start()
    schedule.stop()
    time.sleep(0.1)
    assert driver.calls == [("clear", None)] and schedule.injected == []


def test_a_fault_the_driver_cannot_inject_is_refused_before_the_run(tmp_path):
    path = with_plan(tmp_path, "      - {target: nll, fault: error503, at: 3}\n")
    plans = load_load_contract(path).faults_for("failover_under_load")
    driver = Recording()
    with pytest.raises(ConfigError, match="nll error503: fault 'error503' is not supported") as info:
        FaultSchedule(plans, driver, 10)
    assert info.value.key == "profiles.failover_under_load.faults[0]" and info.value.file == str(path)
    assert driver.calls == []


def test_a_failed_injection_is_reported_after_the_run(tmp_path):
    driver = Recording(fail=True)
    schedule = FaultSchedule(plans_of(tmp_path, "      - {target: nll, fault: hang, at: 0.05}\n"), driver, 10).start()
    assert wait_for(lambda: driver.calls)   # the injection was tried (stop waits for its timer to end)
    schedule.stop()
    with pytest.raises(GenrepError, match="injecting nll hang failed: the admin API answered 500"):
        schedule.raise_errors()


def _result(profile: str) -> LoadResult:
    from genrep.load.contract import OPERATIONS
    ops = {name: OperationStats(name, 100, 0, 5.0, 10.0, 20.0, 30.0, 6.0, 10.0) for name in OPERATIONS}
    return LoadResult(profile=profile, environment="virtual", users=10, duration_s=10, workers=0, operations=ops,
                      exit_code=0, wall_s=12, out_dir=Path("."), stats_path=Path("stats.json"),
                      log_path=Path("locust.log"), fault="multum-a killed", fault_at_s=4.0, recovery_s=1.0)


def test_the_failover_objectives_are_judged_for_the_profiles_with_a_fault_requirement(tmp_path):
    shipped = load_load_contract()
    assert {o.requirement for o in evaluate(_result("failover_under_load"), shipped)} >= {"PERF-FAILOVER"}
    assert "PERF-FAILOVER" not in {o.requirement for o in evaluate(_result("steady_day"), shipped)}
    no_requirement = load_load_contract(with_plan(tmp_path, "      - {target: multum-a, fault: killed, at: 40%}\n"))
    assert "PERF-FAILOVER" not in {o.requirement for o in evaluate(_result("failover_under_load"), no_requirement)}


def test_a_failed_run_still_reports_its_fault_requirement(tmp_path):
    paths = write_failed_run_results(tmp_path / "results", "failover_under_load", load_load_contract(), "boom")
    assert any("PERF-FAILOVER" in p.read_text(encoding="utf-8") for p in paths if p.suffix == ".json")
