"""Is the load generator itself the bottleneck, or the machine it runs on?

A Locust process runs its users on one core (gevent). When that core is saturated, requests queue
inside the generator and the response times it reports are its own, not the system's. When the
machine is busy with OTHER work (other jobs, a parallel test run, a noisy neighbour stealing the
virtual machine's CPU), every figure includes waiting for a CPU behind that work. So while a
profile runs, ``GeneratorMonitor`` samples once a second, with psutil: the CPU of each process of
the Locust tree (master and workers), the machine's CPU time (``psutil.cpu_times``, all cores:
busy, idle, steal), the CPU time used by the run's own processes (the Locust tree, the virtual
environment's simulators and their children when the profile is virtual, and the harness process
itself), its load average and, on Linux, the kernel's CPU pressure (``/proc/pressure/cpu``).

``windowed_report`` cuts the samples into windows of the contract's ``generator.window_s`` (5 s)
from the test's start: a window is *generator-bound* when a Locust process's mean CPU over it was
above ``generator.max_cpu_percent`` of a core, *host-saturated* when the machine's **foreign CPU**
was above ``generator.host_max_foreign_cpu_percent`` of its capacity (all cores): busy CPU time
minus the run's own processes' CPU time, plus steal time (the hypervisor gave the CPU to another
guest). The run's own load is not foreign: on 2 cores the go-live morning's Locust and simulators
make the kernel's CPU pressure 30-80 % by themselves, which is the system under test being loaded,
not a busy host; so the pressure is recorded per window as supporting evidence and never alone
makes a window saturated. Where the machine's CPU times cannot be read, the machine's mean total
CPU above ``generator.host_max_cpu_percent`` decides instead. When more than
``generator.max_bound_share`` of the steady phase's windows are bound, the run's timing figures
are *inconclusive* ("generator saturated", or "host saturated"): never met, and never a product
defect. A mean over the whole run hid this (a ramp at 100 % of a core averaged 44 %). Locust's own
warning ("CPU usage above 90%") in its log is counted and shown.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from genrep.load.cpu_sampling import CpuSample, OwnCpu, machine_cpu_times, read_cpu_pressure_us

GENERATOR_SATURATED = "generator saturated"
HOST_SATURATED = "host saturated"
#: the monitor's windows leave more of the steady phase unmeasured than the windowed rule's share:
#: nobody can say whether the figures measure the system (seen under `make test`: the monitor's last window ended 10 s into a
#: 30 s run while the machine was 90 % busy with other work and the wall clock jumped 86 s)
HOST_NOT_MEASURED = "machine not measured in the steady phase"


@dataclass(frozen=True)
class LoadWindow:
    """One window of the run: what the generator and the machine were doing."""
    t: float                     # start, seconds since the test started
    end: float
    generator_cpu: float | None  # the busiest Locust process's mean CPU over the window (% of one core)
    host_cpu: float | None       # the machine's mean total CPU over the window (% of all cores)
    load_avg: float | None       # the 1-minute load average at the window's last sample
    generator_bound: bool
    host_bound: bool
    cpu_pressure: float | None = None  # % of the window some runnable task waited for a CPU (Linux PSI)
    own_cpu: float | None = None       # the run's own processes (Locust, simulators, harness), % of all cores
    foreign_cpu: float | None = None   # busy CPU not the run's, plus steal, % of all cores: what saturates
    steal: float | None = None         # steal time (the hypervisor ran another guest), % of all cores

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else round(v, 1)  # noqa: E731
        return {"from_s": round(self.t, 1), "to_s": round(self.end, 1), "generator_cpu_percent": r(self.generator_cpu),
                "host_cpu_percent": r(self.host_cpu), "own_cpu_percent": r(self.own_cpu),
                "foreign_cpu_percent": r(self.foreign_cpu), "steal_percent": r(self.steal),
                "host_cpu_pressure_percent": r(self.cpu_pressure),
                "load_avg_1m": None if self.load_avg is None else round(self.load_avg, 2),
                "generator_bound": self.generator_bound, "host_saturated": self.host_bound}


#: Share of the samples above the limit from which the generator counts as the bottleneck.
BUSY_SHARE = 0.5
_LOCUST_CPU_WARNING = "CPU usage above"
#: what a Locust master logs, once per worker, when a worker's own CPU report is above 90 %
_LOCUST_WORKER_CPU_WARNING = "exceeded cpu threshold"


@dataclass(frozen=True)
class GeneratorReport:
    samples: int
    processes: int            # most Locust processes seen at once (master + workers)
    mean_cpu_percent: float   # of one core, for the busiest process, averaged over the samples
    max_cpu_percent: float
    busy_share: float         # share of samples where the busiest process was above the limit
    limit_percent: float
    locust_warnings: int      # Locust's own "CPU usage above 90%" warnings in its log
    cpu_count: int
    windows: tuple[LoadWindow, ...] = ()
    window_s: float = 5.0
    host_limit_percent: float = 95.0
    host_foreign_limit_percent: float = 25.0
    max_bound_share: float = 0.5
    steady: tuple[float, float] | None = None  # the steady phase [from, to), seconds since the test started
    worker_warnings: int = 0  # workers the master logged above Locust's CPU threshold (once per worker)
    remote_workers: bool = False  # workers on other machines (--expect-workers): this monitor never samples them

    def steady_windows(self) -> list[LoadWindow]:
        if self.steady is None:
            return list(self.windows)
        lo, hi = self.steady
        return [w for w in self.windows if lo <= (w.t + w.end) / 2 < hi]

    def _share(self, attr: str) -> float:
        ws = self.steady_windows()
        return sum(getattr(w, attr) for w in ws) / len(ws) if ws else 0.0

    @property
    def generator_bound_share(self) -> float:
        """Share of the steady phase's windows where a Locust process was saturated."""
        return self._share("generator_bound")

    @property
    def host_bound_share(self) -> float:
        """Share of the steady phase's windows where the machine was saturated."""
        return self._share("host_bound")

    def _mean(self, attr: str) -> float | None:
        values = [getattr(w, attr) for w in self.steady_windows() if getattr(w, attr) is not None]
        return sum(values) / len(values) if values else None

    @property
    def foreign_cpu_percent(self) -> float | None:
        """The steady phase's mean foreign CPU (% of all cores), None where it was not measured."""
        return self._mean("foreign_cpu")

    @property
    def own_cpu_percent(self) -> float | None:
        """The steady phase's mean CPU of the run's own processes (% of all cores)."""
        return self._mean("own_cpu")

    @property
    def inconclusive(self) -> str | None:
        """"generator saturated" / "host saturated" when more than ``max_bound_share`` of the
        steady phase was; None otherwise (the figures measure the system under test)."""
        if self.steady is not None and not self._steady_measured():
            return HOST_NOT_MEASURED  # "0 % of 0 windows saturated" is not "not saturated"
        if not self.windows:
            return GENERATOR_SATURATED if self._old_rule() else None
        if self.generator_bound_share > self.max_bound_share:
            return GENERATOR_SATURATED
        if self.host_bound_share > self.max_bound_share:
            return HOST_SATURATED
        return None

    def saturated_after(self, at_s: float, end_s: float) -> bool:
        """Whether more than ``max_bound_share`` of the windows from ``at_s`` to ``end_s`` were
        generator-bound or host-saturated; True with none measured there (the run-level rule
        alone then decides)."""
        after = [w for w in self.windows if w.end > at_s and w.t < end_s]
        if not after:
            return True
        return sum(w.generator_bound or w.host_bound for w in after) / len(after) > self.max_bound_share

    def _steady_measured(self) -> bool:
        """Whether the measured windows cover the steady phase but for at most ``max_bound_share`` of
        it (the windowed rule's own share): a monitor that stopped early, or a window touching only
        the phase's edge, leaves the rest judged on nothing. A steady phase shorter than a window that
        one covers was measured, midpoint or not."""
        lo, hi = self.steady if self.steady is not None else (0.0, 0.0)
        if hi <= lo:
            return True
        covered = sum(max(0.0, min(w.end, hi) - max(w.t, lo)) for w in self.windows)
        return covered / (hi - lo) >= 1.0 - self.max_bound_share

    def _old_rule(self) -> bool:
        """Without windows (a report made from the samples alone): busy for most of the run."""
        return self.samples > 0 and (self.busy_share >= BUSY_SHARE or self.locust_warnings > 0)

    @property
    def bottleneck(self) -> bool:
        """The steady phase was mostly generator-bound or host-saturated: its figures are inconclusive."""
        return self.inconclusive is not None

    def bound_windows(self) -> list[tuple[float, float, str]]:
        """(from, to, what) for every bound window, merged where consecutive: for the plot."""
        out: list[list] = []
        for w in self.windows:
            what = GENERATOR_SATURATED if w.generator_bound else HOST_SATURATED if w.host_bound else None
            if what is None:
                continue
            if out and out[-1][2] == what and abs(out[-1][1] - w.t) < 1e-6:
                out[-1][1] = w.end
            else:
                out.append([w.t, w.end, what])
        return [tuple(x) for x in out]

    def verdict(self) -> str:
        if self.inconclusive == HOST_NOT_MEASURED:
            return (f"INCONCLUSIVE: {HOST_NOT_MEASURED}: no sample of the load generator or the machine fell in "
                    f"it ({len(self.windows)} window(s) of {self.window_s:g} s measured, none in the steady "
                    "phase: a stalled or paused machine), so nothing says the figures measure the system "
                    "under test")
        if self.samples == 0:
            return "load generator CPU not measured (the run was too short)"
        if self.windows:
            n = len(self.steady_windows())
            reason = self.inconclusive
            head = (f"INCONCLUSIVE: {reason}: the figures measure the "
                    f"{'load generator' if reason == GENERATOR_SATURATED else 'saturated machine'}, "
                    "not the system under test" if reason else "the load generator and the machine were not saturated")
            fmt = lambda v: "not measured" if v is None else f"{v:.0f} %"  # noqa: E731
            return (f"{head} (steady phase: {self.generator_bound_share:.0%} of {n} windows of {self.window_s:g} s "
                    f"generator-bound, a Locust process above {self.limit_percent:g} % of a core; "
                    f"{self.host_bound_share:.0%} host-saturated, other work than this run's above "
                    f"{self.host_foreign_limit_percent:g} % of the {self.cpu_count} cores (busy CPU minus the "
                    f"run's own processes, plus steal; total CPU above {self.host_limit_percent:g} % where that "
                    f"is not measured); mean foreign CPU {fmt(self.foreign_cpu_percent)}, the run's own "
                    f"{fmt(self.own_cpu_percent)} of all cores; busiest Locust process max "
                    f"{self.max_cpu_percent:.0f} %; "
                    f"{self.locust_warnings} Locust CPU warning(s); {self.processes} process(es)"
                    + (f"; workers on other machines: their own reports above the limit mark their windows, "
                       f"{self.worker_warnings} CPU warning(s) in the master's log)" if self.remote_workers else ")"))
        head = ("the load generator WAS the bottleneck: the figures measure it, not the system under test"
                if self.bottleneck else "the load generator was not the bottleneck")
        return (f"{head} (busiest Locust process: mean {self.mean_cpu_percent:.0f} %, max "
                f"{self.max_cpu_percent:.0f} % of a core; above {self.limit_percent:g} % in "
                f"{self.busy_share:.0%} of {self.samples} samples; {self.locust_warnings} Locust CPU "
                f"warning(s); {self.processes} process(es) on {self.cpu_count} cores)")

    def to_dict(self) -> dict:
        return {"bottleneck": self.bottleneck, "inconclusive": self.inconclusive,
                "samples": self.samples, "processes": self.processes,
                "mean_cpu_percent": round(self.mean_cpu_percent, 1),
                "max_cpu_percent": round(self.max_cpu_percent, 1), "busy_share": round(self.busy_share, 3),
                "limit_percent": self.limit_percent, "host_limit_percent": self.host_limit_percent,
                "host_foreign_limit_percent": self.host_foreign_limit_percent,
                "steady_foreign_cpu_percent": _round(self.foreign_cpu_percent),
                "steady_own_cpu_percent": _round(self.own_cpu_percent),
                "window_s": self.window_s, "max_bound_share": self.max_bound_share,
                "steady_generator_bound_share": round(self.generator_bound_share, 3),
                "steady_host_saturated_share": round(self.host_bound_share, 3),
                "locust_warnings": self.locust_warnings, "worker_warnings": self.worker_warnings,
                "remote_workers": self.remote_workers, "cpu_count": self.cpu_count, "verdict": self.verdict(),
                "windows": [w.to_dict() for w in self.windows]}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def foreign_share(busy_s: float, own_s: float, steal_s: float, capacity_s: float) -> float | None:
    """Foreign CPU as a % of the machine's capacity: busy time that was not the run's own processes'
    (never below 0: the two are read a moment apart), plus steal time; None without capacity."""
    if capacity_s <= 0:
        return None
    return min(100.0, 100.0 * (max(0.0, busy_s - own_s) + max(0.0, steal_s)) / capacity_s)


def windowed_report(samples: list[CpuSample], *, t0_epoch: float, window_s: float, limit_percent: float,
                    host_limit_percent: float, max_bound_share: float, steady: tuple[float, float] | None,
                    end_s: float | None = None, locust_warnings: int = 0, processes: int = 0,
                    host_foreign_limit_percent: float = 25.0, worker_warnings: int = 0,
                    remote_workers: bool = False, remote_bound_s: Iterable[float] = ()) -> GeneratorReport:
    """The samples cut into windows of ``window_s`` from ``t0_epoch`` (the test's start; samples
    before it are the start-up, left out), up to ``end_s`` seconds (the end of the run: the stop
    afterwards is left out too). A window's generator CPU is, per process, the mean of its samples
    in the window, the busiest process's; its host CPU the mean of the machine's; its CPU pressure
    the growth of the kernel's stall total over the window's samples (each against the sample
    before it) as a share of the time they cover; its own and foreign CPU the sums of the window's
    samples' CPU seconds (each since the sample before it) as shares of the machine's capacity.
    Host-saturated: foreign CPU above ``host_foreign_limit_percent``; where it was not measured,
    total CPU above ``host_limit_percent``. The pressure never decides alone (the run's own load
    makes it). ``remote_bound_s``: when (seconds since the test started) a worker on another machine,
    which no sample here measures, reported its own CPU above the limit (``windows.WORKER_CPU_BOUND``):
    the window holding it is generator-bound."""
    if window_s <= 0:
        raise ValueError(f"window_s must be more than 0; got {window_s}")
    samples = sorted(samples, key=lambda s: s.epoch)
    remote_bound = tuple(remote_bound_s)
    pressure: dict[int, tuple[float, float]] = {}  # window -> (stalled us, elapsed us)
    for prev, s in zip(samples, samples[1:]):
        if prev.pressure_us is None or s.pressure_us is None or s.epoch <= prev.epoch:
            continue
        t = s.epoch - t0_epoch
        if t < 0 or (end_s is not None and t >= end_s):
            continue
        k = int(t // window_s)
        stalled, elapsed = pressure.get(k, (0.0, 0.0))
        pressure[k] = (stalled + max(0, s.pressure_us - prev.pressure_us), elapsed + (s.epoch - prev.epoch) * 1e6)
    by_window: dict[int, list[CpuSample]] = {}
    for s in samples:
        t = s.epoch - t0_epoch
        if t < 0 or (end_s is not None and t >= end_s):
            continue
        by_window.setdefault(int(t // window_s), []).append(s)
    windows = []
    for k in sorted(by_window):
        ss = by_window[k]
        stalled, elapsed = pressure.get(k, (0.0, 0.0))
        psi = min(100.0, 100.0 * stalled / elapsed) if elapsed > 0 else None
        timed = [s for s in ss if None not in (s.busy_s, s.steal_s, s.capacity_s, s.own_s)]
        capacity = sum(s.capacity_s for s in timed)
        own = foreign = steal = None
        if capacity > 0:
            busy, own_s, steal_s = (sum(getattr(s, a) for s in timed) for a in ("busy_s", "own_s", "steal_s"))
            foreign = foreign_share(busy, own_s, steal_s, capacity)
            own = min(100.0, 100.0 * own_s / capacity)
            steal = 100.0 * max(0.0, steal_s) / capacity
        per_pid: dict[int, list[float]] = {}
        for s in ss:
            for pid, v in s.per_process.items():
                per_pid.setdefault(pid, []).append(v)
        gen = max((sum(v) / len(v) for v in per_pid.values()), default=None)
        hosts = [s.host for s in ss if s.host is not None]
        host = sum(hosts) / len(hosts) if hosts else None
        loads = [s.load_avg for s in ss if s.load_avg is not None]
        host_bound = (foreign > host_foreign_limit_percent if foreign is not None
                      else host is not None and host > host_limit_percent)
        windows.append(LoadWindow(t=k * window_s, end=(k + 1) * window_s, generator_cpu=gen, host_cpu=host,
                                  load_avg=loads[-1] if loads else None,
                                  generator_bound=(gen is not None and gen > limit_percent)
                                  or any(k * window_s <= t < (k + 1) * window_s for t in remote_bound),
                                  host_bound=host_bound, cpu_pressure=psi, own_cpu=own, foreign_cpu=foreign,
                                  steal=steal))
    busiest = [max(s.per_process.values()) for s in samples if s.per_process]
    n = len(busiest)
    return GeneratorReport(samples=n, processes=processes or max((len(s.per_process) for s in samples), default=0),
                           mean_cpu_percent=sum(busiest) / n if n else 0.0, max_cpu_percent=max(busiest, default=0.0),
                           busy_share=sum(v > limit_percent for v in busiest) / n if n else 0.0,
                           limit_percent=limit_percent, locust_warnings=locust_warnings,
                           cpu_count=psutil.cpu_count() or 1, windows=tuple(windows), window_s=window_s,
                           host_limit_percent=host_limit_percent, max_bound_share=max_bound_share, steady=steady,
                           host_foreign_limit_percent=host_foreign_limit_percent, worker_warnings=worker_warnings,
                           remote_workers=remote_workers)


class GeneratorMonitor:
    """Samples the CPU of process ``pid`` and its children every ``interval_s`` in a daemon thread,
    with the machine's CPU times and the CPU time of the run's own processes (``pid``'s tree, the
    processes ``own_pids()`` names and their trees, this process): what is left is foreign.

    Never raises into the caller: processes that come and go are skipped. ``stop()`` returns
    within about one interval and gives the report."""

    def __init__(self, pid: int, *, limit_percent: float = 90.0, interval_s: float = 1.0,
                 own_pids: Callable[[], Iterable[int]] | None = None):
        self.pid = pid
        self.limit = limit_percent
        self.interval = interval_s
        self._busiest: list[float] = []
        self._max_procs = 0
        self.samples: list[CpuSample] = []  # every sample, for ``windowed_report``
        self._stop = threading.Event()
        self._procs: dict[int, psutil.Process] = {}
        self._own = OwnCpu(pid, own_pids)
        self._thread = threading.Thread(target=self._run, name="genrep-generator-monitor", daemon=True)

    def start(self) -> "GeneratorMonitor":
        self._thread.start()
        return self

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            found = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        procs = []
        for p in found:  # keep the Process objects: cpu_percent() measures since the last call
            procs.append(self._procs.setdefault(p.pid, p))
        return procs

    def _run(self) -> None:
        primed: set[int] = set()
        psutil.cpu_percent(None)  # the first call only starts the measurement (the machine's, too)
        machine = machine_cpu_times()
        try:
            self._own.sample()
        except Exception:  # noqa: BLE001 - never into the caller
            pass
        for p in self._tree():
            try:
                p.cpu_percent(None)
                primed.add(p.pid)
            except psutil.Error:
                pass
        while not self._stop.wait(self.interval):
            values: dict[int, float] = {}
            for p in self._tree():
                try:
                    v = p.cpu_percent(None)
                except psutil.Error:
                    continue
                if p.pid in primed:  # a process's first reading is 0 by definition: not a measurement
                    values[p.pid] = v
                primed.add(p.pid)
            try:
                host = psutil.cpu_percent(None)
            except Exception:  # noqa: BLE001 - never into the caller
                host = None
            try:
                load = os.getloadavg()[0]
            except OSError:
                load = None
            try:
                own = self._own.sample()
            except Exception:  # noqa: BLE001 - never into the caller
                own = None
            now = machine_cpu_times()
            busy = steal = capacity = None
            if machine is not None and now is not None and own is not None:
                busy, steal, capacity = (max(0.0, b - a) for a, b in zip(machine, now))
            machine = now
            self.samples.append(CpuSample(time.time(), values, host, load, read_cpu_pressure_us(),
                                          busy_s=busy, steal_s=steal, capacity_s=capacity, own_s=own))
            if values:
                self._busiest.append(max(values.values()))
                self._max_procs = max(self._max_procs, len(values))

    def stop(self, log_path: Path | None = None) -> GeneratorReport:
        self._stop.set()
        self._thread.join(self.interval + 1.0)
        warnings = worker_warnings = 0
        if log_path is not None:
            try:
                text = Path(log_path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            warnings = text.count(_LOCUST_CPU_WARNING)
            worker_warnings = text.count(_LOCUST_WORKER_CPU_WARNING)
        self.locust_warnings = warnings
        samples = list(self._busiest)
        n = len(samples)
        return GeneratorReport(samples=n, processes=self._max_procs,
                               mean_cpu_percent=sum(samples) / n if n else 0.0,
                               max_cpu_percent=max(samples, default=0.0),
                               busy_share=sum(v > self.limit for v in samples) / n if n else 0.0,
                               limit_percent=self.limit, locust_warnings=warnings,
                               cpu_count=psutil.cpu_count() or 1, worker_warnings=worker_warnings)
