"""The sim fault driver's NLL target over a real NLL simulator process: each NLL fault happens on the
FHIR API (admin keeps answering), clearing undoes it and keeps the planted content and release."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from genrep.config.profile import Endpoint, load_profile
from genrep.errors import GenrepError
from genrep.faults import UnsupportedFault, driver_for, injected
from genrep.faults.sim import SimFaultDriver
from genrep.sim.process import SimProcess, VirtualEnvironment

TIMEOUT = (2.0, 5.0)
PNR = "191212121212"
RX = [{"id": "rx-1", "medication": "Alvedon 500 mg tablett", "patient_instruction": "1 tablett"}]


@pytest.fixture(scope="module")
def venv():
    sim = SimProcess("genrep.sim.nll", ["--host", "127.0.0.1", "--port", "0"])
    info = sim.start()
    try:
        root = f"http://{info['host']}:{info['port']}"
        profile = load_profile("virtual", defects=()).with_endpoints({
            "nll_fhir": Endpoint("nll_fhir", "http", info["host"], info["port"], base_url=info["fhir_base"]),
            "nll_admin": Endpoint("nll_admin", "http", info["host"], info["port"], base_url=f"{root}/admin")})
        yield VirtualEnvironment(profile, {"nll": sim}, {"nll": info})
    finally:
        sim.stop()


@pytest.fixture
def driver(venv):
    admin(venv, "reset")
    admin(venv, f"patients/{PNR}", {"prescriptions": RX}, method="PUT")
    d = driver_for(venv.profile, venv)
    assert isinstance(d, SimFaultDriver) and d.targets == ("nll",)
    yield d
    d.clear()


def admin(venv, path: str, body=None, *, method: str = "POST") -> dict:
    r = requests.request(method, f"{venv.profile.endpoint('nll_admin').base_url}/{path}", json=body,
                         timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def health(venv) -> dict:
    return admin(venv, "health", method="GET")


def search(venv, timeout=TIMEOUT) -> requests.Response:
    return requests.get(f"{venv.profile.endpoint('nll_fhir').base_url}/MedicationRequest",
                        params={"patient.identifier": PNR}, timeout=timeout,
                        headers={"x-request-id": str(uuid.uuid4()), "x-user-agent": "genrep-test"})


def serves_the_list(venv) -> bool:
    r = search(venv)
    return r.status_code == 200 and r.json()["total"] == 1


def test_error503_is_nlls_unavailable_and_clear_keeps_content_and_release(venv, driver):
    admin(venv, "release", {"release": "N+1"})
    driver.inject("nll", "error503")
    r = search(venv)
    assert r.status_code == 503 and "unavailable" in r.json()["issue"][0]["diagnostics"]
    assert health(venv)["fault"] == "unavailable"  # the simulator's own name for it
    driver.clear("nll")
    h = health(venv)
    assert h["fault"] == "none" and h["release"] == "N+1" and h["patients"] == 1  # not a reset
    assert serves_the_list(venv)


def test_hang_times_out_while_admin_answers_and_clear_answers_again(venv, driver):
    driver.inject("nll", "hang")
    with pytest.raises(requests.ReadTimeout):
        search(venv, timeout=(1.0, 0.5))
    assert health(venv)["fault"] == "hang"
    driver.clear("nll")
    assert serves_the_list(venv)


def test_slow_takes_its_delay(venv, driver):
    driver.inject("nll", "slow", delay=0.4)
    t0 = time.monotonic()
    assert serves_the_list(venv)
    assert time.monotonic() - t0 >= 0.35
    assert health(venv)["delay"] == 0.4


@pytest.mark.parametrize("fault", ["malformed", "wrong-content-type", "oversized"])
def test_bad_answers(venv, driver, fault):
    with injected(driver, "nll", fault):
        r = search(venv)
        assert r.status_code == 200
        if fault == "malformed":
            with pytest.raises(ValueError):
                json.loads(r.content)
        elif fault == "wrong-content-type":
            assert r.headers["Content-Type"].startswith("text/html")
        else:
            assert len(r.content) > 10 * 1024 * 1024
    assert health(venv)["fault"] == "none"  # injected() cleared it
    assert serves_the_list(venv)


def test_clear_all_clears_nll(venv, driver):
    driver.inject("nll", "hang")
    driver.clear()
    assert health(venv)["fault"] == "none" and serves_the_list(venv)


@pytest.mark.parametrize("fault", ["stopped", "killed", "version", "partial", "explode"])
def test_faults_nll_cannot_have_are_refused_before_anything_is_sent(venv, driver, fault):
    with pytest.raises(UnsupportedFault, match="supported: hang, slow, error503, malformed, "
                                                "wrong-content-type, oversized"):
        driver.check("nll", fault)
    with pytest.raises(UnsupportedFault):
        driver.inject("nll", fault)
    assert health(venv)["fault"] == "none" and venv.process("nll").alive


def test_parameters_nll_does_not_take_are_refused(venv, driver):
    with pytest.raises(UnsupportedFault, match="takes no version"):
        driver.inject("nll", "slow", delay=0.2, version="2024.10")
    assert health(venv)["fault"] == "none"


def test_simulator_refusals_are_reported(venv, driver):
    with pytest.raises(GenrepError, match=r"nll: admin fault .*HTTP 400: .*delay"):
        driver.inject("nll", "slow", delay=0)  # the simulator needs a delay above 0 for slow


def test_multum_targets_are_unknown_without_their_simulators(driver):
    with pytest.raises(GenrepError, match="known: nll"):
        driver.inject("multum-a", "hang")


def test_every_fault_in_the_drivers_table_is_a_mode_its_simulator_knows():
    from genrep.faults.sim import TARGETS
    from genrep.sim import multum, nll

    for name, module in (("nll", nll), ("multum-a", multum), ("multum-b", multum)):
        spec = TARGETS[name]
        assert {spec.modes.get(f, f) for f in spec.faults - {"killed"}} <= set(module.FAULT_MODES), name
