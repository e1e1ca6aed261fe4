"""The virtual EHR's prescribing module over real processes: EHR -> Multum load balancer -> two
Multum servers, and the harness's PrescribingClient reading what the clinician would see.

One clean virtual environment per module (per xdist worker); faults through the fault driver
(``genrep.faults.driver_for``), every fault cleared after each test and both servers healthy
again behind the load balancer before the next one. A defect gets its own environment; an EHR
without Multum and an EHR in front of a scripted fake Multum are single extra processes. All are
stopped when their fixture ends.

The fail-safe rule under test: a check that did not happen is "not performed" (or "partial",
naming the check), never "checked" with no interactions.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from genrep.config.profile import load_profile
from genrep.config.contracts import load_radiology
from genrep.faults import driver_for
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.integrations.multum import CheckResult, PrescribingClient
from genrep.integrations.radiology import RadiologyClient
from genrep.sim.process import SimProcess, start_virtual_environment
from genrep.text.testdata import patient_for

from .conftest import wait_until

HTTP_TIMEOUT = (2.0, 15.0)
EHR_MULTUM_TIMEOUT = 4.0  # genrep.sim.ehr --multum-timeout default: the EHR's bound for one check
BOUND = EHR_MULTUM_TIMEOUT + 4.0  # generous "does not hang" bound for one prescription
TARGETS = ("multum-a", "multum-b")
VERSION = "2024.11"  # both servers' content version at start (genrep.sim.process)


@dataclass
class Env:
    venv: object
    client: PrescribingClient
    patient_id: str
    api: str  # the EHR's /ehr base URL

    def prescribe(self, current: list[str], new: str, patient: str | None = None) -> CheckResult:
        return self.client.prescribe(patient or self.patient_id, current, new)

    def timed(self, current: list[str], new: str) -> tuple[CheckResult, float]:
        started = time.monotonic()
        r = self.prescribe(current, new)
        return r, time.monotonic() - started

    def audit(self, patient: str | None = None) -> list[dict]:
        return self.client.audit(patient or self.patient_id)

    def lb_status(self) -> dict:
        r = requests.get(f"{self.venv.profile.endpoint('multum_lb').base_url}/lb/status", timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text
        return r.json()

    def all_healthy(self) -> bool:
        return all(b["healthy"] for b in self.lb_status()["backends"])

    def admin_fault(self, target: str, mode: str) -> None:
        """Fault modes the fault driver does not offer (malformed, close-mid-response), straight
        through the simulator's admin API; undone by ``admin_reset``."""
        r = requests.post(f"{self.venv.process(target).info['admin']}/fault", json={"mode": mode},
                          timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text

    def admin_reset(self, target: str) -> None:
        r = requests.post(f"{self.venv.process(target).info['admin']}/reset", timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.venv.stop()


def start_env(defects: tuple[str, ...] = ()) -> Env:
    venv = start_virtual_environment(load_profile("virtual", defects=()), defects=defects)
    try:
        profile = venv.profile
        allowlist = Allowlist.load()
        identity = allowlist.pick(0)
        rad = RadiologyClient(profile, load_radiology(), IdentityGuard(allowlist))
        try:
            assert rad.register(patient_for(identity)).ack.code == "AA"
            patient_id = rad.find_patient(identity.number)["id"]
        finally:
            rad.close()
        env = Env(venv, PrescribingClient(profile), patient_id, profile.endpoint("ehr_api").base_url)
        assert wait_until(env.all_healthy, 5.0), env.lb_status()
        return env
    except BaseException:
        venv.stop()
        raise


@pytest.fixture(scope="module")
def env():
    e = start_env()
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def driver(env):
    """The fault driver for the clean environment; afterwards every fault is cleared (also the
    admin-API ones) and both servers are healthy behind the load balancer again."""
    d = driver_for(env.venv.profile, env.venv)
    try:
        yield d
    finally:
        try:
            d.clear()
        finally:
            for target in TARGETS:
                env.admin_reset(target)
        assert wait_until(env.all_healthy, 5.0), f"servers not healthy again: {env.lb_status()}"


def assert_not_performed(r: CheckResult) -> None:
    """The fail-safe answer: explicitly not performed, with a reason, never 'no interactions'."""
    assert r.status == "not-performed", f"{r.status}: {r.raw}"
    assert r.raw.get("message") == "Interaction check not performed"
    assert r.reason.strip(), r.raw
    assert r.interactions == []


def audit_entry(env: Env, r: CheckResult, patient: str | None = None) -> dict:
    entries = [e for e in env.audit(patient) if e["id"] == r.raw["audit_id"]]
    assert len(entries) == 1, entries
    return entries[0]


def unique_patient(tag: str) -> str:
    return f"rx-{tag}-{time.monotonic_ns()}"


# -- clean behaviour ---------------------------------------------------------------------------------

@pytest.mark.parametrize("current, new, severity", [
    (["warfarin"], "ibuprofen", "major"),
    (["ibuprofen"], "warfarin", "major"),  # order does not matter
    (["Simvastatin"], " CLARITHROMYCIN ", "major"),  # names are normalised
    (["sildenafil", "metformin"], "nitroglycerin", "contraindicated"),
    (["clopidogrel"], "omeprazole", "moderate"),
    (["paracetamol"], "metoclopramide", "minor"),
])
def test_known_pair_reported_with_severity_server_and_content_version(env, current, new, severity):
    r = env.prescribe(current, new)
    assert r.status == "checked", r.raw
    a, b = current[0].strip().lower(), new.strip().lower()
    assert r.has_interaction(a, b), r.interactions
    hit = next(i for i in r.interactions if {d.lower() for d in i["drugs"]} == {a, b})
    assert hit["severity"] == severity and hit["description"].strip()
    assert len(r.interactions) == 1
    assert r.server in TARGETS
    assert r.content_version == VERSION
    assert r.raw["content_versions_differ"] is False
    assert r.raw["performed"] == ["drug-drug", "duplication"] and r.raw["not_performed"] == []
    entry = audit_entry(env, r)
    assert entry["status"] == "checked" and entry["server"] == r.server and entry["reason"] == ""


def test_no_interaction_is_checked_and_empty(env):
    r = env.prescribe(["metformin"], "amlodipine")
    assert r.status == "checked" and r.interactions == [] and r.raw["duplicates"] == []
    assert r.server in TARGETS and r.content_version == VERSION


def test_both_servers_answer_in_turn(env):
    servers = {env.prescribe(["warfarin"], "ibuprofen").server for _ in range(6)}
    assert servers == set(TARGETS)


def test_unknown_drug_names_are_listed_not_ignored(env):
    r = env.prescribe(["warfarin", "Notadrugamol"], "ibuprofen")
    assert r.status == "checked"
    assert r.raw["unknown_drugs"] == ["notadrugamol"]
    assert r.has_interaction("warfarin", "ibuprofen")  # the known ones are still checked
    only_unknown = env.prescribe(["xyzzy"], "plugh")
    assert only_unknown.raw["unknown_drugs"] == ["xyzzy", "plugh"]
    assert env.prescribe(["warfarin"], "ibuprofen").raw["unknown_drugs"] == []


def test_duplication_found_for_two_nsaids(env):
    r = env.prescribe(["ibuprofen"], "naproxen")
    assert r.status == "checked"
    assert r.raw["duplicates"] == [{"drugs": ["ibuprofen", "naproxen"], "group": "NSAID"}]
    assert r.interactions == []  # two NSAIDs: a duplication, not a listed interaction


@pytest.mark.parametrize("body", [
    "not json",
    json.dumps(["warfarin", "ibuprofen"]),
    json.dumps({"current": ["warfarin"], "new": "ibuprofen"}),  # no patient
    json.dumps({"patient": "p", "current": ["warfarin"]}),  # no new drug
    json.dumps({"patient": "p", "current": "warfarin", "new": "ibuprofen"}),  # a string, not a list
    json.dumps({"patient": "p", "current": [], "new": ""}),
    json.dumps({"patient": "p", "current": ["warfarin", 7], "new": "ibuprofen"}),
    json.dumps({"patient": "p", "current": [], "new": ["ibuprofen"]}),
    json.dumps({"patient": "", "current": [], "new": "ibuprofen"}),
], ids=["not-json", "list", "no-patient", "no-new", "current-string", "new-empty", "current-number",
        "new-list", "patient-empty"])
def test_bad_request_body_is_400_and_not_audited(env, body):
    patient = "p"
    before = len(env.audit(patient))
    r = requests.post(f"{env.api}/prescribe", data=body.encode(), headers={"Content-Type": "application/json"},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 400, r.text
    assert "error" in r.json()
    assert len(env.audit(patient)) == before


def test_audit_is_per_patient(env):
    other = unique_patient("audit")
    r = env.prescribe(["warfarin"], "aspirin", patient=other)
    entries = env.audit(other)
    assert [e["id"] for e in entries] == [r.raw["audit_id"]]
    assert entries[0]["patient"] == other and entries[0]["drugs"] == ["warfarin", "aspirin"]
    assert r.raw["audit_id"] not in {e["id"] for e in env.audit()}


# -- faults: fail safe -------------------------------------------------------------------------------

def test_both_servers_stopped_is_not_performed_and_audited(env, driver):
    for target in TARGETS:
        driver.inject(target, "stopped")
    for _ in range(2):  # the first finds out, the second meets servers already known to be down
        r, took = env.timed(["warfarin"], "ibuprofen")
        assert_not_performed(r)
        assert took < BOUND
        entry = audit_entry(env, r)
        assert entry["status"] == "not-performed" and entry["reason"] == r.reason
        assert entry["drugs"] == ["warfarin", "ibuprofen"]


@pytest.mark.parametrize("mode", ["malformed", "close-mid-response", "hang"])
def test_both_servers_misbehaving_is_not_performed_within_the_timeout(env, driver, mode):
    for target in TARGETS:
        if mode == "hang":
            driver.inject(target, mode)
        else:
            env.admin_fault(target, mode)
    for _ in range(2):
        r, took = env.timed(["warfarin"], "ibuprofen")
        assert r.status != "checked", f"a failed check shown as checked: {r.raw}"
        assert_not_performed(r)
        assert took < BOUND, f"{mode}: {took:.1f} s"
        assert audit_entry(env, r)["status"] == "not-performed"


@pytest.mark.parametrize("mode", ["malformed", "stopped"])
def test_one_server_failing_still_checks(env, driver, mode):
    if mode == "stopped":
        driver.inject("multum-a", mode)
    else:
        env.admin_fault("multum-a", mode)
    results = [env.prescribe(["warfarin"], "ibuprofen") for _ in range(6)]
    assert [r.status for r in results] == ["checked"] * 6, [r.raw for r in results]
    assert all(r.has_interaction("warfarin", "ibuprofen") for r in results)
    assert {r.server for r in results} == {"multum-b"}


def test_partial_on_both_servers_is_partial_naming_the_check(env, driver):
    for target in TARGETS:
        driver.inject(target, "partial", check="duplication")
    r = env.prescribe(["warfarin", "naproxen"], "ibuprofen")
    assert r.status == "partial", r.raw
    assert r.raw["not_performed"] == ["duplication"] and r.raw["performed"] == ["drug-drug"]
    assert r.has_interaction("warfarin", "ibuprofen")  # what was checked is still shown
    assert r.raw["duplicates"] == []  # not "no duplicates": the check did not run
    assert audit_entry(env, r)["status"] == "partial"


def test_drug_drug_failing_on_both_servers_is_never_checked(env, driver):
    for target in TARGETS:
        driver.inject(target, "partial", check="drug-drug")
    for _ in range(3):  # before and after the load balancer's canary notices
        r = env.prescribe(["warfarin"], "ibuprofen")
        assert r.status in ("partial", "not-performed"), r.raw
        if r.status == "partial":
            assert "drug-drug" in r.raw["not_performed"]
        else:
            assert r.reason
        time.sleep(0.3)


def test_content_version_fault_on_one_server_is_flagged(env, driver):
    driver.inject("multum-b", "version", version="2024.12")
    seen: list[CheckResult] = []

    def flagged() -> bool:
        seen.append(env.prescribe(["warfarin"], "ibuprofen"))
        return seen[-1].raw.get("content_versions_differ") is True

    assert wait_until(flagged, 5.0, interval=0.1), seen[-1].raw  # the probes see it within ~0.6 s
    assert all(r.status == "checked" for r in seen)
    assert {r.content_version for r in seen} <= {VERSION, "2024.12"}
    # every answer now carries the flag, whichever server answered
    later = [env.prescribe(["warfarin"], "ibuprofen") for _ in range(4)]
    assert all(r.raw["content_versions_differ"] is True for r in later)
    assert {r.server: r.content_version for r in later} == {"multum-a": VERSION, "multum-b": "2024.12"}


# -- defect, and EHRs without (a real) Multum ---------------------------------------------------------

@pytest.fixture
def silent_env():
    e = start_env(("multum-silent-empty",))
    try:
        yield e
    finally:
        e.close()


def test_silent_empty_defect_shows_a_failed_check_as_no_interactions(silent_env, env, driver):
    silent_driver = driver_for(silent_env.venv.profile, silent_env.venv)
    try:
        assert silent_env.prescribe(["warfarin"], "ibuprofen").has_interaction("warfarin", "ibuprofen")
        for target in TARGETS:
            silent_driver.inject(target, "stopped")
            driver.inject(target, "stopped")
        bad = silent_env.prescribe(["warfarin"], "ibuprofen")
        assert bad.status == "checked" and bad.interactions == []  # the dangerous answer, replayed
        assert not bad.has_interaction("warfarin", "ibuprofen")
        assert_not_performed(env.prescribe(["warfarin"], "ibuprofen"))  # the clean EHR does not
    finally:
        silent_driver.clear()


@pytest.fixture
def start_ehr():
    started: list[SimProcess] = []

    def _start(*args: str) -> str:
        sim = SimProcess("genrep.sim.ehr", ["--mllp-port", "0", "--fhir-port", "0", *args])
        started.append(sim)
        info = sim.start()
        return f"http://{info['host']}:{info['fhir_port']}/ehr"

    yield _start
    for sim in started:
        sim.stop()


def post(api: str, body: dict) -> dict:
    r = requests.post(f"{api}/prescribe", json=body, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def test_ehr_without_multum_url_is_not_performed(start_ehr):
    api = start_ehr()
    patient = unique_patient("no-multum")
    body = post(api, {"patient": patient, "current": ["warfarin"], "new": "ibuprofen"})
    assert body["status"] == "not-performed" and body["message"] == "Interaction check not performed"
    assert "no Multum endpoint" in body["reason"]
    assert "interactions" not in body
    entries = requests.get(f"{api}/interaction-audit", params={"patient": patient},
                           timeout=HTTP_TIMEOUT).json()["entries"]
    assert [(e["id"], e["status"]) for e in entries] == [(body["audit_id"], "not-performed")]


GOOD_ANSWER = {"server": "fake-multum", "content_version": "2099.01", "drugs": ["warfarin", "ibuprofen"],
               "unknown_drugs": [],
               "checks": {"drug-drug": {"status": "ok", "interactions": [
                   {"drugs": ["warfarin", "ibuprofen"], "severity": "major", "description": "bleeding " * 400}]},
                          "duplication": {"status": "ok", "duplicates": []}}}


class FakeMultum:
    """A scripted stand-in for the load balancer: answers every POST /interactions with
    ``self.answer`` (JSON), optionally in two pieces with a pause between them."""

    def __init__(self):
        self.answer: dict = GOOD_ANSWER
        self.split_pause = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server naming)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps(fake.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Multum-Server", "fake-multum")
                self.end_headers()
                if fake.split_pause:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    time.sleep(fake.split_pause)
                    self.wfile.write(body[len(body) // 2:])
                else:
                    self.wfile.write(body)
                self.wfile.flush()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeMultum":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5.0)


@pytest.fixture(scope="module")
def fake_ehr():
    """(FakeMultum, the /ehr base URL of an EHR whose --multum-url is the fake)."""
    with FakeMultum() as fake:
        sim = SimProcess("genrep.sim.ehr", ["--mllp-port", "0", "--fhir-port", "0", "--multum-url", fake.url])
        try:
            info = sim.start()
            yield fake, f"http://{info['host']}:{info['fhir_port']}/ehr"
        finally:
            sim.stop()


@pytest.fixture
def fake(fake_ehr):
    f, api = fake_ehr
    yield f, api
    f.answer, f.split_pause = GOOD_ANSWER, 0.0


def test_answer_arriving_in_pieces_is_read_whole(fake):
    multum, api = fake
    multum.split_pause = 0.3
    body = post(api, {"patient": unique_patient("pieces"), "current": ["warfarin"], "new": "ibuprofen"})
    assert body["status"] == "checked", body
    assert body["server"] == "fake-multum" and body["content_version"] == "2099.01"
    assert [set(i["drugs"]) for i in body["interactions"]] == [{"warfarin", "ibuprofen"}]


@pytest.mark.parametrize("checks, status, not_performed", [
    ({"duplication": {"status": "ok", "duplicates": []}}, "partial", ["drug-drug"]),  # drug-drug missing
    ({"drug-drug": {"status": "ok"}, "duplication": {"status": "ok", "duplicates": []}}, "partial",
     ["drug-drug"]),  # "ok" without its list of interactions
    ({"drug-drug": "ok", "duplication": {"status": "ok", "duplicates": []}}, "partial", ["drug-drug"]),
    ({}, "not-performed", None),
    ({"drug-drug": {"status": "error"}, "duplication": {"status": "error"}}, "not-performed", None),
], ids=["no-drug-drug", "ok-without-list", "not-an-object", "no-checks", "all-failed"])
def test_an_answer_without_a_drug_drug_check_is_never_checked(fake, checks, status, not_performed):
    multum, api = fake
    multum.answer = dict(GOOD_ANSWER, checks=checks)
    body = post(api, {"patient": unique_patient("checks"), "current": ["warfarin"], "new": "ibuprofen"})
    assert body["status"] == status, body
    if not_performed is not None:
        assert body["not_performed"] == not_performed and body["interactions"] == []
    else:
        assert body["reason"] and body["message"] == "Interaction check not performed"
