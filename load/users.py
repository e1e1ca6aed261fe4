"""Locust users shared by the load profiles (thin: payloads, schedule and SLA rule are library code).

Run only through `genrep load PROFILE` (a subprocess; it starts the environment and sets the
GENREP_LOAD_* variables). Weights and think times come from contracts/load.yaml.

Over 500 lines on purpose: the users and the Locust event listeners below share this process's
state (settings, payloads, the window recorder, the accepted log, the identity stop), made once when
Locust imports the file; ``load/`` is not a package and every profile imports this one module, so a
split would pass that state between two top-level modules Locust's path happens to hold.
"""

from __future__ import annotations

import json
import logging
import random
import time
from contextlib import contextmanager

import gevent
import locust.runners
from locust import FastHttpUser, User, between, events, task
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import StatsCSVFileWriter

from genrep.errors import IdentityViolation
from genrep.hl7.ack import AckRequest
from genrep.load.contract import load_load_contract
from genrep.load.http_route import HttpRoute, RequestRefused
from genrep.load.journey import JourneyFailed, ReportToPrescription
from genrep.load.locust_process import HEARTBEAT_LIVENESS, workers_write_no_statistics
from genrep.load.windows import (PRESCRIBE_UNANSWERED, STARTED_FILE, WINDOWS_FILE, WORKER_CPU_BOUND, WindowFigures,
                                 WindowRecorder, journey_started)
from genrep.load.workload import (EMPTY, IDENTITY_STOP_EXIT, LIST, UNAVAILABLE, AcceptedLog, LoadEndpoints,
                                  LoadSettings, Payloads, ack_problem, exit_code, medication_answer,
                                  operation_cycle, unanswered_in_time)

CONTRACT = load_load_contract()
SETTINGS = LoadSettings.from_env()
ENDPOINTS = LoadEndpoints(SETTINGS.profile_file)  # TLS and tokens, as the steps use them
PAYLOADS = Payloads(ack_mode=ENDPOINTS.ack_mode())  # MSH-15/16 as the profile's MLLP endpoint says
# what each HTTP user may send and where (constant headers scanned once, here; the token never)
FHIR_ROUTE = HttpRoute(SETTINGS.fhir, allowed_hosts=SETTINGS.allowed_hosts, payloads=PAYLOADS,
                       tls=ENDPOINTS.tls("ehr_fhir"), headers={"Accept": "application/fhir+json"},
                       secret_headers=ENDPOINTS.headers("ehr_fhir"))
API_ROUTE = HttpRoute(SETTINGS.api, allowed_hosts=SETTINGS.allowed_hosts, payloads=PAYLOADS,
                      tls=ENDPOINTS.tls("ehr_api"), secret_headers=ENDPOINTS.headers("ehr_api"))
STOP_MESSAGE = "genrep_identity_stop"
CLIENT_TIMEOUTS = (TimeoutError, gevent.Timeout)  # what FastHttpUser's client raises when no answer came in time
_refused: list[str] = []  # the identity refusal that stopped this run (its first), if any
USERS = CONTRACT.users_for(SETTINGS.profile)  # the profile's weights and think times
ACCEPTED = AcceptedLog(SETTINGS.out_dir)    # ORUs answered AA: the runner reads them back
WINDOWS = WindowRecorder(SETTINGS.window_s)  # every request per window: the runner judges the phases from it
WINDOWS_REPORT = "genrep_windows"           # a worker's recorder, drained into each report to the master
_started: list[float] = []                  # the test's start (master or local process)


def _csv_writer_until_closed(original):
    """Locust 2.47 closes the CSV files in shutdown() and then exits; with ``--processes`` its
    atexit hook waits for the worker children (sleeping, so gevent runs other greenlets) and the
    CSV writer greenlet, never stopped, seeks a closed file: a ValueError traceback in a log that
    must read clean (the identity stop is judged from it). The writer ends quietly once its files
    are closed; any other error is still raised."""
    def stats_writer(self):
        try:
            original(self)
        except ValueError:
            if not self.requests_csv_filehandle.closed:
                raise
    stats_writer.__doc__ = original.__doc__
    return stats_writer


StatsCSVFileWriter.stats_writer = _csv_writer_until_closed(StatsCSVFileWriter.stats_writer)
# a stall on a busy host is not a lost worker (locust_process.HEARTBEAT_LIVENESS); read by the
# master's heartbeat checks at run time, so set before any runner exists
locust.runners.HEARTBEAT_LIVENESS = HEARTBEAT_LIVENESS


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


def _refuse(user, request_type: str, name: str, exc: Exception) -> None:
    """A request refused before sending: a failed request in the stats, saying why."""
    user.environment.events.request.fire(request_type=request_type, name=name, response_time=0,
                                         response_length=0, exception=exc, context={})


def _stop_for_identity(user, request_type: str, name: str, exc: IdentityViolation) -> None:
    """A refused personnummer stops the run: the request fails naming why, nothing more is sent
    (``_stopped`` refuses every later request of this process before the guard is asked), the
    run quits (on a worker: the master is told, and it stops every worker) and Locust exits with
    IDENTITY_STOP_EXIT, which no SLA verdict overrides. The quit runs in its own greenlet: from a
    user's greenlet it would kill that greenlet halfway (Locust's StopTest in a task, likewise,
    stops only that user)."""
    _refuse(user, request_type, name, exc)
    user.environment.process_exit_code = IDENTITY_STOP_EXIT
    if _refused:
        return
    _refused.append(str(exc))
    logging.error("identity refused, stopping the run: %s", exc)
    runner = user.environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(STOP_MESSAGE, str(exc))
    else:
        gevent.spawn(runner.quit)


def _stopped(user, request_type: str, name: str) -> bool:
    """True (and a failed request) once this process refused an identity: nothing more is sent."""
    if not _refused:
        return False
    _refuse(user, request_type, name, IdentityViolation(
        f"nothing more is sent in this run after an identity refusal: {_refused[0]}"))
    return True


def _first_wait(user) -> None:
    """A random part of one think time before the user's first task, waited as Locust waits between
    tasks (``User.wait``): when the run ends meanwhile, the user stops at once. A plain sleep here
    counted as a running task, so every user started within the last think time held the end of
    every run for the whole ``--stop-timeout`` (5 s: "Not all users finished their tasks"), while
    the users actually in a request, which that timeout is for, still get it."""
    delay = random.uniform(0.0, user.wait_time())
    user.wait_time = lambda: delay  # this once: the class's think time from the first task on
    try:
        user.wait()
    finally:
        del user.wait_time


class _Scheduled:
    contract_user = ""
    tasks = [_next_operation]

    def on_start(self):
        self._ops = operation_cycle(_weights(self.contract_user))
        # The first operation after a random part of one think time, as if the user had been working
        # for a while. Locust starts a ramp's users in one batch a second and runs a user's first task
        # at once: without this, every second's new users (133 at the go-live peak ramp) send their
        # first request at the same instant, and the ramp's figures measure that burst queueing in
        # the generator and the EHR, not the system at that request rate (docs/performance.md).
        _first_wait(self)


class _HttpUser(_Scheduled, FastHttpUser):
    """Every HTTP load user: requests only through ``_request``, redirects never followed."""

    abstract = True
    network_timeout = connection_timeout = SETTINGS.timeout
    insecure = False  # certificates are verified (Locust's default does not); the context is the profile's
    max_redirects = 0  # Locust follows up to 30 on its own, resending the body to wherever Location points
    route: HttpRoute

    def __init__(self, environment):
        super().__init__(environment)
        agent = self.client.client  # geventhttpclient's UserAgent under Locust's session
        # belt and braces: no status counts as a redirect either, whatever a request's arguments
        agent.max_redirects = 0
        agent.redirect_response_codes = frozenset()
        # no cookie jar: a header nobody checked (a server-set cookie) never goes out
        agent.cookiejar = None
        self.route.scan_headers(agent.default_headers)  # geventhttpclient's own (User-Agent): once per route

    @contextmanager
    def _request(self, method: str, path: str, *, name: str, json=None):
        """The one way an HTTP load user sends: checked by the route before a byte is written, and
        a 3xx answer is a failed request naming the redirect's target (never followed). Yields
        Locust's response (catch_response) to mark, or None when the request already failed."""
        if _stopped(self, method, name):
            yield None
            return
        try:
            body, headers = self.route.prepare(path, json=json)
        except IdentityViolation as exc:
            _stop_for_identity(self, method, name, exc)
            yield None
            return
        except RequestRefused as exc:
            _refuse(self, method, name, exc)
            yield None
            return
        with self.client.request(method, path, name=name, data=body, headers=headers,
                                 catch_response=True) as resp:
            status = resp.status_code
            if 300 <= status < 400:  # not followed (max_redirects = 0): a failure naming the target
                resp.failure(self.route.redirect_problem(path, status, resp.headers.get("location")))
                yield None
            else:
                yield resp


class ClinicianUser(_HttpUser):
    tasks = [_next_operation]
    contract_user = "clinician"
    weight = USERS["clinician"].weight
    wait_time = _think("clinician")
    host = SETTINGS.fhir
    route = FHIR_ROUTE
    ssl_context_factory = staticmethod(ENDPOINTS.ssl_context_factory("ehr_fhir"))

    def _read(self, name: str, path: str):
        with self._request("GET", path, name=name) as resp:
            if resp is None:
                return
            body = _json_answer(resp)
            if body is None:
                return
            if not body.get("total"):
                resp.failure("empty search result")

    def read_report(self):
        self._read("read_report", f"/DiagnosticReport?identifier={SETTINGS.accession}")

    def read_medications(self):
        """The list as a clinician sees it: a list, or "unavailable" (NLL down: a failed read, and
        noted so the runner can tell the EHR said so); an empty list is a failure of its own (the
        load patient's list is planted: empty is never true), counted as ``empty_medication_list``."""
        name = "read_medications"
        with self._request("GET", f"/MedicationRequest?patient={SETTINGS.patient_id}", name=name) as resp:
            if resp is None:
                return
            kind, why = medication_answer(resp.status_code, resp.content)
            if kind == LIST:
                return
            resp.failure(why)
            if kind == UNAVAILABLE:
                WINDOWS.note("medications_unavailable", time.time())
            elif kind == EMPTY:  # the fail-safe rule broken: a list nobody could read shown as empty
                self.environment.events.request.fire(
                    request_type="CHECK", name="empty_medication_list", response_time=0, response_length=0,
                    exception=AssertionError("an empty medication list was shown"), context={})


class _MLLPUser(_Scheduled, User):
    abstract = True

    def on_start(self):
        self.mllp = ENDPOINTS.mllp_client(SETTINGS)  # before the first think: on_stop closes it
        super().on_start()

    def on_stop(self):
        self.mllp.close()

    def _built(self, name: str, build):
        """A payload from the library's builder, which passes it through ``Payloads.check``; a
        refused identity stops the run before anything is sent (None: nothing to send)."""
        if _stopped(self, "MLLP", name):
            return None
        try:
            return build(self.mllp.endpoint)
        except IdentityViolation as exc:
            _stop_for_identity(self, "MLLP", name, exc)
            return None

    def _send(self, name: str, payload: bytes, control_id: str, request: AckRequest | None = None) -> bool:
        """Send, check the ACK is AA for this message, fire the request event; True when AA.
        With ``request``, ``payload`` is a whole frame built ahead (``Payloads.oru_framed``) and
        goes out through ``MLLPClient.send_framed``."""
        start = time.perf_counter()
        exc, length = None, 0
        try:
            mllp = self.mllp
            raw = mllp.send(payload) if request is None else mllp.send_framed(payload, request)
            length = len(raw)
            # the client proved it a plain AA for this very control id (``last_plain_aa``): what
            # ack_problem would say too; anything else is judged by ack_problem
            if getattr(mllp, "last_plain_aa", None) != control_id:
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

    def on_start(self):
        self._log = _oru_log(self)
        super().on_start()

    def send_oru(self):
        built = self._built("send_oru", PAYLOADS.oru_framed)
        if built is None:
            return
        data, request, accession = built
        log = self._log
        log(accession, AcceptedLog.SENT)
        if self._send("send_oru", data, request.control_id, request):
            log(accession, AcceptedLog.ACCEPTED)


def _oru_log(user):
    """Where ``user`` logs an ORU sent or answered AA (``log(accession, kind)``), for the runner's
    "AA is stored" check: this process's log, or on a distributed worker a message to the master,
    which keeps the one log. Chosen once, not per message."""
    runner = user.environment.runner
    if isinstance(runner, WorkerRunner):
        return lambda accession, kind: runner.send_message(ACCEPTED_MESSAGE, [kind, accession])
    return ACCEPTED.add


def _log_oru(user, kind: str, accession: str) -> None:
    """An ORU sent or answered AA, for the runner's "AA is stored" check."""
    _oru_log(user)(accession, kind)


class RegistrationUser(_MLLPUser):
    tasks = [_next_operation]
    contract_user = "registration"
    weight = USERS["registration"].weight
    wait_time = _think("registration")

    def register_adt(self):
        built = self._built("register_adt", PAYLOADS.adt)
        if built is not None:
            self._send("register_adt", *built)


class PrescriberUser(_HttpUser):
    tasks = [_next_operation]
    contract_user = "prescriber"
    weight = USERS["prescriber"].weight
    wait_time = _think("prescriber")
    host = SETTINGS.api
    route = API_ROUTE
    ssl_context_factory = staticmethod(ENDPOINTS.ssl_context_factory("ehr_api"))

    def on_start(self):
        self.current, self.new = _canary()
        super().on_start()

    def prescribe(self):
        body = {"patient": SETTINGS.patient_id, "current": [self.current], "new": self.new}
        with self._request("POST", "/prescribe", name="prescribe", json=body) as resp:
            if resp is None:
                return
            if unanswered_in_time(resp.status_code, getattr(resp, "error", None), CLIENT_TIMEOUTS):
                # at the request's start, where its window counts it (its end may be 10 s later)
                WINDOWS.note(PRESCRIBE_UNANSWERED, resp.request_meta.get("start_time") or time.time())
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


class JourneyUser(User):
    """A clinician performing a whole task (contracts/load.yaml ``journeys.report_to_prescription``)
    with the library's clients, timed end to end and reported as one request named after the
    journey (PERF-JOURNEY-*): what a clinician waits for in all, not one operation at a time."""

    _journey = CONTRACT.journeys.get("report_to_prescription")
    weight = _journey.weight if _journey else 1
    wait_time = between(_journey.think_min, _journey.think_max) if _journey else between(15.0, 45.0)

    def on_start(self):
        self.clinician_task = ReportToPrescription(
            ENDPOINTS.profile, PAYLOADS.guard, PAYLOADS.allowlist, _canary(),
            on_sent=lambda accession: _log_oru(self, AcceptedLog.SENT, accession),
            on_accepted=lambda accession: _log_oru(self, AcceptedLog.JOURNEY, accession))
        # like every user: its first task after a random part of one think time (see _Scheduled)
        _first_wait(self)

    def on_stop(self):
        self.clinician_task.close()

    @task
    def report_to_prescription(self):
        name = ReportToPrescription.name
        if _stopped(self, "JOURNEY", name):
            return
        WINDOWS.note(journey_started(name), time.time())  # begun: it ran, even if it never completes
        start = time.perf_counter()
        exc = None
        try:
            self.clinician_task.run()
        except IdentityViolation as e:
            _stop_for_identity(self, "JOURNEY", name, e)
            return
        except JourneyFailed as e:
            exc = e
        except Exception as e:  # noqa: BLE001 - every failure is a failed journey in the stats
            exc = JourneyFailed("journey", f"{type(e).__name__}: {e}")
        self.environment.events.request.fire(
            request_type="JOURNEY", name=name, response_time=(time.perf_counter() - start) * 1000,
            response_length=0, exception=exc, context={})


def _canary() -> tuple[str, str]:
    """The Multum contract's known interacting pair, read once per process (a user's start-up must
    stay cheap: at the go-live ramp 133 users start every second on one gevent loop)."""
    global _CANARY
    if _CANARY is None:
        from genrep.config.contracts import load_multum
        _CANARY = tuple(load_multum().canary)
    return _CANARY


_CANARY: tuple[str, str] | None = None
ACCEPTED_MESSAGE = "genrep_accepted"


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **_kw):
    WINDOWS.request(name, time.time(), response_time, exception is not None)


_ENVIRONMENT: list = []  # this process's Locust environment (events.init): a worker's own CPU below


@events.init.add_listener
def _keep_environment(environment, **_kw):
    _ENVIRONMENT[:] = [environment]


@events.report_to_master.add_listener
def _report_windows(client_id, data, **_kw):
    # a worker above the generator's CPU limit says so in the window it reports in: on another
    # machine nothing else measures it (evaluation: those windows are generator-bound)
    runner = _ENVIRONMENT[0].runner if _ENVIRONMENT else None
    cpu = getattr(runner, "current_cpu_usage", None)
    if isinstance(cpu, (int, float)) and cpu > CONTRACT.generator_max_cpu_percent:
        WINDOWS.note(WORKER_CPU_BOUND, time.time())
    data[WINDOWS_REPORT] = WINDOWS.drain()


@events.worker_report.add_listener
def _merge_windows(client_id, data, **_kw):
    WINDOWS.merge(data.get(WINDOWS_REPORT))


@events.test_start.add_listener
def _mark_start(environment, **_kw):
    """The test's t = 0 (the shape's): the runner times the faults and cuts the phases from it."""
    if isinstance(environment.runner, WorkerRunner) or _started:
        return
    _started.append(time.time())
    if SETTINGS.out_dir:
        import os
        path = os.path.join(SETTINGS.out_dir, STARTED_FILE)
        try:
            os.makedirs(SETTINGS.out_dir, exist_ok=True)
            with open(path + ".tmp", "w", encoding="ascii") as f:
                json.dump({"epoch": _started[0]}, f)
            os.replace(path + ".tmp", path)
        except OSError as exc:  # the runner then times the faults from Locust's start-up and says so
            logging.warning("could not write %s: %s", path, exc)


@events.init.add_listener
def _only_the_master_writes_statistics(environment, **_kw):
    workers_write_no_statistics(environment.parsed_options, isinstance(environment.runner, WorkerRunner))


@events.init.add_listener
def _collect_accepted(environment, **_kw):
    """On a distributed master, the workers' AA'd accessions arrive as messages (workers may run on
    other machines, so a file on their disk would never reach the runner's check)."""
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(ACCEPTED_MESSAGE, lambda msg, **_: ACCEPTED.add(msg.data[1], msg.data[0]))

        def identity_stop(msg, **_):
            """A worker refused an identity: every worker stops, the master exits IDENTITY_STOP_EXIT."""
            if not _refused:
                _refused.append(str(msg.data))
                logging.error("identity refused on a worker, stopping the run: %s", msg.data)
            environment.process_exit_code = IDENTITY_STOP_EXIT
            gevent.spawn(environment.runner.quit)
        environment.runner.register_message(STOP_MESSAGE, identity_stop)


@events.quitting.add_listener
def _sla_gate(environment, **_kw):
    """Exit code 0 when every SLA of contracts/load.yaml is met, 1 otherwise (the runner recomputes
    the verdict from the JSON statistics, which are the source of truth)."""
    ACCEPTED.close()
    if _refused:  # the run was stopped, not finished: no SLA verdict
        environment.process_exit_code = IDENTITY_STOP_EXIT
        return
    if isinstance(environment.runner, WorkerRunner):
        return
    if SETTINGS.out_dir:
        import os
        try:
            os.makedirs(SETTINGS.out_dir, exist_ok=True)
            WINDOWS.dump(os.path.join(SETTINGS.out_dir, WINDOWS_FILE))
        except OSError as exc:  # the runner then judges the whole run and says so
            logging.warning("could not write the per-window figures: %s", exc)
    # StatsEntry.serialize(), not RequestStats.serialize_stats(): the latter *resets* every entry
    # (get_stripped_report), and --json-file, written after this listener, would be "[]"
    entries = [e.serialize() for e in environment.stats.entries.values()]
    steady = None
    if _started:  # the steady phase, as the runner judges it (its fault windows aside)
        steady = (WindowFigures(WINDOWS.to_dict(), _started[0]), SETTINGS.ramp_s, SETTINGS.duration_s)
    environment.process_exit_code = exit_code(entries, CONTRACT, steady)
