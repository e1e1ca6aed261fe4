"""Run the feature suite (pytest-bdd) as a subprocess and collect its Allure results.

A subprocess, not ``pytest.main`` in-process: each run gets its own simulators, its own defects and
a clean interpreter (Locust's gevent patching, when load runs join, cannot leak in), and the whole
run is bounded by a timeout so a hung system under test can never hang a CI job.

The suite runs in its own process group. When the run is interrupted (Ctrl-C, or SIGTERM, which the
CLI turns into the same exception) or times out, that group gets SIGTERM (pytest tears its fixtures
down, stopping the simulators), then SIGKILL after a bounded wait, and any process of the suite's
tree still alive after that is killed too: no suite process outlives the harness. The suite also
gets the harness's pid (``GENREP_SUITE_PARENT_PID``) so it stops by itself if the harness is killed.

The results folder is cleared through ``genrep.outputs``: only a folder genrep owns is ever emptied.

Nothing the suite writes leaves unmasked: its output is passed on line by line with identities
masked and secrets redacted, and its Allure results are masked when it ends (``report.mask_folder``).
A refused identity stops the run: the suite's processes share one latch file, and the outcome says
so (``identity_refusal``), so the caller gives no verdict.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from genrep import outputs
from genrep.paths import PROJECT_ROOT
from genrep.errors import GenrepError
from genrep.text.identities import LATCH_ENV
from genrep.results.allure import mask_folder, safe_text

#: How long the suite gets to tear down (stop its simulators) after SIGTERM before SIGKILL.
STOP_GRACE_S = 15.0
SUITE_PARENT_ENV = "GENREP_SUITE_PARENT_PID"
IDENTITY_LATCH_FILE = "genrep-identity-refused.txt"  # written by the first identity refusal of the run

_LIVE: set[subprocess.Popen] = set()  # suite runs in progress (selftest runs several in threads)
_LIVE_LOCK = threading.Lock()


@dataclass
class RunOutcome:
    returncode: int
    results_dir: Path
    output: str  # identities masked, secrets redacted
    identity_refusal: str | None = None  # the run was stopped: a non-allowlisted identity was refused


def run_features(*, env: str | None = None, defects: tuple[str, ...] = (), results_dir: Path,
                 paths: tuple[str, ...] = ("features",), select: str | None = None,
                 marks: str | None = None, workers: int = 0, timeout: float = 1800.0,
                 quiet: bool = True, stream: bool = False) -> RunOutcome:
    results_dir = outputs.clear(results_dir, what="Allure results folder")
    cmd = [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "steps"), "-p", "no:cacheprovider",
           "--alluredir", str(results_dir), "-o", "console_output_style=classic", "-rfE"]
    cmd.append("-q" if quiet else "-v")
    if env:
        cmd += ["--env", env]
    for d in defects:
        cmd += ["--defect", d]
    expr = []
    if marks:
        expr.append(f"({marks})")
    expr.append("not wip")
    cmd += ["-m", " and ".join(expr)]
    if select:
        cmd += ["-k", select]
    if workers:
        cmd += ["-n", str(workers)]
    child_env = dict(os.environ)
    child_env.pop("GENREP_DEFECTS", None)  # defects are explicit on the command line
    child_env["PYTHONIOENCODING"] = "utf-8"
    child_env[SUITE_PARENT_ENV] = str(os.getpid())
    latch = results_dir / IDENTITY_LATCH_FILE
    child_env[LATCH_ENV] = str(latch)  # a refusal in any process of the suite stops all of them
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=child_env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                            errors="replace")
    with _LIVE_LOCK:
        _LIVE.add(proc)
    lines: list[str] = []
    pump = threading.Thread(target=_pump_masked, args=(proc.stdout, lines, stream), daemon=True)
    pump.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process_tree(proc)
        raise GenrepError(f"the feature run exceeded its {timeout:.0f} s limit and was stopped") from None
    except BaseException:  # KeyboardInterrupt (Ctrl-C or SIGTERM): the suite stops with us
        stop_process_tree(proc)
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
        pump.join(10)
    # allure-pytest-bdd writes names, parameters and docstrings from the feature text itself
    mask_folder(results_dir)
    refusal = latch.read_text(encoding="utf-8").strip() if latch.exists() else None
    return RunOutcome(proc.returncode, results_dir, "".join(lines), identity_refusal=refusal)


def _pump_masked(pipe, lines: list[str], stream: bool) -> None:
    """The suite's output, line by line, with identities masked and secrets redacted: echoed as it
    comes when ``stream``, kept for the caller either way."""
    for line in pipe:
        safe = safe_text(line)
        lines.append(safe)
        if stream:
            sys.stdout.write(safe)
            sys.stdout.flush()
    pipe.close()


def stop_process_tree(proc: subprocess.Popen, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM to ``proc``'s process group, SIGKILL after ``grace`` s, then SIGKILL to any process
    of its tree (seen before the signal) still alive: simulators live in sessions of their own."""
    try:
        import psutil
        tree = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
    except Exception:  # noqa: BLE001 - psutil missing or the process just ended: the group still goes
        psutil, tree = None, []
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    try:
        proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        pass
    if psutil is not None and tree:
        _, alive = psutil.wait_procs(tree, timeout=3.0)  # the simulators notice their parent is gone
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass


def stop_all_suite_runs() -> None:
    """Stop every suite run still in progress (for callers that run several in threads)."""
    with _LIVE_LOCK:
        running = list(_LIVE)
    for proc in running:
        stop_process_tree(proc)
