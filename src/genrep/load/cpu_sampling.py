"""What the load generator monitor (``genrep.load.generator``) reads once a second: the machine's
CPU times, the CPU the run's own processes used, the kernel's CPU pressure, and the sample they make.

Its own module because reading the machine (psutil, /proc) is a concern apart from judging windows
of samples (``windowed_report``, ``GeneratorReport``): the judgement is tested on made-up samples, and
these readers against real processes (tests/unit/test_load_host.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

PSI_CPU = Path("/proc/pressure/cpu")


def read_cpu_pressure_us(path: Path = PSI_CPU) -> int | None:
    """The kernel's running total of microseconds in which some runnable task waited for a CPU
    (``some ... total=``), or None where it cannot be read (not Linux, PSI off)."""
    try:
        text = path.read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("some "):
            for part in line.split():
                if part.startswith("total="):
                    try:
                        return int(part[6:])
                    except ValueError:
                        return None
    return None


@dataclass(frozen=True)
class CpuSample:
    epoch: float
    per_process: dict[int, float]   # pid -> % of one core since the previous sample
    host: float | None              # the machine's total CPU, % of all cores
    load_avg: float | None          # 1-minute load average
    pressure_us: int | None = None  # the kernel's CPU pressure total at this sample (read_cpu_pressure_us)
    # since the previous sample, in CPU seconds (None: not measured): the machine's busy time over all
    # cores (user, nice, system, irq, softirq: not idle, iowait or steal), its steal time, its capacity
    # (every core's time, all states), and the CPU time of the run's own processes
    busy_s: float | None = None
    steal_s: float | None = None
    capacity_s: float | None = None
    own_s: float | None = None


#: cpu_times fields that are not busy time (guest time is already inside user and nice on Linux)
_NOT_BUSY = ("idle", "iowait", "steal", "guest", "guest_nice")


def machine_cpu_times() -> tuple[float, float, float] | None:
    """(busy, steal, capacity) CPU seconds since boot over all cores (``psutil.cpu_times``): busy is
    user, nice, system, irq, softirq (not idle, iowait or steal); capacity every state's time. None
    where it cannot be read."""
    try:
        t = psutil.cpu_times()
    except Exception:  # noqa: BLE001 - never into the caller
        return None
    fields = t._asdict()
    capacity = sum(v for k, v in fields.items() if k not in ("guest", "guest_nice"))
    busy = sum(v for k, v in fields.items() if k not in _NOT_BUSY)
    return busy, fields.get("steal", 0.0), capacity


class OwnCpu:
    """The CPU seconds the run's own processes used between two calls: the Locust tree (``root``
    and its children), the processes ``extra()`` names (the virtual environment's simulators) and
    their children, and this process itself (not its children: a test may start other work
    beside the run). A process that started since the last call counts from its start; one seen
    before counts its growth; one that ended in between loses its last part (a slight
    under-count of the run's own CPU, so foreign CPU errs towards saturated, never towards clean)."""

    def __init__(self, root: int, extra: Callable[[], Iterable[int]] | None = None):
        self.root = root
        self.extra = extra
        self._seen: dict[tuple[int, float], float] = {}   # (pid, create time) -> CPU seconds last read
        self._last = time.time()

    def _processes(self) -> list[psutil.Process]:
        roots: list[int] = [self.root]
        if self.extra is not None:
            try:
                roots += [int(pid) for pid in self.extra()]
            except Exception:  # noqa: BLE001 - a simulator restarting: next time
                pass
        found: dict[int, psutil.Process] = {}
        for pid in roots:
            try:
                root = psutil.Process(pid)
                for p in (root, *root.children(recursive=True)):
                    found[p.pid] = p
            except psutil.Error:
                continue
        try:
            found.setdefault(os.getpid(), psutil.Process(os.getpid()))
        except psutil.Error:
            pass
        return list(found.values())

    def sample(self) -> float:
        """CPU seconds used by the run's own processes since the previous call (the first call
        counts since this object was made)."""
        now = time.time()
        used = 0.0
        seen: dict[tuple[int, float], float] = {}
        for p in self._processes():
            try:
                with p.oneshot():
                    key = (p.pid, p.create_time())
                    t = p.cpu_times()
            except psutil.Error:
                continue
            total = t.user + t.system
            seen[key] = total
            if key in self._seen:
                used += max(0.0, total - self._seen[key])
            elif key[1] >= self._last - 0.5:  # started since the last call: all its CPU is in the interval
                used += total
            # else: first seen now but older (the first call): its past is not this interval's
        self._seen = seen
        self._last = now
        return used
