"""Referrals to another unit through the EHR, and the feedback the sender gets (contracts/referrals.yaml).

The one adapter for the EHR's referral-sending API, which is not public [U]: what it assumes [A] is
the contract's ``api`` (a FHIR ``ServiceRequest`` POSTed, its delivery read back as the ``Task`` whose
focus it is). The endpoint is the profile's ``ehr_referrals`` (else ``ehr_fhir``).

``ReferralClient.send`` sends one referral; ``await_feedback`` polls its delivery, bounded by the
contract's ``feedback.within_seconds`` plus ``observe_late_seconds`` (never longer), and ``classify``
says what the sender was told:

- ``delivered``: a delivered status within the bound;
- ``failed_with_reason``: a failed status with a reason (``statusReason``) within the bound, or the
  EHR refused the referral at once with an OperationOutcome (its reason as the answer);
- ``failed_without_reason``: failed within the bound, but the reason is missing;
- ``late``: the answer came, after the bound (within the extra watch);
- ``late_unconfirmed``: the harness saw the answer after the bound, but the EHR's own Task
  timestamps (``lastModified`` against ``authoredOn``) put it within, and no read that *began* after
  the bound still showed it pending: the harness was too slow to judge (a busy host). Never a pass
  and never a product defect: ``timing_unconfirmed``, which keeps the run from GO
  (``results.gate_decision``). A read that began after the bound and still saw it pending proves
  it late whatever the timestamps say (the EHR answered it after the bound: a slow harness only
  begins reads later), so an EHR whose ``lastModified`` does not move, whose Task comes late or
  whose sender's view lags its backend is ``late`` as soon as the harness polled in time. An EHR
  that backdated its timestamps gets "unconfirmed", not a pass; one without them is judged on the
  harness's clock alone (``late``). Timestamps without a fraction of a second count 1 s longer;
- ``silent``: no answer at all (still pending, "sent") when the watch ended: the 2024 defect;
- ``error``: the EHR's API answered something else (HTTP error, not FHIR, no Task).

Transport failures talking to the EHR itself (refused, timed out) are raised, not classified: an
unreachable EHR is the environment, not the referral's fate (``genrep.preflight``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from genrep.config.profile import Profile
from genrep.config.referrals import ReferralContract, ReferralUnit
from genrep.errors import ProtocolError
from genrep.transport.endpoints import http_transport_for

CLASSES = ("delivered", "failed_with_reason", "failed_without_reason", "late", "late_unconfirmed", "silent", "error")
FHIR_JSON = "application/fhir+json"


@dataclass
class Observation:
    """One read of the delivery Task: seconds since the send when it returned, its status and reason
    (code, text); ``server_s``: seconds from the Task's ``authoredOn`` to its ``lastModified`` by
    the EHR's own clock (None when it gives neither, or they cannot be read); ``began``: seconds
    since the send when the read began (None: not known)."""
    at: float
    status: str
    reason_code: str = ""
    reason_text: str = ""
    server_s: float | None = None
    began: float | None = None


@dataclass
class SentReferral:
    unit: ReferralUnit
    question: str
    sent_at: float                    # monotonic
    request_id: str = ""              # the ServiceRequest id ("" when refused at once)
    refused: tuple[int, str, str] | None = None  # (HTTP status, reason code, text) of an immediate refusal
    error: str = ""

    def __repr__(self) -> str:  # no patient data; Allure records step arguments
        return f"SentReferral({self.unit.name}, {self.request_id or 'not created'})"


@dataclass
class ReferralOutcome:
    classification: str               # one of CLASSES
    status: str                       # the last Task.status seen ("" when none)
    status_class: str                 # delivered | failed | pending | unknown | ""
    reason_code: str
    reason_text: str
    elapsed: float | None             # seconds from the send to the answer (None: no answer)
    bound: float
    observations: list[Observation] = field(default_factory=list)
    detail: str = ""
    server_s: float | None = None     # the answer by the EHR's own Task timestamps (None: not given)

    def describe(self) -> str:
        when = "no answer" if self.elapsed is None else f"answered after {self.elapsed:.2f} s"
        if self.elapsed is not None and self.server_s is not None:
            when += f", {self.server_s:.2f} s by the EHR's own Task timestamps"
        reason = f", reason {self.reason_code or '(no code)'}: {self.reason_text or '(no text)'}" \
            if self.status_class == "failed" else ""
        seen = " -> ".join(dict.fromkeys(o.status for o in self.observations)) or "nothing"
        return (f"{self.classification}: status {self.status or 'none'} ({when}; bound {self.bound:g} s{reason}); "
                f"statuses seen: {seen}" + (f"; {self.detail}" if self.detail else ""))


def classify(observations: list[Observation], contract: ReferralContract, *,
             refused: tuple[int, str, str] | None = None, error: str = "") -> ReferralOutcome:
    """What the sender was told, from the reads of the delivery Task (in order), an immediate refusal, or
    an API error. Pure: the unit tests drive it directly."""
    bound = contract.within_seconds
    if error:
        return ReferralOutcome("error", "", "", "", "", None, bound, list(observations), error)
    if refused is not None:
        status, code, text = refused
        klass = "failed_with_reason" if (code or text) else "failed_without_reason"
        return ReferralOutcome(klass, f"HTTP {status}", "failed", code, text, 0.0, bound, [],
                               "refused at once by the EHR")
    last = observations[-1] if observations else None
    first = next((i for i, o in enumerate(observations) if contract.status_class(o.status) in ("delivered", "failed")),
                 None)
    answer = None if first is None else observations[first]
    if answer is None:
        unknown = next((o for o in observations if contract.status_class(o.status) is None), None)
        detail = f"status {unknown.status!r} is not in the contract" if unknown else ""
        return ReferralOutcome("silent", last.status if last else "", "pending" if last else "", "", "",
                               None, bound, list(observations), detail)
    klass = contract.status_class(answer.status)
    if answer.at > bound:
        # late by the harness's clock; by the EHR's own as well, or it gives none, or a read that
        # began after the bound still saw it pending (proof, however slow the harness): late
        on_time_by_ehr = answer.server_s is not None and answer.server_s <= bound
        pending_after_bound = any(o.began is not None and o.began > bound
                                  and contract.status_class(o.status) not in ("delivered", "failed")
                                  for o in observations[:first])
        classification = "late_unconfirmed" if on_time_by_ehr and not pending_after_bound else "late"
    elif klass == "delivered":
        classification = "delivered"
    elif answer.reason_code or answer.reason_text:
        classification = "failed_with_reason"
    else:
        classification = "failed_without_reason"
    return ReferralOutcome(classification, answer.status, klass, answer.reason_code, answer.reason_text,
                           answer.at, bound, list(observations), server_s=answer.server_s)


def task_seconds(task: dict) -> float | None:
    """Seconds from a Task's ``authoredOn`` to its ``lastModified``, by the EHR's clock (FHIR
    dateTimes with a time zone); None when either is missing, unreadable or without a zone, or the
    span is negative."""
    try:
        written = str(task["authoredOn"]), str(task["lastModified"])
        start, end = (datetime.fromisoformat(w) for w in written)
    except (KeyError, TypeError, ValueError):
        return None
    if start.tzinfo is None or end.tzinfo is None:
        return None
    span = (end - start).total_seconds()
    if span < 0:
        return None
    # whole seconds (no fraction written): the real span may be up to 1 s longer
    return span if all(_has_fraction(w) for w in written) else span + 1.0


def _has_fraction(written: str) -> bool:
    """Whether an ISO dateTime carries a fraction of a second (``...:05.250+00:00``)."""
    time_part = written.partition("T")[2]
    return "." in time_part or "," in time_part


def _operation_outcome(body) -> tuple[str, str]:
    """(code, text) of an OperationOutcome's first issue: details.coding code, else the issue code."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return "", ""
    issue = (body.get("issue") or [{}])[0]
    if not isinstance(issue, dict):
        return "", ""
    details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
    coding = (details.get("coding") or [{}])[0] if isinstance(details.get("coding"), list) else {}
    code = coding.get("code", "") if isinstance(coding, dict) else ""
    text = details.get("text") or issue.get("diagnostics") or ""
    return str(code or issue.get("code", "")), str(text)


class ReferralClient:
    """Sends referrals through one EHR's referral API and watches their delivery."""

    def __init__(self, profile: Profile, contract: ReferralContract):
        self.contract = contract
        name = "ehr_referrals" if "ehr_referrals" in profile.endpoints else "ehr_fhir"
        # one read never outlasts the bound (the watch as a whole is bounded below)
        read = min(profile.timeouts.read, max(1.0, contract.within_seconds))
        self.http = http_transport_for(profile, name, read_timeout=read)
        self.admin = (http_transport_for(profile, "referral_receiver_admin", with_token=False,
                                         connect_timeout=1.0, read_timeout=3.0)
                      if "referral_receiver_admin" in profile.endpoints else None)

    def __repr__(self) -> str:
        return f"ReferralClient({self.http.base_url})"

    def close(self) -> None:
        self.http.close()
        if self.admin is not None:
            self.admin.close()

    def service_request(self, patient_id: str, unit: ReferralUnit, question: str) -> dict:
        return {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005",
                                          "display": "Patient referral"}]}],
                "subject": {"reference": f"Patient/{patient_id}"},
                "performer": [{"identifier": {"system": self.contract.unit_system, "value": unit.id},
                               "display": unit.name}],
                "reasonCode": [{"text": question}]}

    def send(self, patient_id: str, unit: ReferralUnit, question: str) -> SentReferral:
        """POST the referral. A 4xx with an OperationOutcome is an immediate refusal (feedback at once);
        anything else that is not 201/200 with an id is an API error."""
        sent = SentReferral(unit, question, time.monotonic())
        resp = self.http.request("POST", "ServiceRequest", json=self.service_request(patient_id, unit, question),
                                 headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON})
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code in (200, 201) and isinstance(body, dict) and body.get("id"):
            sent.request_id = str(body["id"])
        elif 400 <= resp.status_code < 500 and isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
            code, text = _operation_outcome(body)
            sent.refused = (resp.status_code, code, text)
        else:
            sent.error = f"the EHR's referral API answered HTTP {resp.status_code}: {resp.text[:200]}"
        return sent

    def read_task(self, request_id: str) -> dict | None:
        resp = self.http.request("GET", "Task", params={"focus": f"ServiceRequest/{request_id}"},
                                 headers={"Accept": FHIR_JSON})
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code != 200 or not isinstance(body, dict):
            raise ProtocolError(f"Task?focus=ServiceRequest/{request_id} answered HTTP {resp.status_code}: "
                                f"{resp.text[:200]}")
        if body.get("resourceType") == "Task":
            return body
        entries = [e.get("resource") for e in body.get("entry", []) if isinstance(e, dict)]
        tasks = [t for t in entries if isinstance(t, dict) and t.get("resourceType") == "Task"]
        return tasks[0] if tasks else None

    def _observe(self, task: dict, at: float, began: float | None = None) -> Observation:
        reason = task.get("statusReason") if isinstance(task.get("statusReason"), dict) else {}
        codings = [c for c in reason.get("coding", []) if isinstance(c, dict)] if isinstance(reason.get("coding"), list) else []
        code = next((c.get("code", "") for c in codings if c.get("system") == self.contract.reason_system), "")
        code = code or next((c.get("code", "") for c in codings), "")
        return Observation(at, str(task.get("status", "")), str(code), str(reason.get("text", "") or ""),
                           task_seconds(task), began)

    def await_feedback(self, sent: SentReferral) -> ReferralOutcome:
        """Poll the delivery Task until it answers (delivered or failed) or the watch ends: the bound
        plus ``observe_late_seconds``, from the send. Never waits longer."""
        c = self.contract
        if sent.error or sent.refused is not None:
            return classify([], c, refused=sent.refused, error=sent.error)
        deadline = sent.sent_at + c.within_seconds + c.observe_late_seconds
        observations: list[Observation] = []
        while True:
            began = time.monotonic() - sent.sent_at
            try:
                task = self.read_task(sent.request_id)
            except ProtocolError as exc:
                return classify(observations, c, error=str(exc))
            at = time.monotonic() - sent.sent_at
            if task is None:
                if at > c.within_seconds:
                    return classify(observations, c, error=f"no Task for ServiceRequest/{sent.request_id} "
                                                           f"after {at:.1f} s: its delivery cannot be followed")
            else:
                obs = self._observe(task, at, began)
                observations.append(obs)
                if c.status_class(obs.status) in ("delivered", "failed"):
                    break
            if time.monotonic() + c.poll_interval_seconds > deadline:
                break
            time.sleep(c.poll_interval_seconds)
        return classify(observations, c)

    def received(self, request_id: str) -> list[dict] | None:
        """What the receiving side says arrived for the referral (virtual receiver's admin); None when
        the profile has no such endpoint (a real receiving unit is asked another way)."""
        if self.admin is None:
            return None
        resp = self.admin.request("GET", "received", params={"referral": request_id})
        if resp.status_code != 200:
            raise ProtocolError(f"referral receiver admin answered HTTP {resp.status_code}")
        items = resp.json().get("received")
        return items if isinstance(items, list) else []


# -- judging an outcome: the failure message (kind first) or None ------------------------------------
# The kinds are genrep.results.failure_kinds' (a layer above: written out here, checked by its test).

def expect_delivered(outcome: ReferralOutcome) -> str | None:
    """None if the sender was told "delivered" within the bound; else the failure message."""
    c = outcome.classification
    if c == "delivered":
        return None
    if c == "error":
        return f"referral_api_error: {outcome.describe()}"
    if c == "late" and outcome.status_class == "delivered":
        return f"referral_feedback_late: delivered, but the sender was told only after the bound: {outcome.describe()}"
    if c == "late_unconfirmed" and outcome.status_class == "delivered":
        return _unconfirmed(outcome)
    return f"referral_not_delivered: a referral to a unit that takes referrals was not delivered: {outcome.describe()}"


def expect_failed(outcome: ReferralOutcome, reason: str) -> str | None:
    """None if the sender was told "failed" with ``reason`` (a contract reason code) within the bound."""
    c = outcome.classification
    if c == "error":
        return f"referral_api_error: {outcome.describe()}"
    if outcome.status_class == "delivered":
        return (f"referral_wrongly_delivered: expected failed ({reason}), but the sender was told it was "
                f"delivered: {outcome.describe()}")
    if c == "silent":
        return (f"referral_silent_failure: the referral could not be delivered ({reason}) and the sender was not "
                f"told within {outcome.bound:g} s (+ the late watch): {outcome.describe()}")
    if c == "late":
        return f"referral_feedback_late: told failed only after the bound of {outcome.bound:g} s: {outcome.describe()}"
    if c == "failed_without_reason" or (c == "late_unconfirmed" and not (outcome.reason_code or outcome.reason_text)):
        return f"referral_reason_missing: told failed, but not why (expected {reason}): {outcome.describe()}"
    if outcome.reason_code != reason:
        return f"referral_wrong_reason: expected reason {reason}: {outcome.describe()}"
    if c == "late_unconfirmed":  # right answer, right reason: only its timing could not be judged
        return _unconfirmed(outcome)
    return None


def _unconfirmed(outcome: ReferralOutcome) -> str:
    return (f"timing_unconfirmed: the harness saw the answer only after the bound of {outcome.bound:g} s, but the "
            f"EHR's own Task timestamps put it within: the harness was too slow to judge (a busy host?); not "
            f"verified, not a defect: {outcome.describe()}")
