"""Run the feature suite (pytest-bdd) as a subprocess and collect its Allure results.

A subprocess, not ``pytest.main`` in-process: each run gets its own simulators, its own defects and
a clean interpreter (Locust's gevent patching, when load runs join, cannot leak in), and the whole
run is bounded by a timeout so a hung system under test can never hang a CI job.

The suite runs in its own process group. When the run is interrupted (Ctrl-C, or SIGTERM, which the
CLI turns into the same exception) or times out, that group gets SIGTERM (pytest tears its fixtures
down, stopping the simulators), then SIGKILL after a bounded wait, and any process of the suite's
tree still alive after that is killed too: no suite process outlives the harness. The suite also
gets the harness's pid (``GENREP_SUITE_PARENT_PID``) so it stops by itself if the harness is killed.

Callers that run the suite many times (``selftest``, ``mutate``) wrap them in ``forked_suite_runs``:
each run is then a fork of one preloaded suite server (``genrep.suite_launcher``), not a new
interpreter, with the same argv, environment, session, output pipe and stopping as above.

The results folder is cleared through ``genrep.outputs``: only a folder genrep owns is ever emptied.

Nothing the suite writes leaves unmasked: its output is passed on line by line with identities
masked and secrets redacted, and its Allure results are masked when it ends (``report.mask_folder``).
A refused identity stops the run: the suite's processes share one latch file, and the outcome says
so (``identity_refusal``), so the caller gives no verdict. A second latch file, the outage latch
(``genrep.preflight.OutageLatch``), records scenarios that could not reach their endpoint; after
``BLOCK_AFTER`` in a row on one endpoint, the remaining scenarios needing it are blocked at once.

``collect_scenarios`` lists the scenarios a selection (``-k``, ``-m``, ``--name``: a substring of the
scenario title, spaces and å, ä, ö included) would run, from the suite's own collection, for
``rehearse --list`` and for the pre-flight (which endpoints the selected scenarios need).
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from genrep import outputs
from genrep.paths import PROJECT_ROOT
from genrep.errors import GenrepError
from genrep.text.identities import LATCH_ENV
from genrep.results.allure import mask_folder, safe_text
from genrep.sim.tls_dirs import remove_stale_tls_dirs
from genrep.preflight import BLOCK_AFTER_ENV, OUTAGE_LATCH_ENV, OUTAGE_LATCH_FILE

#: How long the suite gets to tear down (stop its simulators) after SIGTERM before SIGKILL.
STOP_GRACE_S = 15.0
SUITE_PARENT_ENV = "GENREP_SUITE_PARENT_PID"
IDENTITY_LATCH_FILE = "genrep-identity-refused.txt"  # written by the first identity refusal of the run
SCENARIO_NAME_ENV = "GENREP_SCENARIO_NAME"  # --name: only scenarios whose title contains it (casefolded)
SCENARIO_LIST_ENV = "GENREP_SCENARIO_LIST"  # a file: the suite writes the scenarios it selected (JSON)
#: seconds (0 to 600) the suite's generated-text scenarios shrink a failing text for (default 10;
#: 0: the first failing text as it is); ``genrep selftest`` sets 0 for its defect rows, which prove
#: detection, not a minimal example (tests/e2e/test_generated_steps.py proves shrinking)
SHRINK_SECONDS_ENV = "GENREP_SHRINK_SECONDS"

_LIVE: set[subprocess.Popen] = set()  # suite runs in progress (selftest runs several in threads)
_LIVE_LOCK = threading.Lock()
_SERVER = None  # the suite server while forked_suite_runs() is active (genrep.suite_launcher)
_SERVER_USERS = 0  # forked_suite_runs() contexts open now, in any thread: the last one out closes it
_SERVER_LOCK = threading.RLock()


@dataclass
class RunOutcome:
    returncode: int
    results_dir: Path
    output: str  # identities masked, secrets redacted
    identity_refusal: str | None = None  # the run was stopped: a non-allowlisted identity was refused

    @property
    def killed_by(self) -> str | None:
        """The signal that killed the suite from outside (``SIGKILL``: the OOM killer, a grace
        period run out), None when it ended by itself: a killed run is incomplete, not a result."""
        if self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"


def run_features(*, env: str | None = None, defects: tuple[str, ...] = (), results_dir: Path,
                 paths: tuple[str, ...] = ("features",), select: str | None = None,
                 marks: str | None = None, workers: int = 0, timeout: float = 1800.0,
                 quiet: bool = True, stream: bool = False, name: str | None = None,
                 block_after: int | None = None, extra_env: dict[str, str] | None = None) -> RunOutcome:
    results_dir = outputs.clear(results_dir, what="Allure results folder")
    cmd = _pytest_command(env=env, defects=defects, select=select, marks=marks)
    cmd += ["--alluredir", str(results_dir), "-o", "console_output_style=classic", "-rfE"]
    # the failure text a tester reads is the summary's (domain message, step, file:line: results.reader);
    # short tracebacks: step frames with file:line, never pytest's fixturefunc = ... or kwargs = ... dumps;
    # steps/conftest.py drops pytest's, pluggy's and pytest-bdd's own frames (fixture_result = fixturefunc(...))
    cmd += ["-q" if quiet else "-v", "--tb=short"]
    if workers:
        cmd += ["-n", str(workers)]
    child_env = {**_child_env(name), **(extra_env or {})}
    latch = results_dir / IDENTITY_LATCH_FILE
    child_env[LATCH_ENV] = str(latch)  # a refusal in any process of the suite stops all of them
    child_env[OUTAGE_LATCH_ENV] = str(results_dir / OUTAGE_LATCH_FILE)  # shared by every suite process
    if block_after is not None:
        child_env[BLOCK_AFTER_ENV] = str(block_after)
    proc = _start(cmd, child_env)
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
        # A suite SIGKILLed (the OOM killer, a grace period run out) before its simulators started
        # leaves its throw-away TLS folder (private keys) with no process that could remove it: the
        # simulators remove it only once they run. Its owner is gone now, so it is stale: swept here,
        # not at the next start (and never a folder whose owner still runs: another run's). With
        # --workers the folders are the xdist workers', which outlive a killed suite by seconds:
        # swept again when this process exits.
        _sweep_tls_dirs(child_env.get("TMPDIR") or None)
    # allure-pytest-bdd writes names, parameters and docstrings from the feature text itself
    mask_folder(results_dir)
    refusal = latch.read_text(encoding="utf-8").strip() if latch.exists() else None
    return RunOutcome(proc.returncode, results_dir, "".join(lines), identity_refusal=refusal)


_SWEPT: set[str | None] = set()  # the temporary folders a suite run of this process used: swept at exit


def _sweep_tls_dirs(tmp: str | None) -> None:
    """Remove the stale TLS folders in ``tmp`` now, and again when this process exits."""
    if not _SWEPT:
        atexit.register(_sweep_at_exit)
    _SWEPT.add(tmp)
    remove_stale_tls_dirs(tmp)


def _sweep_at_exit() -> None:
    for tmp in list(_SWEPT):
        remove_stale_tls_dirs(tmp)


def _start(cmd: list[str], child_env: dict[str, str]):
    """The suite run: forked by the suite server while ``forked_suite_runs`` is active (the harness
    watch then names the server, the run's parent), else (or if the server fails) a new interpreter."""
    server = _SERVER
    if server is not None:
        from genrep import suite_launcher
        from genrep.sim.launcher import LauncherError
        try:
            return suite_launcher.spawn(server, cmd, {**child_env, SUITE_PARENT_ENV: str(server.pid)})
        except LauncherError:
            pass
    return subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=child_env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                            errors="replace")


@contextmanager
def forked_suite_runs():
    """Inside: every ``run_features`` (from any thread) is forked by one suite server
    (``genrep.suite_launcher``), saving ~2 s of CPU a run, for callers that run the suite many times
    (``selftest``, ``mutate``); one run alone gains nothing. Yields whether the server is running
    (if it cannot start, runs are new interpreters as without it). Contexts may nest or overlap (in
    several threads): the first one in starts the server, the last one out closes and reaps it (its
    runs' CPU then counts in this process's RUSAGE_CHILDREN); one closing while another is still
    inside would pull the server from under the other's runs."""
    global _SERVER, _SERVER_USERS
    from genrep import suite_launcher
    with _SERVER_LOCK:
        if _SERVER_USERS == 0:
            _SERVER = suite_launcher.start({k: v for k, v in _child_env(None).items() if k != SUITE_PARENT_ENV})
        _SERVER_USERS += 1
        server = _SERVER
    try:
        yield server is not None
    finally:
        with _SERVER_LOCK:
            _SERVER_USERS -= 1
            last = _SERVER_USERS == 0
            if last:
                _SERVER = None
        if last and server is not None:
            server.close()


def _pytest_command(*, env: str | None, defects: tuple[str, ...], select: str | None,
                    marks: str | None) -> list[str]:
    # without Hypothesis's pytest plugin: the steps use Hypothesis as a library (generated texts),
    # never @given, and the plugin's import is about 1 s of every suite run's start (a selftest is 38)
    cmd = [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "steps"), "-p", "no:cacheprovider",
           "-p", "no:hypothesispytest"]
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
    return cmd


def _child_env(name: str | None) -> dict[str, str]:
    child_env = dict(os.environ)
    child_env.pop("GENREP_DEFECTS", None)  # defects are explicit on the command line
    child_env.pop(SCENARIO_LIST_ENV, None)
    child_env.pop(OUTAGE_LATCH_ENV, None)
    child_env["PYTHONIOENCODING"] = "utf-8"
    child_env[SUITE_PARENT_ENV] = str(os.getpid())
    if name:
        child_env[SCENARIO_NAME_ENV] = name
    else:
        child_env.pop(SCENARIO_NAME_ENV, None)
    return child_env


@dataclass
class Scenario:
    """One scenario a selection runs (an Examples row is one scenario each)."""

    title: str
    feature: str        # feature file, relative to the project root
    line: int
    tags: list[str]
    requirements: list[str]
    nodeid: str


def collect_scenarios(*, env: str | None = None, select: str | None = None, marks: str | None = None,
                      name: str | None = None, timeout: float = 120.0) -> list[Scenario]:
    """The scenarios a run with this selection would start, from the suite's own collection
    (``pytest --collect-only``; nothing runs, no simulator starts). Raises ``ConfigError`` when the
    suite cannot be collected."""
    import json
    import tempfile

    from genrep.errors import ConfigError
    with tempfile.TemporaryDirectory(prefix="genrep-collect-") as tmp:
        listing = Path(tmp) / "scenarios.json"
        cmd = _pytest_command(env=env, defects=(), select=select, marks=marks) + ["--collect-only", "-q"]
        child_env = _child_env(name)
        child_env[SCENARIO_LIST_ENV] = str(listing)
        try:
            proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=child_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise GenrepError(f"collecting the scenarios took over {timeout:.0f} s") from None
        if proc.returncode not in (0, 5) or not listing.exists():  # 5: nothing selected
            tail = "\n".join(safe_text(proc.stdout).strip().splitlines()[-15:])
            raise ConfigError(f"the feature suite could not be collected (pytest exit {proc.returncode}):\n{tail}")
        data = json.loads(listing.read_text(encoding="utf-8"))
    return [Scenario(**d) for d in data]


def _pump_masked(pipe, lines: list[str], stream: bool) -> None:
    """The suite's output, line by line, with identities masked and secrets redacted: echoed as it
    comes when ``stream``, kept for the caller either way."""
    for line in pipe:
        safe = safe_text(line)
        lines.append(safe)
        if stream:
            sys.stdout.write(safe)
            sys.stdout.flush()
    if stream and lines and not lines[-1].endswith("\n"):  # a suite stopped mid-line (its progress
        sys.stdout.write("\n")                            # dots): what follows starts a line of its own
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
        except ProcessLookupError:
            # no such group yet: a run forked by the suite server an instant ago has not called
            # setsid() (Popen returns only after exec); the process itself still gets the signal
            try:
                os.kill(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
        except PermissionError:
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


def preflight(profile, command: str, *, select: str | None = None, marks: str | None = None,
              name: str | None = None, scenarios: list[Scenario] | None = None) -> int:
    """The pre-flight of a run (``genrep.preflight``) before anything starts or is cleared: 0 when it
    passed, else the exit code (2 credentials/configuration, 3 unreachable) after printing one line
    per problem and ``VERDICT: none``. With a selection, only the endpoints of the selected scenarios
    are probed (their tags, from the suite's collection); credentials are always the whole profile's."""
    from genrep.preflight import check_credentials, run_preflight
    if profile.kind == "virtual":
        return 0
    tags = None
    if scenarios is not None:
        tags = [s.tags for s in scenarios]
    elif (select or marks or name) and not check_credentials(profile):  # a missing token needs no collection
        tags = [s.tags for s in collect_scenarios(env=str(profile.file) if profile.file else None,
                                                  select=select, marks=marks, name=name)]
    report = run_preflight(profile, tags)
    if report.ok:
        print(f"{command}: pre-flight ok in {report.seconds:.1f} s: credentials resolved; "
              + ("; ".join(report.checked) or "no endpoint needed"), flush=True)
        return 0
    kind = "configuration error" if report.exit_code == 2 else "system under test unreachable"
    what = ("credentials or configuration the run needs are missing" if report.exit_code == 2 else
            "endpoints the selected scenarios need cannot be reached")
    shown = [p for p in report.problems if p.config] or report.problems
    print(f"genrep: {kind}: {command} pre-flight ({report.seconds:.1f} s): {what}; no scenario was started "
          "and no results were cleared.", file=sys.stderr)
    for p in shown:
        print(f"  - {safe_text(p.text)}", file=sys.stderr)
    print("VERDICT: none (the pre-flight failed: the environment was not tested, so there is no GO or NO-GO)",
          flush=True)
    return report.exit_code


def subset_results_dir(now: float | None = None) -> Path:
    """The results folder of a subset run (-k, -m, --name): ``reports/runs/<timestamp>/allure-results``,
    so its summary, scorecard, verdict.json and HTML history sit in that run's own folder and the
    last full rehearsal's (``reports/``) are never overwritten."""
    import time as _time

    from genrep.paths import REPORTS_DIR
    stamp = _time.strftime("%Y%m%d-%H%M%S", _time.localtime(now))
    base = REPORTS_DIR / "runs" / stamp
    n = 1
    while base.exists():  # two subset runs in one second
        n += 1
        base = REPORTS_DIR / "runs" / f"{stamp}-{n}"
    return base / "allure-results"
