"""``run_load``: seed the environment, run a Locust profile headless as a subprocess, read its JSON
statistics, evaluate the SLAs of ``contracts/load.yaml``, and write ``sla.json`` and Allure results.

Locust never runs in this process (gevent monkey-patching). The subprocess gets its own process
group and a hard timeout (duration + 60 s): on timeout or interruption the whole group is killed,
so no Locust (or worker) outlives the run (``genrep load`` turns SIGTERM into the same interruption
as Ctrl-C). The virtual environment, when the profile is virtual, is started here and always stopped.

The statistics folder (``--out``) and the Allure results folder (``--results``) get files replaced
in them, so both must be folders genrep owns (``genrep.outputs.claim``), checked before anything starts.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from genrep import outputs
from genrep.paths import PROJECT_ROOT
from genrep.config.profile import load_profile
from genrep.errors import ConfigError, GenrepError, IdentityViolation
from genrep.results import writer
from genrep.results.failure_kinds import failure
from genrep.secrets import redact
from genrep.text.identities import mask
from genrep.load.contract import LoadContract, check_requirements, load_load_contract
from genrep.load.stats import (METRIC_LABELS, OperationStats, SlaOutcome, evaluate_stats, operation_stats,
                    read_stats, stats_to_dict)
from genrep.load.generator import GeneratorMonitor, GeneratorReport
from genrep.load.history import ProgressReporter, history_path, plot_history, read_history, recovery_time
from genrep.load.workload import IDENTITY_STOP_EXIT, ORU_TEXT, AcceptedLog, load_identity

LOAD_DIR = PROJECT_ROOT / "load"
DEFAULT_OUT = PROJECT_ROOT / "reports" / "load"
MAX_DURATION_S = 24 * 3600
_PROFILE_RE = re.compile(r"[a-z][a-z0-9_]*")

# Profiles that inject a fault mid-run, through genrep.faults (the simulators' admin API, or the
# command/Toxiproxy driver of a real profile): (target, fault, at this fraction of the duration).
FAULT_PLANS = {"failover_under_load": ("multum-a", "killed", 0.4)}
FAILOVER_REQUIREMENT = "PERF-FAILOVER"


@dataclass
class LoadResult:
    profile: str
    environment: str
    users: int
    duration_s: float
    workers: int
    operations: dict[str, OperationStats]
    exit_code: int          # Locust's, from the quitting listener (0 all SLAs met, 1 not)
    wall_s: float
    out_dir: Path
    stats_path: Path
    log_path: Path
    started: float = field(default=0.0)
    false_no_interactions: int = 0  # "checked, no interactions" answers for a pair that interacts
    fault: str = ""  # the fault injected mid-run, if the profile has a plan
    fault_at_s: float | None = None  # when, in seconds since Locust started
    recovery_s: float | None = None  # from the fault to the end of the last failing interval
    stored: StoredResult | None = None
    drift: tuple[float, float] | None = None  # soak: (p95 at the start, p95 at the end) of the held load, ms
    generator: GeneratorReport | None = None
    plot_path: Path | None = None
    history_path: Path | None = None

    def to_dict(self) -> dict:
        return {"profile": self.profile, "environment": self.environment, "users": self.users,
                "fault_injected": self.fault, "fault_at_s": self.fault_at_s, "recovery_s": self.recovery_s,
                "false_no_interactions": self.false_no_interactions,
                "duration_s": self.duration_s, "workers": self.workers, "locust_exit_code": self.exit_code,
                "wall_s": round(self.wall_s, 2), "stats": str(self.stats_path),
                "history": str(self.history_path or ""), "plot": str(self.plot_path or ""),
                "stored": {**self.stored.to_dict(), "aa_by_stats": self._aa_by_stats()} if self.stored else None,
                "p95_drift_ms": {"start": self.drift[0], "end": self.drift[1]} if self.drift else None,
                "generator": self.generator.to_dict() if self.generator else None,
                "operations": stats_to_dict(self.operations)}


    def _aa_by_stats(self) -> int | None:
        """ORUs answered AA by Locust's statistics (a send_oru request fails unless its ACK is AA
        for its own control id): a cross-check of the accession log."""
        op = self.operations.get("send_oru")
        return None if op is None else op.requests - op.failures


@dataclass(frozen=True)
class StoredResult:
    """"AA is stored" under load: ORUs answered AA (counted by the users) against the growth of the
    load patient's stored reports, and a sample of the AA'd accessions read back."""
    accepted: int
    stored_before: int
    stored_after: int
    sampled: int
    sample_missing: list[str]
    sent: int = 0  # ORUs written (a user stopped at the end may never read its ACK)

    @property
    def not_stored(self) -> int:
        """AA'd reports the count says are missing (0 when the store grew at least that much)."""
        return max(0, self.accepted - (self.stored_after - self.stored_before))

    @property
    def unexplained(self) -> int:
        """Reports stored beyond every ORU sent (0 when the store grew at most that much)."""
        return max(0, (self.stored_after - self.stored_before) - max(self.sent, self.accepted))

    @property
    def mismatch(self) -> int:
        return self.not_stored + self.unexplained

    def to_dict(self) -> dict:
        return {"sent": self.sent, "accepted": self.accepted, "stored_before": self.stored_before,
                "stored_after": self.stored_after, "not_stored": self.not_stored,
                "stored_beyond_sent": self.unexplained, "sampled": self.sampled,
                "sample_missing": len(self.sample_missing), "sample_missing_accessions": self.sample_missing[:20]}


def evaluate(result: LoadResult, contract: LoadContract) -> list[SlaOutcome]:
    outcomes = evaluate_stats(result.operations, contract)
    if result.profile in FAULT_PLANS:  # failover under load: the Multum contract's objectives
        from genrep.config.contracts import load_multum
        objectives = load_multum()
        checks = result.operations.get("prescribe")
        failed = float(checks.failures) if checks is not None else None
        false_neg = float(result.false_no_interactions)
        outcomes += [
            SlaOutcome("prescribe", FAILOVER_REQUIREMENT, "max_failed_checks", failed,
                       float(objectives.max_failed_checks_during_failover),
                       failed is not None and failed <= objectives.max_failed_checks_during_failover),
            SlaOutcome("prescribe", FAILOVER_REQUIREMENT, "max_false_no_interactions", false_neg,
                       float(objectives.max_false_no_interactions),
                       false_neg <= objectives.max_false_no_interactions),
            # None (no sample after the fault: nothing shows it recovered) is a failure, never a pass
            SlaOutcome("prescribe", FAILOVER_REQUIREMENT, "max_recovery_s", result.recovery_s,
                       float(objectives.max_failover_seconds),
                       result.recovery_s is not None and result.recovery_s <= objectives.max_failover_seconds)]
    soak = contract.soak
    if soak is not None and result.profile == soak.profile:
        start, end = result.drift if result.drift else (None, None)
        outcomes.append(SlaOutcome("all", soak.requirement, "max_p95_drift_ms", end,
                                   soak.threshold_ms(start) if start is not None else 0.0,
                                   start is not None and end is not None and end <= soak.threshold_ms(start)))
    if contract.stored is not None and result.stored is not None:
        st = result.stored
        outcomes += [
            SlaOutcome("send_oru", contract.stored.requirement, "max_not_stored",
                       None if st.accepted == 0 else float(st.mismatch), 0.0,
                       st.accepted > 0 and st.mismatch == 0),
            SlaOutcome("send_oru", contract.stored.requirement, "max_sample_missing",
                       None if st.sampled == 0 else float(len(st.sample_missing)), 0.0,
                       st.sampled > 0 and not st.sample_missing)]
    return outcomes


def profile_file(profile_name: str) -> Path:
    if not _PROFILE_RE.fullmatch(profile_name) or profile_name == "users":
        raise ConfigError(f"not a load profile name: {profile_name!r}")
    path = LOAD_DIR / f"{profile_name}.py"
    if not path.is_file():
        known = sorted(p.stem for p in LOAD_DIR.glob("*.py") if p.stem != "users")
        raise ConfigError(f"no load profile '{profile_name}' (known: {', '.join(known)})", file=str(path))
    return path


def _seed(profile, guard, allowlist) -> tuple[str, str]:
    """Register the load's test patient, store one report (and, virtual only, its NLL list) so the
    reads have data. Returns (FHIR patient id, accession)."""
    from genrep import hl7
    from genrep.config.contracts import load_radiology
    from genrep.integrations.radiology import RadiologyClient, new_accession
    from genrep.text.testdata import patient_for

    identity = load_identity(allowlist)
    patient = patient_for(identity, seed="load")
    client = RadiologyClient(profile, load_radiology(), guard)
    try:
        ex = client.register(patient)
        if ex.ack is None or ex.ack.code != "AA":
            raise GenrepError(f"seeding the load: registering the test patient was answered "
                              f"{ex.ack.code if ex.ack else 'nothing'}")
        accession = new_accession()
        ex = client.send_message(client.build_report(patient, hl7.Report(accession=accession, text=ORU_TEXT)))
        if ex.ack is None or ex.ack.code != "AA":
            raise GenrepError(f"seeding the load: the report was answered {ex.ack.code if ex.ack else 'nothing'}")
        reports, _ = client.read_back(accession)
        if not reports:
            raise GenrepError(f"seeding the load: report {accession} not readable over FHIR after AA")
        found = client.find_patient(identity.number)
        if not found:
            raise GenrepError("seeding the load: the registered test patient is not found over FHIR")
    finally:
        client.close()
    if profile.kind == "virtual":
        from genrep.integrations.nll import NLLAdmin
        golden = json.loads((PROJECT_ROOT / "fixtures" / "nll" / "golden.json").read_text(encoding="utf-8"))
        admin = NLLAdmin(profile, guard)
        try:
            admin.load(identity.number, golden["prescriptions"])
        finally:
            admin.close()
    return found["id"], accession


def _kill_group(proc: subprocess.Popen) -> None:
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
        port = master_port or _free_port()
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
            _kill_group(proc)
            raise GenrepError(f"Locust did not finish within {timeout_s:g} s and was stopped "
                              f"(log: {log_path})") from None
        finally:
            if reporter is not None:
                reporter.stop()
            _kill_group(proc)  # interrupted (Ctrl-C), or leftovers of a finished run
    report = monitor.stop(log_path) if monitor is not None else None
    return LocustRun(code, stats_json, log_path, history_csv, started, report)


DEFAULT_MASTER_PORT = 5557  # Locust's


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_effective_profile(profile, out_dir: Path) -> Path:
    """The profile as this run uses it (the virtual environment's ports and throw-away certificates
    filled in), as an external profile file the Locust users load: their clients come from the
    same factories as the steps' (``genrep.transport.tls``), with the same TLS and tokens. It holds paths and
    the names of variables, never a secret."""
    import yaml
    endpoints = {}
    for ep in profile.endpoints.values():
        d: dict = {"protocol": ep.protocol}
        if ep.protocol == "mllp":
            d.update(host=ep.host, port=ep.port)
        else:
            d["base_url"] = ep.base_url
        if ep.tls:
            t = ep.tls_options
            opts = {k: v for k, v in (("ca_file", t.ca_file), ("client_cert", t.client_cert),
                                      ("client_key", t.client_key),
                                      ("client_key_password_env", t.client_key_password_env),
                                      ("client_key_password_file", t.client_key_password_file),
                                      ("server_name", t.server_name)) if v}
            if t.min_version and t.min_version != "TLSv1.2":
                opts["min_version"] = t.min_version
            d["tls"] = opts or True
        if ep.credential_env:
            d["credentials_env"] = ep.credential_env
        elif ep.credential_file:
            d["credentials_file"] = ep.credential_file
        endpoints[ep.name] = d
    data = {"name": f"{profile.name}-load", "kind": "external", "production": False,
            "description": f"{profile.name} as genrep load runs it (written by the runner)",
            "endpoints": endpoints,
            "timeouts": {"connect": profile.timeouts.connect, "read": profile.timeouts.read}}
    path = out_dir / "load-profile.yaml"
    path.write_text("# written by genrep load for its Locust users; paths and variable names only\n"
                    + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


#: How long a multi-machine master waits for its workers before giving up (seconds).
WORKER_WAIT_S = 120.0
WORKER_ENV_FILE = "worker.env"


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


#: Failures this close to the end of the load (seconds) mean the service had not recovered.
RECOVERY_SETTLE_S = 2.0


def _recovery(samples, fault_at: float | None) -> float | None:
    """Recovery time after the fault, or None when there was no fault, nothing was measured after
    it, or requests were still failing when the load ended (not recovered: never a pass)."""
    if fault_at is None:
        return None
    rec = recovery_time(samples, fault_at)
    loaded = [s.t for s in samples if s.users > 0]
    if rec and loaded and fault_at + rec >= max(loaded) - RECOVERY_SETTLE_S:
        return None
    return rec


def p95_drift(samples) -> tuple[float, float] | None:
    """(mean p95 over the first third, over the last third) of the held load: the samples at the
    peak user count, with a p95 (Locust's windowed percentile, --csv-full-history). None when the
    held part is too short to have thirds."""
    peak = max((s.users for s in samples), default=0)
    held = [s.p95_ms for s in samples if s.users == peak and peak > 0 and s.p95_ms is not None]
    third = len(held) // 3
    if third < 1:
        return None
    return (round(sum(held[:third]) / third, 1), round(sum(held[-third:]) / third, 1))


def _stored_count(transport, patient_id: str) -> int:
    """Reports stored for the load patient, by FHIR ``_summary=count``."""
    resp = transport.request("GET", "DiagnosticReport", params={"patient": patient_id, "_summary": "count"},
                             headers={"Accept": "application/fhir+json"})
    if resp.status_code != 200:
        raise GenrepError(f"counting stored reports: DiagnosticReport?_summary=count answered HTTP {resp.status_code}")
    try:
        total = resp.json()["total"]
    except (ValueError, KeyError, TypeError):
        raise GenrepError("counting stored reports: the answer has no total") from None
    if not isinstance(total, int) or total < 0:
        raise GenrepError(f"counting stored reports: total {total!r} is not a count")
    return total


def _sample_missing(transport, accessions: list[str], sample: int, seed: int) -> tuple[int, list[str]]:
    """Read back a random sample of AA'd accessions; returns (how many were read, which were missing)."""
    import random
    chosen = random.Random(seed).sample(accessions, min(sample, len(accessions)))
    missing = []
    for acc in chosen:
        resp = transport.request("GET", "DiagnosticReport", params={"identifier": acc},
                                 headers={"Accept": "application/fhir+json"})
        try:
            found = resp.status_code == 200 and resp.json().get("total") == 1
        except ValueError:
            found = False
        if not found:
            missing.append(acc)
    return len(chosen), missing


def run_load(profile_name: str, *, users: int, duration_s: float, workers: int = 0, expect_workers: int = 0,
             master_bind_host: str = "", master_port: int = DEFAULT_MASTER_PORT,
             out_dir: str | Path = DEFAULT_OUT, env_name: str | None = None,
             contract: LoadContract | None = None, defects: tuple[str, ...] = (),
             progress=None) -> LoadResult:
    from genrep.config.contracts import load_catalogue
    from genrep.text.identities import Allowlist, IdentityGuard

    locustfile = profile_file(profile_name)
    contract = contract or load_load_contract()
    check_requirements(contract, load_catalogue())
    if users < contract.min_users:
        raise ConfigError(f"--users {users}: at least {contract.min_users} are needed so that every user "
                          f"class of {contract.file} gets one")
    if not 0 < duration_s <= MAX_DURATION_S:
        raise ConfigError(f"duration must be more than 0 and at most {MAX_DURATION_S} s; got {duration_s:g}")
    if workers < 0 or expect_workers < 0:
        raise ConfigError(f"--workers and --expect-workers must be 0 or more; got {workers}, {expect_workers}")
    if workers and expect_workers:
        raise ConfigError("--workers (processes on this machine) and --expect-workers (workers on other "
                          "machines) are two ways of running distributed: choose one")
    profile = load_profile(env_name, defects=tuple(defects))
    if defects:
        from genrep.sim.defects import parse_defects
        parse_defects(defects)
    allowlist = Allowlist.load()
    guard = IdentityGuard(allowlist)
    out_dir = outputs.claim(out_dir, what="load statistics folder (--out)")
    AcceptedLog.clear(out_dir)  # only this run's AA'd accessions count
    venv = None
    started = time.time()
    t0 = time.monotonic()
    fault_epoch: list[float] = []
    stored = None
    try:
        if profile.kind == "virtual":
            from genrep.sim.process import start_virtual_environment
            venv = start_virtual_environment(profile)
            profile = venv.profile
        fhir, api, mllp = (profile.endpoint(n) for n in ("ehr_fhir", "ehr_api", "radiology_mllp"))
        patient_id, accession = _seed(profile, guard, allowlist)
        from genrep.transport.endpoints import http_transport_for
        fhir_http = http_transport_for(profile, "ehr_fhir")
        stored_before = _stored_count(fhir_http, patient_id) if contract.stored else 0
        env = dict(os.environ, PYTHONIOENCODING="utf-8",
                   GENREP_LOAD_PROFILE=profile_name, GENREP_LOAD_OUT=str(out_dir),
                   GENREP_LOAD_FHIR=fhir.base_url, GENREP_LOAD_API=api.base_url,
                   GENREP_LOAD_MLLP_HOST=mllp.host, GENREP_LOAD_MLLP_PORT=str(mllp.port),
                   GENREP_LOAD_PATIENT_ID=patient_id, GENREP_LOAD_ACCESSION=accession,
                   GENREP_LOAD_ALLOWED_HOSTS=",".join(sorted(profile.allowed_hosts)),
                   GENREP_LOAD_TIMEOUT=str(profile.timeouts.read),
                   GENREP_LOAD_USERS=str(users), GENREP_LOAD_DURATION=f"{duration_s:g}")
        # the users build their clients from the same profile (TLS, tokens) through genrep.transport.tls
        env["GENREP_LOAD_PROFILE_FILE"] = str(write_effective_profile(profile, out_dir))
        plan = FAULT_PLANS.get(profile_name)
        timer = driver = None
        if plan is not None:  # inject the fault mid-run, from this process, through genrep.faults
            from genrep.faults import driver_for
            driver = driver_for(profile, venv)
            target, fault, at = plan

            def inject():
                fault_epoch.append(time.time())
                driver.inject(target, fault)
            timer = threading.Timer(duration_s * at, inject)
            timer.daemon = True
            timer.start()
        try:
            if expect_workers:
                worker_env = write_worker_env(out_dir, env, locustfile, master_port)
                (progress or print)(f"waiting up to {WORKER_WAIT_S:g} s for {expect_workers} worker(s): on each "
                                    f"worker machine source {worker_env} and run: python -m locust -f "
                                    f"load/{locustfile.name} --worker --master-host <this machine> "
                                    f"--master-port {master_port}")
            run = run_locust(locustfile, env, out_dir, duration_s=duration_s, workers=workers,
                             progress=progress, generator_limit=contract.generator_max_cpu_percent,
                             expect_workers=expect_workers, master_bind_host=master_bind_host,
                             master_port=master_port)
        finally:
            if timer is not None:
                timer.cancel()
            if driver is not None:
                driver.clear()
        if contract.stored is not None and run.code in (0, 1):  # before the environment stops
            accepted = AcceptedLog.read(out_dir)
            sent = AcceptedLog.read(out_dir, AcceptedLog.SENT)
            stored_after = _stored_count(fhir_http, patient_id)
            sampled, missing = _sample_missing(fhir_http, accepted, contract.stored.sample, seed=int(started))
            stored = StoredResult(len(accepted), stored_before, stored_after, sampled, missing, sent=len(sent))
        fhir_http.close()
    finally:
        if venv is not None:
            venv.stop()
    if run.code not in (0, 1):
        tail = run.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        if run.code == IDENTITY_STOP_EXIT:
            refused = [ln for ln in tail.splitlines() if "identity refused" in ln.lower()]
            raise IdentityViolation("the load run was stopped: a personnummer not on the allowlist was about to "
                                    f"be sent ({redact(mask(refused[-1])) if refused else 'see ' + str(run.log_path)}); "
                                    "nothing more was sent")
        raise GenrepError(f"Locust ended with exit code {run.code} (log: {run.log_path}):\n{redact(mask(tail))}")
    entries = read_stats(run.stats_json)
    false_neg = sum(int(e.get("num_failures", 0)) for e in entries if e.get("name") == "false_no_interactions")
    samples = read_history(run.history_csv, t0=run.started_epoch)
    fault_at = fault_epoch[0] - run.started_epoch if fault_epoch else None
    fault = " ".join(FAULT_PLANS[profile_name][:2]) if profile_name in FAULT_PLANS else ""
    plot = plot_history(samples, out_dir / "load.png",
                        title=f"genrep load {profile_name}: {users} users, {duration_s:g} s ({profile.name})",
                        events=[(fault_at, fault)] if fault_at is not None else [])
    return LoadResult(profile=profile_name, environment=profile.name, users=users, duration_s=duration_s,
                      workers=workers, operations=operation_stats(entries, contract.operations),
                      exit_code=run.code, wall_s=time.monotonic() - t0, out_dir=out_dir,
                      stats_path=run.stats_json, log_path=run.log_path, started=started,
                      false_no_interactions=false_neg, fault=fault, fault_at_s=fault_at,
                      recovery_s=_recovery(samples, fault_at),
                      stored=stored, generator=run.generator, plot_path=plot, history_path=run.history_csv,
                      drift=p95_drift(samples))


def write_sla_json(result: LoadResult, outcomes: list[SlaOutcome], contract: LoadContract) -> Path:
    path = result.out_dir / "sla.json"
    data = {"verdict": "MET" if all(o.ok for o in outcomes) else "MISSED",
            "contract": {"file": contract.file, "version": contract.version},
            "run": result.to_dict(),
            "outcomes": [{"operation": o.operation, "requirement": o.requirement, "metric": o.metric,
                          "measured": o.measured, "threshold": o.threshold, "ok": o.ok} for o in outcomes]}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _severity(req) -> str:
    # the Allure severity load has always written (critical for a critical requirement, else normal),
    # like certs; the suite's rule (writer.ALLURE_SEVERITY) says blocker / critical / normal / minor
    return "critical" if req is not None and req.severity == "critical" else "normal"


def write_failed_run_results(results_dir: str | Path, profile_name: str, contract: LoadContract,
                             error: str) -> list[Path]:
    """A load run that did not complete still gives its verdict: one failed Allure result per
    requirement the profile would have measured, with the reason. Never silence (an untested
    performance requirement must not pass for a met one)."""
    rids = dict.fromkeys(op.requirement for op in contract.operations.values())
    if contract.stored is not None:
        rids[contract.stored.requirement] = None
    if profile_name in FAULT_PLANS:
        rids[FAILOVER_REQUIREMENT] = None
    from genrep.config.contracts import load_catalogue
    catalogue = load_catalogue()
    results = [writer.Result(
        key=f"load-{profile_name}-{rid}-run", case_key=f"load-{rid}-run",
        name=f"{rid} under load ({profile_name}): the run", full_name=f"load/{profile_name}.py:{rid}:run",
        status="broken", message=failure("load_run_failed", f"the load profile {profile_name} did not complete: "
                                                            f"{error[:500]}"),
        requirements=[catalogue[rid]] if rid in catalogue else [], severity=_severity(catalogue.get(rid)),
        # a requirement the catalogue does not know still gets its label: the gate names it as unknown
        labels=([] if rid in catalogue else [("requirement", rid)])
        + [("feature", "Performance under load"), ("tag", "performance")]) for rid in rids]
    return writer.write(results_dir, results, writer.Producer("genrep_load", profile_name))


def write_allure_results(results_dir: str | Path, result: LoadResult, outcomes: list[SlaOutcome],
                         contract: LoadContract) -> list[Path]:
    """One Allure result per SLA threshold, labelled with the operation's requirement, so the gate
    counts performance like any other test type. A previous load run's results of this profile in
    the same folder are replaced (a rerun must not leave the old verdict next to the new one)."""
    from genrep.config.contracts import load_catalogue
    catalogue = load_catalogue()
    start_ms = int(result.started * 1000)
    stop_ms = start_ms + int(result.wall_s * 1000)
    # shared attachments, written once: the run's figures (sla.json's "run") and the plot
    attachments = [writer.Attachment("load run: statistics per operation, generator, stored check",
                                     json.dumps(result.to_dict(), indent=2, ensure_ascii=False), "application/json")]
    if result.plot_path is not None and result.plot_path.is_file():
        attachments.append(writer.Attachment("response time and users over time", result.plot_path.read_bytes(),
                                             "image/png"))
    results = []
    for o in outcomes:
        op = contract.operations.get(o.operation)  # None for a whole-run check (the soak's drift)
        req = catalogue[o.requirement]
        description = op.description if op is not None else req.criterion
        if result.generator is not None and result.generator.bottleneck:
            description += "\n\nWarning: " + result.generator.verdict()
        message = ""
        if not o.ok:
            message = failure("no_requests" if o.measured is None else "sla_missed",
                              f"{o.describe()} (contracts/load.yaml operations.{o.operation}.sla.{o.metric})")
        results.append(writer.Result(
            key=f"load-{result.profile}-{o.operation}-{o.metric}", case_key=f"load-{o.operation}-{o.metric}",
            name=f"{o.operation} under load ({result.profile}): {METRIC_LABELS[o.metric]} <= {o._fmt(o.threshold)}",
            full_name=f"load/{result.profile}.py:{o.operation}:{o.metric}",
            status="passed" if o.ok else "failed", message=message, description=description,
            requirements=[req], severity=_severity(req), start_ms=start_ms, stop_ms=stop_ms,
            labels=[("feature", "Performance under load"), ("tag", "performance")],
            parameters=[("users", result.users), ("duration", f"{result.duration_s:g} s"),
                        ("environment", result.environment),
                        ("measured", "no requests" if o.measured is None else o._fmt(o.measured))],
            attachments=attachments))
    return writer.write(results_dir, results, writer.Producer("genrep_load", result.profile))
