"""The files a load run's verdict is written to: ``sla.json`` (``write_sla_json``; a run stopped
before its figures could be read: ``write_incomplete_sla``) and the Allure results the gate reads
(``write_allure_results``: one per SLA threshold; ``write_failed_run_results``: one broken result
per requirement of a run that did not complete).

Its own module because the file formats are a concern of their own: what a run measured
(``load.run_result``) and how it is judged (``load.evaluation``) do not change when a file does.
Split from ``load.runner`` (issue 13), which re-exports every public name here.
"""

from __future__ import annotations

import json
from pathlib import Path

from genrep.results import writer
from genrep.results.failure_kinds import failure
from genrep.load.contract import LoadContract
from genrep.load.evaluation import sla_verdict
from genrep.load.generator import HOST_NOT_MEASURED
from genrep.load.run_result import RUN_INCOMPLETE, LoadResult
from genrep.load.stats import METRIC_LABELS, MIN_METRICS, SlaOutcome


SLA_FILE = "sla.json"


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
                          "inconclusive": o.inconclusive, "timing_dependent": o.timing_dependent}
                         for o in outcomes]}
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
    elif why == HOST_NOT_MEASURED:
        what = "no sample of the generator or the machine fell in the steady phase (a stalled or paused machine)"
        rerun = "rerun it"
    else:
        what = (f"the figures measure the {'load generator' if 'generator' in why else 'saturated machine'}, "
                "not the system under test")
        rerun = ("rerun with more workers (--workers here, or more machines with --expect-workers) or on more "
                 "cores" if "generator" in why
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
