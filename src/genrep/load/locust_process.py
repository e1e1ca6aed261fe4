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
from genrep.load.generator import GeneratorMonitor, GeneratorReport
from genrep.load.history import ProgressReporter, history_path

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


@dataclass
class LocustRun:
    code: int
    stats_json: Path
    log_path: Path
    history_csv: Path
    started_epoch: float        # when the subprocess was started (the history's t = 0)
    generator: GeneratorReport | None = None


def run_locust(locustfile: Path, env: dict, out_dir: Path, *, duration_s: float, workers: int = 0,
               timeout_s: float | None = None, progress=None, generator_limit: float = 90.0,
               expect_workers: int = 0, master_bind_host: str = "", master_port: int = 0) -> LocustRun:
    """Locust headless as a subprocess in its own process group.

    While it runs: ``progress`` (a callable taking one line) gets users, requests/s, failures and
    p95 every 5 s from Locust's history CSV, and the Locust processes' CPU is sampled to tell
    whether the generator was the bottleneck."""
    out_dir = outputs.claim(out_dir, what="load statistics folder")
    stats_base = out_dir / "stats"
    stats_json = out_dir / "stats.json"
    history_csv = history_path(stats_base)
    for old in (stats_json, history_csv):
        old.unlink(missing_ok=True)   # an old file must never pass for this run's numbers
    log_path = out_dir / "locust.log"
    # --csv-full-history: percentiles per interval (not cumulative), so the plot shows a failover
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
           "--json-file", str(stats_base), "--csv", str(stats_base), "--csv-full-history",
           "--run-time", f"{int(duration_s) + 10}s", "--only-summary", "--stop-timeout", "5"]
    if workers:  # the forked workers connect to the master's port: a free one, not 5557 (two runs at once)
        port = master_port or free_port()
        cmd += ["--processes", str(workers), "--master-bind-port", str(port), "--master-port", str(port)]
    if expect_workers:  # multi-machine: workers on other hosts connect to this master
        cmd += ["--master", "--expect-workers", str(expect_workers),
                "--expect-workers-max-wait", str(int(WORKER_WAIT_S)), "--master-bind-port",
                str(master_port or DEFAULT_MASTER_PORT)]
        if master_bind_host:
            cmd += ["--master-bind-host", master_bind_host]
    timeout_s = (duration_s + 60 + (WORKER_WAIT_S if expect_workers else 0)) if timeout_s is None else timeout_s
    reporter = monitor = None
    with open(log_path, "wb") as log:
        started = time.time()
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            monitor = GeneratorMonitor(proc.pid, limit_percent=generator_limit).start()
            if progress is not None:
                reporter = ProgressReporter(history_csv, echo=progress, duration_s=duration_s,
                                            t0=started).start()
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise GenrepError(f"Locust did not finish within {timeout_s:g} s and was stopped "
                              f"(log: {log_path})") from None
        finally:
            if reporter is not None:
                reporter.stop()
            kill_group(proc)  # interrupted (Ctrl-C), or leftovers of a finished run
    report = monitor.stop(log_path) if monitor is not None else None
    return LocustRun(code, stats_json, log_path, history_csv, started, report)


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
