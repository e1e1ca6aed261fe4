"""Ctrl-C during `genrep load` stops Locust and the virtual environment: no orphan process; and what
the run measured is reported as incomplete, never as met (issue 18, bad input)."""

import json
import os
import signal
import subprocess
import sys
import time

import psutil


def _processes_under(marker: str) -> list[str]:
    """Command lines of running processes that mention ``marker`` (psutil: ps may cut long lines)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        if marker in line:
            found.append(line)
    return found


def test_ctrl_c_during_a_load_run_leaves_nothing_running(tmp_path):
    out = tmp_path / "load"
    proc = subprocess.Popen([sys.executable, "-m", "genrep.cli", "load", "steady_day", "--users", "6",
                             "--duration", "60s", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    try:
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:  # wait until Locust is really running (a progress line)
            line = proc.stdout.readline()
            lines.append(line)
            if "users" in line and "req/s" in line:
                break
        assert any("req/s" in line for line in lines), "".join(lines)
        children = psutil.Process(proc.pid).children(recursive=True)  # simulators and Locust
        assert any("genrep.sim." in " ".join(c.cmdline()) for c in children), "no simulator running"
        assert _processes_under(str(out / "stats")), "Locust is not running"
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal sends
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode != 0  # interrupted, not a verdict
    deadline = time.monotonic() + 10
    while _processes_under(str(out / "stats")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_under(str(out / "stats")), "Locust outlived Ctrl-C"
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"outlived Ctrl-C: {[' '.join(p.cmdline()) for p in alive]}"
    sla = json.loads((out / "sla.json").read_text(encoding="utf-8"))
    assert sla["verdict"] == "INCONCLUSIVE" and sla["incomplete"].startswith("interrupted after"), sla
    assert sla["inconclusive"].startswith("run incomplete: interrupted after")
    assert not [o for o in sla["outcomes"] if o["ok"] or o["status"] == "met"], sla["outcomes"]


def test_a_crashed_locust_worker_makes_the_run_incomplete_never_met(tmp_path):
    """A Locust worker killed mid-run (SIGKILL: a crash, an OOM kill) leaves the run short of the
    load it was asked for: the master notices the missing heartbeats, and genrep reports what was
    measured as incomplete (exit 4), never as met."""
    out = tmp_path / "load"
    proc = subprocess.Popen([sys.executable, "-m", "genrep.cli", "load", "steady_day", "--users", "8",
                             "--workers", "2", "--duration", "40s", "--out", str(out),
                             "--results", str(tmp_path / "allure-results")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    lines = []
    try:
        # kill as early as the run allows: the master has written started.json (its test started,
        # which it does only once both forked workers have connected). The master needs
        # HEARTBEAT_LIVENESS (10) missed heartbeats to call the worker missing, and the run is not
        # cut by the kill (the other worker goes on to the end): waiting for a progress line, which
        # a saturated host can delay far into the 40 s, left too little of the run to notice it
        deadline = time.monotonic() + 90
        locusts: list[psutil.Process] = []
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                locusts = [p for p in psutil.Process(proc.pid).children(recursive=True)
                           if "--processes" in " ".join(p.cmdline())]
                workers = [p for p in locusts if p.ppid() in {q.pid for q in locusts}]
            except psutil.Error:  # a process ended while looked at: look again
                pass
            if (out / "started.json").is_file() and len(workers) == 2:
                break
            time.sleep(0.1)
        if proc.poll() is not None:
            lines.append(proc.stdout.read())
        assert (out / "started.json").is_file(), "Locust's test never started:\n" + "".join(lines)
        # `--processes 2`: the master forks its workers, which keep its command line
        assert len(workers) == 2, [" ".join(p.cmdline()) for p in locusts]
        # a free port, never Locust's 5557 (the CLI passed 5557 until session 9: two runs on one
        # host then shared a port, and one run's workers could join the other's master)
        (master,) = set(locusts) - set(workers)
        command = master.cmdline()
        port = command[command.index("--master-port") + 1]
        assert port == command[command.index("--master-bind-port") + 1] and port != "5557", command
        # on loopback only: Locust's own default is every interface (anyone could join as a worker)
        listening = [c.laddr for c in master.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
        assert [(a.ip, a.port) for a in listening] == [("127.0.0.1", int(port))], listening
        workers[0].kill()
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    output = "".join(lines) + (rest or "")
    assert proc.returncode == 4, output[-3000:]
    assert "Locust worker(s) stopped mid-run" in output, output[-3000:]
    sla = json.loads((out / "sla.json").read_text(encoding="utf-8"))
    assert sla["verdict"] == "INCONCLUSIVE" and "stopped mid-run" in sla["inconclusive"], sla
    assert not [o for o in sla["outcomes"] if o["status"] == "met"], sla["outcomes"]
