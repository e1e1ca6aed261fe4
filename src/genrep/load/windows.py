"""A load run's figures per window of time, so that any part of the run can be judged after it.

Locust's JSON statistics are whole-run only, and its history's percentiles are rolling ~10 s windows
that cannot be added up: neither can be cut exactly into the ramp and the steady phase, into the
time outside a fault, or into the windows where the generator was saturated. So the Locust users
(``load/users.py``) also put every request into a ``WindowRecorder``: per operation and per window
(``window_s``, 1 s by default) of the request's *start*, the count, the failures, the total and
maximum response time and a histogram bucketed the way Locust buckets its own (whole ms below
100 ms, 10 ms below 1 s, 100 ms below 10 s, whole seconds above), so percentiles computed here agree
with Locust's own tables.

On a distributed run each worker drains its recorder into its regular report to the master (every
3 s and once at the end: Locust's ``report_to_master`` / ``worker_report`` events), the master
merges, and the master (or the one local process) writes ``windows.json`` when it quits. Notes
(``note``) are counts that are not requests: an "NLL unavailable" answer, for instance.

``WindowFigures`` is the runner's side: read the file, then ask for an operation's
``OperationStats`` over any set of seconds of the run (``keep(t)``, t in seconds since the test
started). This module never imports Locust.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from genrep.errors import GenrepError
from genrep.load.stats import OperationStats, percentile

WINDOWS_FILE = "windows.json"
STARTED_FILE = "started.json"  # the master's test-start epoch: t = 0 of the shape, the faults, the phases
FORMAT = 1
#: a note per prescription the client gave up waiting for (``workload.unanswered_in_time``): the
#: failed checks after a Multum kill that a starved generator may have made
PRESCRIBE_UNANSWERED = "prescribe_unanswered"
#: a note a Locust worker makes with each report to its master while its own CPU (Locust's
#: ``current_cpu_usage``) is above the contract's generator limit: for workers on other machines,
#: which the runner's monitor never samples, the windows in which the generator was bound
WORKER_CPU_BOUND = "generator_worker_cpu_bound"


def journey_started(journey: str) -> str:
    """The note a journey user makes when it starts one (``load/users.py`` JourneyUser): a journey
    that started but never completed ran, and on a saturated machine its missing figures are the
    machine's (``evaluation.operations_that_ran``)."""
    return f"{journey} started"


def bucket(ms: float) -> int:
    """Locust's rounding of a response time for its histogram (``StatsEntry._log_response_time``)."""
    if ms < 100:
        return int(round(ms))
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


def window_for(duration_s: float) -> float:
    """The recorder's window for a run of ``duration_s``: 1 s, coarser for runs over an hour (at most
    ~3,600 windows per operation)."""
    return 1.0 if duration_s <= 3600 else float(math.ceil(duration_s / 3600))


class WindowRecorder:
    """Per (name, window) figures, recorded in a Locust process (one greenlet at a time: no lock)."""

    def __init__(self, window_s: float = 1.0):
        if not window_s > 0:
            raise ValueError(f"window_s must be more than 0; got {window_s}")
        self.window_s = float(window_s)
        # (name, window) -> [count, failures, total_ms, max_ms, {bucket: count}]
        self._data: dict[tuple[str, int], list] = {}

    def request(self, name: str, end_epoch: float, response_ms: float | None, failed: bool) -> None:
        """One request that ended at ``end_epoch`` after ``response_ms``: counted in the window it started in."""
        ms = float(response_ms or 0.0)
        key = (name, int((end_epoch - ms / 1000.0) // self.window_s))
        entry = self._data.get(key)
        if entry is None:
            entry = self._data[key] = [0, 0, 0.0, 0.0, {}]
        entry[0] += 1
        if failed:
            entry[1] += 1
        entry[2] += ms
        if ms > entry[3]:
            entry[3] = ms
        b = round(ms) if ms < 100 else bucket(ms)  # bucket's first rule inline: most requests
        hist = entry[4]
        hist[b] = hist.get(b, 0) + 1

    def note(self, name: str, epoch: float, failed: bool = False) -> None:
        """A count that is not a request (no response time): e.g. an "NLL unavailable" answer."""
        key = (name, int(epoch // self.window_s))
        entry = self._data.get(key)
        if entry is None:
            entry = self._data[key] = [0, 0, 0.0, 0.0, {}]
        entry[0] += 1
        if failed:
            entry[1] += 1

    def drain(self) -> dict:
        """Everything recorded so far as a JSON-able dict, and forget it (a worker's report)."""
        data = self.to_dict()
        self._data = {}
        return data

    def to_dict(self) -> dict:
        return {"format": FORMAT, "window_s": self.window_s,
                "entries": [[name, w, e[0], e[1], round(e[2], 3), round(e[3], 3), {str(k): v for k, v in e[4].items()}]
                            for (name, w), e in self._data.items()]}

    def merge(self, data: dict | None) -> None:
        """Add another recorder's ``to_dict``/``drain`` (a worker's report) to this one."""
        if not data:
            return
        if float(data.get("window_s", self.window_s)) != self.window_s:
            raise GenrepError(f"window figures of {data.get('window_s')} s cannot be merged into {self.window_s} s")
        for name, w, count, failures, total, mx, hist in data.get("entries", []):
            entry = self._data.get((name, int(w)))
            if entry is None:
                entry = self._data[(name, int(w))] = [0, 0, 0.0, 0.0, {}]
            entry[0] += int(count)
            entry[1] += int(failures)
            entry[2] += float(total)
            entry[3] = max(entry[3], float(mx))
            for k, v in hist.items():
                k = int(float(k))
                entry[4][k] = entry[4].get(k, 0) + int(v)

    def dump(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        tmp.replace(path)  # never a half-written file for the runner to read
        return path


@dataclass(frozen=True)
class Window:
    """One window of one name: t is seconds since the test started, of the window's start."""
    t: float
    count: int
    failures: int
    total_ms: float
    max_ms: float
    hist: dict[int, int]


class WindowFigures:
    """The runner's view of ``windows.json``: per name, the windows on the run's time axis."""

    def __init__(self, data: dict, t0_epoch: float):
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), list):
            raise GenrepError("not genrep window figures (format 1 with entries)")
        self.window_s = float(data["window_s"])
        self.t0 = float(t0_epoch)
        self.by_name: dict[str, list[Window]] = {}
        for name, w, count, failures, total, mx, hist in data["entries"]:
            t = int(w) * self.window_s - self.t0
            self.by_name.setdefault(str(name), []).append(
                Window(t, int(count), int(failures), float(total), float(mx), {int(float(k)): int(v) for k, v in hist.items()}))
        for windows in self.by_name.values():
            windows.sort(key=lambda w: w.t)

    @classmethod
    def read(cls, path: str | Path, t0_epoch: float) -> "WindowFigures | None":
        """The figures in ``path``; None when there is no such file (Locust wrote none)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise GenrepError(f"{path}: not readable window figures ({exc})") from None
        try:
            return cls(data, t0_epoch)
        except (GenrepError, TypeError, ValueError, KeyError) as exc:
            raise GenrepError(f"{path}: {exc}") from None

    def mid(self, w: Window) -> float:
        """The middle of a window, in seconds since the test started (what ``keep`` is asked about)."""
        return w.t + self.window_s / 2

    def windows(self, name: str, keep: Callable[[float], bool] | None = None) -> list[Window]:
        return [w for w in self.by_name.get(name, []) if keep is None or keep(self.mid(w))]

    def stats(self, name: str, keep: Callable[[float], bool] | None = None,
              span_s: float | None = None) -> OperationStats:
        """``name``'s figures over the windows whose middle ``keep`` accepts (all: None). ``rps``
        over ``span_s`` seconds (the length of the part of the run asked about), else over the
        windows that had requests."""
        ws = self.windows(name, keep)
        hist: dict[int, int] = {}
        count = failures = 0
        total = 0.0
        mx: float | None = None
        for w in ws:
            count += w.count
            failures += w.failures
            total += w.total_ms
            if w.count:
                mx = w.max_ms if mx is None else max(mx, w.max_ms)
            for k, v in w.hist.items():
                hist[k] = hist.get(k, 0) + v
        span = span_s if span_s else len([w for w in ws if w.count]) * self.window_s
        return OperationStats(name=name, requests=count, failures=failures,
                              p50_ms=percentile(hist, 0.50), p95_ms=percentile(hist, 0.95),
                              p99_ms=percentile(hist, 0.99), max_ms=mx if count else None,
                              avg_ms=(total / count) if count else None,
                              rps=(count / span) if span else 0.0)

    def count(self, name: str, keep: Callable[[float], bool] | None = None) -> tuple[int, int]:
        """(count, failures) of ``name`` over the kept windows (a note or a request)."""
        ws = self.windows(name, keep)
        return sum(w.count for w in ws), sum(w.failures for w in ws)

    def last_failure_end(self, names: Iterable[str], after_s: float) -> float | None:
        """The end (seconds since the test started) of the last window, starting at or after
        ``after_s`` minus one window, in which a request of ``names`` failed; None when none did."""
        ends = [w.t + self.window_s for n in names for w in self.by_name.get(n, [])
                if w.failures and w.t + self.window_s > after_s]
        return max(ends, default=None)

    def last_request_end(self, names: Iterable[str] | None = None) -> float | None:
        names = self.by_name if names is None else names
        ends = [w.t + self.window_s for n in names for w in self.by_name.get(n, []) if w.count]
        return max(ends, default=None)

    def aggregate(self, names: Iterable[str], start_s: float, end_s: float) -> OperationStats:
        """Every request of ``names`` (together) in windows whose middle is in [start_s, end_s)."""
        merged: dict[int, int] = {}
        count = failures = 0
        total = 0.0
        mx: float | None = None
        for n in names:
            for w in self.windows(n, lambda t: start_s <= t < end_s):
                count += w.count
                failures += w.failures
                total += w.total_ms
                if w.count:
                    mx = w.max_ms if mx is None else max(mx, w.max_ms)
                for k, v in w.hist.items():
                    merged[k] = merged.get(k, 0) + v
        span = max(end_s - start_s, 0.0)
        return OperationStats(name="all", requests=count, failures=failures, p50_ms=percentile(merged, 0.5),
                              p95_ms=percentile(merged, 0.95), p99_ms=percentile(merged, 0.99),
                              max_ms=mx if count else None, avg_ms=(total / count) if count else None,
                              rps=(count / span) if span else 0.0)
