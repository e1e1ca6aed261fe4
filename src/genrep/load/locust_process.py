"""Locust as a bounded subprocess: its own process group, a hard timeout, the whole group killed on
timeout or interruption (no Locust or worker outlives the run), progress and generator CPU watched
while it runs, and the settings file for workers on other machines.

Locust never runs in the harness's process (gevent monkey-patching): only here, as a child.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from genrep import outputs
from genrep.paths import PROJECT_ROOT
from genrep.errors import GenrepError
from genrep.load.cpu_sampling import CpuSample
from genrep.load.generator import GeneratorMonitor, GeneratorReport
from genrep.load.history import ProgressReporter, history_path
from genrep.load.windows import STARTED_FILE, WINDOWS_FILE

DEFAULT_MASTER_PORT = 5557  # Locust's
#: How long a multi-machine master waits for its workers before giving up (seconds).
WORKER_WAIT_S = 120.0
WORKER_ENV_FILE = "worker.env"


def kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, to the process group of ``proc`` (started with ``start_new_session``)
    until it is gone: no Locust worker or child outlives the run."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


#: How long an interrupted Locust gets to write its statistics before its group is killed (seconds).
INTERRUPT_WAIT_S = 10.0


def interrupt_group(proc: subprocess.Popen, *, wait: float) -> None:
    """SIGINT to the process group of ``proc`` and up to ``wait`` seconds for it to end (Locust's
    Ctrl-C: a normal shutdown, statistics written); ``kill_group`` afterwards ends what is left."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=wait)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


@dataclass
class LocustRun:
    code: int
    stats_json: Path
    log_path: Path
    history_csv: Path
    started_epoch: float        # when the subprocess was started
    generator: GeneratorReport | None = None
    test_started_epoch: float | None = None  # when Locust's test started (the shape's t = 0): started.json
    cpu_samples: tuple[CpuSample, ...] = ()  # the generator monitor's, for the windowed report
    windows_json: Path | None = None
    #: Ctrl-C or SIGTERM while Locust ran (``keep_interrupted``): Locust was stopped, what it wrote is
    #: kept, and the caller reports it as incomplete, then raises this
    interrupted: BaseException | None = None


def read_started(out_dir: Path) -> float | None:
    """The test-start epoch the Locust master wrote (``started.json``), or None."""
    import json
    try:
        value = json.loads((out_dir / STARTED_FILE).read_text(encoding="utf-8"))["epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


class StartWatcher:
    """Calls ``on_start(epoch)`` once the Locust master has written ``started.json`` (its test
    started): the faults are timed from the shape's own t = 0, not from the subprocess's start
    (Locust takes a second or two to import). Polls every 50 ms in a daemon thread."""

    def __init__(self, out_dir: Path, on_start, proc: subprocess.Popen):
        import threading
        self.out_dir = out_dir
        self.on_start = on_start
        self.proc = proc
        self.epoch: float | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="genrep-locust-start", daemon=True)

    def start(self) -> "StartWatcher":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            epoch = read_started(self.out_dir)
            if epoch is not None:
                self.epoch = epoch
                try:
                    self.on_start(epoch)
                except Exception as exc:  # noqa: BLE001 - reported by the run, never lost in a thread
                    self.error = str(exc)
                return
            if self.proc.poll() is not None:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


def run_locust(locustfile: Path, env: dict, out_dir: Path, *, duration_s: float, workers: int = 0,
               timeout_s: float | None = None, progress=None, generator_limit: float = 90.0,
               expect_workers: int = 0, master_bind_host: str = "", master_port: int = 0,
               on_test_start=None, own_pids=None, keep_interrupted: bool = False) -> LocustRun:
    """Locust headless as a subprocess in its own process group.

    While it runs: ``progress`` (a callable taking one line) gets users, requests/s, failures and
    p95 every 5 s from Locust's history CSV, the Locust processes' CPU (and the machine's) is
    sampled to tell which windows were generator-bound, with the CPU time of the run's own
    processes (Locust's, ``own_pids()``'s: the simulators) to tell the machine's foreign load, and
    ``on_test_start(epoch)`` is called once Locust's test has started (``started.json``, written by
    ``load/users.py``). Ctrl-C (or SIGTERM) stops Locust's whole group and raises, or, with
    ``keep_interrupted``, returns what was measured with ``interrupted`` set (the caller raises it
    once it has said the run is incomplete)."""
    out_dir = outputs.claim(out_dir, what="load statistics folder")
    stats_base = out_dir / "stats"
    stats_json = out_dir / "stats.json"
    history_csv = history_path(stats_base)
    for old in (stats_json, history_csv, out_dir / STARTED_FILE, out_dir / WINDOWS_FILE):
        old.unlink(missing_ok=True)   # an old file must never pass for this run's numbers
    log_path = out_dir / "locust.log"
    # --csv-full-history: percentiles per interval (not cumulative), so the plot shows a failover
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
           "--json-file", str(stats_base), "--csv", str(stats_base), "--csv-full-history",
           "--run-time", f"{int(duration_s) + 10}s", "--only-summary", "--stop-timeout", "5"]
    # Locust's master listens on every interface unless told otherwise: anyone who can reach this
    # machine could join the run as a worker and report figures of its own. On loopback unless the
    # tester names an interface (multi-machine: --master-bind-host, which run_load requires there)
    bind_host = master_bind_host or "127.0.0.1"
    if workers:  # the forked workers connect to the master's port: a free one, not 5557 (two runs at once)
        port = master_port or free_port()
        cmd += ["--processes", str(workers), "--master-bind-host", bind_host, "--master-bind-port", str(port),
                "--master-host", "127.0.0.1", "--master-port", str(port)]
    if expect_workers:  # multi-machine: workers on other hosts connect to this master
        cmd += ["--master", "--expect-workers", str(expect_workers),
                "--expect-workers-max-wait", str(int(WORKER_WAIT_S)), "--master-bind-port",
                str(master_port or DEFAULT_MASTER_PORT), "--master-bind-host", bind_host]
    timeout_s = (duration_s + 60 + (WORKER_WAIT_S if expect_workers else 0)) if timeout_s is None else timeout_s
    reporter = monitor = watcher = interrupted = None
    with open(log_path, "wb") as log:
        started = time.time()
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            monitor = GeneratorMonitor(proc.pid, limit_percent=generator_limit, own_pids=own_pids).start()
            watcher = StartWatcher(out_dir, on_test_start or (lambda epoch: None), proc).start()
            if progress is not None:
                reporter = ProgressReporter(history_csv, echo=progress, duration_s=duration_s,
                                            t0=started).start()
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise GenrepError(f"Locust did not finish within {timeout_s:g} s and was stopped "
                              f"(log: {log_path})") from None
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (genrep.cli's Terminated)
            if not keep_interrupted:
                raise
            interrupted = exc
            code = -1
            # SIGINT first: Locust then shuts down as at its end and writes what it measured (its
            # JSON statistics, the per-window figures); on SIGTERM it dies without them
            interrupt_group(proc, wait=INTERRUPT_WAIT_S)
        finally:
            if reporter is not None:
                reporter.stop()
            if watcher is not None:
                watcher.stop()
            kill_group(proc)  # interrupted (Ctrl-C), or leftovers of a finished run
    report = monitor.stop(log_path) if monitor is not None else None
    if watcher is not None and watcher.error:
        raise GenrepError(f"starting the run's timed faults failed: {watcher.error}")
    return LocustRun(code, stats_json, log_path, history_csv, started, report,
                     test_started_epoch=read_started(out_dir),
                     cpu_samples=tuple(monitor.samples) if monitor is not None else (),
                     windows_json=out_dir / WINDOWS_FILE, interrupted=interrupted)


#: Locust master log lines saying a worker stopped mid-run (crashed, killed, or stopped answering);
#: not "The last worker quit": every worker quits when the master stops them at the end
_WORKER_MISSING = "failed to send heartbeat, setting state to missing"
_ALL_WORKERS_MISSING = "The last worker went missing"
_WORKER_HEALED = "self-healed with heartbeat"


#: missed 1 s heartbeats before Locust's master calls a worker missing (Locust's own: 3). On a
#: saturated 2-core host a worker spawning a few hundred users, or the master, stalls for longer:
#: both workers of a `make test` run went "missing" at the same instant mid-spawn and the master
#: stopped the test (an incomplete run from a stall, not a crash). 10 s still finds a killed worker
#: well within a run (tests/e2e/test_load_interrupt.py). Set by load/users.py, which imports Locust.
HEARTBEAT_LIVENESS = 10


def workers_write_no_statistics(options, is_worker: bool) -> None:
    """Called by every Locust process at start-up (``load/users.py``, ``events.init``): only the master
    (or a local runner) writes ``--json-file``. Locust 2.47 writes it at the end of *every* process,
    workers included, each opening it truncating: in ``--processes`` mode a worker ending after the
    master replaced the run's totals with its own (a fraction of the run, judged as the whole), and one
    killed mid-write left the file empty (seen in ``make test`` on a saturated host: "stats.json: not
    valid JSON"). The workers' figures reach the master in their reports, as Locust intends."""
    if is_worker and options is not None and getattr(options, "json_file", None):
        options.json_file = None


def lost_workers(log_path: Path) -> str | None:
    """Why the run is incomplete when a Locust worker stopped mid-run (its users stopped sending,
    so what was measured is not the load asked for); None when none did (or the log is unread).
    A worker that missed its heartbeats and came back (a busy host) is not lost."""
    try:
        text = Path(log_path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if _ALL_WORKERS_MISSING in text:
        return "every Locust worker stopped mid-run (the last worker went missing)"
    lost = text.count(_WORKER_MISSING) - text.count(_WORKER_HEALED)
    return f"{lost} Locust worker(s) stopped mid-run (missing, never back)" if lost > 0 else None


def free_port() -> int:
    """A free TCP port on loopback (for a Locust master: not 5557, another run may use it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_worker_env(out_dir: Path, env: dict, locustfile: Path, port: int) -> Path:
    """The settings a Locust worker on another machine needs, as a shell-sourceable file: the
    GENREP_LOAD_* variables (endpoints, the seeded patient's FHIR id, allowed hosts). No secrets:
    load with credentials is refused before this point."""
    lines = [f"# genrep load worker settings for load/{locustfile.name}; on each worker machine:",
             "#   set -a; . ./worker.env; set +a",
             f"#   python -m locust -f load/{locustfile.name} --worker --master-host <this machine> "
             f"--master-port {port}"]
    lines += [f"{k}={shlex.quote(v)}" for k, v in sorted(env.items())
              if k.startswith("GENREP_LOAD_") and k != "GENREP_LOAD_OUT"]
    path = out_dir / WORKER_ENV_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
