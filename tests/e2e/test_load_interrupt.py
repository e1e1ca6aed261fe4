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
