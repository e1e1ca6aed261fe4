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
``genrep.faults``), and, split from here (issue 13), ``run_result`` (the records of a run:
``LoadResult``, ``FaultResult``, ``StoredResult``), ``measurements`` (the result read from what
Locust and the monitor wrote: phases, faults, windows, the plot), ``evaluation`` (the SLA outcomes
and the verdict) and ``result_files`` (``sla.json`` and the Allure results). Every name is
importable from here as before. The virtual environment, when the profile is virtual, is started
here and always stopped.

The statistics folder (``--out``) and the Allure results folder (``--results``) get files replaced
in them, so both must be folders genrep owns (``genrep.outputs.claim``), checked before anything starts.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from genrep import outputs
from genrep.paths import PROJECT_ROOT
from genrep.config.profile import load_profile
from genrep.errors import ConfigError, GenrepError, IdentityViolation, RunIncomplete
from genrep.secrets import redact
from genrep.text.identities import mask
from genrep.load.contract import LoadContract, check_requirements, load_load_contract
from genrep.load.evaluation import evaluate, journey_outcomes, mark_inconclusive, sla_verdict
from genrep.load.fault_plan import FaultSchedule, check_timing
from genrep.load.locust_process import (DEFAULT_MASTER_PORT, WORKER_WAIT_S, lost_workers, run_locust,
                                        write_worker_env)
from genrep.load.measurements import (RECOVERY_SETTLE_S, collect_result, fault_results, journey_series, p95_drift,
                                      phase_stats, window_rows)
from genrep.load.result_files import (SLA_FILE, inconclusive_message, write_allure_results, write_failed_run_results,
                                      write_incomplete_sla, write_sla_json)
from genrep.load.run_result import RUN_INCOMPLETE, FaultResult, LoadResult, StoredResult
from genrep.load.seeding import sample_missing, seed, stored_count, write_effective_profile
from genrep.load.windows import window_for
from genrep.load.workload import IDENTITY_STOP_EXIT, AcceptedLog

__all__ = ["DEFAULT_OUT", "LOAD_DIR", "MAX_DURATION_S", "RECOVERY_SETTLE_S", "RUN_INCOMPLETE", "SLA_FILE",
           "FaultResult", "LoadResult", "StoredResult", "evaluate", "fault_results", "inconclusive_message",
           "journey_outcomes", "journey_series", "mark_inconclusive", "p95_drift", "phase_stats", "profile_file",
           "run_load", "sla_verdict", "users_env", "window_rows", "write_allure_results", "write_failed_run_results",
           "write_incomplete_sla", "write_sla_json"]


LOAD_DIR = PROJECT_ROOT / "load"
DEFAULT_OUT = PROJECT_ROOT / "reports" / "load"
MAX_DURATION_S = 24 * 3600
_PROFILE_RE = re.compile(r"[a-z][a-z0-9_]*")


def profile_file(profile_name: str) -> Path:
    if not _PROFILE_RE.fullmatch(profile_name) or profile_name == "users":
        raise ConfigError(f"not a load profile name: {profile_name!r}")
    path = LOAD_DIR / f"{profile_name}.py"
    if not path.is_file():
        known = sorted(p.stem for p in LOAD_DIR.glob("*.py") if p.stem != "users")
        raise ConfigError(f"no load profile '{profile_name}' (known: {', '.join(known)})", file=str(path))
    return path


def _simulator_pids(venv):
    """The virtual environment's simulator processes, read at each sample (a killed server is
    restarted as a new process): their CPU, and their children's, is the run's own, not foreign."""
    if venv is None:
        return None

    def pids() -> list[int]:
        return [p.proc.pid for p in list(venv.processes.values()) if getattr(p, "proc", None) is not None]
    return pids


def run_load(profile_name: str, *, users: int, duration_s: float, workers: int = 0, expect_workers: int = 0,
             master_bind_host: str = "", master_port: int | None = None,
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
    if expect_workers and not master_bind_host:
        raise ConfigError("--expect-workers: the workers must reach the master, which listens on loopback unless "
                          "told otherwise; give --master-bind-host (an interface of this machine, e.g. 0.0.0.0, or "
                          "127.0.0.1 for workers started on this machine)")
    if workers and master_bind_host:
        raise ConfigError("--master-bind-host is for --expect-workers (workers on other machines); with --workers "
                          "the master and its worker processes talk over loopback only")
    # the master's port: the given one; else Locust's 5557 for workers on other machines (they must be
    # told it) and a free one for --workers (0 here: run_locust picks it). 5557 for --workers put two
    # runs on one host on one port, and the second run's workers could join the first run's master
    if master_port is None:
        master_port = DEFAULT_MASTER_PORT if expect_workers else 0
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
        if contract.stored is not None and store_is_judged(run):  # before it stops
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
        return collect_result(run, profile_name=profile_name, profile=profile, contract=contract,
                              schedule=schedule, plans=plans, users=users, duration_s=duration_s, ramp_s=ramp_s,
                              workers=workers, out_dir=out_dir, started=started, t0=t0, stored=stored,
                              remote_workers=expect_workers)

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
    result = collected_or_incomplete(collect, run, out_dir, profile_name, contract)
    result.incomplete = lost_workers(run.log_path)  # a worker crashed: what it measured is not the run's
    return result


def store_is_judged(run) -> bool:
    """Whether the "AA is stored" check may read the users' ORU log (``AcceptedLog``) after ``run``:
    only after a Locust that ended by itself (exit 0 or 1) and was not interrupted, so that its
    ``quitting`` listener closed the log and every line is on disk. The log buffers its lines on
    that promise (a write per message was ~4 us of a load user's time)."""
    return run.code in (0, 1) and run.interrupted is None


def collected_or_incomplete(collect, run, out_dir: Path, profile_name: str, contract: LoadContract) -> LoadResult:
    """``collect()``, or, when Locust ended but left its statistics file empty or cut off (seen once
    under a saturated host with ``--processes``), an INCONCLUSIVE incomplete ``sla.json`` and
    ``RunIncomplete`` (exit 4): no figures is no verdict, and not the tester's configuration error."""
    try:
        return collect()
    except ConfigError as exc:
        if not str(exc).startswith(str(run.stats_json)):
            raise
        why = (f"Locust ended (exit {run.code}) but its statistics could not be read ({exc}); the run measured "
               f"nothing that can be judged (log: {run.log_path})")
        write_incomplete_sla(out_dir, profile_name, why, contract)
        raise RunIncomplete(why) from None


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
