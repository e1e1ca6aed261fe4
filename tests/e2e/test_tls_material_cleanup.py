"""The throw-away TLS material of ``--env virtual-tls`` (a CA, certificates and private keys in a
``genrep-tls-*`` temporary folder) is removed on every exit path: a normal stop, an exception or
Ctrl-C while starting, the atexit hook, Ctrl-C and SIGTERM on ``genrep sim up``, an interrupted
``genrep rehearse`` (the feature suite's session fixture owns the folder there), and even a SIGKILL
of its owner (the simulators remove it; the next start removes stale ones). Real processes, with
TMPDIR pointing at the test's own folder so nothing else's temporary files are looked at."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genrep.config.profile import load_profile
from genrep.errors import ConfigError
from genrep.sim import process as sim_process
from genrep.sim.process import make_tls_dir, remove_stale_tls_dirs, start_virtual_environment

GENREP = str(Path(sys.executable).parent / "genrep")
FAKE_ENV = {"GENREP_VIRTUAL_FHIR_TOKEN": "cleanup-fake-token-2d7b",
            "GENREP_VIRTUAL_TLS_KEY_PASSWORD": "cleanup-fake-key-password-9e04"}


def tls_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("genrep-tls-*"))


def wait_until(predicate, timeout: float, poll: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


def assert_private(d: Path) -> None:
    assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    files = list(d.iterdir())
    assert {"ca.pem", "server.key", "client.key", "peer-client.key", "owner.json"} <= {f.name for f in files}
    for f in d.rglob("*"):  # the e-prescription card store (erx-cards/) is a folder of the same private kind
        assert stat.S_IMODE(f.stat().st_mode) == (0o700 if f.is_dir() else 0o600), f


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """TMPDIR for this process (tempfile) and for the children it starts."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    return tmp


def child_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "GENREP_DEFECTS"}
    return {**env, **FAKE_ENV, "TMPDIR": str(tmp)}


# -- in-process: stop, exceptions, Ctrl-C while starting, atexit ------------------------------------

def test_stop_removes_the_private_folder_and_is_idempotent(private_tmp):
    venv = start_virtual_environment(load_profile("virtual-tls", defects=()))
    try:
        d = Path(venv.tls_dir)
        assert d.parent == private_tmp and tls_dirs(private_tmp) == [d]
        assert_private(d)
        owner = json.loads((d / "owner.json").read_text(encoding="utf-8"))
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    finally:
        venv.stop()
    assert tls_dirs(private_tmp) == [] and str(d) not in sim_process._TLS_DIRS
    venv.stop()  # a second stop (a fixture and an atexit hook) is harmless


def test_a_failing_start_removes_the_folder_and_the_started_simulators(private_tmp, monkeypatch):
    started = []
    real_start = sim_process.SimProcess.start

    def recording_start(self):
        started.append(self)
        return real_start(self)

    def broken_contract():
        raise ConfigError("multum contract broken (injected by the test)")

    monkeypatch.setattr(sim_process.SimProcess, "start", recording_start)
    monkeypatch.setattr("genrep.config.contracts.load_multum", broken_contract)  # after NLL and Multum started
    with pytest.raises(ConfigError, match="injected"):
        start_virtual_environment(load_profile("virtual-tls", defects=()))
    assert len(started) == 3 and not any(s.alive for s in started)
    assert tls_dirs(private_tmp) == []


def test_ctrl_c_while_making_certificates_removes_the_folder(private_tmp, monkeypatch):
    import genrep.transport.pki

    real_make_pki = genrep.transport.pki.make_pki

    def interrupted(directory, **kwargs):
        real_make_pki(directory, **kwargs)  # the keys are on disk ...
        raise KeyboardInterrupt  # ... when Ctrl-C arrives

    monkeypatch.setattr(genrep.transport.pki, "make_pki", interrupted)
    with pytest.raises(KeyboardInterrupt):
        start_virtual_environment(load_profile("virtual-tls", defects=()))
    assert tls_dirs(private_tmp) == []


@pytest.mark.parametrize("ending", ["normal", "exception", "KeyboardInterrupt"])
def test_atexit_removes_a_folder_nobody_stopped(private_tmp, ending):
    code = ("import sys\nfrom genrep.sim.process import make_tls_dir\nd = make_tls_dir()\n"
            "open(d + '/server.key', 'w').write('key')\nprint(d, flush=True)\n"
            + {"normal": "", "exception": "raise RuntimeError('boom')\n",
               "KeyboardInterrupt": "raise KeyboardInterrupt\n"}[ending])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=child_env(private_tmp))
    printed = Path(proc.stdout.strip())
    assert printed.parent == private_tmp, proc.stdout + proc.stderr
    assert not printed.exists() and tls_dirs(private_tmp) == []


def test_the_next_start_removes_only_stale_folders_of_this_host(private_tmp):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, timeout=60)
    dead_pid = int(gone.stdout)  # a process that has exited

    def fake(name: str, owner: dict | None) -> Path:
        d = private_tmp / f"genrep-tls-{name}"
        d.mkdir(mode=0o700)
        (d / "server.key").write_text("key", encoding="utf-8")
        if owner is not None:
            (d / "owner.json").write_text(json.dumps(owner), encoding="utf-8")
        return d

    host = socket.gethostname()
    stale = fake("stale", {"pid": dead_pid, "start": None, "host": host})
    reused = fake("reused", {"pid": os.getpid(), "start": "1", "host": host})  # our pid, another start time
    live = fake("live", {"pid": os.getpid(), "start": sim_process._start_time(os.getpid()), "host": host})
    other_host = fake("other-host", {"pid": dead_pid, "start": None, "host": host + "-elsewhere"})
    no_owner = fake("no-owner", None)
    not_ours = private_tmp / "unrelated-dead"
    not_ours.mkdir()
    (not_ours / "owner.json").write_text(json.dumps({"pid": dead_pid, "host": host}), encoding="utf-8")
    ours = Path(make_tls_dir())  # registered as running in this process: never touched
    try:
        removed = remove_stale_tls_dirs()
        assert sorted(removed) == sorted([str(stale), str(reused)])
        for d in (live, other_host, no_owner, not_ours, ours):
            assert d.is_dir(), d
    finally:
        sim_process._remove_tls_dir(str(ours))


# -- real processes: genrep sim up ----------------------------------------------------------------

def start_sim_up(tmp: Path) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([GENREP, "sim", "up", "--env", "virtual-tls", "--mllp-port", "0", "--fhir-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(tmp))
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"trust (\S+)/ca\.pem", line)
        if found:
            return proc, Path(found.group(1))
    proc.kill()
    raise AssertionError("sim up never printed the CA: " + "".join(lines) + proc.stderr.read())


def stop_and_check(proc: subprocess.Popen, tmp: Path, sig: int) -> None:
    try:
        d = tls_dirs(tmp)[0]
        assert_private(d)
        assert json.loads((d / "owner.json").read_text(encoding="utf-8"))["pid"] == proc.pid
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert "Traceback" not in err, err
        assert tls_dirs(tmp) == [], f"left behind after {signal.Signals(sig).name}: {tls_dirs(tmp)}\n{err}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_sim_up_ctrl_c_removes_the_keys(tmp_path):
    proc, d = start_sim_up(tmp_path)
    assert d.parent == tmp_path
    stop_and_check(proc, tmp_path, signal.SIGINT)


def test_sim_up_sigterm_removes_the_keys(tmp_path):
    proc, _ = start_sim_up(tmp_path)
    stop_and_check(proc, tmp_path, signal.SIGTERM)


@pytest.mark.timeout(240)  # start-up (up to 60 s) and the removal (up to 60 s): above the default 120 s
def test_sim_up_sigkilled_the_simulators_remove_the_keys(tmp_path):
    """Nothing runs in a SIGKILLed process; its simulators notice their parent is gone and remove the
    folder that names it as owner (and stop)."""
    proc, d = start_sim_up(tmp_path)
    try:
        proc.kill()
        proc.wait(10)
        # a bound against "never", not a speed: the simulators' parent watch, then their own
        # teardown, on a possibly saturated host (the sibling below needed more than 10 s once)
        assert wait_until(lambda: not d.exists(), timeout=60), f"{d} outlived a SIGKILLed sim up"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()


# -- real processes: an interrupted rehearsal (the suite's session fixture owns the folder) ---------

def simulators_running(pid: int | None) -> bool:
    """Whether process ``pid`` has a virtual EHR among its descendants (forked by its launcher)."""
    import psutil
    if pid is None:
        return False
    try:
        return any("genrep.sim.ehr" in " ".join(p.cmdline()) for p in psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return False


def owner_pid(tmp: Path) -> int | None:
    for d in tls_dirs(tmp):
        try:
            return json.loads((d / "owner.json").read_text(encoding="utf-8"))["pid"]
        except (OSError, ValueError, KeyError):
            pass
    return None


@pytest.mark.parametrize("how", ["Ctrl-C to the harness", "Ctrl-C to the process group",
                                 "suite SIGKILLed while starting", "suite SIGKILLed with its simulators running"])
def test_interrupted_rehearsal_leaves_no_keys(tmp_path, how):
    """Ctrl-C in a terminal signals the whole process group; ``kill -INT`` only the harness (which
    then stops its suite). A suite killed outright (the OOM killer, a grace period run out) cannot
    clean up: its simulators remove the folder that names it as owner, and the harness sweeps the
    folder of a suite killed before any simulator ran (CI once caught that window: the kill came one
    second after the keys were written, before the simulators had started). Either way the folder
    is gone once the harness has exited."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen([GENREP, "rehearse", "--env", "virtual-tls", "--no-html",
                             "--results", str(tmp_path / "results")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=child_env(tmp), start_new_session=True)
    try:
        if how == "suite SIGKILLed while starting":
            # the folder names its owner before anything is in it: the earliest moment it can be left
            assert wait_until(lambda: owner_pid(tmp) is not None, timeout=90, poll=0.01), \
                proc.stderr.read() if proc.poll() is not None else "no TLS folder appeared"
        else:
            # the suite has started its virtual environment once the CA exists and the EHR runs on it
            assert wait_until(lambda: any((d / "peer-client.key").exists() for d in tls_dirs(tmp))
                              and simulators_running(owner_pid(tmp)), timeout=90), \
                proc.stderr.read() if proc.poll() is not None else "no TLS folder and virtual EHR appeared"
        suite = owner_pid(tmp)
        if how == "Ctrl-C to the harness":
            proc.send_signal(signal.SIGINT)
        elif how == "Ctrl-C to the process group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            assert suite != proc.pid  # the folder belongs to the suite's process, not the harness
            os.kill(suite, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0
        if "SIGKILLed" in how:  # an outside kill is an incomplete run, not a configuration error
            assert proc.returncode == 4 and "killed by SIGKILL" in err, (proc.returncode, err[-2000:])
        if how == "suite SIGKILLed while starting":  # the harness's sweep: gone before it exits
            assert tls_dirs(tmp) == [], f"left behind: {tls_dirs(tmp)}\n{err[-2000:]}"
        # the simulators need their parent-watch interval to notice a suite that was killed
        # a bound against "never", not a speed (10 s was exceeded once on a saturated host)
        assert wait_until(lambda: tls_dirs(tmp) == [], timeout=30), f"left behind: {tls_dirs(tmp)}\n{err[-2000:]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
