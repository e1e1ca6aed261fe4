"""`genrep load` end to end against the virtual environment: Locust runs as a subprocess
(never inside pytest: its gevent patching breaks this process), every operation makes requests,
stats.json and sla.json are written, the SLAs hold, and nothing is left running."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _leftovers(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line]


def test_soak_smoke(tmp_path):
    """A short soak: every operation, every SLA, "AA is stored" and the drift check (PERF-SOAK)."""
    out, results = tmp_path / "load", tmp_path / "allure-results"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "load", "soak", "--users", "5",
                           "--duration", "8s", "--out", str(out), "--results", str(results)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    assert time.monotonic() - start < 120
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert isinstance(stats, list) and stats
    sla = json.loads((out / "sla.json").read_text(encoding="utf-8"))
    # on a busy machine the timing results are "inconclusive: host saturated" (never met, never missed)
    assert sla["verdict"] in ("MET", "INCONCLUSIVE"), proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == {"MET": 0, "MISSED": 1, "INCONCLUSIVE": 4}[sla["verdict"]]
    assert ("SLA: MET" in proc.stdout) == (sla["verdict"] == "MET") and sla["run"]["locust_exit_code"] == 0
    ops = sla["run"]["operations"]
    assert set(ops) == {"read_report", "read_medications", "send_oru", "register_adt", "prescribe"}
    for name, s in ops.items():
        assert s["requests"] > 0, name
        assert s["failures"] == 0, (name, s)
    assert len(sla["outcomes"]) == 18 and not [o for o in sla["outcomes"] if o["status"] == "missed"], sla["outcomes"]
    assert all(o["ok"] == (o["status"] == "met") for o in sla["outcomes"])
    assert len(list(results.glob("*-result.json"))) == 18
    drift = [o for o in sla["outcomes"] if o["requirement"] == "PERF-SOAK"]
    assert len(drift) == 1 and drift[0]["measured"] is not None
    assert sla["run"]["p95_drift_ms"]["start"] > 0
    # "AA is stored": every ORU answered AA counted, the store grew by as much, a sample read back
    stored = sla["run"]["stored"]
    assert stored["accepted"] == stored["aa_by_stats"] == ops["send_oru"]["requests"] > 0
    growth = stored["stored_after"] - stored["stored_before"]  # a user stopped mid-send may add one
    assert stored["accepted"] <= growth <= stored["sent"] and stored["not_stored"] == 0
    assert stored["sampled"] == min(50, stored["accepted"]) and stored["sample_missing"] == 0
    # the plot, the history behind it, progress lines while running, the generator's verdict
    png = (out / "load.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert (out / "stats_stats_history.csv").stat().st_size > 0
    assert "users" in proc.stdout and "req/s" in proc.stdout
    assert sla["run"]["generator"]["samples"] > 0 and "Generator:" in proc.stdout
    one = json.loads(next(results.glob("*-result.json")).read_text(encoding="utf-8"))
    kinds = {a["type"] for a in one["attachments"]}
    assert kinds == {"application/json", "image/png"}
    assert all((results / a["source"]).is_file() for a in one["attachments"])
    assert not _leftovers(str(out / "stats")), "a Locust process outlived the run"


def test_golive_morning_with_workers_and_a_report_dropped_under_load(tmp_path):
    """The go-live morning in Locust's distributed mode (a master and 2 workers on this machine),
    with the EHR dropping every 2nd report it acknowledged: "AA is stored" (PERF-STORED) is
    missed, and the gate counts it."""
    out, results = tmp_path / "load", tmp_path / "allure-results"
    # 600 users: their first requests are spread over a think time (15-45 s), so a short run needs
    # enough of them for a dozen ORUs
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "load", "golive_morning", "--users", "600",
                           "--duration", "16s", "--workers", "2", "--defect", "radiology-drops-under-load:2",
                           "--out", str(out), "--results", str(results), "--quiet"],
                          capture_output=True, text=True, timeout=150,
                          env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    sla = json.loads((out / "sla.json").read_text(encoding="utf-8"))
    assert sla["run"]["workers"] == 2 and sla["run"]["generator"]["processes"] >= 3  # master + 2 workers
    failed = {(o["requirement"], o["metric"]) for o in sla["outcomes"] if not o["ok"]}
    assert ("PERF-STORED", "max_not_stored") in failed, sla["outcomes"]
    stored = sla["run"]["stored"]
    # the workers' accessions all reached the master (a worker's last statistics report can miss the
    # master's quitting, its accession messages do not: the log may hold a few more than the stats)
    assert stored["aa_by_stats"] <= stored["accepted"] <= stored["sent"]
    n = stored["accepted"]  # every 2nd ORU the EHR received (the seed report was the 1st) is dropped
    # (reports still in flight when the users stopped may be stored, or dropped, without an ACK read)
    assert n >= 2 and 1 <= stored["not_stored"] <= (n + 1) // 2, stored
    gate = subprocess.run([sys.executable, "-m", "genrep.cli", "gate", "--results", str(results)],
                          capture_output=True, text=True, timeout=60)
    assert gate.returncode != 0 and "PERF-STORED" in gate.stdout, gate.stdout[-2000:]
    assert not _leftovers(str(out / "stats")), "a Locust process outlived the run"


def test_a_hanging_locust_is_killed_with_its_children(tmp_path):
    """The hard timeout kills Locust's whole process group, children included."""
    import pytest

    from genrep.errors import GenrepError
    from genrep.load.locust_process import run_locust

    marker = tmp_path / "child-started"
    lf = tmp_path / "hang.py"
    lf.write_text("import subprocess, sys, time\n"
                  f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', {str(tmp_path)!r}])\n"
                  f"open({str(marker)!r}, 'w').close()\n"
                  "time.sleep(300)\n", encoding="utf-8")
    # Locust must reach the locustfile (import gevent and its own modules) before the hard timeout
    # for the child to exist at all; on a busy host that alone can take longer than 3 s. A try in
    # which it did not tests nothing, so it is repeated with more time, never counted as a pass.
    for timeout_s in (3, 10, 30):
        start = time.monotonic()
        with pytest.raises(GenrepError, match=f"did not finish within {timeout_s} s"):
            run_locust(lf, dict(os.environ), tmp_path / f"out-{timeout_s}", duration_s=1, timeout_s=timeout_s)
        assert time.monotonic() - start < timeout_s + 17
        if marker.exists():
            break
    assert marker.exists(), "Locust never reached the locustfile, even in 30 s"
    deadline = time.monotonic() + 5
    while _leftovers(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _leftovers(str(tmp_path)), _leftovers(str(tmp_path))


def test_multi_machine_form_master_waits_for_a_worker_started_from_worker_env(tmp_path):
    """The multi-machine form on one machine: `genrep load --expect-workers 1` writes worker.env and
    waits; a worker started the way the README shows (settings sourced from worker.env, `locust
    --worker --master-host`) joins, and the run completes with the worker's requests counted."""
    out = tmp_path / "load"
    from genrep.load.locust_process import free_port
    port = free_port()  # not Locust's 5557: another run may be using it
    master = subprocess.Popen([sys.executable, "-m", "genrep.cli", "load", "steady_day", "--users", "4",
                               "--duration", "6s", "--expect-workers", "1", "--master-bind-host", "127.0.0.1",
                               "--master-port", str(port),
                               "--out", str(out), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    worker = None
    try:
        deadline = time.monotonic() + 60
        env_file = out / "worker.env"
        while not env_file.exists() and time.monotonic() < deadline and master.poll() is None:
            time.sleep(0.2)
        assert env_file.exists(), "the master wrote no worker.env"
        settings = {}
        for line in env_file.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                settings[key] = value.strip("'")
        assert {"GENREP_LOAD_FHIR", "GENREP_LOAD_MLLP_PORT", "GENREP_LOAD_PATIENT_ID"} <= set(settings)
        assert not any("TOKEN" in k or "PASSWORD" in k for k in settings)
        worker = subprocess.Popen([sys.executable, "-m", "locust", "-f", "load/steady_day.py", "--worker",
                                   "--master-host", "127.0.0.1", "--master-port", str(port)], cwd=Path(__file__).resolve().parents[2],
                                  env=dict(os.environ, **settings), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        output, _ = master.communicate(timeout=150)
    finally:
        for p in (master, worker):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
    sla = json.loads((out / "sla.json").read_text(encoding="utf-8"))
    assert sla["verdict"] in ("MET", "INCONCLUSIVE"), output[-3000:]
    assert master.returncode == {"MET": 0, "MISSED": 1, "INCONCLUSIVE": 4}[sla["verdict"]], output[-3000:]
    assert sum(op["requests"] for op in sla["run"]["operations"].values()) > 0
    assert sla["run"]["stored"]["accepted"] == sla["run"]["stored"]["aa_by_stats"]
    worker.wait(30)
