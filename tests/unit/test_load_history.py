"""Locust's stats history CSV -> Samples, progress lines, recovery time and a PNG, without Locust.

tests/fixtures/load/stats_stats_history.csv is the first 11 seconds of a real Locust 2.47 run
(``--csv ... --csv-full-history --only-summary``, 5 users of a fake User firing request events of
5-60 ms, "read" and "write", every request failing from 3 s to 5 s after the first one): per
second one row per entry plus the "Aggregated" row; CRLF line ends.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from genrep.errors import GenrepError
from genrep.load.history import (ProgressReporter, Sample, history_path, plot_history, progress_line,
                                 read_history, recovery_time)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "load" / "stats_stats_history.csv"
HEADER = FIXTURE.read_text(encoding="utf-8").splitlines()[0]
T0 = 1795413172


def row(ts, users=5, rps="10.000000", fps="0.000000", p50="30", p95="55", total=100, failures=0,
        type_="", name="Aggregated"):
    """A history row in Locust's layout (11 percentile columns; 95% is the 6th)."""
    pct = [p50, "40", "45", "48", "50", p95, "60", "62", "70", "70", "70"]
    if p50 == "N/A":
        pct = ["N/A"] * 11
    return ",".join(map(str, [ts, users, type_, name, rps, fps, *pct, total, failures,
                              30, 31.5, 5, 70, 10.0])) + "\r\n"


def write(path: Path, *rows: str, header: bool = True) -> Path:
    path.write_bytes(((HEADER + "\r\n") if header else "").encode() + "".join(rows).encode())
    return path


def sample(t, failures=0, fps=0.0, total=None):
    return Sample(t=float(t), users=10, rps=50.0, failures_per_s=fps, p50_ms=20.0, p95_ms=40.0,
                  total_requests=total if total is not None else 100 * (int(t) + 1), total_failures=failures)


# --- read_history ---------------------------------------------------------------------------------

def test_real_history_file_gives_the_aggregated_rows_only():
    samples = read_history(FIXTURE)
    assert len(samples) == 11                      # 11 seconds; the "read"/"write" rows are left out
    assert [s.t for s in samples] == [float(i) for i in range(11)]
    first, window_empty, third = samples[:3]
    assert first == Sample(t=0.0, users=0, rps=0.0, failures_per_s=0.0, p50_ms=None, p95_ms=None,
                           total_requests=0, total_failures=0)          # N/A before any request
    assert (window_empty.p50_ms, window_empty.p95_ms, window_empty.total_requests) == (None, None, 100)
    assert (third.users, third.p50_ms, third.p95_ms, third.total_requests) == (5, 32.0, 58.0, 200)
    sixth = samples[6]
    assert (sixth.rps, sixth.failures_per_s, sixth.total_failures) == (83.75, 8.75, 200)
    assert [s.total_failures for s in samples[3:6]] == [0, 100, 200]


def test_t0_puts_t_on_the_callers_clock():
    samples = read_history(FIXTURE, t0=T0 - 2.5)
    assert samples[0].t == 2.5 and samples[-1].t == 12.5


def test_history_path_is_what_locust_writes_for_the_csv_prefix(tmp_path):
    assert history_path(tmp_path / "stats") == tmp_path / "stats_stats_history.csv"


def test_partial_last_line_is_skipped(tmp_path):
    full = FIXTURE.read_bytes()
    cut = full[:-40]                               # the last row cut in the middle of a number
    assert not cut.endswith(b"\n")
    path = tmp_path / "h.csv"
    path.write_bytes(cut)
    samples = read_history(path)
    assert len(samples) == 10 and samples[-1].t == 9.0
    path.write_bytes(full + b"1795413183,5,,Aggr")  # the next row only begun
    assert len(read_history(path)) == 11


def test_header_still_being_written_gives_nothing(tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(b"Timestamp,User Cou")
    assert read_history(path) == []


def test_not_available_values(tmp_path):
    path = write(tmp_path / "h.csv", row(T0, users=0, rps="N/A", p50="N/A", total=0),
                 row(T0 + 1, p50="12", p95="N/A"))
    first, second = read_history(path)
    assert (first.p50_ms, first.p95_ms, first.rps, first.users) == (None, None, 0.0, 0)
    assert (second.p50_ms, second.p95_ms) == (12.0, None)


def test_missing_and_empty_files_give_no_samples(tmp_path):
    assert read_history(tmp_path / "nothing.csv") == []
    (tmp_path / "empty.csv").write_bytes(b"")
    assert read_history(tmp_path / "empty.csv") == []
    assert read_history(write(tmp_path / "header_only.csv")) == []


def test_wrong_header_names_the_file(tmp_path):
    path = tmp_path / "stats_stats.csv"
    path.write_text("Type,Name,Request Count,Failure Count\r\nGET,/x,1,0\r\n", encoding="utf-8")
    with pytest.raises(GenrepError, match="stats_stats.csv.*not a Locust stats history") as exc:
        read_history(path)
    assert "Timestamp" in str(exc.value)


def test_binary_garbage_is_corrupt_not_empty(tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(GenrepError, match="h.csv"):
        read_history(path)
    path.write_bytes(b"\x00\x01garbage without a line break")
    with pytest.raises(GenrepError, match="h.csv"):
        read_history(path)


def test_a_broken_row_in_the_middle_names_file_and_line(tmp_path):
    path = write(tmp_path / "h.csv", row(T0), "1795413173,5,,Aggregated,1.0\r\n", row(T0 + 2))
    with pytest.raises(GenrepError, match=r"h.csv:3: 5 fields"):
        read_history(path)
    path = write(tmp_path / "h2.csv", row(T0), row(T0 + 1, users="many"))
    with pytest.raises(GenrepError, match=r"h2.csv:3"):
        read_history(path)


# --- progress_line --------------------------------------------------------------------------------

def test_progress_line_format():
    s = Sample(t=35.4, users=1200, rps=340.2, failures_per_s=0.0, p50_ms=20.0, p95_ms=45.0,
               total_requests=9000, total_failures=0)
    assert progress_line(s, 120) == "  35s/120s  users 1200  req/s 340.2  failures 0 (0.0 %)  p95 45 ms"


def test_progress_line_failures_share_and_missing_p95():
    s = Sample(t=5, users=3, rps=12.345, failures_per_s=1.0, p50_ms=None, p95_ms=None,
               total_requests=200, total_failures=3)
    assert progress_line(s) == "   5s  users 3  req/s 12.3  failures 3 (1.5 %)  p95 -"
    none_yet = Sample(t=0, users=0, rps=0.0, failures_per_s=0.0, p50_ms=None, p95_ms=None,
                      total_requests=0, total_failures=0)
    assert "failures 0 (0.0 %)" in progress_line(none_yet, 60)


# --- ProgressReporter -----------------------------------------------------------------------------

def wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_reporter_echoes_each_new_row_of_a_file_being_appended(tmp_path):
    path = tmp_path / "stats_stats_history.csv"
    lines: list[str] = []
    with ProgressReporter(path, echo=lines.append, interval_s=0.05, duration_s=60) as rep:
        time.sleep(0.15)                           # no file yet: nothing, no error
        assert lines == [] and rep.error is None
        write(path, row(T0, users=0, p50="N/A", total=0))
        assert wait_for(lambda: len(lines) == 1)
        assert lines[0] == "   0s/60s  users 0  req/s 10.0  failures 0 (0.0 %)  p95 -"
        with open(path, "ab") as f:                # a per-entry row, then half an Aggregated row
            f.write(row(T0 + 1, type_="GET", name="read", p95="999").encode())
            half = row(T0 + 1, users=7, total=300, failures=3, p95="61").encode()
            f.write(half[:25])
            f.flush()
            time.sleep(0.2)
            assert len(lines) == 1                 # nothing new yet: no repeated line
            f.write(half[25:])
        assert wait_for(lambda: len(lines) == 2)
        assert lines[1] == "   1s/60s  users 7  req/s 10.0  failures 3 (1.0 %)  p95 61 ms"
        with open(path, "ab") as f:                # two rows between two looks: the newest is shown
            f.write((row(T0 + 2, total=400, p95="70") + row(T0 + 3, total=500, p95="80")).encode())
        assert wait_for(lambda: len(lines) >= 3)
        time.sleep(0.2)
        assert lines[2:] == ["   3s/60s  users 5  req/s 10.0  failures 0 (0.0 %)  p95 80 ms"]
        assert rep.last is not None and rep.last.total_requests == 500
    assert wait_for(lambda: not rep._thread.is_alive(), timeout=10)  # stop() itself waits 1 s at most


def test_reporter_stop_is_prompt_even_with_a_long_interval(tmp_path):
    rep = ProgressReporter(write(tmp_path / "h.csv", row(T0)), echo=lambda s: None, interval_s=30).start()
    t = time.monotonic()
    rep.stop()
    # stop() waits 1 s for the thread; a starved thread may end later: prompt is well under the 30 s
    assert wait_for(lambda: not rep._thread.is_alive(), timeout=10)
    assert time.monotonic() - t < 10


def test_reporter_never_raises_into_the_caller(tmp_path):
    path = write(tmp_path / "h.csv", row(T0))
    calls = []

    def bad_echo(line):
        calls.append(line)
        raise OSError("stdout closed")

    with ProgressReporter(path, echo=bad_echo, interval_s=0.05) as rep:
        assert wait_for(lambda: len(calls) == 1)
        with open(path, "ab") as f:
            f.write(row(T0 + 1).encode())
        assert wait_for(lambda: len(calls) == 2)   # still alive after echo raised
        assert rep._thread.is_alive()
    assert rep.lines_echoed == 0


def test_reporter_gives_up_quietly_on_a_foreign_file(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("Type,Name,Request Count\r\nGET,/x,1\r\n", encoding="utf-8")
    lines = []
    with ProgressReporter(path, echo=lines.append, interval_s=0.05) as rep:
        assert wait_for(lambda: rep.error is not None)
        assert wait_for(lambda: not rep._thread.is_alive())   # it stops looking
    assert lines == [] and "h.csv" in rep.error


def test_reporter_rereads_a_rewritten_file(tmp_path):
    path = write(tmp_path / "h.csv", row(T0), row(T0 + 1), row(T0 + 2, users=9))
    rep = ProgressReporter(path, echo=lambda s: None)
    assert rep.poll().users == 9
    assert rep.poll() is None                      # nothing new
    write(path, row(T0 + 100, users=4))            # a new run: shorter file
    again = rep.poll()
    assert again is not None and (again.users, again.t) == (4, 0.0)


def test_reporter_reads_a_long_file_in_bounded_chunks(tmp_path, monkeypatch):
    import genrep.load.history as history
    monkeypatch.setattr(history, "_CHUNK", 64)     # rows are longer than a chunk
    path = write(tmp_path / "h.csv", *(row(T0 + i, users=i) for i in range(20)))
    rep = ProgressReporter(path, echo=lambda s: None)
    newest = rep.poll()
    assert newest is not None and newest.users == 19 and newest.t == 19.0


def test_reporter_rejects_a_bad_interval(tmp_path):
    with pytest.raises(ValueError):
        ProgressReporter(tmp_path / "h.csv", interval_s=0)


# --- plot_history ---------------------------------------------------------------------------------

def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_history_writes_a_png(tmp_path):
    samples = read_history(FIXTURE)
    out = plot_history(samples, tmp_path / "sub" / "history.png", title="failover_under_load",
                       events=[(3.0, "multum-a killed")])
    assert out == tmp_path / "sub" / "history.png"
    assert out.stat().st_size > 10_000
    assert png_size(out) == (1000, 600)


def test_plot_history_without_samples_says_no_data(tmp_path):
    empty = plot_history([], tmp_path / "empty.png", title="steady_day")
    assert png_size(empty) == (1000, 600) and empty.stat().st_size > 0
    full = plot_history(read_history(FIXTURE), tmp_path / "full.png", title="steady_day")
    assert empty.read_bytes() != full.read_bytes()


def test_plot_history_events_change_the_picture(tmp_path):
    samples = read_history(FIXTURE)
    a = plot_history(samples, tmp_path / "a.png", title="t")
    b = plot_history(samples, tmp_path / "b.png", title="t", events=[(3.0, "multum-a killed")])
    assert a.read_bytes() != b.read_bytes()


# --- recovery_time --------------------------------------------------------------------------------

def test_recovery_time_on_the_real_file():
    samples = read_history(FIXTURE)
    # failures were counted in the rows at t=4 and t=5; Failures/s (a lagging window average) is
    # still above 0 at t=10 - recovery is measured on the running total, not on that
    assert samples[-1].failures_per_s > 0
    assert recovery_time(samples, 3.0) == 2.0
    assert recovery_time(samples, 4.5) == 0.5
    assert recovery_time(samples, 5.0) == 0.0      # no failure after the fault
    assert recovery_time(samples, 10.0) is None    # no sample after the fault


def test_recovery_time_cases():
    clean = [sample(t) for t in range(10)]
    assert recovery_time(clean, 4) == 0.0
    assert recovery_time([], 0) is None
    # failures only before the fault do not count
    before = [sample(0), sample(1, failures=5), sample(2, failures=5), sample(3, failures=5), sample(4, failures=5)]
    assert recovery_time(before, 2) == 0.0
    # failures growing until t=7, nothing after: 7 - 4
    during = [sample(t, failures=f) for t, f in enumerate([0, 0, 0, 0, 0, 2, 6, 9, 9, 9, 9])]
    assert recovery_time(during, 4) == 3.0
    # a lagging failures_per_s alone (the total does not grow) is no failure
    lag = [sample(t, failures=0, fps=5.0 if t > 5 else 0.0) for t in range(10)]
    assert recovery_time(lag, 4) == 0.0
    # unsorted input, and a fall of the total (statistics reset) counts as new failures
    reset = [sample(6, failures=2), sample(5, failures=9), sample(4, failures=9), sample(7, failures=2)]
    assert recovery_time(reset, 4.5) == 1.5       # the fall to 2 at t=6


def test_progress_line_never_shows_negative_time():
    from genrep.load.history import Sample, progress_line
    s = Sample(t=-0.4, users=0, rps=0.0, failures_per_s=0.0, p50_ms=None, p95_ms=None, total_requests=0,
               total_failures=0)
    assert progress_line(s, 60).startswith("   0s/60s")
