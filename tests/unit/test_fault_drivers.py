"""Fault drivers: the Toxiproxy API calls, command lines without a shell, driver choice, clean-up."""

from __future__ import annotations

import shlex
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests_mock

from genrep.config.profile import Endpoint, load_profile
from genrep.errors import ConfigError, GenrepError
from genrep.faults import FAULTS, MEANINGS, FaultDriver, UnsupportedFault, driver_for, injected
from genrep.faults.command import CommandFaultDriver
from genrep.faults.toxiproxy import ToxiproxyDriver

API = "http://toxiproxy.test.example:8474"


# --- the interface ------------------------------------------------------------------------------

def test_every_fault_has_a_meaning():
    assert FAULTS == ("stopped", "killed", "hang", "slow", "error503", "version", "partial", "malformed",
                      "wrong-content-type", "oversized", "restarted")
    assert set(MEANINGS) == set(FAULTS)
    assert all(MEANINGS[f] and "\n" not in MEANINGS[f] for f in FAULTS)


class RecordingDriver(FaultDriver):
    supported = frozenset({"hang"})

    def __init__(self, fail_inject=False, fail_clear=False):
        self.calls: list[tuple] = []
        self.fail_inject, self.fail_clear = fail_inject, fail_clear

    def inject(self, target, fault, **params):
        self.calls.append(("inject", target, fault, params))
        if self.fail_inject:
            raise GenrepError("inject failed")

    def clear(self, target=None):
        self.calls.append(("clear", target))
        if self.fail_clear:
            raise GenrepError("clear failed")


def test_injected_clears_after_the_block():
    d = RecordingDriver()
    with injected(d, "multum-a", "hang", delay=1) as got:
        assert got is d
        assert d.calls == [("inject", "multum-a", "hang", {"delay": 1})]
    assert d.calls[-1] == ("clear", "multum-a")


def test_injected_clears_when_the_body_raises():
    d = RecordingDriver()
    with pytest.raises(RuntimeError, match="step failed"):
        with injected(d, "multum-a", "hang"):
            raise RuntimeError("step failed")
    assert d.calls[-1] == ("clear", "multum-a")


def test_injected_keeps_the_body_error_when_clear_fails_too():
    d = RecordingDriver(fail_clear=True)
    with pytest.raises(RuntimeError, match="step failed") as info:
        with injected(d, "multum-a", "hang"):
            raise RuntimeError("step failed")
    assert any("clear failed" in n for n in info.value.__notes__)


def test_injected_raises_a_failed_clear_after_a_clean_block():
    d = RecordingDriver(fail_clear=True)
    with pytest.raises(GenrepError, match="clear failed"):
        with injected(d, "multum-a", "hang"):
            pass


def test_injected_clears_when_inject_fails():
    d = RecordingDriver(fail_inject=True)
    with pytest.raises(GenrepError, match="inject failed"):
        with injected(d, "multum-a", "hang"):
            pytest.fail("the block must not run")
    assert d.calls[-1] == ("clear", "multum-a")


# --- driver_for ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def external():
    return load_profile("example-external")


def test_virtual_profile_without_a_running_environment_is_a_config_error():
    with pytest.raises(ConfigError, match="no virtual environment is running"):
        driver_for(load_profile("virtual", defects=()))


def test_external_profile_without_faults_section_is_a_config_error(external):
    import dataclasses
    bare = dataclasses.replace(external, faults={})  # the shipped example profile has a faults section
    for faults in (None, {}):
        with pytest.raises(ConfigError, match="no 'faults' section") as info:
            driver_for(bare, faults=faults)
        assert "driver: command" in str(info.value) and "driver: toxiproxy" in str(info.value)


@pytest.mark.parametrize("faults, message", [
    ({"driver": "chaos-monkey"}, "unknown fault driver 'chaos-monkey'"),
    ({"commands": {}}, "unknown fault driver None"),
    ({"driver": "command"}, "needs 'commands'"),
    ({"driver": "command", "commands": {"multum-a": {"stoped": "true"}}}, "unknown fault 'stoped'"),
    ({"driver": "command", "commands": {"multum-a": {"stopped": ""}}}, "empty command line"),
    ({"driver": "command", "commands": {"multum-a": {"stopped": "echo 'x"}}}, "cannot parse"),
    ({"driver": "command", "commands": {"multum-a": {"stopped": "true"}}, "timeout": 0}, "at most 600"),
    ({"driver": "toxiproxy", "proxies": {"multum-a": "multum_a"}}, "needs 'api'"),
    ({"driver": "toxiproxy", "api": API}, "needs 'proxies'"),
    ({"driver": "toxiproxy", "api": "toxiproxy:8474", "proxies": {"multum-a": "a"}}, "http"),
    ({"driver": "toxiproxy", "api": API, "proxies": {"multum-a": "a"}, "extra": 1}, "unknown key"),
])
def test_bad_faults_sections_are_config_errors(external, faults, message):
    with pytest.raises(ConfigError, match=message):
        driver_for(external, faults=faults)


def test_driver_for_external_profiles(external):
    cmd = driver_for(external, faults={"driver": "command", "timeout": 7,
                                       "commands": {"multum-a": {"stopped": "true", "clear": "true"}}})
    assert isinstance(cmd, CommandFaultDriver) and cmd.timeout == 7 and cmd.supported == {"stopped"}
    toxi = driver_for(external, faults={"driver": "toxiproxy", "api": API, "proxies": {"multum-a": "multum_a"}})
    assert isinstance(toxi, ToxiproxyDriver) and toxi.supported == {"stopped", "hang", "slow", "restarted"}


def test_toxiproxy_host_must_be_allowed_by_the_profile(external):
    toxi = driver_for(external, faults={"driver": "toxiproxy", "api": "http://elsewhere.example:8474",
                                        "proxies": {"multum-a": "multum_a"}})
    with requests_mock.Mocker() as m:
        with pytest.raises(ConfigError, match="not in environment profile"):
            toxi.inject("multum-a", "stopped")
        assert m.call_count == 0


def test_driver_for_virtual_returns_the_sim_driver():
    from genrep.faults.sim import SimFaultDriver
    from genrep.sim.process import VirtualEnvironment

    profile = load_profile("virtual", defects=()).with_endpoints(
        {"multum_a": Endpoint("multum_a", "http", "127.0.0.1", 1, base_url="http://127.0.0.1:1")})
    venv = VirtualEnvironment(profile, {}, {})
    driver = driver_for(profile, venv)
    assert isinstance(driver, SimFaultDriver) and driver.supported == set(FAULTS)
    with pytest.raises(GenrepError, match="no fault target 'multum-a'"):
        driver.inject("multum-a", "hang")


# --- Toxiproxy -----------------------------------------------------------------------------------

@pytest.fixture
def toxi():
    return ToxiproxyDriver(API, {"multum-a": "multum_a", "multum-b": "multum_b"}, timeout=2.0)


def test_toxiproxy_stopped_disables_the_proxy_and_clear_enables_it(toxi):
    with requests_mock.Mocker() as m:
        m.post(f"{API}/proxies/multum_a", json={"name": "multum_a", "enabled": False})
        toxi.inject("multum-a", "stopped")
        assert m.last_request.method == "POST" and m.last_request.path == "/proxies/multum_a"
        assert m.last_request.json() == {"enabled": False}
        toxi.clear("multum-a")
        assert m.last_request.json() == {"enabled": True}
        assert m.call_count == 2


def test_toxiproxy_hang_adds_a_timeout_toxic(toxi):
    with requests_mock.Mocker() as m:
        m.post(f"{API}/proxies/multum_a/toxics", json={"name": "genrep_hang"})
        toxi.inject("multum-a", "hang")
        assert m.last_request.json() == {"name": "genrep_hang", "type": "timeout", "stream": "downstream",
                                         "toxicity": 1.0, "attributes": {"timeout": 0}}


def test_toxiproxy_slow_adds_a_latency_toxic_in_ms(toxi):
    with requests_mock.Mocker() as m:
        m.post(f"{API}/proxies/multum_b/toxics", json={"name": "genrep_slow"})
        toxi.inject("multum-b", "slow", delay=1.5)
        assert m.last_request.json() == {"name": "genrep_slow", "type": "latency", "stream": "downstream",
                                         "toxicity": 1.0, "attributes": {"latency": 1500, "jitter": 0}}


def test_toxiproxy_clear_target_deletes_its_toxics_and_reenables(toxi):
    with requests_mock.Mocker() as m:
        m.post(f"{API}/proxies/multum_a/toxics", json={})
        m.delete(f"{API}/proxies/multum_a/toxics/genrep_hang", status_code=204)
        m.delete(f"{API}/proxies/multum_a/toxics/genrep_slow", status_code=404, text="toxic not found")
        m.post(f"{API}/proxies/multum_a", json={"enabled": True})
        toxi.inject("multum-a", "hang")
        toxi.inject("multum-a", "slow", delay=0.2)
        toxi.clear("multum-a")
        calls = [(r.method, r.path) for r in m.request_history[2:]]
        assert calls == [("DELETE", "/proxies/multum_a/toxics/genrep_hang"),
                         ("DELETE", "/proxies/multum_a/toxics/genrep_slow"),  # already gone: fine
                         ("POST", "/proxies/multum_a")]
        assert m.last_request.json() == {"enabled": True}


def test_toxiproxy_same_fault_twice_replaces_the_toxic(toxi):
    with requests_mock.Mocker() as m:
        m.post(f"{API}/proxies/multum_a/toxics", json={})
        m.delete(f"{API}/proxies/multum_a/toxics/genrep_slow", status_code=204)
        toxi.inject("multum-a", "slow", delay=1)
        toxi.inject("multum-a", "slow", delay=2)
        assert [r.method for r in m.request_history] == ["POST", "DELETE", "POST"]
        assert m.last_request.json()["attributes"]["latency"] == 2000


def test_toxiproxy_clear_all_is_reset(toxi):
    with requests_mock.Mocker() as m:
        m.post(f"{API}/reset", status_code=204)
        toxi.clear()
        assert m.last_request.path == "/reset" and m.last_request.method == "POST"
        assert m.last_request.body is None


def test_toxiproxy_proxies_state_lists_proxies(toxi):
    with requests_mock.Mocker() as m:
        m.get(f"{API}/proxies", json={"multum_a": {"name": "multum_a", "enabled": True, "toxics": []}})
        assert toxi.proxies_state()["multum_a"]["enabled"] is True


@pytest.mark.parametrize("fault", ["killed", "error503", "version", "partial", "explode"])
def test_toxiproxy_cannot_do_server_level_faults(toxi, fault):
    with requests_mock.Mocker() as m:
        with pytest.raises(UnsupportedFault, match="supported: stopped, hang, slow"):
            toxi.inject("multum-a", fault)
        assert m.call_count == 0


def test_toxiproxy_unknown_target_lists_the_configured_ones(toxi):
    with pytest.raises(GenrepError, match="known: multum-a, multum-b"):
        toxi.inject("multum-c", "hang")


def test_toxiproxy_http_errors_carry_status_and_body(toxi):
    with requests_mock.Mocker() as m:
        m.post(f"{API}/proxies/multum_a/toxics", status_code=409,
               json={"error": "toxic already exists", "status": 409})
        with pytest.raises(GenrepError, match=r"HTTP 409: .*toxic already exists"):
            toxi.inject("multum-a", "hang")


def test_toxiproxy_bad_parameters_are_refused_before_sending(toxi):
    with requests_mock.Mocker() as m:
        with pytest.raises(GenrepError, match="seconds from 0 to 600"):
            toxi.inject("multum-a", "slow", delay=-1)
        with pytest.raises(GenrepError, match="unknown parameter 'latency'"):
            toxi.inject("multum-a", "slow", latency=5)
        assert m.call_count == 0


# --- commands ------------------------------------------------------------------------------------

def test_command_success_and_clear():
    d = CommandFaultDriver({"multum-a": {"stopped": "true", "clear": "true"}})
    d.inject("multum-a", "stopped")
    d.clear("multum-a")
    d.clear()  # nothing left to clear


def test_command_non_zero_exit_reports_code_and_stderr():
    d = CommandFaultDriver({"multum-a": {"stopped": "false",
                                         "hang": "sh -c 'echo boom >&2; exit 3'"}})
    with pytest.raises(GenrepError, match="exited with code 1"):
        d.inject("multum-a", "stopped")
    with pytest.raises(GenrepError, match=r"exited with code 3; stderr: boom"):
        d.inject("multum-a", "hang")


def test_command_stderr_is_redacted():
    d = CommandFaultDriver({"multum-a": {"stopped": "sh -c 'echo password=hunter2 >&2; exit 1'"}})
    with pytest.raises(GenrepError) as info:
        d.inject("multum-a", "stopped")
    assert "hunter2" not in str(info.value) and "[REDACTED]" in str(info.value)


def test_command_timeout_is_bounded():
    d = CommandFaultDriver({"multum-a": {"hang": "sleep 5"}}, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(GenrepError, match="did not finish within 0.5 s"):
        d.inject("multum-a", "hang")
    assert time.monotonic() - start < 3


def test_command_missing_executable():
    d = CommandFaultDriver({"multum-a": {"stopped": "/nonexistent/genrep-no-such-tool"}})
    with pytest.raises(GenrepError, match="cannot run"):
        d.inject("multum-a", "stopped")


def test_command_missing_mapping_names_what_is_configured():
    d = CommandFaultDriver({"multum-a": {"stopped": "true", "clear": "true"}, "multum-b": {"hang": "true"}})
    with pytest.raises(UnsupportedFault, match=r"fault 'slow' is not supported .*stopped, clear"):
        d.inject("multum-a", "slow")
    with pytest.raises(UnsupportedFault, match="no clear command"):
        d.clear("multum-b")
    with pytest.raises(UnsupportedFault, match="unknown fault 'explode'"):
        d.inject("multum-a", "explode")
    with pytest.raises(GenrepError, match="known: multum-a, multum-b"):
        d.inject("multum-c", "stopped")
    assert d.supported == {"stopped", "hang"}


def test_no_shell_injection():
    marker = Path("/tmp") / f"genrep-fault-injection-{uuid.uuid4().hex}"
    d = CommandFaultDriver({"multum-a": {"stopped": f"echo stop; touch {marker}",
                                         "clear": f"true && touch {marker}"}})
    try:
        d.inject("multum-a", "stopped")  # echo prints "stop; touch /tmp/..." literally
        d.clear("multum-a")  # `true` ignores its arguments; "&&" is just one of them
        assert not marker.exists()
    finally:
        marker.unlink(missing_ok=True)


def test_parameters_are_substituted_per_argument_without_a_shell(tmp_path):
    out = tmp_path / "args"
    script = f"import sys, pathlib; pathlib.Path({str(out)!r}).write_text(repr(sys.argv[1:]))"
    d = CommandFaultDriver({"multum-a": {
        "slow": f"{shlex.quote(sys.executable)} -c {shlex.quote(script)} --delay={{delay}}",
        "version": f"{shlex.quote(sys.executable)} -c {shlex.quote(script)} {{version}}"}})
    d.inject("multum-a", "slow", delay=1.5)
    assert out.read_text() == repr(["--delay=1.5"])
    d.inject("multum-a", "version", version="2024.10; touch /tmp/x")
    assert out.read_text() == repr(["2024.10; touch /tmp/x"])
    with pytest.raises(GenrepError, match="needs the 'delay' parameter"):
        d.inject("multum-a", "slow")


def test_clear_all_clears_every_injected_target_and_reports_failures():
    d = CommandFaultDriver({"multum-a": {"stopped": "true", "clear": "true"},
                            "multum-b": {"stopped": "true", "clear": "false"}})
    d.inject("multum-a", "stopped")
    d.inject("multum-b", "stopped")
    with pytest.raises(GenrepError, match="multum-b clear"):
        d.clear()
    with pytest.raises(GenrepError, match="multum-b clear") as info:
        d.clear()  # multum-a was cleared; multum-b still fails and is still remembered
    assert "multum-a" not in str(info.value)


def test_external_profile_faults_section_is_used_by_default(external):
    driver = driver_for(external)  # environments/example-external.yaml configures the command driver
    assert "stopped" in driver.supported


# --- NLL through the external drivers; check() before a run --------------------------------------

def test_nll_faults_through_the_command_driver(tmp_path):
    out = tmp_path / "nll.log"
    d = CommandFaultDriver({"nll": {"error503": f"sh -c 'echo down >> {out}'", "malformed": "true",
                                    "clear": f"sh -c 'echo up >> {out}'"}})
    d.check("nll", "error503")
    d.inject("nll", "error503")
    d.clear()
    assert out.read_text().split() == ["down", "up"]
    with pytest.raises(UnsupportedFault, match="nll: fault 'hang' is not supported"):
        d.check("nll", "hang")
    with pytest.raises(GenrepError, match="no fault target 'multum-a'"):
        d.check("multum-a", "error503")


def test_nll_faults_through_toxiproxy_and_check_sends_nothing():
    toxi = ToxiproxyDriver(API, {"nll": "nll_fhir"}, timeout=2.0)
    with requests_mock.Mocker() as m:
        toxi.check("nll", "hang")
        with pytest.raises(UnsupportedFault, match="supported: stopped, hang, slow"):
            toxi.check("nll", "malformed")
        with pytest.raises(GenrepError, match="known: nll"):
            toxi.check("multum-a", "hang")
        assert m.call_count == 0
        m.post(f"{API}/proxies/nll_fhir/toxics", json={})
        toxi.inject("nll", "hang")
        assert m.last_request.json()["type"] == "timeout"


def test_the_sim_driver_knows_which_simulator_can_do_what():
    from genrep.faults import TARGETS
    from genrep.faults.sim import TARGETS as SIM_TARGETS

    assert set(SIM_TARGETS) == set(TARGETS) >= {"multum-a", "multum-b", "nll", "radiology-listener"}
    assert SIM_TARGETS["radiology-listener"].faults == {"restarted"}  # through a ListenerFront (route)
    assert all(spec.faults <= set(FAULTS) for spec in SIM_TARGETS.values())
    assert set().union(*(spec.faults for spec in SIM_TARGETS.values())) == set(FAULTS)
    assert "killed" not in SIM_TARGETS["nll"].faults  # a restarted NLL simulator would lose its content
    assert SIM_TARGETS["nll"].modes == {"error503": "unavailable"}  # genrep.sim.nll's name for it
    assert SIM_TARGETS["nll"].clear == ("fault", {"mode": "none"})  # not reset: content and release stay
