"""Locust users shared by the load profiles (thin: payloads, schedule and SLA rule are library code).

Run only through `genrep load PROFILE` (a subprocess; it starts the environment and sets the
GENREP_LOAD_* variables). Weights and think times come from contracts/load.yaml.
"""

from __future__ import annotations

import json
import time

from locust import FastHttpUser, User, between, events
from locust.runners import MasterRunner, WorkerRunner

from genrep.load.contract import load_load_contract
from genrep.load.workload import (AcceptedLog, LoadEndpoints, LoadSettings, Payloads, ack_problem, exit_code,
                                  operation_cycle)

CONTRACT = load_load_contract()
SETTINGS = LoadSettings.from_env()
PAYLOADS = Payloads()
ENDPOINTS = LoadEndpoints(SETTINGS.profile_file)  # TLS and tokens, as the steps use them
FHIR_HEADERS = {"Accept": "application/fhir+json", **ENDPOINTS.headers("ehr_fhir")}
API_HEADERS = ENDPOINTS.headers("ehr_api")
USERS = CONTRACT.users_for(SETTINGS.profile)  # the profile's weights and think times
ACCEPTED = AcceptedLog(SETTINGS.out_dir)    # ORUs answered AA: the runner reads them back


def _weights(user: str) -> dict[str, int]:
    return {op.name: op.task_weight for op in CONTRACT.operations_of(user)}


def _think(user: str):
    u = USERS[user]
    return between(u.think_min, u.think_max)


def _next_operation(user):
    """The only task: the user's next operation in the contract's weighted order."""
    getattr(user, next(user._ops))()



def _json_answer(resp) -> dict | None:
    """The JSON object of a 200 answer; otherwise the request is marked failed and None returned."""
    if resp.status_code != 200:
        resp.failure(f"HTTP {resp.status_code}")
        return None
    try:
        body = json.loads(resp.content)
    except ValueError:
        resp.failure("not JSON")
        return None
    if not isinstance(body, dict):
        resp.failure("not a JSON object")
        return None
    return body

class _Scheduled:
    contract_user = ""
    tasks = [_next_operation]

    def on_start(self):
        self._ops = operation_cycle(_weights(self.contract_user))


class _HttpUser(_Scheduled, FastHttpUser):
    abstract = True
    network_timeout = connection_timeout = SETTINGS.timeout
    insecure = False  # certificates are verified (Locust's default does not); the context is the profile's


class ClinicianUser(_HttpUser):
    tasks = [_next_operation]
    contract_user = "clinician"
    weight = USERS["clinician"].weight
    wait_time = _think("clinician")
    host = SETTINGS.fhir
    ssl_context_factory = staticmethod(ENDPOINTS.ssl_context_factory("ehr_fhir"))

    def _read(self, name: str, path: str):
        PAYLOADS.check(path, destination=SETTINGS.fhir)
        with self.client.get(path, name=name, headers=FHIR_HEADERS, catch_response=True) as resp:
            body = _json_answer(resp)
            if body is None:
                return
            if not body.get("total"):
                resp.failure("empty search result")

    def read_report(self):
        self._read("read_report", f"/DiagnosticReport?identifier={SETTINGS.accession}")

    def read_medications(self):
        self._read("read_medications", f"/MedicationRequest?patient={SETTINGS.patient_id}")


class _MLLPUser(_Scheduled, User):
    abstract = True

    def on_start(self):
        super().on_start()
        self.mllp = ENDPOINTS.mllp_client(SETTINGS)

    def on_stop(self):
        self.mllp.close()

    def _send(self, name: str, payload: bytes, control_id: str) -> bool:
        """Send, check the ACK is AA for this message, fire the request event; True when AA."""
        start = time.perf_counter()
        exc, length = None, 0
        try:
            raw = self.mllp.send(payload)
            length = len(raw)
            problem = ack_problem(raw, control_id)
            if problem:
                exc = AssertionError(problem)
        except Exception as e:  # noqa: BLE001 - every failure is a failed request in the stats
            exc = e
        self.environment.events.request.fire(
            request_type="MLLP", name=name, response_time=(time.perf_counter() - start) * 1000,
            response_length=length, exception=exc, context={})
        return exc is None


class RisUser(_MLLPUser):
    tasks = [_next_operation]
    contract_user = "ris"
    weight = USERS["ris"].weight
    wait_time = _think("ris")

    def send_oru(self):
        payload, control_id, accession = PAYLOADS.oru_with_accession(self.mllp.endpoint)
        self._log(AcceptedLog.SENT, accession)
        if self._send("send_oru", payload, control_id):
            self._log(AcceptedLog.ACCEPTED, accession)

    def _log(self, kind: str, accession: str) -> None:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):  # distributed: the master keeps the one log
            runner.send_message(ACCEPTED_MESSAGE, [kind, accession])
        else:
            ACCEPTED.add(accession, kind)


class RegistrationUser(_MLLPUser):
    tasks = [_next_operation]
    contract_user = "registration"
    weight = USERS["registration"].weight
    wait_time = _think("registration")

    def register_adt(self):
        self._send("register_adt", *PAYLOADS.adt(self.mllp.endpoint))


class PrescriberUser(_HttpUser):
    tasks = [_next_operation]
    contract_user = "prescriber"
    weight = USERS["prescriber"].weight
    wait_time = _think("prescriber")
    host = SETTINGS.api
    ssl_context_factory = staticmethod(ENDPOINTS.ssl_context_factory("ehr_api"))

    def on_start(self):
        super().on_start()
        from genrep.contracts import load_multum
        self.current, self.new = load_multum().canary

    def prescribe(self):
        body = {"patient": SETTINGS.patient_id, "current": [self.current], "new": self.new}
        PAYLOADS.check(json.dumps(body), destination=SETTINGS.api)
        with self.client.post("/prescribe", json=body, name="prescribe", headers=API_HEADERS,
                              catch_response=True) as resp:
            body = _json_answer(resp)
            if body is None:
                return
            status = body.get("status")
            if status != "checked":
                resp.failure(f"interaction check {status}")
                return
            pair = {self.current, self.new}
            found = body.get("interactions") or []
            if not any({str(d).lower() for d in i.get("drugs", [])} == pair for i in found):
                # the fail-safe rule broken: a known interaction answered "no interactions"
                resp.failure("false 'no interactions'")
                self.environment.events.request.fire(
                    request_type="CHECK", name="false_no_interactions", response_time=0, response_length=0,
                    exception=AssertionError(f"no interaction reported for {'+'.join(sorted(pair))}"),
                    context={})


ACCEPTED_MESSAGE = "genrep_accepted"


@events.init.add_listener
def _collect_accepted(environment, **_kw):
    """On a distributed master, the workers' AA'd accessions arrive as messages (workers may run on
    other machines, so a file on their disk would never reach the runner's check)."""
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(ACCEPTED_MESSAGE, lambda msg, **_: ACCEPTED.add(msg.data[1], msg.data[0]))


@events.quitting.add_listener
def _sla_gate(environment, **_kw):
    """Exit code 0 when every SLA of contracts/load.yaml is met, 1 otherwise (the runner recomputes
    the verdict from the JSON statistics, which are the source of truth)."""
    ACCEPTED.close()
    if isinstance(environment.runner, WorkerRunner):
        return
    # StatsEntry.serialize(), not RequestStats.serialize_stats(): the latter *resets* every entry
    # (get_stripped_report), and --json-file, written after this listener, would be "[]"
    entries = [e.serialize() for e in environment.stats.entries.values()]
    environment.process_exit_code = exit_code(entries, CONTRACT)
