"""``run_load``: seed the environment, run a Locust profile headless as a subprocess (with the
profile's planned faults injected mid-run), read its JSON statistics, evaluate the SLAs of
``contracts/load.yaml``, and write ``sla.json`` and Allure results.

The parts live beside it: ``locust_process`` (Locust as a bounded subprocess: its own process group,
a hard timeout of duration + 60 s, the whole group killed on timeout or interruption, so no Locust
or worker outlives the run; ``genrep load`` turns SIGTERM into the same interruption as Ctrl-C),
``seeding`` (the environment before and after the run), ``fault_plan`` (the planned faults, through
``genrep.faults``). The virtual environment, when the profile is virtual, is started here and
always stopped.

The statistics folder (``--out``) and the Allure results folder (``--results``) get files replaced
in them, so both must be folders genrep owns (``genrep.outputs.claim``), checked before anything starts.
"""

from __future__ import annotations

import json
import os
import re
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
from genrep.load.fault_plan import FaultSchedule, check_timing
from genrep.load.generator import GeneratorReport
from genrep.load.history import plot_history, read_history, recovery_time
from genrep.load.locust_process import DEFAULT_MASTER_PORT, WORKER_WAIT_S, run_locust, write_worker_env
from genrep.load.seeding import sample_missing, seed, stored_count, write_effective_profile
from genrep.load.stats import (METRIC_LABELS, OperationStats, SlaOutcome, evaluate_stats, operation_stats,
                               read_stats, stats_to_dict)
from genrep.load.workload import IDENTITY_STOP_EXIT, AcceptedLog

LOAD_DIR = PROJECT_ROOT / "load"
DEFAULT_OUT = PROJECT_ROOT / "reports" / "load"
MAX_DURATION_S = 24 * 3600
_PROFILE_RE = re.compile(r"[a-z][a-z0-9_]*")


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
    fault: str = ""  # the fault(s) injected mid-run, if the profile plans any ("multum-a killed")
    fault_at_s: float | None = None  # when (the first), in seconds since Locust started
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
    for rid in contract.fault_requirements(result.profile):  # a planned fault: the Multum failover objectives
        from genrep.config.contracts import load_multum
        objectives = load_multum()
        checks = result.operations.get("prescribe")
        failed = float(checks.failures) if checks is not None else None
        false_neg = float(result.false_no_interactions)
        outcomes += [
            SlaOutcome("prescribe", rid, "max_failed_checks", failed,
                       float(objectives.max_failed_checks_during_failover),
                       failed is not None and failed <= objectives.max_failed_checks_during_failover),
            SlaOutcome("prescribe", rid, "max_false_no_interactions", false_neg,
                       float(objectives.max_false_no_interactions),
                       false_neg <= objectives.max_false_no_interactions),
            # None (no sample after the fault: nothing shows it recovered) is a failure, never a pass
            SlaOutcome("prescribe", rid, "max_recovery_s", result.recovery_s,
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
    plans = contract.faults_for(profile_name)
    check_timing(plans, duration_s)  # a fault planned after the run ends is refused before anything starts
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
    stored = schedule = None
    try:
        if profile.kind == "virtual":
            from genrep.sim.process import start_virtual_environment
            venv = start_virtual_environment(profile)
            profile = venv.profile
        if plans:  # checked against the driver before the load starts
            from genrep.faults import driver_for
            schedule = FaultSchedule(plans, driver_for(profile, venv), duration_s)
        patient_id, accession = seed(profile, guard, allowlist)
        from genrep.transport.endpoints import http_transport_for
        fhir_http = http_transport_for(profile, "ehr_fhir")
        stored_before = stored_count(fhir_http, patient_id) if contract.stored else 0
        env = users_env(profile, profile_name, out_dir, patient_id, accession, users, duration_s)
        try:
            if schedule is not None:  # the faults are injected mid-run, from this process
                schedule.start()
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
            if schedule is not None:
                schedule.stop()
        if contract.stored is not None and run.code in (0, 1):  # before the environment stops
            accepted = AcceptedLog.read(out_dir)
            sent = AcceptedLog.read(out_dir, AcceptedLog.SENT)
            stored_after = stored_count(fhir_http, patient_id)
            sampled, missing = sample_missing(fhir_http, accepted, contract.stored.sample, seed=int(started))
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
    if schedule is not None:
        schedule.raise_errors()  # a fault that never happened must not pass for one survived
    entries = read_stats(run.stats_json)
    false_neg = sum(int(e.get("num_failures", 0)) for e in entries if e.get("name") == "false_no_interactions")
    samples = read_history(run.history_csv, t0=run.started_epoch)
    events = [(epoch - run.started_epoch, plan.describe()) for epoch, plan in (schedule.injected if schedule else [])]
    fault_at = events[0][0] if events else None
    plot = plot_history(samples, out_dir / "load.png",
                        title=f"genrep load {profile_name}: {users} users, {duration_s:g} s ({profile.name})",
                        events=events)
    return LoadResult(profile=profile_name, environment=profile.name, users=users, duration_s=duration_s,
                      workers=workers, operations=operation_stats(entries, contract.operations),
                      exit_code=run.code, wall_s=time.monotonic() - t0, out_dir=out_dir,
                      stats_path=run.stats_json, log_path=run.log_path, started=started,
                      false_no_interactions=false_neg, fault="; ".join(p.describe() for p in plans),
                      fault_at_s=fault_at, recovery_s=_recovery(samples, fault_at),
                      stored=stored, generator=run.generator, plot_path=plot, history_path=run.history_csv,
                      drift=p95_drift(samples))


def users_env(profile, profile_name: str, out_dir: Path, patient_id: str, accession: str, users: int,
              duration_s: float) -> dict:
    """The environment of the Locust process: the GENREP_LOAD_* settings its users read (endpoints,
    the seeded patient, allowed hosts, and the effective profile their clients are built from)."""
    fhir, api, mllp = (profile.endpoint(n) for n in ("ehr_fhir", "ehr_api", "radiology_mllp"))
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
    return env


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
    rids.update(dict.fromkeys(contract.fault_requirements(profile_name)))
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
