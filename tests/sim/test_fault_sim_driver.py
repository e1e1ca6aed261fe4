"""SimFaultDriver against two real Multum simulator processes: each fault happens, clear undoes it."""

from __future__ import annotations

import pytest
import requests

from genrep.config.profile import Endpoint, load_profile
from genrep.errors import GenrepError
from genrep.faults import FAULTS, UnsupportedFault, driver_for, injected
from genrep.faults.sim import SimFaultDriver
from genrep.sim.process import SimProcess, VirtualEnvironment

from .test_sim_process import pid_gone

CHECK = {"drugs": ["warfarin", "ibuprofen"]}
#: for a call that must be answered: a hang guard, not a speed bound (a busy CI host starves a
#: process for seconds); calls whose timeout must fire pass their own short one
ANSWER_TIMEOUT = (5.0, 30.0)


def start_multum(name: str) -> SimProcess:
    sim = SimProcess("genrep.sim.multum", ["--host", "127.0.0.1", "--port", "0", "--admin-port", "0",
                                           "--name", name, "--content-version", "2024.11"])
    sim.start()
    return sim


@pytest.fixture(scope="module")
def venv():
    started: dict[str, SimProcess] = {}
    env = None
    try:
        for name in ("multum-a", "multum-b"):
            started[name] = start_multum(name)
        endpoints = {}
        for name, sim in started.items():
            key, info = name.replace("-", "_"), sim.info
            endpoints[key] = Endpoint(key, "http", info["host"], info["port"], base_url=info["base"])
            endpoints[f"{key}_admin"] = Endpoint(f"{key}_admin", "http", info["host"], info["admin_port"],
                                                 base_url=info["admin"])
        profile = load_profile("virtual", defects=()).with_endpoints(endpoints)
        env = VirtualEnvironment(profile, started, {n: s.info for n, s in started.items()})
        yield env
    finally:
        for sim in (env.processes if env else started).values():
            sim.stop()


@pytest.fixture
def driver(venv):
    d = driver_for(venv.profile, venv)
    assert isinstance(d, SimFaultDriver)
    yield d
    d.clear()  # every test leaves both servers healthy


def service(venv, name: str, timeout=ANSWER_TIMEOUT) -> requests.Response:
    info = venv.process(name).info
    return requests.post(f"{info['base']}/interactions", json=CHECK, timeout=timeout)


def answers(venv, name: str) -> bool:
    r = service(venv, name)
    return r.status_code == 200 and r.json()["checks"]["drug-drug"]["status"] == "ok"


def test_stopped_refuses_connections_and_clear_reopens_the_same_port(venv, driver):
    port = venv.process("multum-a").info["port"]
    driver.inject("multum-a", "stopped")
    with pytest.raises(requests.ConnectionError):
        service(venv, "multum-a")
    assert answers(venv, "multum-b")  # only the target is affected
    driver.clear("multum-a")
    assert venv.process("multum-a").info["port"] == port
    assert answers(venv, "multum-a")


def test_killed_is_gone_and_clear_restarts_on_the_same_port(venv, driver):
    old = venv.process("multum-a")
    old_pid, port, admin_port = old.info["pid"], old.info["port"], old.info["admin_port"]
    driver.inject("multum-a", "killed")
    assert pid_gone(old_pid)
    assert not old.alive
    with pytest.raises(requests.ConnectionError):
        service(venv, "multum-a")
    driver.clear("multum-a")
    new = venv.process("multum-a")
    assert new is not old and new.alive
    assert new.info["pid"] != old_pid
    assert (new.info["port"], new.info["admin_port"]) == (port, admin_port)
    assert answers(venv, "multum-a")
    health = requests.get(f"{new.info['admin']}/health", timeout=ANSWER_TIMEOUT).json()
    assert health == {"status": "ok", "pid": new.info["pid"], "name": "multum-a"}


def test_hang_times_out_and_clear_answers_again(venv, driver):
    driver.inject("multum-b", "hang")
    with pytest.raises(requests.ReadTimeout):
        service(venv, "multum-b", timeout=(0.5, 0.5))
    driver.clear("multum-b")
    assert answers(venv, "multum-b")


def test_error503(venv, driver):
    with injected(driver, "multum-a", "error503"):
        assert service(venv, "multum-a").status_code == 503
    assert answers(venv, "multum-a")


def test_slow_version_and_partial_pass_their_parameters(venv, driver):
    driver.inject("multum-a", "version", version="2024.10")
    assert service(venv, "multum-a").json()["content_version"] == "2024.10"
    driver.inject("multum-a", "partial", check="duplication")
    checks = service(venv, "multum-a").json()["checks"]
    assert checks["duplication"]["status"] == "error" and checks["drug-drug"]["status"] == "ok"
    driver.inject("multum-a", "slow", delay=30.0)
    with pytest.raises(requests.ReadTimeout):
        service(venv, "multum-a", timeout=(0.5, 0.3))
    driver.clear()
    r = service(venv, "multum-a", timeout=(5.0, 10.0))  # a 30 s delay left over would time out
    assert r.json()["content_version"] == "2024.11"


def test_clear_all_restores_every_target(venv, driver):
    driver.inject("multum-a", "stopped")
    driver.inject("multum-b", "killed")
    driver.clear()
    assert answers(venv, "multum-a") and answers(venv, "multum-b")


def test_unknown_target_lists_the_known_ones(driver):
    with pytest.raises(GenrepError, match="known: multum-a, multum-b"):
        driver.inject("multum-c", "hang")
    with pytest.raises(GenrepError, match="known: multum-a, multum-b"):
        driver.clear("multum-lb")


def test_unknown_fault_names_the_supported_ones(venv, driver):
    supported = [f for f in FAULTS if f in driver.supported_by("multum-a")]
    assert "wrong-content-type" not in supported  # NLL's, not Multum's
    with pytest.raises(UnsupportedFault, match="supported: " + ", ".join(supported)):
        driver.inject("multum-a", "explode")
    assert answers(venv, "multum-a")


def test_simulator_refusals_are_reported(driver):
    with pytest.raises(GenrepError, match=r"HTTP 400: .*version"):
        driver.inject("multum-a", "version")  # the simulator needs the version to switch to
