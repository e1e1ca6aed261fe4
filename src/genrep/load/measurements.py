"""What a load run measured, read from the files Locust and the monitor wrote: ``collect_result``
builds the run's ``LoadResult`` (statistics, the ramp and the steady phase, what the SLAs judge
with each fault's window left out, the 5 s windows, the plot), ``fault_results`` puts each
injected fault on the run's time axis with its recovery and counts, ``p95_drift`` the soak's
drift, ``phase_stats`` and ``window_rows`` the phases and the windows of sla.json.

Its own module because reading the figures is apart from running Locust (``load.runner``) and
from judging them (``load.evaluation``): it runs after Locust has stopped and starts nothing.
Split from ``load.runner`` (issue 13), which re-exports every public name here.
"""

from __future__ import annotations

import time
from pathlib import Path

from genrep.load.contract import LoadContract
from genrep.load.fault_plan import FaultEvent
from genrep.load.generator import GeneratorReport, windowed_report
from genrep.load.history import plot_history, read_history, recovery_time
from genrep.load.run_result import FaultResult, LoadResult
from genrep.load.stats import operation_stats, read_stats
from genrep.load.windows import PRESCRIBE_UNANSWERED, WORKER_CPU_BOUND, WindowFigures, journey_started


#: Failures this close to the end of the load (seconds) mean the service had not recovered.
RECOVERY_SETTLE_S = 2.0


def _recovery(samples, fault_at: float | None) -> float | None:
    """Recovery time after the fault, or None when there was no fault, nothing was measured after
    it, or requests were still failing when the load ended (not recovered: never a pass)."""
    if fault_at is None:
        return None
    rec = recovery_time(samples, fault_at)
    loaded = [s.t for s in samples if s.users > 0]
    if rec and loaded and fault_at + rec >= max(loaded) - RECOVERY_SETTLE_S:
        return None
    return rec


def p95_drift(samples) -> tuple[float, float] | None:
    """(mean p95 over the first third, over the last third) of the held load: the samples at the
    peak user count, with a p95 (Locust's windowed percentile, --csv-full-history). None when the
    held part is too short to have thirds."""
    peak = max((s.users for s in samples), default=0)
    held = [s.p95_ms for s in samples if s.users == peak and peak > 0 and s.p95_ms is not None]
    third = len(held) // 3
    if third < 1:
        return None
    return (round(sum(held[:third]) / third, 1), round(sum(held[-third:]) / third, 1))


def collect_result(run, *, profile_name: str, profile, contract: LoadContract, schedule, plans, users: int,
                   duration_s: float, ramp_s: float, workers: int, out_dir: Path, started: float, t0: float,
                   stored, remote_workers: int = 0) -> LoadResult:
    """The run's result from what Locust and the monitor wrote: statistics, phases, faults,
    windows, the plot."""
    entries = read_stats(run.stats_json)
    false_neg = sum(int(e.get("num_failures", 0)) for e in entries if e.get("name") == "false_no_interactions")
    empty = sum(int(e.get("num_failures", 0)) for e in entries if e.get("name") == "empty_medication_list")
    t0_epoch = run.test_started_epoch or run.started_epoch  # the shape's t = 0: phases, faults, plot
    samples = read_history(run.history_csv, t0=t0_epoch)
    figures = WindowFigures.read(run.windows_json, t0_epoch) if run.test_started_epoch and run.windows_json else None
    faults = fault_results(schedule.events if schedule else [], contract, figures, samples, t0_epoch, duration_s)
    judged, ramp, steady, excluded = phase_stats(figures, contract, ramp_s, duration_s, faults,
                                                 names=_measured_names(contract, profile_name))
    gen = contract.generator
    generator = run.generator
    # workers on other machines: the windows in which one said it was above the CPU limit
    remote_bound = (tuple(figures.mid(w) for w in figures.windows(WORKER_CPU_BOUND) if w.count)
                    if remote_workers and figures is not None else ())
    if run.cpu_samples:
        generator = windowed_report(list(run.cpu_samples), t0_epoch=t0_epoch, window_s=gen.window_s,
                                    limit_percent=gen.max_cpu_percent, host_limit_percent=gen.host_max_cpu_percent,
                                    max_bound_share=gen.max_bound_share, steady=(ramp_s, duration_s),
                                    host_foreign_limit_percent=gen.host_max_foreign_cpu_percent,
                                    end_s=duration_s,
                                    locust_warnings=run.generator.locust_warnings if run.generator else 0,
                                    processes=run.generator.processes if run.generator else 0,
                                    worker_warnings=run.generator.worker_warnings if run.generator else 0,
                                    remote_workers=remote_workers > 0, remote_bound_s=remote_bound)
    elif generator is not None and remote_workers:
        from dataclasses import replace
        generator = replace(generator, remote_workers=True)
    events = [(f.at_s, f.plan.describe()) for f in faults]
    events += [(f.back_s, f"{f.plan.target} back") for f in faults if f.back_s - f.at_s >= 0.5]
    plot = plot_history(samples, out_dir / "load.png",
                        title=f"genrep load {profile_name}: {users} users, {duration_s:g} s ({profile.name})",
                        events=events, phases=[(ramp_s, "steady phase")] if 0 < ramp_s < duration_s else [],
                        bound=generator.bound_windows() if generator is not None else [],
                        series=journey_series(figures, contract, profile_name, duration_s, gen.window_s))
    first = faults[0] if faults else None
    return LoadResult(profile=profile_name, environment=profile.name, users=users, duration_s=duration_s,
                      workers=workers,
                      operations=operation_stats(entries, _measured_names(contract, profile_name)),
                      exit_code=run.code, wall_s=time.monotonic() - t0, out_dir=out_dir,
                      stats_path=run.stats_json, log_path=run.log_path, started=started,
                      false_no_interactions=false_neg, fault="; ".join(p.describe() for p in plans),
                      fault_at_s=first.at_s if first else None, recovery_s=first.recovery_s if first else None,
                      stored=stored, generator=generator, plot_path=plot, history_path=run.history_csv,
                      drift=p95_drift(samples), ramp_s=ramp_s, judged=judged, ramp=ramp, steady=steady,
                      excluded=excluded, faults=faults, windows=window_rows(generator, figures, contract, ramp_s),
                      empty_lists=empty,
                      journeys_started=frozenset(j.name for j in contract.journeys_for(profile_name)
                                                 if figures is not None and figures.count(journey_started(j.name))[0]))


def fault_results(events: list[FaultEvent], contract: LoadContract, figures: WindowFigures | None, samples,
                  t0_epoch: float, duration_s: float) -> list[FaultResult]:
    """Each injected fault on the run's time axis, with its recovery and the counts its objectives
    need (from the per-window figures; without them, the recovery from Locust's history)."""
    from genrep.config.contracts import load_multum
    out = []
    for event in events:
        plan = event.plan
        objectives = contract.objectives_for(plan)
        at, back = event.injected - t0_epoch, event.back() - t0_epoch
        allowance = (objectives.max_recovery_s if objectives.max_recovery_s is not None
                     else load_multum().max_failover_seconds)  # left out when it never recovered
        counts: dict[str, int] = {}
        if figures is not None:
            w = figures.window_s
            within = lambda t: t < duration_s  # noqa: E731 - the stop after the run is not the run
            after = lambda t: at - w / 2 < t < duration_s  # noqa: E731 - windows from the fault's own on
            ops = objectives.operations
            last = max([e for e in (_last_failure(figures, op, at, duration_s) for op in ops) if e is not None],
                       default=None)
            loaded = figures.last_request_end()
            end = min(duration_s, loaded) if loaded is not None else duration_s
            if loaded is None or loaded <= at:
                recovery = None  # nothing measured after the fault
            elif last is not None and last >= end - RECOVERY_SETTLE_S:
                recovery = None  # still failing when the load ended: not recovered
            else:
                recovery = 0.0 if last is None else max(0.0, last - back)
                # "recovered in time" needs an answer seen in time: an affected operation's request
                # that succeeded after the last failure (or the fault) and by the end of the allowance
                # (to the window: one window's grace). Without one nobody was looking (a short or
                # starved run): not measured, never 0 s. A recovery measured beyond the allowance
                # stays a miss.
                seen_by = back + allowance + w
                if recovery <= allowance and not _answer_seen(figures, ops, max(at, last or at), seen_by):
                    recovery = None
                    counts["recovery_unobserved"] = 1
            if plan.group == "multum":
                checks, failed = figures.count("prescribe", after)
                if checks:  # no check made after the kill: "0 failed" would be a pass nothing measured
                    counts["failed_checks"] = failed
                    # of those, the ones the client gave up waiting for (a starved generator's doing
                    # on a saturated machine)
                    counts["failed_checks_unanswered"] = figures.count(PRESCRIBE_UNANSWERED, after)[0]
                counts["checks_after"] = checks
            if plan.group == "nll":
                outage = lambda t: at - w / 2 < t < back + w  # noqa: E731
                counts["unavailable_answers"] = figures.count("medications_unavailable", outage)[0]
                counts["reads_during_outage"] = figures.count("read_medications", outage)[0]
                counts["empty_lists"] = figures.count("empty_medication_list", within)[1]
            if plan.group == "radiology-listener":
                counts["failed_sends_after"] = sum(figures.count(op, after)[1] for op in ops)
        else:  # no per-window figures: any operation's failures in Locust's history
            recovery = _recovery(samples, at)
            if recovery is not None:
                recovery = max(0.0, recovery - (back - at))
        # the affected operations' SLAs leave out the fault and its recovery (as measured; the whole
        # allowance when it did not recover): after that, they must meet their SLAs again
        out.append(FaultResult(plan, at, back, recovery, (at, back + (allowance if recovery is None else recovery)),
                               counts))
    return out


def _answer_seen(figures: WindowFigures, ops, since: float, by: float) -> bool:
    """Whether a request of ``ops`` succeeded in a window that overlaps (``since``, ``by``)."""
    w = figures.window_s
    return any(win.count > win.failures for op in ops for win in figures.windows(op)
               if win.t < by and win.t + w > since)


def _last_failure(figures: WindowFigures, op: str, at: float, end: float) -> float | None:
    """The end of the last window, from the fault on and before ``end``, in which ``op`` failed."""
    ends = [w.t + figures.window_s for w in figures.windows(op, lambda t: t < end)
            if w.failures and w.t + figures.window_s > at]
    return max(ends, default=None)


def journey_series(figures: WindowFigures | None, contract: LoadContract, profile: str, duration_s: float,
                   window_s: float) -> list[tuple[str, list[tuple[float, float]]]]:
    """For the plot, next to the operations' p50/p95: each journey's p95 per window (its middle)."""
    if figures is None:
        return []
    out = []
    for j in contract.journeys_for(profile):
        points = []
        t = 0.0
        while t < duration_s:
            agg = figures.aggregate([j.name], t, t + window_s)
            if agg.p95_ms is not None:
                points.append((t + window_s / 2, agg.p95_ms))
            t += window_s
        out.append((f"journey {j.name} p95", points))
    return out


def _measured_names(contract: LoadContract, profile: str) -> list[str]:
    """What a profile's SLAs judge: every operation, and the journeys it runs."""
    return [*contract.operations, *(j.name for j in contract.journeys_for(profile))]


def phase_stats(figures: WindowFigures | None, contract: LoadContract, ramp_s: float, duration_s: float,
                faults: list[FaultResult], names=None):
    """(judged, ramp, steady, left out) per operation: the ramp [0, ramp_s), the steady phase
    [ramp_s, duration_s), and what the SLAs judge: the steady phase, each operation without the
    windows of the faults that affect it (their own requirements judge those). All None without
    per-window figures (the whole run is judged then)."""
    if figures is None:
        return None, None, None, []
    ops = list(contract.operations) if names is None else list(names)
    ramp = {n: figures.stats(n, lambda t: 0 <= t < ramp_s, span_s=ramp_s) for n in ops} if ramp_s > 0 else None
    steady_keep = lambda t: ramp_s <= t < duration_s  # noqa: E731
    steady = {n: figures.stats(n, steady_keep, span_s=duration_s - ramp_s) for n in ops}
    excluded: list[tuple[str, float, float, str]] = []
    judged = {}
    for n in ops:
        cut = [(f.left_out[0], min(f.left_out[1], duration_s), f"{f.plan.describe()} ({f.plan.requirement or 'no requirement'})")
               for f in faults if n in contract.objectives_for(f.plan).operations]
        excluded += [(n, a, b, why) for a, b, why in cut]
        if not cut:
            judged[n] = steady[n]
            continue
        keep = lambda t, cut=cut: steady_keep(t) and not any(a - figures.window_s / 2 < t < b + figures.window_s / 2
                                                             for a, b, _ in cut)
        left = sum(max(0.0, min(b, duration_s) - max(a, ramp_s)) for a, b, _ in cut)
        judged[n] = figures.stats(n, keep, span_s=max(duration_s - ramp_s - left, 0.0) or None)
    return judged, ramp, steady, excluded


def window_rows(generator: GeneratorReport | None, figures: WindowFigures | None, contract: LoadContract,
                ramp_s: float) -> list[dict]:
    """sla.json's windows: per generator window (5 s), its figures (every operation together),
    whether the generator or the machine was saturated (then its figures measure that), its phase."""
    if generator is None or not generator.windows:
        return []
    rows = []
    for w in generator.windows:
        row = {"phase": "ramp" if (w.t + w.end) / 2 < ramp_s else "steady", **w.to_dict()}
        if figures is not None:
            agg = figures.aggregate(contract.operations, w.t, w.end)
            row.update({"requests": agg.requests, "failures": agg.failures, "p50_ms": agg.p50_ms,
                        "p95_ms": agg.p95_ms, "rps": round(agg.rps, 1)})
        rows.append(row)
    return rows
