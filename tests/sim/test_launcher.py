"""The fork launcher (genrep.sim.launcher): a simulator forked from a process that already imported
it is still a process of its own (own pid, session, command line, stdout, stderr, exit code), it is
stopped and killed as before, and nothing outlives the harness that started it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from genrep.sim import launcher
from genrep.sim.process import SimProcess, SimStartError

#: how long an exit or a cleanup that must happen may take on a busy CI host (processes can be
#: starved for seconds): every wait below returns as soon as it has happened
WAIT = 60.0


@pytest.fixture(autouse=True)
def _launcher_on(monkeypatch):
    monkeypatch.delenv(launcher.SWITCH_ENV, raising=False)


def _launched(module="genrep.sim.nll", args=("--port", "0")) -> SimProcess:
    sim = SimProcess(module, list(args))
    sim.start()
    assert isinstance(sim.proc, launcher.LaunchedProcess), "not started through the launcher"
    return sim


def test_a_launched_simulator_is_a_process_of_its_own():
    sim = _launched()
    try:
        proc = psutil.Process(sim.proc.pid)
        assert sim.info["pid"] == sim.proc.pid
        assert proc.ppid() == launcher.launcher().pid  # the launcher's child, not ours
        assert os.getsid(sim.proc.pid) == sim.proc.pid  # its own session: a Ctrl-C does not reach it
        assert "-m genrep.sim.nll --port 0" in " ".join(proc.cmdline())  # ps shows what it is
        assert proc.cwd() == os.getcwd()
    finally:
        sim.stop()
    assert sim.proc is None


def test_stop_ends_it_with_sigterm_and_its_exit_code_comes_back():
    sim = _launched()
    proc = sim.proc
    sim.stop()
    assert proc.returncode is not None and proc.poll() == proc.returncode
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)  # reaped by the launcher, not left a zombie


def test_sigkill_is_seen_as_minus_nine_and_wait_is_bounded():
    sim = _launched()
    proc = sim.proc
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(0.2)  # alive: the bounded wait says so
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(WAIT) == -signal.SIGKILL
    sim.stop()
    proc.send_signal(signal.SIGTERM)  # gone and seen gone: never signals a pid that may be reused


def test_a_start_error_is_its_ready_line_and_its_exit_code():
    sim = SimProcess("genrep.sim.ehr", ["--defect", "radiology-no-such-thing"], ready_timeout=15.0)
    with pytest.raises(SimStartError, match="radiology-no-such-thing"):
        sim.start()
    assert sim.proc is None


def test_a_crash_in_the_simulator_reaches_its_stderr():
    # --port is an integer: argparse writes its usage error to stderr and exits 2
    sim = SimProcess("genrep.sim.nll", ["--port", "not-a-port"], ready_timeout=15.0)
    with pytest.raises(SimStartError, match=r"(?s)exited with code 2 .*invalid int value"):
        sim.start()


def test_switched_off_it_starts_a_new_interpreter(monkeypatch):
    monkeypatch.setenv(launcher.SWITCH_ENV, "off")
    sim = SimProcess("genrep.sim.nll", ["--port", "0"])
    sim.start()
    try:
        assert isinstance(sim.proc, subprocess.Popen)
        assert psutil.Process(sim.proc.pid).ppid() == os.getpid()
    finally:
        sim.stop()


HARNESS = textwrap.dedent("""
    import json, sys
    from genrep.config.profile import load_profile
    from genrep.sim.process import start_virtual_environment
    from genrep.sim import launcher
    env = start_virtual_environment(load_profile("virtual-tls"))
    print(json.dumps({"launcher": launcher.launcher().pid, "tls_dir": env.tls_dir,
                      "pids": [p.proc.pid for p in env.processes.values()]}), flush=True)
    sys.stdin.read()  # until killed
""")


def test_nothing_outlives_a_harness_killed_with_sigkill():
    """The launcher ends at end of file on its socket; the simulators notice their parent is gone
    and remove the harness's throw-away TLS folder (private keys), as they do without the launcher."""
    env = {k: v for k, v in os.environ.items() if k != launcher.SWITCH_ENV}
    harness = subprocess.Popen([sys.executable, "-c", HARNESS], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, env=env)
    try:
        line = harness.stdout.readline()
        assert line, "the harness did not start its environment"
        started = json.loads(line)
        assert len(started["pids"]) >= 7 and os.path.isdir(started["tls_dir"])
        procs = [psutil.Process(pid) for pid in [started["launcher"], *started["pids"]]]
        assert all(p.ppid() == started["launcher"] for p in procs[1:])
        harness.kill()
        harness.wait(WAIT)
        gone, alive = psutil.wait_procs(procs, timeout=WAIT)
        assert not alive, [p.cmdline() for p in alive]
        deadline = time.monotonic() + WAIT
        while os.path.exists(started["tls_dir"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(started["tls_dir"])
    finally:
        if harness.poll() is None:
            harness.kill()
        harness.stdin.close()
        harness.stdout.close()
