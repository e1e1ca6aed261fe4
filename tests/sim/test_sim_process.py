"""SimProcess: start, stop, bounded waits, clear start errors, no orphans."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from genrep.errors import ConnectionRefused
from genrep.text.identities import Allowlist
from genrep.sim.defects import DEFECTS
from genrep.sim.process import SimProcess, SimStartError
from genrep.text.testdata import patient_for

from .conftest import ack_code, adt, health, mllp_client, wait_until

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
#: how long something that must happen may take on a busy CI host (every process can be starved for
#: seconds): polled, so the passing case is not slower
WAIT = 30.0


def pid_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs. A zombie counts as gone: an orphan that exited is reaped
    by init, which may take a moment (or never happen in a minimal container)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _proc_state(pid: int) -> str:
    """State and parent pid of ``pid`` from /proc, for failure messages."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return "no such process"
    return f"state {fields[0]}, parent pid {fields[1]}"


def helper_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    return env


def test_clean_start_lists_no_defects(ehr):
    _profile, info = ehr
    assert info["defects"] == []
    assert health(info)["defects"] == []


def test_start_stop_leaves_no_process():
    sim = SimProcess("genrep.sim.ehr", ["--mllp-port", "0", "--fhir-port", "0"])
    info = sim.start()
    proc = sim.proc
    assert proc is not None and sim.alive
    assert info["pid"] == proc.pid
    assert not pid_gone(proc.pid)
    with mllp_client(info) as c:
        assert ack_code(c.send(adt(patient_for(Allowlist.load().pick(0))))) == "AA"
    sim.stop()
    assert proc.poll() is not None
    assert not sim.alive
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)
    with pytest.raises(ConnectionRefused):
        mllp_client(info, read_timeout=1.0).connect()
    sim.stop()  # idempotent


def test_unknown_defect_fails_start_naming_known_defects():
    sim = SimProcess("genrep.sim.ehr", ["--defect", "radiology-no-such-thing"], ready_timeout=15.0)
    with pytest.raises(SimStartError) as exc:
        sim.start()
    message = str(exc.value)
    assert "radiology-no-such-thing" in message
    for name in DEFECTS:
        assert name in message
    assert "did not report ready" not in message  # it failed; it was not slow
    assert sim.proc is None


@pytest.mark.parametrize("spec", ["radiology-truncation:abc", "radiology-truncation:0"])
def test_bad_defect_parameter_fails_start(spec):
    with pytest.raises(SimStartError, match="positive integer"):
        SimProcess("genrep.sim.ehr", ["--defect", spec], ready_timeout=15.0).start()


def test_module_that_never_reports_ready_times_out():
    sim = SimProcess("child_helper", ["silent"], ready_timeout=1.0, env=helper_env())
    start = time.monotonic()
    with pytest.raises(SimStartError, match=r"did not report ready within 1\.0 s"):
        sim.start()
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 1.0 + 5.0  # it waited for the deadline, and not (much) longer
    assert sim.proc is None


def test_child_that_exits_at_once_reports_its_stderr():
    # several times: stdout EOF and the exit status arrive separately, so a race would show
    for _ in range(5):
        sim = SimProcess("child_helper", ["exit"], ready_timeout=2 * WAIT, env=helper_env())
        start = time.monotonic()
        with pytest.raises(SimStartError) as exc:
            sim.start()
        assert time.monotonic() - start < WAIT  # not the ready timeout
        message = str(exc.value)
        assert "boom, failing on purpose" in message
        assert "code 3" in message


def test_chatty_child_does_not_block_on_its_stderr(tmp_path):
    """A simulator writing lots to stderr must keep running (a full, unread pipe would block it)."""
    marker = tmp_path / "done"
    sim = SimProcess("child_helper", ["chatty", str(marker)], ready_timeout=WAIT, env=helper_env())
    sim.start()
    try:
        assert wait_until(marker.exists, WAIT), "the child blocked writing to stderr"
    finally:
        sim.stop()
    assert "chatty: last line" in sim.stderr_tail


PARENT = textwrap.dedent("""
    import json, os, signal, sys, time
    from genrep.sim.process import SimProcess
    sim = SimProcess("genrep.sim.ehr", ["--mllp-port", "0", "--fhir-port", "0"])
    info = sim.start()
    print(json.dumps(info), flush=True)
    if sys.argv[1] == "self":  # die the moment the EHR is ready: no atexit, no cleanup
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)
""")


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                break
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode()


@pytest.mark.parametrize("how", ["killed-by-test", "self"])
def test_ehr_exits_when_its_parent_dies(how):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, how], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, cwd=ROOT)
    ehr_pid = None
    try:
        line = _read_line(parent, 2 * WAIT)  # a Python start, then the EHR's (ready within 20 s)
        assert line, "the parent did not start the EHR"
        ehr_pid = json.loads(line)["pid"]
        if how == "killed-by-test":
            assert not pid_gone(ehr_pid)
            parent.send_signal(signal.SIGKILL)  # no atexit, no cleanup: only the child's own watch
        assert parent.wait(WAIT) == -signal.SIGKILL
        # parent gone -> launcher sees EOF -> the EHR's parent watch (0.5 s poll) -> aiohttp shutdown
        assert wait_until(lambda: pid_gone(ehr_pid), WAIT, interval=0.1), \
            f"the EHR outlived its parent: {_proc_state(ehr_pid)}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(WAIT)
        parent.stdout.close()
        if ehr_pid is not None and not pid_gone(ehr_pid):
            os.kill(ehr_pid, signal.SIGKILL)
