"""A load run judged against ``contracts/load.yaml``: ``evaluate`` gives every SLA outcome (each
operation and journey on the steady phase, each planned fault by its target's objectives, the
soak's drift, "AA is stored"), ``mark_inconclusive`` turns the timing outcomes of a saturated or
stopped-early run into inconclusive ones, ``sla_verdict`` sums them up (MET | MISSED | INCONCLUSIVE).

Its own module because judging is pure: it reads a ``LoadResult`` and the contract, starts nothing
and writes nothing (what a run measured is ``load.measurements``, the files the verdict goes to
are ``load.result_files``). Split from ``load.runner`` (issue 13), which re-exports every public
name here.
"""

from __future__ import annotations

from genrep.load.contract import LoadContract
from genrep.load.run_result import RUN_INCOMPLETE, FaultResult, LoadResult, StoredResult
from genrep.load.stats import FAULT_METRICS, TIMING_METRICS, SlaOutcome, evaluate_stats


def _recovery_outcome(operation: str, rid: str, fault: FaultResult | None, threshold: float) -> SlaOutcome:
    # None (nothing measured after the fault, or still failing at the end) is a failure, never a pass
    measured = fault.recovery_s if fault is not None else None
    unseen = fault is not None and measured is None and fault.counts.get("recovery_unobserved")
    return SlaOutcome(operation, rid, "max_recovery_s", measured, float(threshold),
                      measured is not None and measured <= threshold,
                      unmeasured="no request of the affected operations answered between the fault and the "
                                 "end of its allowance: nobody saw it recover" if unseen else None)


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
            limit = multum.max_failed_checks_during_failover
            # of the failed checks, those the client gave up waiting for: when the miss rests on them
            # and the machine was saturated from the kill on, the starved generator may have made it
            # (``mark_inconclusive``); with the windows after the kill not saturated it is the system's
            # (a check that hangs on the killed server: the defect itself)
            unanswered = min(counts.get("failed_checks_unanswered", 0), failed or 0)
            on_timeouts = (f"{unanswered} of them unanswered within the client's timeout"
                           if failed is not None and failed > limit and failed - unanswered <= limit
                           and _saturated_from(result, fault.at_s if fault is not None else None) else None)
            # no prescription checked in the whole run: "0 false 'no interactions'" measured nothing
            false_neg = float(result.false_no_interactions) if _made_requests(result, "prescribe") else None
            outcomes += [
                SlaOutcome("prescribe", rid, "max_failed_checks", None if failed is None else float(failed),
                           float(limit), failed is not None and failed <= limit, timing_dependent=on_timeouts),
                SlaOutcome("prescribe", rid, "max_false_no_interactions", false_neg,
                           float(multum.max_false_no_interactions),
                           false_neg is not None and false_neg <= multum.max_false_no_interactions,
                           unmeasured=None if false_neg is not None else "no prescription was checked"),
                _recovery_outcome("prescribe", rid, fault, multum.max_failover_seconds)]
        elif plan.group == "nll":
            said = counts.get("unavailable_answers")
            unread = counts.get("reads_during_outage") == 0  # no list was read while NLL was down
            if said == 0 and unread:
                said = None  # nothing could say "unavailable"
            outcomes += [
                SlaOutcome("read_medications", rid, "min_unavailable_answers", None if said is None else float(said),
                           1.0, said is not None and said >= 1),
                _recovery_outcome("read_medications", rid, fault, objectives.max_recovery_s or 0.0)]
            if objectives.empty_list_requirement:
                if fault is None:
                    empty = None
                elif result.empty_lists:  # a list shown empty is a miss, whenever it was shown
                    empty = float(result.empty_lists)
                elif unread or not _made_requests(result, "read_medications"):
                    empty = None  # "0 shown empty" measured nothing
                else:
                    empty = 0.0
                outcomes.append(SlaOutcome("read_medications", objectives.empty_list_requirement, "max_empty_lists",
                                           empty, float(objectives.max_empty_lists or 0),
                                           empty is not None and empty <= (objectives.max_empty_lists or 0)))
        elif plan.group == "radiology-listener":
            st = result.stored
            outcomes += _stored_outcomes(st, rid)
            outcomes.append(_recovery_outcome("send_oru", rid, fault, objectives.max_recovery_s or 0.0))
    return outcomes


def _saturated_from(result: LoadResult, at_s: float | None) -> bool:
    """Whether the machine was mostly saturated from ``at_s`` to the run's end (the generator
    report's windows); True where that was not measured: the run-level rule alone decides."""
    gen = result.generator
    return gen is None or at_s is None or gen.saturated_after(at_s, result.duration_s)


def _made_requests(result: LoadResult, operation: str) -> bool:
    stats = result.operations.get(operation)
    return stats is not None and stats.requests > 0


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


#: An operation's own figures over the judged phase: empty when the machine starved it of that
#: phase. (A recovery never measured is a failover that never recovered: a failure, not starvation.)
STEADY_PHASE_METRICS = frozenset({"p95_ms", "p99_ms", "max_failure_ratio"})


def mark_inconclusive(outcomes: list[SlaOutcome], reason: str | None,
                      ran: frozenset[str] = frozenset()) -> list[SlaOutcome]:
    """With a saturated generator or machine (``reason``), every timing outcome is inconclusive:
    never met and never missed. Correctness outcomes (false "no interactions", empty lists, AA not
    stored) stand as measured: a saturated generator does not make them happen or hide them.
    A run stopped early (``reason`` "run incomplete: ...") measured part of what it should: every
    outcome it met is inconclusive (never met), and so is every timing figure (a dying worker slows
    what it runs) and every figure it never measured: a crashed worker may have held every user of
    a class before its first report (CI: the only RisUser died with its worker, send_oru "no
    requests"), and an early stop ends a recovery before it could be seen. Only a correctness miss
    it measured (false "no interactions", AA not stored ...) stays a miss.
    A correctness miss that rests on requests the client gave up waiting for (``timing_dependent``:
    failed checks after a Multum kill that are within the limit without the unanswered ones) is
    judged like a timing figure on a saturated machine: a starved generator times out requests it
    never got to read (a stop makes no timeouts: Ctrl-C ends users mid-request, a lost worker's
    requests are never reported, so in a stopped run it stays a miss).
    ``ran``: the operations the run exercised (:func:`operations_that_ran`). On a saturated machine
    one of them with no request in the judged (steady) phase, or none around a planned fault (no
    medication list read during the NLL outage), was starved by the machine, not broken:
    inconclusive too; an operation of a user class that made no request at all in the whole run
    stays a miss."""
    if not reason:
        return outcomes
    from dataclasses import replace
    if reason.startswith(RUN_INCOMPLETE):
        return [replace(o, ok=False, inconclusive=reason) if o.ok or o.measured is None
                or o.metric in TIMING_METRICS else o for o in outcomes]
    # a figure that was never measured (no requests, still failing at the end) is not a timing figure;
    # a fault figure nothing was measured for (no list read during the NLL outage) while its
    # operation ran is the starved machine's, like a steady phase without requests
    return [replace(o, ok=False, inconclusive=reason)
            if (o.metric in TIMING_METRICS and (o.measured is not None
                                                or (o.operation in ran and o.metric in STEADY_PHASE_METRICS)))
            or (o.measured is None and (o.metric in FAULT_METRICS or o.unmeasured) and o.operation in ran)
            or (o.timing_dependent and not o.ok)
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
    marked = mark_inconclusive(outcomes, result.inconclusive, operations_that_ran(result, contract))
    return _stored_beyond_sent_after_a_stop(marked, result)


def _stored_beyond_sent_after_a_stop(outcomes: list[SlaOutcome], result: LoadResult) -> list[SlaOutcome]:
    """In a run stopped early, reports stored beyond those logged as sent are no evidence of a
    defect: a Locust worker killed mid-run loses the "sent" notes still queued for the master (the
    ORUs reached the EHR, their notes never reached the log), so the count of sent ORUs is short.
    Such a "stored but never sent" excess alone makes the AA-is-stored figure inconclusive. An ORU
    answered AA and missing from the store (``not_stored``) stays a miss: a lost note can only make
    that count smaller, never larger."""
    st = result.stored
    if not result.incomplete or st is None or st.not_stored or not st.unexplained:
        return outcomes
    from dataclasses import replace
    why = (f"{result.inconclusive}; {st.unexplained} report(s) stored beyond the ORUs logged as sent: "
           "a stopped worker's notes never reached the log")
    return [replace(o, ok=False, inconclusive=why) if o.metric == "max_not_stored" and o.status == "missed" else o
            for o in outcomes]


def operations_that_ran(result: LoadResult, contract: LoadContract) -> frozenset[str]:
    """The operations the run exercised: each that made a request, each of a user class that
    made one (a short run on a starved machine may pick one task of a user and never reach the
    other), and each journey a user began. An operation whose user class made no request at all
    did not run."""
    made = {name for name, op in result.operations.items() if op.requests}
    users = {contract.operations[name].user for name in made if name in contract.operations}
    # a journey some user began ran, completed or not (a whole task outlasts a starved run)
    return frozenset(made | {name for name, op in contract.operations.items() if op.user in users}
                     | result.journeys_started)


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


def sla_verdict(outcomes: list[SlaOutcome]) -> str:
    """MISSED when any outcome was missed (a saturated generator never turns a miss into anything
    else for a correctness outcome, and timing outcomes are not missed then: inconclusive);
    otherwise INCONCLUSIVE when any outcome is; otherwise MET."""
    if any(o.status == "missed" for o in outcomes):
        return "MISSED"
    if any(o.status == "inconclusive" for o in outcomes):
        return "INCONCLUSIVE"
    return "MET"
