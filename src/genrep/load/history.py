"""Locust's stats history (``<base>_stats_history.csv``): live progress lines and a PNG of the run.

What Locust 2.47 writes (verified with real headless runs; ``locust/stats.py``,
``StatsCSVFileWriter``):

* ``--csv BASE`` alone is enough: the history file is always written, ``--csv-full-history`` only
  adds rows; ``--only-summary`` changes the console only, not the CSV files.
* Columns: ``Timestamp`` (whole epoch seconds, ``int(time.time())``), ``User Count``, ``Type``,
  ``Name``, ``Requests/s``, ``Failures/s``, ``50%`` ``66%`` ``75%`` ``80%`` ``90%`` ``95%`` ``98%``
  ``99%`` ``99.9%`` ``99.99%`` ``100%``, ``Total Request Count``, ``Total Failure Count``,
  ``Total Median Response Time``, ``Total Average Response Time``, ``Total Min Response Time``,
  ``Total Max Response Time``, ``Total Average Content Size``. Rows end in CRLF.
* One row per second (``CSV_STATS_INTERVAL_SEC = 1``), from Locust's start (first rows: 0 users,
  percentiles ``N/A``) to its stop; the file is flushed only every 5 s
  (``CSV_STATS_FLUSH_INTERVAL_SEC``), so a reader sees rows in bursts and may see half a row.
* Without ``--csv-full-history`` there is one row per second, ``Type`` empty and ``Name``
  ``Aggregated``, and its percentiles are *cumulative since the start*. With it, every
  (type, name) entry gets a row too, and all percentiles (the Aggregated row's included) are over
  the *last ~10 s* (0 while that window is still empty) - only then does a p95 curve show a
  spike. Either way ``Requests/s`` and ``Failures/s`` are averages over a window of about 10 s
  ending 2 s before the row (they lag and smooth: after the last failure ``Failures/s`` stays
  above 0 for another ~10 s), while ``Total Request Count`` / ``Total Failure Count`` are exact
  running totals.
* With ``--processes N`` only the master writes the file (the workers' ``--csv`` is dropped); rows
  are still written every second, but the numbers change only when the workers report, every
  3 s (``WORKER_REPORT_INTERVAL``).

This module never imports Locust; matplotlib is imported by ``plot_history`` only.
"""

from __future__ import annotations

import csv
import io
import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from genrep.errors import GenrepError

HISTORY_SUFFIX = "_stats_history.csv"
REQUIRED_COLUMNS = ("Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", "50%", "95%",
                    "Total Request Count", "Total Failure Count")
_NA = ("", "N/A")
_CHUNK = 1 << 20          # the reporter reads at most this much per read
_MAX_PARTIAL = 1 << 16    # a "row" longer than this without a newline is not Locust's: dropped


@dataclass(frozen=True)
class Sample:
    """One "Aggregated" row of the history."""
    t: float                 # seconds since the first row (or since ``t0``, see read_history)
    users: int
    rps: float               # Locust's Requests/s: a ~10 s window average, see the module docstring
    failures_per_s: float    # Locust's Failures/s: same window
    p50_ms: float | None     # None: no request yet (N/A), or an empty current window
    p95_ms: float | None
    total_requests: int      # running totals since the start (exact)
    total_failures: int


def history_path(stats_base: str | Path) -> Path:
    """The history file Locust writes for ``--csv stats_base``."""
    return Path(str(stats_base) + HISTORY_SUFFIX)


class _Parser:
    """Turns the header and the rows of a history file into Samples."""

    def __init__(self, header: list[str], path: Path, t0: float | None):
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise GenrepError(f"{path}: not a Locust stats history file (header lacks "
                              f"{', '.join(missing)}; header: {','.join(header)[:200]!r})")
        self.path = path
        self.col = {name: i for i, name in enumerate(header)}
        self.width = len(header)
        self.percentile_cols = [i for i, name in enumerate(header) if name.endswith("%")]
        self.t0 = t0

    def sample(self, row: list[str], line: int) -> Sample | None:
        """The Sample of an Aggregated row; None for any other row. Raises GenrepError on a row
        that is not Locust's."""
        if len(row) != self.width:
            raise GenrepError(f"{self.path}:{line}: {len(row)} fields, the header has {self.width}")
        c = self.col
        if row[c["Name"]] != "Aggregated" or row[c["Type"]] != "":
            return None
        try:
            ts = float(row[c["Timestamp"]])
            if self.t0 is None:
                self.t0 = ts
            p50, p95 = (self._opt(row[c[k]]) for k in ("50%", "95%"))
            if p50 is not None and all(self._opt(row[i]) == 0 for i in self.percentile_cols):
                p50 = p95 = None  # --csv-full-history: Locust writes 0s while its window is empty
            return Sample(t=ts - self.t0, users=self._int(row[c["User Count"]]),
                          rps=self._num(row[c["Requests/s"]]), failures_per_s=self._num(row[c["Failures/s"]]),
                          p50_ms=p50, p95_ms=p95, total_requests=self._int(row[c["Total Request Count"]]),
                          total_failures=self._int(row[c["Total Failure Count"]]))
        except ValueError as exc:
            raise GenrepError(f"{self.path}:{line}: not a Locust stats history row ({exc})") from None

    @staticmethod
    def _opt(value: str) -> float | None:
        value = value.strip()
        if value in _NA:
            return None
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"not a finite number: {value!r}")
        return x

    @classmethod
    def _num(cls, value: str) -> float:
        x = cls._opt(value)
        return 0.0 if x is None else x

    @classmethod
    def _int(cls, value: str) -> int:
        return int(cls._num(value))


def _is_header_start(text: str) -> bool:
    """Whether an incomplete first line can still become Locust's header."""
    return text.startswith("Timestamp,") or "Timestamp,".startswith(text)


def _complete_part(text: str) -> str:
    """``text`` up to its last line break (the last line may still be being written)."""
    return text[:max(text.rfind("\n"), text.rfind("\r")) + 1]


def read_history(path: str | Path, *, t0: float | None = None) -> list[Sample]:
    """The Aggregated rows of a Locust stats history file, oldest first.

    ``t`` is in seconds since the first Aggregated row, or, with ``t0`` (epoch seconds, e.g. when
    the runner started Locust or its fault timer), since ``t0`` - so that ``t`` lines up with
    ``recovery_time``'s ``fault_at_s``. Timestamps are whole seconds.

    A missing or empty file gives []; a last line without its line break (Locust is still
    writing) is skipped; ``N/A`` gives None for a percentile and 0 elsewhere. A file that is not
    a Locust history (wrong header, a row that does not fit it) raises GenrepError naming it.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise GenrepError(f"{path}: cannot read the Locust stats history ({exc.strerror or exc})") from None
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        return []
    complete = _complete_part(text)
    if not complete.strip():  # not even the header is complete yet
        if _is_header_start(text.lstrip("\ufeff")):
            return []
        raise GenrepError(f"{path}: not a Locust stats history file (starts {text[:60]!r})")
    rows = csv.reader(io.StringIO(complete, newline=""))
    parser = _Parser(next(rows), path, t0)
    out = []
    for row in rows:
        if not row:
            continue
        sample = parser.sample(row, rows.line_num)
        if sample is not None:
            out.append(sample)
    return out


def progress_line(sample: Sample, duration_s: float | None = None) -> str:
    """One progress line, e.g.
    ``"  35s/120s  users 1200  req/s 340.2  failures 0 (0.0 %)  p95 45 ms"``.
    The failures are the running total and its share of all requests so far; p95 is Locust's
    (cumulative, or over the last ~10 s with --csv-full-history); ``-`` when there is none."""
    # the first row can be stamped a fraction of a second before t0 (whole-second timestamps): not "-0s"
    elapsed = f"{max(0.0, sample.t):4.0f}s" + (f"/{duration_s:.0f}s" if duration_s is not None else "")
    share = 100.0 * sample.total_failures / sample.total_requests if sample.total_requests else 0.0
    p95 = "-" if sample.p95_ms is None else f"{sample.p95_ms:.0f} ms"
    return (f"{elapsed}  users {sample.users}  req/s {sample.rps:.1f}  "
            f"failures {sample.total_failures} ({share:.1f} %)  p95 {p95}")


class ProgressReporter:
    """Echoes a progress line for the newest history row every ``interval_s`` while Locust runs.

    A daemon thread tails the file (only the bytes added since the last look are read, in chunks
    of at most 1 MiB, so memory and work stay bounded however long the run), and calls
    ``echo(progress_line(newest))`` when a new Aggregated row has arrived. Nothing it meets - a
    missing, unreadable or foreign file, a failing ``echo`` - reaches the caller: such a look is
    skipped (a foreign header ends the reporting; ``error`` says why). A file that shrinks (a new
    run rewrote it) is read again from the start. ``stop()`` returns within about a second.

        with ProgressReporter(history_path(out / "stats"), echo=print, duration_s=120):
            run_locust(...)
    """

    def __init__(self, path: str | Path, *, echo: Callable[[str], object] = print, interval_s: float = 5.0,
                 duration_s: float | None = None, t0: float | None = None):
        if interval_s <= 0:
            raise ValueError(f"interval_s must be more than 0; got {interval_s}")
        self.path = Path(path)
        self.echo = echo
        self.interval_s = float(interval_s)
        self.duration_s = duration_s
        self.t0 = t0
        self.last: Sample | None = None
        self.lines_echoed = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reset()

    def _reset(self) -> None:
        self._offset = 0
        self._partial = b""
        self._parser: _Parser | None = None
        self._line = 0

    def start(self) -> ProgressReporter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="genrep-load-progress", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def __enter__(self) -> ProgressReporter:
        return self.start()

    def __exit__(self, *exc) -> bool:
        self.stop()
        return False

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s) and self.error is None:
            try:
                newest = self.poll()
            except Exception:  # never into the caller; the next look tries again
                continue
            if newest is not None and not self._stop.is_set():
                try:
                    self.echo(progress_line(newest, self.duration_s))
                    self.lines_echoed += 1
                except Exception:
                    pass

    def poll(self) -> Sample | None:
        """Reads what was appended since the last poll; the newest new Aggregated row, if any.
        Rows that do not parse are skipped; a foreign header sets ``error`` (no more reading)."""
        if self.error is not None:
            return None
        try:
            f = open(self.path, "rb")
        except OSError:
            return None
        newest = None
        with f:
            try:
                size = os.fstat(f.fileno()).st_size
            except OSError:
                return None
            if size < self._offset:
                self._reset()
            f.seek(self._offset)
            while not self._stop.is_set():
                chunk = f.read(_CHUNK)
                if not chunk:
                    break
                self._offset += len(chunk)
                newest = self._feed(chunk) or newest
                if len(chunk) < _CHUNK:
                    break
        if newest is not None:
            self.last = newest
        return newest

    def _feed(self, chunk: bytes) -> Sample | None:
        if self.error is not None:
            return None
        data = self._partial + chunk
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if cut < 0:
            self._partial = data if len(data) <= _MAX_PARTIAL else b""
            return None
        self._partial = data[cut + 1:]
        if len(self._partial) > _MAX_PARTIAL:
            self._partial = b""
        newest = None
        for row in csv.reader(io.StringIO(data[:cut + 1].decode("utf-8", errors="replace"), newline="")):
            if not row:
                continue
            self._line += 1
            if self._parser is None:
                try:
                    self._parser = _Parser(row, self.path, self.t0)
                except GenrepError as exc:
                    self.error = str(exc)
                    return None
                continue
            try:
                newest = self._parser.sample(row, self._line) or newest
            except GenrepError:
                continue
        return newest


def recovery_time(samples: Sequence[Sample], fault_at_s: float) -> float | None:
    """Seconds from the fault until the end of the last history interval, after the fault, in
    which a request failed; 0.0 when none failed after the fault; None when there is no sample
    after the fault (nothing was measured).

    An interval (previous row, row] had failures when ``total_failures`` grew across it (the
    exact running total - not Locust's ``Failures/s``, which is a ~10 s window average lagging
    2 s and would add about 10 s to every recovery). The row before the first is taken as 0
    failures; a total that falls (statistics reset) counts as that many new failures.

    Resolution: the history interval - 1 s (Locust writes a row a second and its timestamps are
    whole seconds), 3 s with ``--processes`` (the workers report every 3 s). The result can be up
    to one interval late, and failures in the interval that spans the fault count as after it.
    ``fault_at_s`` must be on the samples' time axis (see ``read_history``'s ``t0``).
    """
    prev_total = 0
    seen_after = False
    last_end: float | None = None
    for s in sorted(samples, key=lambda s: s.t):
        new = s.total_failures - prev_total if s.total_failures >= prev_total else s.total_failures
        prev_total = s.total_failures
        if s.t <= fault_at_s:
            continue
        seen_after = True
        if new > 0:
            last_end = s.t
    if not seen_after:
        return None
    return 0.0 if last_end is None else last_end - fault_at_s


def plot_history(samples: Sequence[Sample], png_path: str | Path, *, title: str,
                 events: Iterable[tuple[float, str]] = (), phases: Iterable[tuple[float, str]] = (),
                 bound: Iterable[tuple[float, float, str]] = (),
                 series: Iterable[tuple[str, Sequence[tuple[float, float]]]] = ()) -> Path:
    """A 1000 x 600 px PNG (10 x 6 in at 100 dpi) of the run: top, p50 and p95 response time (ms);
    bottom, users (left axis) and requests/s and failures/s (right axis); x in seconds, shared.
    Each event (t, label) is a dashed vertical line with its label on both panels; each phase
    (t, label) a dotted line where the phase starts (the steady phase after the ramp); each bound
    window (from, to, what) a shaded span on both panels: red where the generator was saturated,
    grey where the machine was (those figures measure that, not the system); each series (label,
    [(t, ms)]) one more line on the response-time panel (a journey's end-to-end time next to the
    operations'). No samples: the same panels saying "no data". Returns the path written."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import blended_transform_factory

    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    events = [(float(t), str(label)) for t, label in events]
    fig = Figure(figsize=(10, 6), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    fig.suptitle(title)
    top.set_ylabel("response time (ms)")
    bottom.set_ylabel("users")
    bottom.set_xlabel("seconds")
    right = bottom.twinx()
    right.set_ylabel("per second")
    nan = float("nan")
    if samples:
        t = [s.t for s in samples]
        top.plot(t, [nan if s.p50_ms is None else s.p50_ms for s in samples], label="p50", color="tab:blue")
        top.plot(t, [nan if s.p95_ms is None else s.p95_ms for s in samples], label="p95", color="tab:orange")
        top.set_ylim(bottom=0)
        top.legend(loc="upper left", fontsize="small")
        users = bottom.plot(t, [s.users for s in samples], label="users", color="tab:gray", drawstyle="steps-post")
        rps = right.plot(t, [s.rps for s in samples], label="requests/s", color="tab:green")
        fps = right.plot(t, [s.failures_per_s for s in samples], label="failures/s", color="tab:red")
        bottom.set_ylim(bottom=0)
        right.set_ylim(bottom=0)
        handles = users + rps + fps
        bottom.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize="small")
    else:
        for ax in (top, bottom):
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center",
                    fontsize=14, color="tab:gray")
    for t_event, label in events:
        for ax in (top, bottom):
            ax.axvline(t_event, linestyle="--", color="black", linewidth=1)
        top.text(t_event, 0.98, f" {label}", transform=blended_transform_factory(top.transData, top.transAxes),
                 ha="left", va="top", fontsize="small")
    for t_phase, label in phases:
        for ax in (top, bottom):
            ax.axvline(float(t_phase), linestyle=":", color="tab:purple", linewidth=1.5)
        top.text(float(t_phase), 0.02, f" {label}", transform=blended_transform_factory(top.transData, top.transAxes),
                 ha="left", va="bottom", fontsize="small", color="tab:purple")
    for (label, points), colour in zip(series, ("tab:purple", "tab:brown", "tab:pink", "tab:olive")):
        points = list(points)
        if points:
            top.plot([p[0] for p in points], [p[1] for p in points], label=label, color=colour, marker=".")
            top.autoscale(enable=True, axis="y")  # the limits were set for p50/p95 alone
            top.relim()
            top.autoscale_view()
            top.set_ylim(bottom=0)
            top.legend(loc="upper left", fontsize="small")
    shown: set[str] = set()
    for start, end, what in bound:
        colour = "tab:red" if "generator" in what else "tab:gray"
        for ax in (top, bottom):
            ax.axvspan(float(start), float(end), color=colour, alpha=0.15, linewidth=0,
                       label=None if (ax is not top or what in shown) else what)
        shown.add(what)
    if shown:
        top.legend(loc="upper left", fontsize="small")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    fig.savefig(png_path, format="png", dpi=100)
    return png_path
