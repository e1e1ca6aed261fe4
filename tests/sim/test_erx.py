"""E-prescriptions over real sockets: the virtual EHR signing with the prescribers' virtual cards and
sending to the e-prescription receiver simulator, each its own process on loopback; the receiver's faults
through the sim fault driver (target ``erx-receiver``); the EHR's defects as start-up defects."""

from __future__ import annotations

import pytest

from genrep.config.contracts import load_erx, load_radiology
from genrep.config.profile import Endpoint, load_profile
from genrep.faults import driver_for
from genrep.integrations.erx import (ErxClient, expect_arrived_verified, expect_failed, expect_offered_none,
                                     expect_offered_only_signing, expect_refused, expect_sent)
from genrep.integrations.radiology import RadiologyClient
from genrep.results.failure_kinds import kinds_in
from genrep.sim.erx_cards import CA_FILE, make_card_store
from genrep.sim.process import SimProcess, VirtualEnvironment
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.text.testdata import patient_for

C = load_erx()
ETT, TVA, TRE, FYRA = (C.prescriber(n) for n in ("Test Läkare Ett", "Test Läkare Två", "Test Läkare Tre",
                                                 "Test Läkare Fyra"))


def _environment(cards, *ehr_args: str) -> VirtualEnvironment:
    rx = SimProcess("genrep.sim.erx_receiver", ["--host", "127.0.0.1", "--port", "0", "--admin-port", "0",
                                                "--ca-file", str(cards / CA_FILE)])
    rx_info = rx.start()
    ehr = SimProcess("genrep.sim.ehr", ["--mllp-port", "0", "--fhir-port", "0", "--erx-url", rx_info["base"],
                                        "--erx-cards", str(cards), *ehr_args])
    try:
        info = ehr.start()
    except BaseException:
        rx.stop()
        raise
    host = info["host"]
    root = f"http://{host}:{info['fhir_port']}"
    profile = load_profile("virtual", defects=()).with_endpoints({
        "radiology_mllp": Endpoint("radiology_mllp", "mllp", host, info["mllp_port"]),
        "ehr_fhir": Endpoint("ehr_fhir", "http", host, info["fhir_port"], base_url=info["fhir_base"]),
        "ehr_api": Endpoint("ehr_api", "http", host, info["fhir_port"], base_url=f"{root}/ehr"),
        "erx_receiver_admin": Endpoint("erx_receiver_admin", "http", host, rx_info["admin_port"],
                                       base_url=rx_info["admin"]),
    })
    return VirtualEnvironment(profile, {"erx-receiver": rx, "ehr": ehr}, {"erx-receiver": rx_info, "ehr": info})


def _patient_id(profile) -> str:
    allowlist = Allowlist.load()
    patient = patient_for(allowlist.pick(4, kind="personnummer"), seed="erx")
    client = RadiologyClient(profile, load_radiology(), IdentityGuard(allowlist))
    try:
        ex = client.register(patient, "A04")
        assert ex.ack and ex.ack.accepted
        return client.find_patient(patient.identifier)["id"]
    finally:
        client.close()


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    return make_card_store(tmp_path_factory.mktemp("erx-cards"), C)


def _started(cards, *args):
    venv = _environment(cards, *args)
    client = ErxClient(venv.profile, C)  # no ehr_erx endpoint: ehr_api + "erx/"
    return venv, client, _patient_id(venv.profile)


@pytest.fixture(scope="module")
def env(cards):
    venv, client, pid = _started(cards)
    try:
        yield venv, client, pid
    finally:
        client.close()
        venv.stop()


def test_signed_with_the_one_valid_signing_certificate_sent_and_verified(env):
    venv, client, pid = env
    assert expect_offered_only_signing(client.offered(ETT), ETT, C) is None
    sent = client.send(ETT, pid, "Amoxicillin 500 mg", "1 tablett 3 gånger dagligen")
    assert expect_sent(sent, C) is None, sent.describe()
    assert sent.record["certificate"]["label"] == "sign"
    assert client.read(sent.record["id"])["status"] == "sent"
    assert expect_arrived_verified(sent, client.received(sent.record["id"]), ETT) is None


@pytest.mark.parametrize("who", [TVA, TRE, FYRA], ids=lambda p: p.expected)
def test_no_valid_signing_certificate_is_refused_clearly_and_nothing_sent(env, who):
    venv, client, pid = env
    before = len(client.received())
    sent = client.send(who, pid, "Paracetamol 500 mg", "vid behov")
    assert sent.http_status == 422
    assert expect_refused(sent, who.expected) is None, sent.describe()
    assert len(client.received()) == before
    assert expect_offered_none(client.offered(who), who) is None


@pytest.mark.parametrize("fault", ["stopped", "error503", "hang"])
def test_receiver_down_is_recorded_failed_never_sent(env, fault):
    venv, client, pid = env
    driver = driver_for(venv.profile, venv)
    try:
        driver.inject("erx-receiver", fault)
        sent = client.send(ETT, pid, "Metformin 500 mg", "1 tablett 2 gånger dagligen")
        assert expect_failed(sent, "receiver-unavailable", None) is None, sent.describe()
    finally:
        driver.clear("erx-receiver")
    again = client.send(ETT, pid, "Metformin 500 mg", "1 tablett 2 gånger dagligen")
    assert expect_sent(again, C) is None


@pytest.mark.parametrize("defect,check", [
    ("erx-signs-with-auth-cert", "auth"),
    ("erx-offers-every-certificate", "every"),
    ("erx-sent-never-received", "never"),
])
def test_each_defect_shows(cards, defect, check):
    venv, client, pid = _started(cards, "--defect", defect)
    try:
        offered = client.offered(ETT)
        sent = client.send(ETT, pid, "Amoxicillin 500 mg", "1 tablett 3 gånger dagligen")
        if check == "auth":
            assert kinds_in(expect_offered_only_signing(offered, ETT, C)) == ["erx_wrong_certificate"]
            assert sent.record["status"] == "failed" and sent.record["reason"] == "wrong-key-usage"
            assert kinds_in(expect_refused(client.send(TVA, pid, "X", "Y"), "signing-certificate-expired")) == \
                ["erx_not_refused"]
        elif check == "every":
            assert len(offered) == len(ETT.card)
            assert kinds_in(expect_offered_only_signing(offered, ETT, C)) == ["erx_too_many_certificates"]
            assert expect_sent(sent, C) is None  # the right one is still used
        else:
            assert expect_sent(sent, C) is None
            assert kinds_in(expect_arrived_verified(sent, client.received(sent.record["id"]), ETT)) == \
                ["erx_not_received"]
    finally:
        client.close()
        venv.stop()


def test_the_ehrs_default_send_bound_fits_inside_the_contracts_answer_bound():
    """The EHR's default bound for one delivery to the e-prescription receiver (the one the
    rehearsal runs with) leaves a send answered well inside contracts/erx.yaml within_seconds,
    with room for the prescriber; one constant, also the module's and the command line's."""
    import inspect
    from genrep.sim import ehr, ehr_erx
    contract = load_erx()
    assert ehr_erx.ERX_TIMEOUT_S <= contract.within_seconds / 2, (ehr_erx.ERX_TIMEOUT_S, contract.within_seconds)
    assert inspect.signature(ehr.VirtualEHR).parameters["erx_timeout"].default == ehr_erx.ERX_TIMEOUT_S
    assert inspect.signature(ehr_erx.ErxModule).parameters["timeout"].default == ehr_erx.ERX_TIMEOUT_S
