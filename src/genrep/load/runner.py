"""``run_load``: seed the environment, run a Locust profile headless as a subprocess, read its JSON
statistics, evaluate the SLAs of ``contracts/load.yaml``, and write ``sla.json`` and Allure results.

Locust never runs in this process (gevent monkey-patching). The subprocess gets its own process
group and a hard timeout (duration + 60 s): on timeout or interruption the whole group is killed,
so no Locust (or worker) outlives the run. The virtual environment, when the profile is virtual, is
started here and always stopped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..config import PROJECT_ROOT, load_profile
from ..errors import ConfigError, GenrepError
from .contract import LoadContract, check_requirements, load_load_contract
from .stats import (OperationStats, SlaOutcome, evaluate_stats, operation_stats, read_stats,
                    stats_to_dict)
from .workload import ORU_TEXT, load_identity

LOAD_DIR = PROJECT_ROOT / "load"
DEFAULT_OUT = PROJECT_ROOT / "reports" / "load"
MAX_DURATION_S = 24 * 3600
_PROFILE_RE = re.compile(r"[a-z][a-z0-9_]*")
METRIC_LABEL = {"p95_ms": "p95", "p99_ms": "p99", "max_failure_ratio": "failure ratio",
                "max_failed_checks": "failed checks", "max_false_no_interactions": "false 'no interactions'"}

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

    def to_dict(self) -> dict:
        return {"profile": self.profile, "environment": self.environment, "users": self.users,
                "fault_injected": self.fault, "false_no_interactions": self.false_no_interactions,
                "duration_s": self.duration_s, "workers": self.workers, "locust_exit_code": self.exit_code,
                "wall_s": round(self.wall_s, 2), "stats": str(self.stats_path),
                "operations": stats_to_dict(self.operations)}


def evaluate(result: LoadResult, contract: LoadContract) -> list[SlaOutcome]:
    outcomes = evaluate_stats(result.operations, contract)
    if result.profile in FAULT_PLANS:  # failover under load: the Multum contract's objectives
        from ..contracts import load_multum
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
                       false_neg <= objectives.max_false_no_interactions)]
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
    from .. import hl7
    from ..contracts import load_radiology
    from ..radiology import RadiologyClient, new_accession
    from ..testdata import patient_for

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
        from ..nll import NLLAdmin
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


def run_locust(locustfile: Path, env: dict, out_dir: Path, *, duration_s: float, workers: int = 0,
               timeout_s: float | None = None) -> tuple[int, Path, Path]:
    """Locust headless as a subprocess in its own process group. Returns (exit code, JSON, log)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stats_base = out_dir / "stats"
    stats_json = out_dir / "stats.json"
    stats_json.unlink(missing_ok=True)   # an old file must never pass for this run's numbers
    log_path = out_dir / "locust.log"
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
           "--json-file", str(stats_base), "--csv", str(stats_base),
           "--run-time", f"{int(duration_s) + 10}s", "--only-summary", "--stop-timeout", "5"]
    if workers:
        cmd += ["--processes", str(workers)]
    timeout_s = duration_s + 60 if timeout_s is None else timeout_s
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise GenrepError(f"Locust did not finish within {timeout_s:g} s and was stopped "
                              f"(log: {log_path})") from None
        finally:
            _kill_group(proc)  # interrupted (Ctrl-C), or leftovers of a finished run
    return code, stats_json, log_path


def run_load(profile_name: str, *, users: int, duration_s: float, workers: int = 0,
             out_dir: str | Path = DEFAULT_OUT, env_name: str | None = None,
             contract: LoadContract | None = None, defects: tuple[str, ...] = ()) -> LoadResult:
    from ..contracts import load_catalogue
    from ..identities import Allowlist, IdentityGuard

    locustfile = profile_file(profile_name)
    contract = contract or load_load_contract()
    check_requirements(contract, load_catalogue())
    if users < contract.min_users:
        raise ConfigError(f"--users {users}: at least {contract.min_users} are needed so that every user "
                          f"class of {contract.file} gets one")
    if not 0 < duration_s <= MAX_DURATION_S:
        raise ConfigError(f"duration must be more than 0 and at most {MAX_DURATION_S} s; got {duration_s:g}")
    if workers < 0:
        raise ConfigError(f"--workers must be 0 or more; got {workers}")
    profile = load_profile(env_name, defects=tuple(defects))
    if defects:
        from ..sim.defects import parse_defects
        parse_defects(defects)
    allowlist = Allowlist.load()
    guard = IdentityGuard(allowlist)
    out_dir = Path(out_dir)
    venv = None
    started = time.time()
    t0 = time.monotonic()
    try:
        if profile.kind == "virtual":
            from ..sim.process import start_virtual_environment
            venv = start_virtual_environment(profile)
            profile = venv.profile
        fhir, api, mllp = (profile.endpoint(n) for n in ("ehr_fhir", "ehr_api", "radiology_mllp"))
        patient_id, accession = _seed(profile, guard, allowlist)
        env = dict(os.environ, PYTHONIOENCODING="utf-8",
                   GENREP_LOAD_FHIR=fhir.base_url, GENREP_LOAD_API=api.base_url,
                   GENREP_LOAD_MLLP_HOST=mllp.host, GENREP_LOAD_MLLP_PORT=str(mllp.port),
                   GENREP_LOAD_PATIENT_ID=patient_id, GENREP_LOAD_ACCESSION=accession,
                   GENREP_LOAD_ALLOWED_HOSTS=",".join(sorted(profile.allowed_hosts)),
                   GENREP_LOAD_TIMEOUT=str(profile.timeouts.read),
                   GENREP_LOAD_USERS=str(users), GENREP_LOAD_DURATION=f"{duration_s:g}")
        if fhir.credential_env or api.credential_env:
            raise ConfigError("load against endpoints with credentials is not supported yet",
                              file=profile.file or None, key="endpoints")
        plan = FAULT_PLANS.get(profile_name)
        timer = driver = None
        if plan is not None:  # inject the fault mid-run, from this process, through genrep.faults
            from ..faults import driver_for
            driver = driver_for(profile, venv)
            target, fault, at = plan
            timer = threading.Timer(duration_s * at, driver.inject, args=(target, fault))
            timer.daemon = True
            timer.start()
        try:
            code, stats_json, log_path = run_locust(locustfile, env, out_dir, duration_s=duration_s,
                                                    workers=workers)
        finally:
            if timer is not None:
                timer.cancel()
            if driver is not None:
                driver.clear()
    finally:
        if venv is not None:
            venv.stop()
    if code not in (0, 1):
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise GenrepError(f"Locust ended with exit code {code} (log: {log_path}):\n{tail}")
    entries = read_stats(stats_json)
    false_neg = sum(int(e.get("num_failures", 0)) for e in entries if e.get("name") == "false_no_interactions")
    return LoadResult(profile=profile_name, environment=profile.name, users=users, duration_s=duration_s,
                      workers=workers, operations=operation_stats(entries, contract.operations),
                      exit_code=code, wall_s=time.monotonic() - t0, out_dir=out_dir,
                      stats_path=stats_json, log_path=log_path, started=started,
                      false_no_interactions=false_neg,
                      fault=" ".join(FAULT_PLANS[profile_name][:2]) if profile_name in FAULT_PLANS else "")


def write_sla_json(result: LoadResult, outcomes: list[SlaOutcome], contract: LoadContract) -> Path:
    path = result.out_dir / "sla.json"
    data = {"verdict": "MET" if all(o.ok for o in outcomes) else "MISSED",
            "contract": {"file": contract.file, "version": contract.version},
            "run": result.to_dict(),
            "outcomes": [{"operation": o.operation, "requirement": o.requirement, "metric": o.metric,
                          "measured": o.measured, "threshold": o.threshold, "ok": o.ok} for o in outcomes]}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _is_load_result(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError):
        return False
    return isinstance(data, dict) and any(isinstance(lb, dict) and lb.get("name") == "genrep_load"
                                          for lb in data.get("labels") or [])


def write_allure_results(results_dir: str | Path, result: LoadResult, outcomes: list[SlaOutcome],
                         contract: LoadContract) -> list[Path]:
    """One Allure result per SLA threshold, labelled with the operation's requirement, so the gate
    counts performance like any other test type. A previous load run's results in the same folder
    are replaced (a rerun must not leave the old verdict next to the new one)."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    for old in results_dir.glob("*-result.json"):
        if _is_load_result(old):
            old.unlink()
    from ..contracts import load_catalogue
    catalogue = load_catalogue()
    start_ms = int(result.started * 1000)
    stop_ms = start_ms + int(result.wall_s * 1000)
    written = []
    for o in outcomes:
        op = contract.operations[o.operation]
        req = catalogue[o.requirement]
        label = METRIC_LABEL[o.metric]
        threshold = o._fmt(o.threshold)
        name = f"{o.operation} under load ({result.profile}): {label} <= {threshold}"
        rid = str(uuid.uuid4())
        data = {
            "uuid": rid, "historyId": f"genrep-load-{result.profile}-{o.operation}-{o.metric}",
            "testCaseId": f"genrep-load-{o.operation}-{o.metric}", "name": name,
            "fullName": f"load/{result.profile}.py:{o.operation}:{o.metric}",
            "status": "passed" if o.ok else "failed", "stage": "finished", "start": start_ms, "stop": stop_ms,
            "description": op.description,
            "labels": [{"name": "requirement", "value": o.requirement},
                       {"name": "feature", "value": "Performance under load"},
                       {"name": "story", "value": o.operation},
                       {"name": "severity", "value": "critical" if req.severity == "critical" else "normal"},
                       {"name": "tag", "value": "performance"},
                       {"name": "genrep_load", "value": result.profile}],
            "parameters": [{"name": "users", "value": str(result.users)},
                           {"name": "duration", "value": f"{result.duration_s:g} s"},
                           {"name": "environment", "value": result.environment},
                           {"name": "measured", "value": "no requests" if o.measured is None else
                            o._fmt(o.measured)}],
        }
        if not o.ok:
            kind = "no_requests" if o.measured is None else "sla_missed"
            data["statusDetails"] = {"message": f"{kind}: {o.describe()} (contracts/load.yaml "
                                                f"operations.{o.operation}.sla.{o.metric})"}
        path = results_dir / f"{rid}-result.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written
