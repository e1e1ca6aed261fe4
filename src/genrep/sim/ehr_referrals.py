"""The virtual EHR's referral-sending API: a referral to another unit, and the feedback its sender gets.

The real EHR's API for this is not public [U]; this is the assumption of ``contracts/referrals.yaml``
[A], in FHIR R4 terms:

- ``POST /fhir/ServiceRequest`` (category referral, ``subject`` a Patient of this EHR, ``performer[0]``
  the receiving unit by identifier, ``reasonCode``/``note`` the question): 201 with the ServiceRequest
  and a ``Task`` that tracks its delivery (status ``requested``); 400/422 OperationOutcome for a request
  the EHR cannot take at all (no unit named, unknown patient).
- ``GET /fhir/Task?focus=ServiceRequest/{id}`` and ``GET /fhir/Task/{id}``: the delivery Task.

The referral is forwarded to the receiving side (``genrep.sim.referral_receiver``, ``--referral-url``)
in the background, bounded by ``timeout``. Clean behaviour: the Task says what happened, at once:
``received`` (delivered), or ``failed``/``rejected`` with ``statusReason`` naming the reason
(``unit-unknown``, ``receiver-unavailable``, ``rejected``, coded in the contract's ``reason_system``)
and its text.

Defects (``genrep.sim.defects``): ``referral-silent-failure`` (2024: a referral that could not be
delivered stays ``in-progress``, "sent", forever, with no reason); ``referral-feedback-late:N`` (the
failure is told N seconds late, as by a periodic error queue).
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json

import aiohttp
from aiohttp import web

from genrep.sim.ehr_fhir import FHIR_JSON, bundle, outcome
from genrep.sim.ehr_outbound import OutboundSession, answer_object
from genrep.sim.ehr_store import Store

MAX_BODY = 64 * 1024
REFERRAL_CATEGORY = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005",
                                 "display": "Patient referral"}]}
REASON_SYSTEM = "urn:genrep:referral-failure"  # contracts/referrals.yaml api.reason_system
TASK_MEMORY = 20_000  # referrals kept (oldest forgotten first): a long run must not grow without limit


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


#: the bound for one referral delivery when none is given: a down receiver must come back to the
#: sender as "receiver-unavailable" well inside contracts/referrals.yaml feedback.within_seconds
REFERRAL_TIMEOUT_S = 1.5


class ReferralModule(OutboundSession):
    def __init__(self, store: Store, receiver_url: str | None, defects: dict, *, timeout: float = REFERRAL_TIMEOUT_S):
        self.store = store
        self.receiver_url = receiver_url.rstrip("/") if receiver_url else None
        self.defects = defects
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Future] = set()
        self.reset()

    def reset(self) -> None:
        self.requests: dict[str, dict] = {}   # ServiceRequest id -> resource
        self.task_of: dict[str, dict] = {}    # ServiceRequest id -> Task resource
        self.tasks: dict[str, dict] = {}      # Task id -> Task resource
        self._ids = itertools.count(1)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await super().close()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/fhir/ServiceRequest", self.create)
        app.router.add_get("/fhir/Task", self.search_tasks)
        app.router.add_get("/fhir/Task/{id}", self.read_task)

    # -- the API ----------------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        try:
            raw = await request.content.read(MAX_BODY + 1)
            if len(raw) > MAX_BODY:
                return outcome(413, "too-costly", f"a referral is at most {MAX_BODY} bytes")
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return outcome(400, "structure", f"the body is not JSON: {exc}")
        if not isinstance(body, dict) or body.get("resourceType") != "ServiceRequest":
            return outcome(400, "structure", "expected a ServiceRequest resource")
        subject = (body.get("subject") or {}).get("reference", "") if isinstance(body.get("subject"), dict) else ""
        patient_id = subject.partition("Patient/")[2]
        if not patient_id or patient_id not in self.store.patients_by_id:
            return outcome(422, "not-found", f"subject {subject or '(none)'} is not a patient of this EHR")
        performer = body.get("performer")
        unit = performer[0].get("identifier") if isinstance(performer, list) and performer \
            and isinstance(performer[0], dict) else None
        if not isinstance(unit, dict) or not isinstance(unit.get("value"), str) or not unit["value"].strip():
            return outcome(400, "required", "performer[0].identifier (the receiving unit) is required")
        n = next(self._ids)
        sr_id, task_id = f"ref-{n}", f"reftask-{n}"
        question = " ".join(c.get("text", "") for c in body.get("reasonCode", []) if isinstance(c, dict)).strip()
        sr = {"resourceType": "ServiceRequest", "id": sr_id, "status": "active", "intent": "order",
              "category": [REFERRAL_CATEGORY], "subject": {"reference": f"Patient/{patient_id}"},
              "performer": [{"identifier": {"system": unit.get("system", ""), "value": unit["value"]}}],
              "authoredOn": _now()}
        if question:
            sr["reasonCode"] = [{"text": question}]
        task = {"resourceType": "Task", "id": task_id, "status": "requested", "intent": "order",
                "focus": {"reference": f"ServiceRequest/{sr_id}"}, "for": {"reference": f"Patient/{patient_id}"},
                "owner": {"identifier": dict(sr["performer"][0]["identifier"])},
                "authoredOn": sr["authoredOn"], "lastModified": sr["authoredOn"]}
        if len(self.requests) >= TASK_MEMORY:
            old = next(iter(self.requests))
            self.requests.pop(old)
            self.tasks.pop(self.task_of.pop(old)["id"], None)
        self.requests[sr_id], self.task_of[sr_id], self.tasks[task_id] = sr, task, task
        job = asyncio.ensure_future(self._forward(sr, task, patient_id, question))
        self._tasks.add(job)
        job.add_done_callback(self._tasks.discard)
        resp = web.json_response(sr, status=201, content_type=FHIR_JSON)
        resp.headers["Location"] = f"ServiceRequest/{sr_id}"
        return resp

    async def search_tasks(self, request: web.Request) -> web.Response:
        focus = request.query.get("focus", "")
        if not focus:
            return outcome(400, "required", "search Task by focus=ServiceRequest/{id}")
        task = self.task_of.get(focus.partition("ServiceRequest/")[2])
        return bundle([task] if task is not None else [])

    async def read_task(self, request: web.Request) -> web.Response:
        task = self.tasks.get(request.match_info["id"])
        if task is None:
            return outcome(404, "not-found", f"no Task {request.match_info['id']}")
        return web.json_response(task, content_type=FHIR_JSON)

    # -- delivery ---------------------------------------------------------------------------------
    async def _forward(self, sr: dict, task: dict, patient_id: str, question: str) -> None:
        task["status"] = "in-progress"  # being sent
        task["lastModified"] = _now()
        status, code, text = await self._send(sr, patient_id, question)
        if status == "received":
            task.update(status="received", lastModified=_now(), businessStatus={"text": text})
            return
        if "referral-silent-failure" in self.defects:
            return  # 2024: stays in-progress ("sent") forever, no reason
        late = self.defects.get("referral-feedback-late")
        if "referral-feedback-late" in self.defects:
            await asyncio.sleep(float(late or 0))

        task.update(status=status, lastModified=_now(),
                    statusReason={"coding": [{"system": REASON_SYSTEM, "code": code}], "text": text})

    async def _send(self, sr: dict, patient_id: str, question: str) -> tuple[str, str, str]:
        """(Task.status, reason code, text) after one delivery attempt."""
        if not self.receiver_url or self.session is None:
            return "failed", "receiver-unavailable", "no referral receiver is configured for this EHR"
        unit = sr["performer"][0]["identifier"]["value"]
        try:
            async with self.session.post(f"{self.receiver_url}/referrals",
                                         json={"referral": sr["id"], "unit": unit, "patient": f"Patient/{patient_id}",
                                               "reason": question}) as resp:
                answer = await answer_object(resp, MAX_BODY)
                if resp.status == 200 and answer.get("outcome") == "received":
                    return "received", "", f"received by {unit} (receipt {answer.get('receipt', '?')})"
                if resp.status == 404 and answer.get("outcome") == "unit-unknown":
                    return "failed", "unit-unknown", f"the receiving unit {unit} is unknown"
                if resp.status == 422 and answer.get("outcome") == "rejected":
                    return "rejected", "rejected", f"rejected by {unit}: {answer.get('reason') or 'no reason given'}"
                return "failed", "receiver-unavailable", (f"the receiving system answered HTTP {resp.status}: "
                                                          f"{str(answer.get('error', ''))[:200]}")
        except asyncio.TimeoutError:
            return "failed", "receiver-unavailable", f"the receiving system did not answer within {self.timeout} s"
        except aiohttp.ClientError as exc:
            return "failed", "receiver-unavailable", f"the receiving system cannot be reached: {type(exc).__name__}"
