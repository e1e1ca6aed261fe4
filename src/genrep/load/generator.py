"""Is the load generator itself the bottleneck?

A Locust process runs its users on one core (gevent). When that core is saturated, requests queue
inside the generator and the response times it reports are its own, not the system's. So while a
profile runs, ``GeneratorMonitor`` samples the CPU of the Locust process tree (master and workers)
once a second with psutil, and ``GeneratorReport`` says whether the processes were above the
contract's ``generator.max_cpu_percent`` of a core for most of the run. Locust's own warning
("CPU usage above 90%") in its log counts too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import psutil

#: Share of the samples above the limit from which the generator counts as the bottleneck.
BUSY_SHARE = 0.5
_LOCUST_CPU_WARNING = "CPU usage above"


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

    @property
    def bottleneck(self) -> bool:
        return self.samples > 0 and (self.busy_share >= BUSY_SHARE or self.locust_warnings > 0)

    def verdict(self) -> str:
        if self.samples == 0:
            return "load generator CPU not measured (the run was too short)"
        head = ("the load generator WAS the bottleneck: the figures measure it, not the system under test"
                if self.bottleneck else "the load generator was not the bottleneck")
        return (f"{head} (busiest Locust process: mean {self.mean_cpu_percent:.0f} %, max "
                f"{self.max_cpu_percent:.0f} % of a core; above {self.limit_percent:g} % in "
                f"{self.busy_share:.0%} of {self.samples} samples; {self.locust_warnings} Locust CPU "
                f"warning(s); {self.processes} process(es) on {self.cpu_count} cores)")

    def to_dict(self) -> dict:
        return {"bottleneck": self.bottleneck, "samples": self.samples, "processes": self.processes,
                "mean_cpu_percent": round(self.mean_cpu_percent, 1),
                "max_cpu_percent": round(self.max_cpu_percent, 1), "busy_share": round(self.busy_share, 3),
                "limit_percent": self.limit_percent, "locust_warnings": self.locust_warnings,
                "cpu_count": self.cpu_count, "verdict": self.verdict()}


class GeneratorMonitor:
    """Samples the CPU of process ``pid`` and its children every ``interval_s`` in a daemon thread.

    Never raises into the caller: processes that come and go are skipped. ``stop()`` returns
    within about one interval and gives the report."""

    def __init__(self, pid: int, *, limit_percent: float = 90.0, interval_s: float = 1.0):
        self.pid = pid
        self.limit = limit_percent
        self.interval = interval_s
        self._busiest: list[float] = []
        self._max_procs = 0
        self._stop = threading.Event()
        self._procs: dict[int, psutil.Process] = {}
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
        for p in self._tree():
            try:
                p.cpu_percent(None)  # the first call only starts the measurement
            except psutil.Error:
                pass
        while not self._stop.wait(self.interval):
            values = []
            for p in self._tree():
                try:
                    values.append(p.cpu_percent(None))
                except psutil.Error:
                    continue
            if values:
                self._busiest.append(max(values))
                self._max_procs = max(self._max_procs, len(values))

    def stop(self, log_path: Path | None = None) -> GeneratorReport:
        self._stop.set()
        self._thread.join(self.interval + 1.0)
        warnings = 0
        if log_path is not None:
            try:
                warnings = Path(log_path).read_text(encoding="utf-8", errors="replace").count(_LOCUST_CPU_WARNING)
            except OSError:
                pass
        samples = list(self._busiest)
        n = len(samples)
        return GeneratorReport(samples=n, processes=self._max_procs,
                               mean_cpu_percent=sum(samples) / n if n else 0.0,
                               max_cpu_percent=max(samples, default=0.0),
                               busy_share=sum(v > self.limit for v in samples) / n if n else 0.0,
                               limit_percent=self.limit, locust_warnings=warnings,
                               cpu_count=psutil.cpu_count() or 1)
