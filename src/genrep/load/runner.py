"""``run_load``: seed the environment, run a Locust profile headless as a subprocess (with the
profile's planned faults injected mid-run, timed from Locust's test start), read its statistics
and its per-window figures (``genrep.load.windows``), evaluate the SLAs of ``contracts/load.yaml``
on the steady phase (the ramp reported apart; a fault's window left out of the operations it
affects, its own requirement judging it), mark the windows where the generator or the machine was
saturated (then the timing results are inconclusive), and write ``sla.json``, ``load.png`` and
Allure results.

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
from genrep.load.contract import LoadContract, PlannedFault, check_requirements, load_load_contract
from genrep.load.fault_plan import FaultEvent, FaultSchedule, check_timing
from genrep.load.generator import GeneratorReport, windowed_report
from genrep.load.history import plot_history, read_history, recovery_time
from genrep.load.locust_process import (DEFAULT_MASTER_PORT, WORKER_WAIT_S, lost_workers, run_locust,
                                        write_worker_env)
from genrep.load.seeding import sample_missing, seed, stored_count, write_effective_profile
from genrep.load.stats import (METRIC_LABELS, MIN_METRICS, TIMING_METRICS, OperationStats, SlaOutcome,
                               evaluate_stats, operation_stats, read_stats, stats_to_dict)
from genrep.load.windows import WindowFigures, window_for
from genrep.load.workload import IDENTITY_STOP_EXIT, AcceptedLog

LOAD_DIR = PROJECT_ROOT / "load"
SLA_FILE = "sla.json"
#: the reason of a run stopped early (Ctrl-C, SIGTERM, a crashed worker): every outcome it would
#: have met is inconclusive, never met (issue 18, bad input)
RUN_INCOMPLETE = "run incomplete"
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
    ramp_s: float = 0.0  # the profile's ramp; the steady phase is [ramp_s, duration_s)
    #: what the operation SLAs judge: the steady phase, each operation without the windows of the
    #: faults that affect it (None: no per-window figures, the whole run is judged)
    judged: dict[str, OperationStats] | None = None
    ramp: dict[str, OperationStats] | None = None     # the ramp, reported apart
    steady: dict[str, OperationStats] | None = None   # the whole steady phase, fault windows included
    excluded: list[tuple[str, float, float, str]] = field(default_factory=list)  # (operation, from, to, why)
    faults: list[FaultResult] = field(default_factory=list)
    windows: list[dict] = field(default_factory=list)  # per generator window: figures and saturation
    empty_lists: int = 0  # medication lists shown empty (the load patient's list is planted)
    #: why the run stopped early (Ctrl-C, SIGTERM, a crashed Locust worker); None: it ran to its end
    incomplete: str | None = None

    @property
    def inconclusive(self) -> str | None:
        """"run incomplete: ..." when it stopped early; "generator saturated" / "host saturated" when
        the steady phase mostly was; None: the figures measure the system under test."""
        if self.incomplete:
            return f"{RUN_INCOMPLETE}: {self.incomplete}"
        return self.generator.inconclusive if self.generator is not None else None

    def to_dict(self) -> dict:
        steady_to = self.duration_s
        return {"profile": self.profile, "environment": self.environment, "users": self.users,
                "fault_injected": self.fault, "fault_at_s": self.fault_at_s, "recovery_s": self.recovery_s,
                "false_no_interactions": self.false_no_interactions, "empty_medication_lists": self.empty_lists,
                "duration_s": self.duration_s, "workers": self.workers, "locust_exit_code": self.exit_code,
                "wall_s": round(self.wall_s, 2), "stats": str(self.stats_path),
                "history": str(self.history_path or ""), "plot": str(self.plot_path or ""),
                "stored": {**self.stored.to_dict(), "aa_by_stats": self._aa_by_stats()} if self.stored else None,
                "p95_drift_ms": {"start": self.drift[0], "end": self.drift[1]} if self.drift else None,
                "generator": self.generator.to_dict() if self.generator else None,
                "inconclusive": self.inconclusive, "incomplete": self.incomplete,
                "phases": {
                    "judged": "steady phase" if self.judged is not None else "whole run (no per-window figures)",
                    "ramp": {"from_s": 0.0, "to_s": round(self.ramp_s, 1),
                             "operations": stats_to_dict(self.ramp) if self.ramp is not None else None},
                    "steady": {"from_s": round(self.ramp_s, 1), "to_s": round(steady_to, 1),
                               "operations": stats_to_dict(self.steady) if self.steady is not None else None,
                               "judged_operations": stats_to_dict(self.judged) if self.judged is not None else None,
                               "left_out": [{"operation": op, "from_s": round(a, 1), "to_s": round(b, 1), "why": why}
                                            for op, a, b, why in self.excluded]}},
                "faults": [f.to_dict() for f in self.faults],
                "windows": self.windows,
                "operations": stats_to_dict(self.operations)}


    def _aa_by_stats(self) -> int | None:
        """ORUs answered AA by Locust's statistics (a send_oru request fails unless its ACK is AA
        for its own control id), plus those AA'd inside journeys: a cross-check of the accession log."""
        op = self.operations.get("send_oru")
        return None if op is None else op.requests - op.failures + (self.stored.by_journeys if self.stored else 0)


@dataclass
class FaultResult:
    """One planned fault as it happened, on the run's time axis (seconds since the test started)."""
    plan: PlannedFault
    at_s: float                  # injected
    back_s: float                # the service expected back: cleared, restarted, or at once (failover)
    recovery_s: float | None     # from back to the end of the last second an affected operation failed;
    #                              None: still failing when the load ended, or nothing measured after
    left_out: tuple[float, float]  # what the affected operations' SLAs leave out: [at_s, back_s + recovery)
    counts: dict[str, int] = field(default_factory=dict)  # failed_checks, unavailable_answers, ...

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else round(v, 2)  # noqa: E731
        return {"fault": self.plan.describe(), "target": self.plan.target, "requirement": self.plan.requirement,
                "at_s": r(self.at_s), "back_s": r(self.back_s), "recovery_s": r(self.recovery_s),
                "left_out_s": [r(self.left_out[0]), r(self.left_out[1])], **self.counts}


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
    by_journeys: int = 0  # of ``accepted``, those answered AA inside a journey (not send_oru requests)

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
        return {"sent": self.sent, "accepted": self.accepted, "accepted_in_journeys": self.by_journeys,
                "stored_before": self.stored_before,
                "stored_after": self.stored_after, "not_stored": self.not_stored,
                "stored_beyond_sent": self.unexplained, "sampled": self.sampled,
                "sample_missing": len(self.sample_missing), "sample_missing_accessions": self.sample_missing[:20]}


def _recovery_outcome(operation: str, rid: str, fault: FaultResult | None, threshold: float) -> SlaOutcome:
    # None (nothing measured after the fault, or still failing at the end) is a failure, never a pass
    measured = fault.recovery_s if fault is not None else None
    return SlaOutcome(operation, rid, "max_recovery_s", measured, float(threshold),
                      measured is not None and measured <= threshold)


def _fault_outcomes(result: LoadResult, contract: LoadContract) -> list[SlaOutcome]:
    """Each planned fault with a requirement, judged by its target's objectives (``fault_objectives``;
    a Multum server by contracts/multum.yaml). A fault that never happened measures nothing: failed."""
    outcomes: list[SlaOutcome] = []
    happened = {id(f.plan): f for f in result.faults}
    for plan in contract.faults_for(result.profile):
        rid = plan.requirement
        if not rid:
            continue
        fault = happened.get(id(plan))
        if fault is None:  # matched by what it is when the plans were loaded twice (tests, rehearse)
            fault = next((f for f in result.faults if f.plan.key == plan.key), None)
        counts = fault.counts if fault is not None else {}
        objectives = contract.objectives_for(plan)
        if plan.group == "multum":
            from genrep.config.contracts import load_multum
            multum = load_multum()
            failed = counts.get("failed_checks")
            false_neg = float(result.false_no_interactions)
            outcomes += [
                SlaOutcome("prescribe", rid, "max_failed_checks", None if failed is None else float(failed),
                           float(multum.max_failed_checks_during_failover),
                           failed is not None and failed <= multum.max_failed_checks_during_failover),
                SlaOutcome("prescribe", rid, "max_false_no_interactions", false_neg,
                           float(multum.max_false_no_interactions), false_neg <= multum.max_false_no_interactions),
                _recovery_outcome("prescribe", rid, fault, multum.max_failover_seconds)]
        elif plan.group == "nll":
            said = counts.get("unavailable_answers")
            outcomes += [
                SlaOutcome("read_medications", rid, "min_unavailable_answers", None if said is None else float(said),
                           1.0, said is not None and said >= 1),
                _recovery_outcome("read_medications", rid, fault, objectives.max_recovery_s or 0.0)]
            if objectives.empty_list_requirement:
                empty = float(result.empty_lists)
                outcomes.append(SlaOutcome("read_medications", objectives.empty_list_requirement, "max_empty_lists",
                                           None if fault is None else empty, float(objectives.max_empty_lists or 0),
                                           fault is not None and empty <= (objectives.max_empty_lists or 0)))
        elif plan.group == "radiology-listener":
            st = result.stored
            outcomes += _stored_outcomes(st, rid)
            outcomes.append(_recovery_outcome("send_oru", rid, fault, objectives.max_recovery_s or 0.0))
    return outcomes


def _stored_outcomes(st: StoredResult | None, rid: str) -> list[SlaOutcome]:
    """"AA is stored": nothing answered AA missing from the count, the sample all readable."""
    if st is None:
        return [SlaOutcome("send_oru", rid, "max_not_stored", None, 0.0, False),
                SlaOutcome("send_oru", rid, "max_sample_missing", None, 0.0, False)]
    return [SlaOutcome("send_oru", rid, "max_not_stored", None if st.accepted == 0 else float(st.mismatch), 0.0,
                       st.accepted > 0 and st.mismatch == 0),
            SlaOutcome("send_oru", rid, "max_sample_missing",
                       None if st.sampled == 0 else float(len(st.sample_missing)), 0.0,
                       st.sampled > 0 and not st.sample_missing)]


def mark_inconclusive(outcomes: list[SlaOutcome], reason: str | None) -> list[SlaOutcome]:
    """With a saturated generator or machine (``reason``), every timing outcome is inconclusive:
    never met and never missed. Correctness outcomes (false "no interactions", empty lists, AA not
    stored) stand as measured: a saturated generator does not make them happen or hide them.
    A run stopped early (``reason`` "run incomplete: ...") measured part of what it should: every
    outcome it met is inconclusive (never met), a miss it measured stays a miss."""
    if not reason:
        return outcomes
    from dataclasses import replace
    if reason.startswith(RUN_INCOMPLETE):
        return [replace(o, ok=False, inconclusive=reason) if o.ok
                or (o.metric in TIMING_METRICS and o.measured is not None) else o for o in outcomes]
    # a figure that was never measured (no requests, still failing at the end) is not a timing figure
    return [replace(o, ok=False, inconclusive=reason) if o.metric in TIMING_METRICS and o.measured is not None
            else o for o in outcomes]


def evaluate(result: LoadResult, contract: LoadContract) -> list[SlaOutcome]:
    outcomes = evaluate_stats(result.judged if result.judged is not None else result.operations, contract)
    outcomes += journey_outcomes(result, contract)
    outcomes += _fault_outcomes(result, contract)
    soak = contract.soak
    if soak is not None and result.profile == soak.profile:
        start, end = result.drift if result.drift else (None, None)
        outcomes.append(SlaOutcome("all", soak.requirement, "max_p95_drift_ms", end,
                                   soak.threshold_ms(start) if start is not None else 0.0,
                                   start is not None and end is not None and end <= soak.threshold_ms(start)))
    if contract.stored is not None and result.stored is not None:
        outcomes += _stored_outcomes(result.stored, contract.stored.requirement)
    return mark_inconclusive(outcomes, result.inconclusive)


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


def _simulator_pids(venv):
    """The virtual environment's simulator processes, read at each sample (a killed server is
    restarted as a new process): their CPU, and their children's, is the run's own, not foreign."""
    if venv is None:
        return None

    def pids() -> list[int]:
        return [p.proc.pid for p in list(venv.processes.values()) if getattr(p, "proc", None) is not None]
    return pids


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
    ramp_s = contract.ramp_s(profile_name, duration_s)
    # a fault planned after the run ends, or judged at the peak but planned in the ramp, is refused
    # before anything starts (an unknown target was refused when the contract was read)
    check_timing(plans, duration_s, ramp_s)
    profile = load_profile(env_name, defects=tuple(defects))
    if defects:
        from genrep.sim.defects import parse_defects
        parse_defects(defects)
    allowlist = Allowlist.load()
    guard = IdentityGuard(allowlist)
    out_dir = outputs.claim(out_dir, what="load statistics folder (--out)")
    AcceptedLog.clear(out_dir)  # only this run's AA'd accessions count
    for old in (SLA_FILE, "load.png"):  # a previous run's verdict must never stand for this one
        (out_dir / old).unlink(missing_ok=True)
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
            schedule = FaultSchedule(plans, driver_for(profile, venv), duration_s, ramp_s)
            profile = schedule.route(profile)  # e.g. a front the virtual radiology listener restarts in
        patient_id, accession = seed(profile, guard, allowlist)
        from genrep.transport.endpoints import http_transport_for
        fhir_http = http_transport_for(profile, "ehr_fhir")
        stored_before = stored_count(fhir_http, patient_id) if contract.stored else 0
        env = users_env(profile, profile_name, out_dir, patient_id, accession, users, duration_s, ramp_s=ramp_s)
        try:
            if expect_workers:
                worker_env = write_worker_env(out_dir, env, locustfile, master_port)
                (progress or print)(f"waiting up to {WORKER_WAIT_S:g} s for {expect_workers} worker(s): on each "
                                    f"worker machine source {worker_env} and run: python -m locust -f "
                                    f"load/{locustfile.name} --worker --master-host <this machine> "
                                    f"--master-port {master_port}")
            # the faults are injected mid-run from this process, timed from Locust's test start
            run = run_locust(locustfile, env, out_dir, duration_s=duration_s, workers=workers,
                             progress=progress, generator_limit=contract.generator_max_cpu_percent,
                             expect_workers=expect_workers, master_bind_host=master_bind_host,
                             master_port=master_port, own_pids=_simulator_pids(venv), keep_interrupted=True,
                             on_test_start=schedule.start if schedule is not None else None)
        finally:
            if schedule is not None:
                schedule.stop()
        if contract.stored is not None and run.code in (0, 1) and run.interrupted is None:  # before it stops
            by_journeys = AcceptedLog.read(out_dir, AcceptedLog.JOURNEY)
            accepted = AcceptedLog.read(out_dir) + by_journeys
            sent = AcceptedLog.read(out_dir, AcceptedLog.SENT)
            stored_after = stored_count(fhir_http, patient_id)
            sampled, missing = sample_missing(fhir_http, accepted, contract.stored.sample, seed=int(started))
            stored = StoredResult(len(accepted), stored_before, stored_after, sampled, missing, sent=len(sent),
                                  by_journeys=len(by_journeys))
        fhir_http.close()
    finally:
        try:
            if schedule is not None:
                schedule.close()
        finally:
            if venv is not None:
                venv.stop()
    def collect() -> LoadResult:
        return _collect(run, profile_name=profile_name, profile=profile, contract=contract, schedule=schedule,
                        plans=plans, users=users, duration_s=duration_s, ramp_s=ramp_s, workers=workers,
                        out_dir=out_dir, started=started, t0=t0, stored=stored)

    if run.interrupted is not None:  # Ctrl-C, SIGTERM: what was measured, incomplete, then the interruption
        stopped = time.time() - (run.test_started_epoch or run.started_epoch)
        why = f"interrupted after {max(0.0, stopped):.0f} s of {duration_s:g} s"
        try:
            result = collect()
            result.incomplete = why
            write_sla_json(result, evaluate(result, contract), contract)
        except Exception:  # noqa: BLE001 - nothing readable: say so, never a verdict
            write_incomplete_sla(out_dir, profile_name, why, contract)
        raise run.interrupted
    if run.code not in (0, 1):
        tail = run.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        if run.code == IDENTITY_STOP_EXIT:
            refused = [ln for ln in tail.splitlines() if "identity refused" in ln.lower()]
            raise IdentityViolation("the load run was stopped: a personnummer not on the allowlist was about to "
                                    f"be sent ({redact(mask(refused[-1])) if refused else 'see ' + str(run.log_path)}); "
                                    "nothing more was sent")
        raise GenrepError(f"Locust ended with exit code {run.code} (log: {run.log_path}):\n{redact(mask(tail))}")
    if schedule is not None:  # a fault that never happened must not pass for one survived
        schedule.raise_errors(completed=True)
    result = collect()
    result.incomplete = lost_workers(run.log_path)  # a worker crashed: what it measured is not the run's
    return result


def _collect(run, *, profile_name: str, profile, contract: LoadContract, schedule, plans, users: int,
             duration_s: float, ramp_s: float, workers: int, out_dir: Path, started: float, t0: float,
             stored) -> LoadResult:
    """The run's result from what Locust and the monitor wrote: statistics, phases, faults,
    windows, the plot."""
    entries = read_stats(run.stats_json)
    false_neg = sum(int(e.get("num_failures", 0)) for e in entries if e.get("name") == "false_no_interactions")
    empty = sum(int(e.get("num_failures", 0)) for e in entries if e.get("name") == "empty_medication_list")
    t0_epoch = run.test_started_epoch or run.started_epoch  # the shape's t = 0: phases, faults, plot
    samples = read_history(run.history_csv, t0=t0_epoch)
    figures = WindowFigures.read(run.windows_json, t0_epoch) if run.test_started_epoch and run.windows_json else None
    faults = fault_results(schedule.events if schedule else [], contract, figures, samples, t0_epoch, duration_s)
    judged, ramp, steady, excluded = phase_stats(figures, contract, ramp_s, duration_s, faults,
                                                 names=_measured_names(contract, profile_name))
    gen = contract.generator
    generator = run.generator
    if run.cpu_samples:
        generator = windowed_report(list(run.cpu_samples), t0_epoch=t0_epoch, window_s=gen.window_s,
                                    limit_percent=gen.max_cpu_percent, host_limit_percent=gen.host_max_cpu_percent,
                                    max_bound_share=gen.max_bound_share, steady=(ramp_s, duration_s),
                                    host_foreign_limit_percent=gen.host_max_foreign_cpu_percent,
                                    end_s=duration_s,
                                    locust_warnings=run.generator.locust_warnings if run.generator else 0,
                                    processes=run.generator.processes if run.generator else 0)
    events = [(f.at_s, f.plan.describe()) for f in faults]
    events += [(f.back_s, f"{f.plan.target} back") for f in faults if f.back_s - f.at_s >= 0.5]
    plot = plot_history(samples, out_dir / "load.png",
                        title=f"genrep load {profile_name}: {users} users, {duration_s:g} s ({profile.name})",
                        events=events, phases=[(ramp_s, "steady phase")] if 0 < ramp_s < duration_s else [],
                        bound=generator.bound_windows() if generator is not None else [],
                        series=journey_series(figures, contract, profile_name, duration_s, gen.window_s))
    first = faults[0] if faults else None
    return LoadResult(profile=profile_name, environment=profile.name, users=users, duration_s=duration_s,
                      workers=workers,
                      operations=operation_stats(entries, _measured_names(contract, profile_name)),
                      exit_code=run.code, wall_s=time.monotonic() - t0, out_dir=out_dir,
                      stats_path=run.stats_json, log_path=run.log_path, started=started,
                      false_no_interactions=false_neg, fault="; ".join(p.describe() for p in plans),
                      fault_at_s=first.at_s if first else None, recovery_s=first.recovery_s if first else None,
                      stored=stored, generator=generator, plot_path=plot, history_path=run.history_csv,
                      drift=p95_drift(samples), ramp_s=ramp_s, judged=judged, ramp=ramp, steady=steady,
                      excluded=excluded, faults=faults, windows=window_rows(generator, figures, contract, ramp_s),
                      empty_lists=empty)


def fault_results(events: list[FaultEvent], contract: LoadContract, figures: WindowFigures | None, samples,
                  t0_epoch: float, duration_s: float) -> list[FaultResult]:
    """Each injected fault on the run's time axis, with its recovery and the counts its objectives
    need (from the per-window figures; without them, the recovery from Locust's history)."""
    from genrep.config.contracts import load_multum
    out = []
    for event in events:
        plan = event.plan
        objectives = contract.objectives_for(plan)
        at, back = event.injected - t0_epoch, event.back() - t0_epoch
        allowance = (objectives.max_recovery_s if objectives.max_recovery_s is not None
                     else load_multum().max_failover_seconds)  # left out when it never recovered
        counts: dict[str, int] = {}
        if figures is not None:
            w = figures.window_s
            within = lambda t: t < duration_s  # noqa: E731 - the stop after the run is not the run
            after = lambda t: at - w / 2 < t < duration_s  # noqa: E731 - windows from the fault's own on
            ops = objectives.operations
            last = max([e for e in (_last_failure(figures, op, at, duration_s) for op in ops) if e is not None],
                       default=None)
            loaded = figures.last_request_end()
            end = min(duration_s, loaded) if loaded is not None else duration_s
            if loaded is None or loaded <= at:
                recovery = None  # nothing measured after the fault
            elif last is None:
                recovery = 0.0
            elif last >= end - RECOVERY_SETTLE_S:
                recovery = None  # still failing when the load ended: not recovered
            else:
                recovery = max(0.0, last - back)
            if plan.group == "multum":
                counts["failed_checks"] = figures.count("prescribe", after)[1]
            if plan.group == "nll":
                outage = lambda t: at - w / 2 < t < back + w  # noqa: E731
                counts["unavailable_answers"] = figures.count("medications_unavailable", outage)[0]
                counts["reads_during_outage"] = figures.count("read_medications", outage)[0]
                counts["empty_lists"] = figures.count("empty_medication_list", within)[1]
            if plan.group == "radiology-listener":
                counts["failed_sends_after"] = sum(figures.count(op, after)[1] for op in ops)
        else:  # no per-window figures: any operation's failures in Locust's history
            recovery = _recovery(samples, at)
            if recovery is not None:
                recovery = max(0.0, recovery - (back - at))
        # the affected operations' SLAs leave out the fault and its recovery (as measured; the whole
        # allowance when it did not recover): after that, they must meet their SLAs again
        out.append(FaultResult(plan, at, back, recovery, (at, back + (allowance if recovery is None else recovery)),
                               counts))
    return out


def _last_failure(figures: WindowFigures, op: str, at: float, end: float) -> float | None:
    """The end of the last window, from the fault on and before ``end``, in which ``op`` failed."""
    ends = [w.t + figures.window_s for w in figures.windows(op, lambda t: t < end)
            if w.failures and w.t + figures.window_s > at]
    return max(ends, default=None)


def journey_series(figures: WindowFigures | None, contract: LoadContract, profile: str, duration_s: float,
                   window_s: float) -> list[tuple[str, list[tuple[float, float]]]]:
    """For the plot, next to the operations' p50/p95: each journey's p95 per window (its middle)."""
    if figures is None:
        return []
    out = []
    for j in contract.journeys_for(profile):
        points = []
        t = 0.0
        while t < duration_s:
            agg = figures.aggregate([j.name], t, t + window_s)
            if agg.p95_ms is not None:
                points.append((t + window_s / 2, agg.p95_ms))
            t += window_s
        out.append((f"journey {j.name} p95", points))
    return out


def _measured_names(contract: LoadContract, profile: str) -> list[str]:
    """What a profile's SLAs judge: every operation, and the journeys it runs."""
    return [*contract.operations, *(j.name for j in contract.journeys_for(profile))]


def journey_outcomes(result: LoadResult, contract: LoadContract) -> list[SlaOutcome]:
    """Each journey the profile runs, end to end, against its SLA (PERF-JOURNEY-*); no journey
    completed or failed is a failure (nothing measured)."""
    stats = result.judged if result.judged is not None else result.operations
    out = []
    for j in contract.journeys_for(result.profile):
        s = stats.get(j.name)
        measured = {"p95_ms": s.p95_ms if s else None, "p99_ms": s.p99_ms if s else None,
                    "max_failure_ratio": s.failure_ratio if s else None}
        for metric in ("p95_ms", "p99_ms", "max_failure_ratio"):
            value = measured[metric] if s and s.requests else None
            threshold = getattr(j.sla, metric)
            out.append(SlaOutcome(j.name, j.requirement, metric, value, threshold,
                                  value is not None and value <= threshold))
    return out


def phase_stats(figures: WindowFigures | None, contract: LoadContract, ramp_s: float, duration_s: float,
                faults: list[FaultResult], names=None):
    """(judged, ramp, steady, left out) per operation: the ramp [0, ramp_s), the steady phase
    [ramp_s, duration_s), and what the SLAs judge: the steady phase, each operation without the
    windows of the faults that affect it (their own requirements judge those). All None without
    per-window figures (the whole run is judged then)."""
    if figures is None:
        return None, None, None, []
    ops = list(contract.operations) if names is None else list(names)
    ramp = {n: figures.stats(n, lambda t: 0 <= t < ramp_s, span_s=ramp_s) for n in ops} if ramp_s > 0 else None
    steady_keep = lambda t: ramp_s <= t < duration_s  # noqa: E731
    steady = {n: figures.stats(n, steady_keep, span_s=duration_s - ramp_s) for n in ops}
    excluded: list[tuple[str, float, float, str]] = []
    judged = {}
    for n in ops:
        cut = [(f.left_out[0], min(f.left_out[1], duration_s), f"{f.plan.describe()} ({f.plan.requirement or 'no requirement'})")
               for f in faults if n in contract.objectives_for(f.plan).operations]
        excluded += [(n, a, b, why) for a, b, why in cut]
        if not cut:
            judged[n] = steady[n]
            continue
        keep = lambda t, cut=cut: steady_keep(t) and not any(a - figures.window_s / 2 < t < b + figures.window_s / 2
                                                             for a, b, _ in cut)
        left = sum(max(0.0, min(b, duration_s) - max(a, ramp_s)) for a, b, _ in cut)
        judged[n] = figures.stats(n, keep, span_s=max(duration_s - ramp_s - left, 0.0) or None)
    return judged, ramp, steady, excluded


def window_rows(generator: GeneratorReport | None, figures: WindowFigures | None, contract: LoadContract,
                ramp_s: float) -> list[dict]:
    """sla.json's windows: per generator window (5 s), its figures (every operation together),
    whether the generator or the machine was saturated (then its figures measure that), its phase."""
    if generator is None or not generator.windows:
        return []
    rows = []
    for w in generator.windows:
        row = {"phase": "ramp" if (w.t + w.end) / 2 < ramp_s else "steady", **w.to_dict()}
        if figures is not None:
            agg = figures.aggregate(contract.operations, w.t, w.end)
            row.update({"requests": agg.requests, "failures": agg.failures, "p50_ms": agg.p50_ms,
                        "p95_ms": agg.p95_ms, "rps": round(agg.rps, 1)})
        rows.append(row)
    return rows


def users_env(profile, profile_name: str, out_dir: Path, patient_id: str, accession: str, users: int,
              duration_s: float, *, ramp_s: float = 0.0) -> dict:
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
               GENREP_LOAD_USERS=str(users), GENREP_LOAD_DURATION=f"{duration_s:g}",
               GENREP_LOAD_RAMP=f"{ramp_s:g}", GENREP_LOAD_WINDOW_S=f"{window_for(duration_s):g}")
    # the users build their clients from the same profile (TLS, tokens) through genrep.transport.tls
    env["GENREP_LOAD_PROFILE_FILE"] = str(write_effective_profile(profile, out_dir))
    return env


def sla_verdict(outcomes: list[SlaOutcome]) -> str:
    """MISSED when any outcome was missed (a saturated generator never turns a miss into anything
    else for a correctness outcome, and timing outcomes are not missed then: inconclusive);
    otherwise INCONCLUSIVE when any outcome is; otherwise MET."""
    if any(o.status == "missed" for o in outcomes):
        return "MISSED"
    if any(o.status == "inconclusive" for o in outcomes):
        return "INCONCLUSIVE"
    return "MET"


def write_sla_json(result: LoadResult, outcomes: list[SlaOutcome], contract: LoadContract) -> Path:
    """``sla.json``: ``verdict`` MET | MISSED | INCONCLUSIVE; ``inconclusive`` null or why ("generator
    saturated", "host saturated"); every outcome with ``status`` met | missed | inconclusive (``ok``
    true only when met); ``run`` with the phases (ramp apart, the steady phase judged), the faults
    and the 5 s windows, each saying whether it was generator-bound or host-saturated."""
    path = result.out_dir / SLA_FILE
    data = {"verdict": sla_verdict(outcomes),
            "inconclusive": result.inconclusive, "incomplete": result.incomplete,
            "judged_on": ({"phase": "steady", "from_s": round(result.ramp_s, 1), "to_s": result.duration_s}
                          if result.judged is not None else {"phase": "whole run", "from_s": 0.0,
                                                             "to_s": result.duration_s}),
            "contract": {"file": contract.file, "version": contract.version},
            "run": result.to_dict(),
            "outcomes": [{"operation": o.operation, "requirement": o.requirement, "metric": o.metric,
                          "measured": o.measured, "threshold": o.threshold, "ok": o.ok, "status": o.status,
                          "inconclusive": o.inconclusive} for o in outcomes]}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def write_incomplete_sla(out_dir: Path, profile_name: str, why: str, contract: LoadContract) -> Path:
    """``sla.json`` for a run stopped early whose figures could not even be read: INCONCLUSIVE,
    incomplete, no outcome (never a verdict of MET)."""
    path = Path(out_dir) / SLA_FILE
    data = {"verdict": "INCONCLUSIVE", "inconclusive": f"{RUN_INCOMPLETE}: {why}", "incomplete": why,
            "profile": profile_name, "contract": {"file": contract.file, "version": contract.version},
            "run": None, "outcomes": []}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def inconclusive_message(o: SlaOutcome) -> str:
    """The broken Allure result's message of an inconclusive outcome (``load_inconclusive``)."""
    why = o.inconclusive or ""
    if why.startswith(RUN_INCOMPLETE):
        what = "the run stopped early: what it measured is part of the run, not the load asked for"
        rerun = "rerun it to its end"
    else:
        what = (f"the figures measure the {'load generator' if 'generator' in why else 'saturated machine'}, "
                "not the system under test")
        rerun = ("rerun with --workers or on more cores" if "generator" in why
                 else "rerun on a machine without other work (the windows' foreign_cpu_percent in sla.json)")
    return failure("load_inconclusive", f"{o.describe()}: {what}; {rerun}")


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
    rids.update(dict.fromkeys(j.requirement for j in contract.journeys_for(profile_name)))
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
    pairs = [(o.operation, o.metric) for o in outcomes]
    for o in outcomes:
        op = contract.operations.get(o.operation)  # None for a whole-run check (the soak's drift)
        req = catalogue[o.requirement]
        own = op is not None and op.requirement == o.requirement  # the operation's SLA, not a fault's or a check's
        description = op.description if own else req.criterion
        # the same operation and metric under two requirements (PERF-STORED and a restart's): one result each
        suffix = f"-{o.requirement}" if pairs.count((o.operation, o.metric)) > 1 else ""
        source = (f"contracts/load.yaml operations.{o.operation}.sla.{o.metric}" if own
                  else f"{o.requirement}: {req.criterion[:160]}")
        if result.judged is not None:
            description += (f"\n\nJudged on the steady phase ({result.ramp_s:g} s to {result.duration_s:g} s); "
                            "the ramp is reported apart in sla.json.")
        if result.generator is not None and result.generator.bottleneck:
            description += "\n\nWarning: " + result.generator.verdict()
        message = ""
        status = "passed" if o.ok else "failed"
        if o.inconclusive:  # neither met nor a product defect: the generator, the machine, or an early stop
            status = "broken"
            message = inconclusive_message(o)
        elif not o.ok:
            message = failure("no_requests" if o.measured is None else "sla_missed", f"{o.describe()} ({source})")
        bound = ">=" if o.metric in MIN_METRICS else "<="
        results.append(writer.Result(
            key=f"load-{result.profile}-{o.operation}-{o.metric}{suffix}",
            case_key=f"load-{o.operation}-{o.metric}{suffix}",
            name=f"{o.operation} under load ({result.profile}): {METRIC_LABELS[o.metric]} {bound} {o._fmt(o.threshold)}",
            full_name=f"load/{result.profile}.py:{o.operation}:{o.metric}{suffix}",
            status=status, message=message, description=description,
            requirements=[req], severity=_severity(req), start_ms=start_ms, stop_ms=stop_ms,
            labels=[("feature", "Performance under load"), ("tag", "performance")],
            parameters=[("users", result.users), ("duration", f"{result.duration_s:g} s"),
                        ("environment", result.environment),
                        ("measured", "no requests" if o.measured is None else o._fmt(o.measured))],
            attachments=attachments))
    return writer.write(results_dir, results, writer.Producer("genrep_load", result.profile))
