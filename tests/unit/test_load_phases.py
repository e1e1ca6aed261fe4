"""Figures you can trust (issue 18, part 3): every request recorded per window of its start, the SLAs
judged on the steady phase with the ramp reported apart, and windowed generator and host
saturation that makes a run's timing results inconclusive (never met, never a product defect)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrep.load.contract import OPERATIONS, load_load_contract
from genrep.load.cpu_sampling import CpuSample, read_cpu_pressure_us
from genrep.load.generator import GENERATOR_SATURATED, HOST_SATURATED, windowed_report
from genrep.load.runner import (LoadResult, StoredResult, evaluate, mark_inconclusive, phase_stats, sla_verdict,
                                write_sla_json)
from genrep.load.stats import OperationStats, SlaOutcome, percentile
from genrep.load.windows import WindowFigures, WindowRecorder, bucket, window_for

CONTRACT = load_load_contract()
T0 = 1_800_000_000.0  # the test's start (epoch)


def test_buckets_are_locusts():
    # StatsEntry._log_response_time: whole ms below 100, 10 ms below 1 s, 100 ms below 10 s, 1 s above
    assert [bucket(x) for x in (0.4, 7.6, 99.4, 104, 996, 1049, 9951, 12_345)] == [0, 8, 99, 100, 1000, 1000,
                                                                                  10_000, 12_000]


def test_the_recorder_buckets_response_times_as_locust_does():
    """The recorder puts each time in ``bucket``'s place (its first rule written inline for speed)."""
    times = [0.4, 0.5, 1.5, 2.5, 7.6, 99.4, 99.6, 104, 996, 1049, 9951, 12_345]
    rec = WindowRecorder()
    for ms in times:
        rec.request("read_report", T0 + 5.0 + ms / 1000, ms, failed=False)  # all started at 5 s
    (entry,) = rec.to_dict()["entries"]
    expected: dict[int, int] = {}
    for ms in times:
        expected[bucket(ms)] = expected.get(bucket(ms), 0) + 1
    assert {int(k): v for k, v in entry[-1].items()} == expected


def test_requests_count_in_the_window_they_started_in_and_workers_merge():
    worker_a, worker_b, master = WindowRecorder(), WindowRecorder(), WindowRecorder()
    worker_a.request("read_report", T0 + 2.2, 300.0, failed=False)   # started at 1.9 s: window 1
    worker_a.request("read_report", T0 + 2.2, 100.0, failed=True)    # started at 2.1 s: window 2
    worker_b.request("read_report", T0 + 2.5, 5.0, failed=False)
    worker_b.note("medications_unavailable", T0 + 3.1)
    master.merge(worker_a.drain())
    master.merge(worker_b.drain())
    assert worker_a.drain()["entries"] == []  # drained: a worker reports each request once
    fig = WindowFigures(master.to_dict(), T0)
    assert [(w.t, w.count, w.failures) for w in fig.windows("read_report")] == [(1.0, 1, 0), (2.0, 2, 1)]
    assert fig.count("medications_unavailable") == (1, 0)
    whole = fig.stats("read_report")
    assert (whole.requests, whole.failures, whole.max_ms) == (3, 1, 300.0)
    assert whole.p50_ms == percentile({"5": 1, "100": 1, "300": 1}, 0.5) == 100


def test_window_grows_for_long_runs():
    assert window_for(60) == 1.0 and window_for(3600) == 1.0 and window_for(2 * 3600) == 2.0


def _ramp_then_steady(steady_ms: float, ramp_ms: float = 300.0, ramp_s: int = 30, end_s: int = 40) -> WindowFigures:
    """Every operation: 10 requests a second, ``ramp_ms`` each during the ramp, ``steady_ms`` after."""
    rec = WindowRecorder()
    for second in range(end_s):
        ms = ramp_ms if second < ramp_s else steady_ms
        for name in OPERATIONS:
            for _ in range(10):
                rec.request(name, T0 + second + 0.5 + ms / 1000, ms, failed=False)
    return WindowFigures(rec.to_dict(), T0)


def _result(fig: WindowFigures | None, *, ramp_s=30.0, duration_s=40.0, generator=None, **kw) -> LoadResult:
    ops = {n: OperationStats(n, 100, 0, 300.0, 300.0, 300.0, 300.0, 300.0, 10.0) for n in OPERATIONS}
    judged, ramp, steady, excluded = phase_stats(fig, CONTRACT, ramp_s, duration_s, []) if fig else (None,) * 3 + ([],)
    return LoadResult(profile="steady_day", environment="virtual", users=100, duration_s=duration_s, workers=0,
                      operations=ops, exit_code=0, wall_s=50, out_dir=Path("."), stats_path=Path("s.json"),
                      log_path=Path("l.log"), ramp_s=ramp_s, judged=judged, ramp=ramp, steady=steady,
                      excluded=excluded, generator=generator, **kw)


def _timing(outcomes):
    return {(o.operation, o.metric): o for o in outcomes if o.metric in ("p95_ms", "p99_ms")}


def test_slas_are_judged_on_the_steady_phase_and_the_ramp_is_reported_apart():
    """A slow ramp (300 ms: what the go-live run showed) then a fast peak (5 ms): met on the steady
    phase; the ramp's own figures are there, apart."""
    fig = _ramp_then_steady(steady_ms=5.0, ramp_ms=3000.0)
    result = _result(fig)
    outcomes = evaluate(result, CONTRACT)
    assert all(o.ok for o in _timing(outcomes).values()), [o.describe() for o in outcomes if not o.ok]
    assert result.judged["read_report"].p95_ms == 5 and result.judged["read_report"].requests == 100
    assert result.ramp["read_report"].p95_ms == 3000 and result.ramp["read_report"].requests == 300
    assert result.ramp["read_report"].rps == pytest.approx(10.0)
    # judged on the whole run (as before), the ramp (three quarters of it) would have missed it
    from genrep.load.stats import evaluate_stats
    whole = {n: fig.stats(n) for n in OPERATIONS}
    assert not any(o.ok for o in evaluate_stats(whole, CONTRACT) if o.metric == "p95_ms")
    phases = result.to_dict()["phases"]
    assert phases["judged"] == "steady phase" and phases["ramp"]["to_s"] == 30.0
    assert phases["steady"]["judged_operations"]["read_report"]["p95_ms"] == 5


def test_a_slow_steady_phase_is_missed_even_after_a_fast_ramp():
    result = _result(_ramp_then_steady(steady_ms=3000.0, ramp_ms=5.0))
    missed = [o for o in _timing(evaluate(result, CONTRACT)).values() if not o.ok]
    assert missed and all(o.status == "missed" for o in missed)
    assert {o.operation for o in missed} == set(OPERATIONS)


def test_a_faults_window_is_left_out_of_the_operations_it_affects_only():
    from genrep.load.runner import FaultResult
    fig = _ramp_then_steady(steady_ms=5.0, ramp_ms=5.0)
    (plan,) = CONTRACT.faults_for("nll_outage_under_load")
    fault = FaultResult(plan, at_s=32.0, back_s=35.0, recovery_s=0.0, left_out=(32.0, 37.0))
    judged, _, steady, excluded = phase_stats(fig, CONTRACT, 30.0, 40.0, [fault])
    assert steady["read_medications"].requests == 100
    assert judged["read_medications"].requests == 50  # 32 s .. 37 s left out
    assert judged["read_report"].requests == 100      # not affected by NLL
    assert excluded == [("read_medications", 32.0, 37.0, "nll error503 (PERF-NLL-OUTAGE)")]


def _samples(gen_cpu: list[float], pressure_share: list[float] | None = None, host: float = 40.0):
    """One sample a second from T0: a Locust process at gen_cpu[i] %, the machine's stall total
    growing by pressure_share[i] of each second."""
    out, total = [], 0
    for i, cpu in enumerate(gen_cpu):
        if pressure_share is not None:
            total += int(pressure_share[i] * 1e6)
        out.append(CpuSample(T0 + i + 0.5, {101: cpu}, host, 1.5, total if pressure_share is not None else None))
    return out


def _report(gen_cpu, pressure=None, host=40.0, steady=(20.0, 40.0)):
    return windowed_report(_samples(gen_cpu, pressure, host), t0_epoch=T0, window_s=5.0, limit_percent=90.0,
                           host_limit_percent=95.0, max_bound_share=0.5, steady=steady, end_s=40.0,
                           host_foreign_limit_percent=25.0)


def test_a_saturated_window_is_marked_even_when_the_run_mean_is_low():
    """One 5 s window at 100 % of a core in a run that averages far less (the go-live ramp's case:
    'mean 44 %, max 100 %' said 'not the bottleneck'): that window is generator-bound, the others not."""
    cpu = [30.0] * 40
    cpu[10:15] = [100.0] * 5
    report = _report(cpu)
    assert report.mean_cpu_percent < 40
    assert [w.generator_bound for w in report.windows] == [False, False, True, False, False, False, False, False]
    assert report.bound_windows() == [(10.0, 15.0, GENERATOR_SATURATED)]
    assert report.inconclusive is None  # one window, in the ramp: the steady phase is conclusive
    row = report.to_dict()["windows"][2]
    assert row["generator_bound"] and row["generator_cpu_percent"] == 100.0 and row["load_avg_1m"] == 1.5


def test_a_steady_phase_mostly_generator_bound_is_inconclusive_never_met():
    cpu = [30.0] * 20 + [97.0] * 15 + [30.0] * 5  # 3 of the steady phase's 4 windows saturated
    report = _report(cpu)
    assert report.generator_bound_share == 0.75 and report.inconclusive == GENERATOR_SATURATED
    assert report.bottleneck and "INCONCLUSIVE: generator saturated" in report.verdict()
    result = _result(_ramp_then_steady(steady_ms=5.0), generator=report)
    outcomes = evaluate(result, CONTRACT)
    timing = _timing(outcomes)
    assert all(o.status == "inconclusive" and not o.ok for o in timing.values())
    assert all(o.describe().startswith("inconclusive (generator saturated), ") for o in timing.values())
    assert sla_verdict(outcomes) == "INCONCLUSIVE"
    # half or less of the steady phase bound: conclusive, the figures are judged
    assert _report([30.0] * 20 + [97.0] * 10 + [30.0] * 10).inconclusive is None


def test_cpu_pressure_alone_never_marks_a_host_saturated():
    """The pressure is recorded (the run's own load makes it); without CPU times (old samples, or a
    machine whose CPU times cannot be read) the machine's total CPU decides, never the pressure.
    The foreign-CPU rule itself: tests/unit/test_load_host.py."""
    waiting = _report([30.0] * 40, pressure=[0.6] * 40, host=60.0)
    assert waiting.inconclusive is None and waiting.host_bound_share == 0.0
    assert waiting.windows[0].cpu_pressure == pytest.approx(60.0)
    assert waiting.windows[0].foreign_cpu is None
    assert _report([30.0] * 40, pressure=None, host=99.0).inconclusive == HOST_SATURATED
    assert _report([30.0] * 40, pressure=None, host=60.0).inconclusive is None


def test_pressure_is_read_from_the_kernel_when_there_is_one(tmp_path):
    psi = tmp_path / "cpu"
    psi.write_text("some avg10=1.00 avg60=2.00 avg300=3.00 total=123456\nfull avg10=0.00 avg60=0.00 "
                   "avg300=0.00 total=0\n", encoding="ascii")
    assert read_cpu_pressure_us(psi) == 123456
    assert read_cpu_pressure_us(tmp_path / "none") is None


def test_correctness_is_judged_whatever_the_generator_did():
    """Saturation makes timing inconclusive, never a false 'no interactions' or a lost report pass."""
    outcomes = [SlaOutcome("prescribe", "PERF-PRESCRIBE", "p95_ms", 30.0, 2000.0, True),
                SlaOutcome("prescribe", "PERF-FAILOVER", "max_false_no_interactions", 3.0, 0.0, False),
                SlaOutcome("send_oru", "PERF-STORED", "max_not_stored", 0.0, 0.0, True),
                SlaOutcome("prescribe", "PERF-FAILOVER", "max_recovery_s", None, 3.0, False)]
    marked = mark_inconclusive(outcomes, HOST_SATURATED)
    assert [o.status for o in marked] == ["inconclusive", "missed", "met", "missed"]
    assert sla_verdict(marked) == "MISSED"  # a real miss stays a miss
    assert sla_verdict(mark_inconclusive(outcomes[:1] + outcomes[2:3], HOST_SATURATED)) == "INCONCLUSIVE"
    assert mark_inconclusive(outcomes, None) == outcomes


def test_sla_json_says_inconclusive_for_the_gate(tmp_path):
    report = _report([30.0] * 20 + [99.0] * 20)
    result = _result(_ramp_then_steady(steady_ms=5.0), generator=report,
                     stored=StoredResult(10, 1, 11, 10, []))
    result.out_dir = tmp_path
    result.windows = [{"phase": "steady", **w.to_dict()} for w in report.windows]
    import json
    data = json.loads(write_sla_json(result, evaluate(result, CONTRACT), CONTRACT).read_text(encoding="utf-8"))
    assert data["verdict"] == "INCONCLUSIVE" and data["inconclusive"] == GENERATOR_SATURATED
    assert data["judged_on"] == {"phase": "steady", "from_s": 30.0, "to_s": 40.0}
    statuses = {o["status"] for o in data["outcomes"]}
    assert statuses == {"inconclusive", "met"}  # timing inconclusive; AA stored met
    assert all(not o["ok"] for o in data["outcomes"] if o["status"] == "inconclusive")
    assert sum(w["generator_bound"] for w in data["run"]["windows"]) == 4


def test_the_plot_marks_bound_windows_the_steady_phase_and_shows_journey_time(tmp_path):
    from genrep.load.history import Sample, plot_history
    samples = [Sample(float(t), min(100, 10 * t), 5.0, 0.0, 4.0, 12.0, 5 * t, 0) for t in range(30)]
    plain = plot_history(samples, tmp_path / "plain.png", title="t")
    marked = plot_history(samples, tmp_path / "marked.png", title="t", phases=[(20.0, "steady phase")],
                          bound=[(5.0, 10.0, GENERATOR_SATURATED), (10.0, 15.0, HOST_SATURATED)],
                          series=[("journey report_to_prescription p95", [(22.5, 240.0), (27.5, 60.0)])])
    assert marked.read_bytes().startswith(b"\x89PNG") and marked.read_bytes() != plain.read_bytes()


def test_a_saturated_host_that_starved_an_operation_of_its_steady_phase_is_inconclusive():
    """On a saturated machine an operation with requests in the run but none in the steady phase was
    starved by the machine (a CI failure: read_report 0 requests in a 5 s steady phase, the host 96 %
    busy with other work); one that made no request in the whole run stays a miss."""
    outcomes = [SlaOutcome("read_report", "PERF-READ-REPORT", "p95_ms", None, 1000.0, False),
                SlaOutcome("read_report", "PERF-READ-REPORT", "max_failure_ratio", None, 0.01, False),
                SlaOutcome("send_oru", "PERF-SEND-ORU", "p95_ms", 4.0, 1000.0, True)]
    starved = mark_inconclusive(outcomes, HOST_SATURATED, frozenset({"read_report", "send_oru"}))
    assert [o.status for o in starved] == ["inconclusive", "inconclusive", "inconclusive"]
    assert sla_verdict(starved) == "INCONCLUSIVE"
    never = mark_inconclusive(outcomes, HOST_SATURATED, frozenset({"send_oru"}))
    assert [o.status for o in never] == ["missed", "missed", "inconclusive"]
    assert sla_verdict(never) == "MISSED"
    assert mark_inconclusive(outcomes, None, frozenset({"read_report"})) == outcomes  # a quiet host: as measured


def test_a_recovery_never_measured_stays_a_miss_on_a_saturated_host():
    """The starved-operation rule is for an operation's own figures: a failover that never recovered
    (max_recovery_s not measured, prescribe ran all along) is a failure whatever the machine did."""
    outcomes = [SlaOutcome("prescribe", "PERF-FAILOVER", "max_recovery_s", None, 3.0, False)]
    assert mark_inconclusive(outcomes, HOST_SATURATED, frozenset({"prescribe"}))[0].status == "missed"


def test_an_operation_whose_users_died_with_a_crashed_worker_is_incomplete_not_missed():
    """A worker killed mid-run took the only RisUser: send_oru has no request in the judged phase
    (CI, session 8), or none at all when the worker died before its first report (CI, session 9:
    judged MISSED, exit 1, a product miss claimed from a crash). The run is incomplete: nothing it
    did not measure is a miss; a correctness miss it measured stays one."""
    reason = "run incomplete: 1 Locust worker(s) stopped mid-run (missing, never back)"
    outcomes = [SlaOutcome("send_oru", "PERF-SEND-ORU", "p95_ms", None, 1000.0, False),
                SlaOutcome("send_oru", "PERF-SEND-ORU", "max_failure_ratio", 0.5, 0.001, False),
                SlaOutcome("prescribe", "PERF-FAILOVER", "max_recovery_s", None, 3.0, False),
                SlaOutcome("send_oru", "PERF-STORED", "max_not_stored", None, 0.0, False),
                SlaOutcome("prescribe", "PERF-FAILOVER", "max_false_no_interactions", 2.0, 0.0, False),
                SlaOutcome("read_report", "PERF-READ-REPORT", "p95_ms", 5.0, 1000.0, True)]
    for ran in (frozenset({"send_oru"}), frozenset()):  # ran before the crash, or never reported
        marked = mark_inconclusive(outcomes, reason, ran)
        assert [o.status for o in marked] == ["inconclusive"] * 4 + ["missed", "inconclusive"]
        assert sla_verdict(marked) == "MISSED"  # the measured false "no interactions"
        assert sla_verdict(marked[:4] + marked[5:]) == "INCONCLUSIVE"


def test_an_operation_of_a_user_class_that_ran_counts_as_run_one_of_a_silent_class_does_not():
    """CI: 4 users for 6 s on a host 96 % busy with other work; the clinician read a report twice
    and never reached read_medications (0 requests in the whole run). Its user class ran: starved,
    inconclusive. A user class that made no request at all stays a miss."""
    from genrep.load.evaluation import operations_that_ran
    ops = {name: OperationStats(name, 2, 0, 7.0, 7.0, 7.0, 7.0, 7.0, 0.4) for name in ("read_report", "send_oru")}
    ops["read_medications"] = OperationStats("read_medications", 0, 0, None, None, None, None, None, 0.0)
    result = LoadResult(profile="steady_day", environment="virtual", users=4, duration_s=6.0, workers=0,
                        operations=ops, exit_code=1, wall_s=8, out_dir=Path("."), stats_path=Path("s.json"),
                        log_path=Path("l.log"), generator=_report([30.0] * 40, pressure=None, host=99.0))
    assert result.inconclusive == HOST_SATURATED
    ran = operations_that_ran(result, CONTRACT)
    clinician = {op.name for op in CONTRACT.operations_of(CONTRACT.operations["read_report"].user)}
    assert "read_medications" in clinician and clinician <= ran
    assert "register_adt" not in ran and "prescribe" not in ran  # their users made no request
    by_op = {}
    for o in evaluate(result, CONTRACT):
        by_op.setdefault(o.operation, set()).add(o.status)
    assert by_op["read_medications"] == {"inconclusive"}
    assert "missed" in by_op["register_adt"]


def test_reports_stored_beyond_those_logged_as_sent_are_no_miss_in_a_stopped_run():
    """A worker SIGKILLed mid-run loses the "sent" notes still queued for the master: the store holds
    more reports than the log says were sent. In a run stopped early that excess is inconclusive,
    never a product miss (exit 1); an AA'd report missing from the store stays one, and in a run that
    ran to its end the excess is a miss as before (something stored reports nobody sent)."""
    def stored_outcome(incomplete, stored):
        result = _result(_ramp_then_steady(steady_ms=5.0), stored=stored, incomplete=incomplete)
        (o,) = [o for o in evaluate(result, CONTRACT) if o.metric == "max_not_stored"]
        return o
    excess = StoredResult(10, 0, 12, 5, [], sent=10)           # 2 stored beyond the 10 logged as sent
    lost_aa = StoredResult(10, 0, 9, 5, [], sent=10)           # 1 answered AA and not stored
    crash = "1 Locust worker(s) stopped mid-run (missing, never back)"
    o = stored_outcome(crash, excess)
    assert o.status == "inconclusive" and "stored beyond the ORUs logged as sent" in o.inconclusive
    assert stored_outcome(crash, lost_aa).status == "missed"
    assert stored_outcome(None, excess).status == "missed"
    assert stored_outcome(None, StoredResult(10, 0, 10, 5, [], sent=10)).status == "met"
