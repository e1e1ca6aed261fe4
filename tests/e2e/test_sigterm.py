"""SIGTERM (CI cancel, ``timeout``) takes the Ctrl-C path: `genrep rehearse`, `genrep load` and `genrep
sim up` stop everything they started (pytest and its simulators, Locust, the simulators) and exit
143 (130 on SIGINT; sim up, whose normal end is a signal, 0). The signal goes to genrep's pid only,
as ``kill`` sends it: the children must be stopped by genrep, not by the signal reaching them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from genrep.paths import PROJECT_ROOT


def start(tmp_path, *args):
    log = open(tmp_path / "genrep.log", "w+", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "genrep.cli", *map(str, args)], cwd=PROJECT_ROOT,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    return proc, log


def tree(proc) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def cmdlines(procs) -> list[str]:
    out = []
    for p in procs:
        try:
            out.append(" ".join(p.cmdline()))
        except psutil.Error:
            pass
    return out


def wait_for(proc, log, ready, timeout=45.0) -> list[psutil.Process]:
    """Wait until ``ready(command lines of the tree)`` holds; return the whole tree at that moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"genrep ended early ({proc.returncode}):\n{output(log)}"
        procs = tree(proc)
        if ready(cmdlines(procs)):
            return procs
        time.sleep(0.2)
    raise AssertionError(f"not ready within {timeout} s:\n{output(log)[-3000:]}")


def output(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()


def stop_and_check(proc, log, procs, sig, expected_code, within=40.0) -> str:
    proc.send_signal(sig)
    try:
        proc.wait(within)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"genrep still running {within} s after the signal:\n{output(log)[-3000:]}")
    text = output(log)
    assert proc.returncode == expected_code, text[-3000:]
    _, alive = psutil.wait_procs(procs, timeout=5)
    assert not alive, f"outlived genrep: {cmdlines(alive)}"
    return text


@pytest.fixture
def cleanup():
    started = []
    yield started
    for proc in started:  # a failing test leaves nothing behind either
        if proc.poll() is None:
            for p in tree(proc):
                p.kill()
            proc.kill()
            proc.wait(10)


# the bounds below (start-up, a first result, the stop) add up to more than the suite's default
# pytest timeout (120 s): the tests' own checks must be what fails, with their output
@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig, code, message", [(signal.SIGTERM, 143, "genrep: stopped by SIGTERM"),
                                                (signal.SIGINT, 130, "genrep: interrupted (Ctrl-C)")])
def test_rehearse_stops_the_suite_and_its_simulators(tmp_path, cleanup, sig, code, message):
    results = tmp_path / "allure-results"
    proc, log = start(tmp_path, "rehearse", "--results", results, "--no-html")
    cleanup.append(proc)
    procs = wait_for(proc, log, lambda lines: any("genrep.sim.ehr" in line for line in lines))
    # inside the suite: a scenario has finished (a bound against "never"; generous for a saturated CI host)
    deadline = time.monotonic() + 120
    while not list(results.glob("*-result.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(results.glob("*-result.json")), output(log)[-3000:]
    procs = tree(proc)
    assert any(" -m pytest " in line for line in cmdlines(procs))
    assert sum("genrep.sim." in line for line in cmdlines(procs)) >= 4
    text = stop_and_check(proc, log, procs, sig, code)
    assert text.rstrip().splitlines()[-1] == message
    assert "VERDICT" not in text


@pytest.mark.timeout(240)
def test_the_suite_stops_when_rehearse_is_killed(tmp_path, cleanup):
    """Even SIGKILL (no handler runs): the suite notices its harness is gone and tears down."""
    proc, log = start(tmp_path, "rehearse", "--results", tmp_path / "r", "--no-html")
    cleanup.append(proc)
    wait_for(proc, log, lambda lines: any("genrep.sim.ehr" in line for line in lines))
    procs = tree(proc)
    proc.kill()
    proc.wait(10)
    _, alive = psutil.wait_procs(procs, timeout=60)  # returns as soon as all are gone
    assert not alive, f"outlived a killed genrep: {cmdlines(alive)}"


MIDDLE = """\
import os, subprocess, sys, time
cmd, log = sys.argv[1:-1], sys.argv[-1]
env = dict(os.environ, PYTHONIOENCODING="utf-8")
if os.environ.get("WATCHED") == "1":
    env["GENREP_SUITE_PARENT_PID"] = str(os.getpid())
suite = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=env, start_new_session=True)
print(suite.pid, flush=True)
time.sleep(300)
"""


@pytest.mark.timeout(240)
def test_the_suite_watch_alone_stops_it_when_its_harness_is_killed(tmp_path, cleanup):
    """The test above passes as long as the suite stops somehow, and a killed genrep also breaks the
    suite's output pipe (pytest dies writing its next dot). Here the harness is a stand-in whose suite
    writes to a file and has its own session: nothing reaches the suite but the parent watch
    (``GENREP_SUITE_PARENT_PID``, steps/conftest.py). Shown red: without the variable the suite
    outlives its killed parent (checked by hand; the same run with WATCHED unset fails here)."""
    from genrep.rehearsal import _pytest_command
    cmd = _pytest_command(env=None, defects=(), select=None, marks=None)
    cmd += ["--alluredir", str(tmp_path / "r"), "-q"]
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE, *cmd, str(tmp_path / "suite.log")], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ, WATCHED="1"))
    cleanup.append(middle)
    suite = psutil.Process(int(middle.stdout.readline()))
    try:
        deadline = time.monotonic() + 45
        procs: list[psutil.Process] = []
        while time.monotonic() < deadline:  # the simulators are up: the suite is running scenarios
            procs = [suite, *suite.children(recursive=True)]
            if any("genrep.sim.ehr" in line for line in cmdlines(procs)):
                break
            time.sleep(0.2)
        assert any("genrep.sim.ehr" in line for line in cmdlines(procs)), (tmp_path / "suite.log").read_text()
        middle.kill()
        middle.wait(10)
        # the watch looks every 0.5 s; then teardown (60 s: a bound against "never" on a saturated host)
        _, alive = psutil.wait_procs(procs, timeout=60)
        assert not alive, f"outlived its killed harness: {cmdlines(alive)}"
        # stopped by the watch (its SIGTERM: pytest's interrupted summary), not at the suite's own end
        log = (tmp_path / "suite.log").read_text(encoding="utf-8", errors="replace")
        assert "KeyboardInterrupt" in log and "stopped by signal 15" in log, log[-2000:]
    finally:
        for p in [suite, *(suite.children(recursive=True) if suite.is_running() else [])]:
            try:
                p.kill()
            except psutil.Error:
                pass


def test_load_stops_locust_and_the_simulators(tmp_path, cleanup):
    proc, log = start(tmp_path, "load", "steady_day", "--duration", "30s", "--users", "6", "--out", tmp_path / "load")
    cleanup.append(proc)
    procs = wait_for(proc, log, lambda lines: any(" -m locust " in line for line in lines))
    time.sleep(2)  # Locust's users are running
    procs = tree(proc)
    assert sum("genrep.sim." in line for line in cmdlines(procs)) >= 4
    text = stop_and_check(proc, log, procs, signal.SIGTERM, 143)
    assert text.rstrip().splitlines()[-1] == "genrep: stopped by SIGTERM"
    assert "SLA:" not in text


@pytest.mark.timeout(240)
def test_sim_up_stops_its_simulators(tmp_path, cleanup):
    proc, log = start(tmp_path, "sim", "up", "--mllp-port", "0", "--fhir-port", "0")
    cleanup.append(proc)
    wait_for(proc, log, lambda lines: sum("genrep.sim." in line for line in lines) >= 5)
    # the last start-up line: from here on a SIGTERM is sim up's normal end (exit 0); before it, a
    # SIGTERM interrupts the start (143), so the test must not signal until it has appeared
    deadline = time.monotonic() + 60
    while "defects:" not in output(log) and time.monotonic() < deadline:
        assert proc.poll() is None, f"sim up ended early ({proc.returncode}):\n{output(log)}"
        time.sleep(0.2)
    assert "defects:" in output(log), f"sim up never finished starting:\n{output(log)[-3000:]}"
    procs = tree(proc)
    text = stop_and_check(proc, log, procs, signal.SIGTERM, 0)
    assert "stopped." in text
