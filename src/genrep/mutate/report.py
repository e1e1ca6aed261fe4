"""The mutation report: each operator's outcome, the score per integration, and the report's files.

An operator is **caught**, **survived**, **never triggered**, **not run**, **error** or **not
applicable** (``STATUSES``); the mutation score of an integration is caught / (caught + survived)
over its operators (``Report.by_integration``), against ``TARGET_SCORE``. ``write_json`` writes
``OUT/mutation.json`` (every operator, each survivor with one example and a note, from
``survivor_note``); ``write_allure`` writes one Allure result per integration through
``results.writer``, with no requirement label (see ``write_allure``).

Split from ``mutate.run`` (issue 13), which re-exports every name here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from genrep.mutate.names import TARGET_SCORE
from genrep.mutate.operators.base import Operator
from genrep.results.allure import safe_text

__all__ = ["CAUGHT", "CHANNEL_WORDS", "ERROR", "NEVER", "NOT_APPLICABLE", "NOT_RUN", "STATUSES", "SURVIVED",
           "TARGET_SCORE", "Outcome", "Report", "survivor_note", "write_allure", "write_json"]

CAUGHT, SURVIVED, NEVER, NOT_RUN, ERROR = "caught", "survived", "never_triggered", "not_run", "error"
NOT_APPLICABLE = "not_applicable"
STATUSES = (CAUGHT, SURVIVED, NEVER, NOT_RUN, ERROR, NOT_APPLICABLE)
#: what travels on each channel, for a survivor's note
CHANNEL_WORDS = {
    "mllp-inbound": "HL7 the harness sent the EHR",
    "mllp-outbound": "the EHR's ACKs to the harness",
    "http-request": "requests the harness sent the EHR's FHIR API",
    "http-response": "what the EHR's FHIR API answered the harness",
    "nll-request": "the EHR's requests to NLL",
    "nll-response": "what NLL answered the EHR",
    "multum-request": "the EHR's interaction checks sent to Multum",
    "multum-response": "what Multum answered the EHR",
}


@dataclass
class Outcome:
    name: str
    changes: str
    channel: str
    integration: str
    effect: str
    status: str = NOT_RUN
    applied: int = 0            # messages the operator changed (counted by the proxies)
    seen: int = 0               # messages on its channel while it was active
    failed: list[str] = field(default_factory=list)   # scenarios that failed with it active
    kinds: list[str] = field(default_factory=list)    # their failure classification
    example: str = ""           # one change it made (masked)
    seconds: float = 0.0
    prescreened: bool = False   # classified from the control run's traffic, without a suite run
    note: str = ""


@dataclass
class Report:
    environment: str
    selection: dict
    seed: int
    operators: list[Outcome]
    control: dict = field(default_factory=dict)
    wall_seconds: float = 0.0
    complete: bool = False
    interrupted: bool = False
    target: float = TARGET_SCORE

    def by_integration(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for o in self.operators:
            s = out.setdefault(o.integration, {**{status: 0 for status in STATUSES},
                                               "refusal_caught": 0, "refusal_survived": 0})
            s[o.status] += 1
            if o.effect == "refusal" and o.status in (CAUGHT, SURVIVED):
                s[f"refusal_{o.status}"] += 1
        for s in out.values():
            judged = s[CAUGHT] + s[SURVIVED]
            s["score"] = round(s[CAUGHT] / judged, 4) if judged else None
            silent = judged - s["refusal_caught"] - s["refusal_survived"]
            s["score_silent"] = (round((s[CAUGHT] - s["refusal_caught"]) / silent, 4) if silent else None)
            s["meets_target"] = s["score"] is not None and s["score"] >= self.target
        return out

    def survivors(self, integration: str | None = None) -> list[Outcome]:
        return [o for o in self.operators if o.status == SURVIVED and integration in (None, o.integration)]

    @property
    def ok(self) -> bool:
        scores = self.by_integration()
        return self.complete and bool(scores) and all(
            s["meets_target"] for s in scores.values() if s[CAUGHT] + s[SURVIVED])

    def to_dict(self) -> dict:
        return {"environment": self.environment, "selection": self.selection, "seed": self.seed,
                "target": self.target, "complete": self.complete, "interrupted": self.interrupted,
                "wall_seconds": round(self.wall_seconds, 1), "control": self.control,
                "integrations": self.by_integration(),
                "survivors": [{"operator": o.name, "integration": o.integration, "channel": o.channel,
                               "changes": o.changes, "messages_changed": o.applied, "example": o.example,
                               "note": o.note}
                              for o in self.survivors()],
                "operators": [asdict(o) for o in self.operators]}


def survivor_note(op: Operator, applied: int, scenarios: int) -> str:
    """Why an operator survived, in the terms the run can vouch for."""
    where = CHANNEL_WORDS.get(op.channel, op.channel)
    return (f"changed {applied} message(s) of {where} and all {scenarios} scenario(s) passed: no scenario "
            "compares what it changed, or the receiver tolerates the change (it reads the same either way)")


def write_json(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def write_allure(report: Report, results_dir: Path) -> list[Path]:
    """One Allure result per integration through ``results.writer``: passed when the score meets
    the target, failed (survivors listed) when it does not, broken when nothing could be judged.

    No requirement label: adding a requirement for the mutation score to the catalogue would make
    every rehearsal without a mutation run NO-GO (the gate calls a requirement no result verifies
    "untested"). A result without one is an "untagged scenario" to the gate, so these go to their
    own folder (``reports/mutate/allure-results`` by default), not into a rehearsal's results."""
    from genrep.results import writer
    results = []
    for integration, s in report.by_integration().items():
        survivors = report.survivors(integration)
        if s["score"] is None:
            status = "broken"
            message = ("no operator was judged (none triggered, none run, or none applicable in this "
                       "environment): no mutation score")
        else:
            status = "passed" if s["meets_target"] and report.complete else "failed"
            message = (f"mutation score {s['score']:.1%} (target {report.target:.0%}): {s[CAUGHT]} caught, "
                       f"{s[SURVIVED]} survived, {s[NEVER]} never triggered"
                       + (f", {s[NOT_APPLICABLE]} not applicable here" if s[NOT_APPLICABLE] else "")
                       + ("" if report.complete else "; the run is INCOMPLETE")
                       + "".join(f"\nsurvived: {o.name}: {o.changes}" for o in survivors))
        ops = [o for o in report.operators if o.integration == integration]
        attachments = [writer.Attachment("mutation.json", json.dumps(
            {**report.to_dict(), "operators": [asdict(o) for o in ops],
             "survivors": [d for d in report.to_dict()["survivors"] if d["integration"] == integration]},
            indent=2, ensure_ascii=False), "application/json")]
        if survivors:
            attachments.append(writer.Attachment("survivors", "\n\n".join(
                f"== {o.name} ({o.applied} message(s) changed)\n{o.changes}\n{o.note}\n{o.example}"
                for o in survivors)))
        results.append(writer.Result(
            key=f"mutate-{integration}", name=f"Mutation score, {integration}",
            full_name=f"genrep.mutate.{integration}", status=status, message=safe_text(message),
            description=f"Corruption operators on the {integration} integration against the scenarios "
                        f"{report.selection}; caught / (caught + survived).",
            labels=[("epic", integration), ("feature", "mutation analysis"), ("severity", "normal")],
            parameters=[("environment", report.environment), ("score", s["score"]), (CAUGHT, s[CAUGHT]),
                        (SURVIVED, s[SURVIVED]), (NEVER, s[NEVER]), ("seed", report.seed)],
            attachments=attachments))
    return writer.write(results_dir, results, writer.Producer("genrep_mutate", "mutation", every_value=True))
