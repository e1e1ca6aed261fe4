"""The virtual environment's outbound option and genrep mutate's fault relay, over real processes
and sockets: the EHR calls NLL and Multum through proxies on loopback (the harness still reads NLL
itself); an operator on that path changes what the EHR shows, a failure turned into a 200 is
answered with the operator's status; the option refuses anything but plain http on loopback and
leaves nothing running when it does; the relay injects and clears faults in the running
simulators for a command-line client that carries its token, and only for one."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest
import requests

from genrep.config.contracts import load_radiology
from genrep.config.profile import load_profile
from genrep.faults.sim import SimFaultDriver
from genrep.integrations.medication_list import EHRMedicationClient
from genrep.integrations.nll import NLLAdmin
from genrep.integrations.radiology import RadiologyClient
from genrep.mutate.fault_relay import TOKEN_ENV, FaultRelay
from genrep.mutate.message import OUTBOUND
from genrep.mutate.operators import select
from genrep.mutate.proxy import HTTPProxy, Switch
from genrep.paths import PROJECT_ROOT
from genrep.sim.process import SimStartError, _RUNNING, start_virtual_environment
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.text.testdata import patient_for

RX = [{"id": "rx-1", "medication": "Alvedon 500 mg tablett", "dosage_text": "1x3",
       "patient_instruction": "1 tablett morgon och kväll.\nTa inte mer än 3 tabletter per dygn.", "version": 1}]


class Outbound:
    """The ``outbound`` hook: an HTTP proxy per path, sharing one switch."""

    def __init__(self):
        self.switch = Switch()
        self.proxies: dict[str, HTTPProxy] = {}
        self.asked: list[tuple[str, str]] = []

    def __call__(self, name: str, url: str) -> str:
        self.asked.append((name, url))
        parts = urlsplit(url)
        proxy = HTTPProxy(parts.hostname, parts.port, self.switch, channels=OUTBOUND[name], name=f"http-proxy-{name}",
                          read_timeout=10.0).start()
        self.proxies[name] = proxy
        return f"http://127.0.0.1:{proxy.port}{parts.path}"

    def stop(self):
        for p in self.proxies.values():
            p.stop()


@pytest.fixture(scope="module")
def env():
    hook = Outbound()
    venv = start_virtual_environment(load_profile("virtual", defects=()), outbound=hook)
    allowlist = Allowlist.load()
    guard = IdentityGuard(allowlist)
    identity = allowlist.pick(11, kind="personnummer")
    rad = RadiologyClient(venv.profile, load_radiology(), guard)
    admin = NLLAdmin(venv.profile, guard)
    try:
        assert rad.register(patient_for(identity)).ack.code == "AA"
        patient_id = rad.find_patient(identity.number)["id"]
        admin.load(identity.number, RX)
        yield venv, hook, EHRMedicationClient(venv.profile), patient_id
    finally:
        rad.close()
        admin.close()
        hook.switch.set(None)
        try:
            venv.stop()
        finally:
            hook.stop()


def test_the_ehr_is_given_the_proxies_and_the_harness_keeps_the_services(env):
    venv, hook, _, _ = env
    assert [name for name, _ in hook.asked] == ["nll", "multum"]
    for name, proxy in hook.proxies.items():
        assert venv.outbound[name]["given"].startswith(f"http://127.0.0.1:{proxy.port}")
        assert venv.outbound[name]["upstream"] == dict(hook.asked)[name]
    # the harness's own endpoints still name NLL and the load balancer themselves
    assert venv.profile.endpoint("nll_fhir").base_url == venv.outbound["nll"]["upstream"]
    assert venv.profile.endpoint("multum_lb").base_url == venv.outbound["multum"]["upstream"]


def test_an_nll_operator_changes_what_the_ehr_shows_and_is_counted(env):
    _, hook, ehr, patient_id = env
    clean = ehr.medication_list(patient_id)
    assert clean.available and "Ta inte mer" in clean.prescriptions[0].patient_instruction
    hook.switch.set(select(["nll-negation-dropped"])[0])
    try:
        shown = ehr.medication_list(patient_id)
    finally:
        counts = hook.switch.counts
        hook.switch.set(None)
    assert "Ta mer än 3 tabletter" in shown.prescriptions[0].patient_instruction
    assert counts.applied == 1 and counts.seen == 1 and "Ta inte mer" in counts.example


def test_a_failure_turned_into_a_200_reaches_the_ehr_with_the_new_status(env):
    venv, hook, ehr, patient_id = env
    faults = SimFaultDriver(venv)
    faults.inject("nll", "error503")
    try:
        assert not ehr.medication_list(patient_id).available  # the clean EHR: NLL unavailable
        hook.switch.set(select(["nll-failure-as-empty-bundle"])[0])
        try:
            shown = ehr.medication_list(patient_id)
        finally:
            counts = hook.switch.counts
            hook.switch.set(None)
    finally:
        faults.clear()
    assert shown.available and shown.prescriptions == []  # "no medications": what the suite must catch
    assert counts.applied == 1 and "HTTP status 503 -> 200" in counts.example


def test_a_multum_operator_on_the_request_changes_the_check(env):
    venv, hook, _, patient_id = env
    url = venv.profile.endpoint("ehr_api").base_url
    body = {"patient": patient_id, "current": ["warfarin"], "new": "ibuprofen"}
    assert requests.post(f"{url}/prescribe", json=body, timeout=10).json()["interactions"]
    hook.switch.set(select(["multum-request-current-drugs-dropped"])[0])
    try:
        answer = requests.post(f"{url}/prescribe", json=body, timeout=10).json()
    finally:
        hook.switch.set(None)
    assert answer["status"] == "checked" and answer["interactions"] == []


def test_the_outbound_option_wants_plain_http_on_loopback_and_undoes_the_start():
    before = set(_RUNNING)
    for bad in ("http://10.0.0.1:8080/fhir", "https://127.0.0.1:1/fhir", "ftp://127.0.0.1/x", None):
        with pytest.raises(SimStartError, match="loopback"):
            start_virtual_environment(load_profile("virtual", defects=()), outbound=lambda name, url, b=bad: b)
        assert set(_RUNNING) == before  # the simulators started so far were stopped


# -- the fault relay -------------------------------------------------------------------------------

def _client(url: str, *args: str, token: str | None) -> subprocess.CompletedProcess:
    child = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    if token is not None:
        child[TOKEN_ENV] = token
    return subprocess.run([sys.executable, "-m", "genrep.mutate.fault_relay", url, *args], cwd=PROJECT_ROOT,
                          env=child, capture_output=True, text=True, timeout=60)


def test_the_relay_injects_and_clears_through_the_running_simulators(env):
    venv, _, ehr, patient_id = env
    token = secrets.token_urlsafe(24)
    with FaultRelay(SimFaultDriver(venv), token) as relay:
        done = _client(relay.url, "nll", "error503", token=token)
        assert done.returncode == 0, done.stderr
        assert not ehr.medication_list(patient_id).available  # NLL answers 503
        done = _client(relay.url, "nll", "clear", token=token)
        assert done.returncode == 0, done.stderr
        assert ehr.medication_list(patient_id).available
        # a parameter goes with its fault; an unsupported fault is refused with the driver's reason
        done = _client(relay.url, "multum-b", "version", "--version", "2024.10", token=token)
        assert done.returncode == 0, done.stderr
        assert _client(relay.url, "multum-b", "clear", token=token).returncode == 0
        refused = _client(relay.url, "nll", "partial", "--check", "duplication", token=token)
        assert refused.returncode == 1 and "not supported" in refused.stderr
        # without the token, or with another one, nothing is injected
        assert _client(relay.url, "nll", "error503", token=None).returncode == 2
        wrong = _client(relay.url, "nll", "error503", token="x" * 32)
        assert wrong.returncode == 1 and "token" in wrong.stderr
        assert ehr.medication_list(patient_id).available
        assert relay.requests == 5  # the refused token never reached the driver
    assert not [t for t in threading.enumerate() if t.name == "mutate-fault-relay"]
    assert _client("http://10.1.2.3:1", "nll", "clear", token=token).returncode == 2  # loopback only
