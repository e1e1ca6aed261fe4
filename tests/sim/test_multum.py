"""The Multum simulator and its load balancer as real processes: checks, faults, failover, failback.

Two Multum servers per module (per xdist worker), reset before each test; each load-balancer test
starts its own LB over them (stopped when the test ends).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import pytest
import requests

from genrep.sim.process import SimProcess, SimStartError

from .conftest import wait_until

# A hang guard for calls that must be answered (a busy CI host can starve any process for seconds);
# calls whose timeout must fire pass their own short one.
TIMEOUT = 30.0
#: how long a healthy process may be starved before a test calls it stuck: "not blocked" bounds stay
#: far below the hang they guard against
SLACK = 5.0
WAIT = 30.0  # wait_until bounds: polled, so the passing case is not slower
WARFARIN_IBUPROFEN = ["warfarin", "ibuprofen"]


def check(base: str, drugs, *, checks=None, timeout: float = TIMEOUT) -> requests.Response:
    body = {"drugs": drugs} if checks is None else {"drugs": drugs, "checks": checks}
    return requests.post(f"{base}/interactions", json=body, timeout=timeout)


def admin(info: dict, what: str, body: dict | None = None) -> dict:
    if body is None and what in ("stats", "health"):
        r = requests.get(f"{info['admin']}/{what}", timeout=TIMEOUT)
    else:
        r = requests.post(f"{info['admin']}/{what}", json=body, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def fault(info: dict, mode: str, **kw) -> dict:
    return admin(info, "fault", {"mode": mode, **kw})


def lb_status(lb: dict) -> dict:
    r = requests.get(f"{lb['base']}/lb/status", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def backend(lb: dict, name: str) -> dict:
    return next(b for b in lb_status(lb)["backends"] if b["name"] == name)


def pair(hit: dict) -> set:
    return set(hit["drugs"])


@pytest.fixture(scope="module")
def servers():
    started = []
    try:
        infos = {}
        for key in ("a", "b"):
            sim = SimProcess("genrep.sim.multum", ["--port", "0", "--admin-port", "0",
                                                   "--name", f"multum-{key}", "--content-version", "2024.11"])
            started.append(sim)
            infos[key] = sim.start()
        yield infos
    finally:
        for sim in started:
            sim.stop()


@pytest.fixture(autouse=True)
def clean(servers):
    for info in servers.values():
        admin(info, "reset")
    yield
    for info in servers.values():
        admin(info, "reset")


@pytest.fixture
def start_lb(servers):
    """Factory: ``start_lb("--policy", "primary-backup", backends=[info, ...])`` -> ready info."""
    started: list[SimProcess] = []

    def _start(*args: str, backends=None):
        backends = [servers["a"], servers["b"]] if backends is None else backends
        argv = ["--port", "0"]
        for info in backends:
            argv += ["--backend", f"{info['name']}={info['base']}"]
        sim = SimProcess("genrep.sim.multum_lb", [*argv, *args])
        started.append(sim)
        return sim.start()

    yield _start
    for sim in started:
        sim.stop()


# Probes stay fast; the per-attempt timeout is generous, so a probe of a healthy but starved backend
# is not taken for a failure (a spurious "down" would break the traffic splits and event lists).
PROBE_TIMEOUT = "5"
FAST = ("--probe-interval", "0.1", "--failback-after", "3", "--timeout", PROBE_TIMEOUT, "--retries", "1")


# -- one server ---------------------------------------------------------------------------------

def test_ready_line(servers):
    a = servers["a"]
    assert a["service"] == "multum" and a["name"] == "multum-a" and a["content_version"] == "2024.11"
    assert a["base"] == f"http://127.0.0.1:{a['port']}"
    assert a["admin"] == f"http://127.0.0.1:{a['admin_port']}/admin"
    assert a["port"] != a["admin_port"] and a["pid"] > 0


@pytest.mark.parametrize("drugs, severity, word", [
    (["warfarin", "ibuprofen"], "major", "bleeding"),
    (["warfarin", "aspirin"], "major", "bleeding"),
    (["simvastatin", "clarithromycin"], "major", "myopathy"),
    (["sildenafil", "nitroglycerin"], "contraindicated", "hypotension"),
    (["methotrexate", "trimethoprim"], "major", "marrow"),
    (["lithium", "ibuprofen"], "major", "lithium"),
    (["sertraline", "tramadol"], "major", "serotonin syndrome"),
    (["metoprolol", "verapamil"], "major", "bradycardia"),
    (["spironolactone", "enalapril"], "major", "hyperkalaemia"),
    (["clopidogrel", "omeprazole"], "moderate", "clopidogrel"),
])
def test_known_pairs(servers, drugs, severity, word):
    r = check(servers["a"]["base"], list(reversed(drugs)))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["server"] == "multum-a" and body["content_version"] == "2024.11"
    assert body["unknown_drugs"] == []
    dd = body["checks"]["drug-drug"]
    assert dd["status"] == "ok"
    assert len(dd["interactions"]) == 1
    hit = dd["interactions"][0]
    assert pair(hit) == set(drugs) and hit["severity"] == severity
    assert word in hit["description"].lower()


def test_no_interaction_and_unknown_drugs_listed(servers):
    r = check(servers["a"]["base"], ["Paracetamol", "amoxicillin", "unobtainium", "  WARFARIN "])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["drugs"] == ["paracetamol", "amoxicillin", "unobtainium", "warfarin"]
    assert body["unknown_drugs"] == ["unobtainium"]
    hits = body["checks"]["drug-drug"]["interactions"]
    assert [pair(h) for h in hits] == [{"warfarin", "paracetamol"}]


def test_duplication(servers):
    r = check(servers["a"]["base"], ["ibuprofen", "naproxen", "sertraline", "citalopram", "paracetamol"],
              checks=["duplication"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["checks"]) == {"duplication"}
    dup = body["checks"]["duplication"]
    assert dup["status"] == "ok"
    groups = {d["group"]: set(d["drugs"]) for d in dup["duplicates"]}
    assert groups == {"NSAID": {"ibuprofen", "naproxen"}, "SSRI": {"sertraline", "citalopram"}}


@pytest.mark.parametrize("raw", [
    b"not json", b"[]", b'{"drugs": []}', b'{"drugs": "warfarin"}', b'{"drugs": ["warfarin", 3]}',
    b'{"drugs": ["warfarin"], "checks": ["drug-allergy"]}', b'{"drugs": ["warfarin"], "extra": 1}',
])
def test_bad_body_is_400(servers, raw):
    r = requests.post(f"{servers['a']['base']}/interactions", data=raw, timeout=TIMEOUT)
    assert r.status_code == 400 and r.json()["error"]


def test_health_and_stats(servers):
    a = servers["a"]
    r = requests.get(f"{a['base']}/health", timeout=TIMEOUT)
    assert r.json() == {"status": "ok", "server": "multum-a", "content_version": "2024.11"}
    check(a["base"], WARFARIN_IBUPROFEN)
    before = time.time()
    check(a["base"], WARFARIN_IBUPROFEN)
    stats = admin(a, "stats")
    assert stats["name"] == "multum-a" and stats["pid"] == a["pid"] and stats["mode"] == "none"
    assert stats["requests"] == 3
    assert [k for _t, k in stats["timeline"]] == ["health", "interactions", "interactions"]
    assert before - 1 <= stats["timeline"][-1][0] <= time.time() + 1
    assert admin(a, "health")["status"] == "ok"
    admin(a, "reset")
    assert admin(a, "stats")["requests"] == 0


def test_fault_stopped_closes_port_and_reopens_same_port(servers):
    a = servers["a"]
    fault(a, "stopped")
    with pytest.raises(requests.ConnectionError):
        check(a["base"], WARFARIN_IBUPROFEN)
    assert admin(a, "health")["status"] == "ok"
    assert admin(a, "stats")["mode"] == "stopped"
    assert admin(a, "reset")["port"] == a["port"]
    r = check(a["base"], WARFARIN_IBUPROFEN)  # same base URL, same port
    assert r.status_code == 200 and r.json()["server"] == "multum-a"


def test_fault_hang_times_out_admin_answers(servers):
    a = servers["a"]
    fault(a, "hang")
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        check(a["base"], WARFARIN_IBUPROFEN, timeout=0.5)
    assert time.monotonic() - t0 < 2 * SLACK  # the hang itself never ends
    t0 = time.monotonic()
    assert admin(a, "health")["status"] == "ok"
    assert admin(a, "stats")["mode"] == "hang"
    assert time.monotonic() - t0 < SLACK  # not held by the hanging service request
    admin(a, "reset")
    assert check(a["base"], WARFARIN_IBUPROFEN).status_code == 200


def test_fault_hang_released_on_reset(servers):
    a = servers["a"]
    fault(a, "hang")
    result = {}

    def call():
        result["r"] = check(a["base"], WARFARIN_IBUPROFEN)

    before = admin(a, "stats")["requests"]
    t = threading.Thread(target=call)
    t.start()
    # the request has reached the server and hangs there (a sleep could end before it arrived, and
    # the reset would then release nothing)
    assert wait_until(lambda: admin(a, "stats")["requests"] > before, WAIT)
    assert "r" not in result
    admin(a, "reset")
    t.join(TIMEOUT)
    assert result["r"].status_code == 200


def test_fault_slow(servers):
    a = servers["a"]
    fault(a, "slow", delay=0.3)
    t0 = time.monotonic()
    assert check(a["base"], WARFARIN_IBUPROFEN).status_code == 200
    assert time.monotonic() - t0 >= 0.3


def test_fault_error503(servers):
    fault(servers["a"], "error503")
    r = check(servers["a"]["base"], WARFARIN_IBUPROFEN)
    assert r.status_code == 503 and "unavailable" in r.json()["error"]


def test_fault_version(servers):
    a = servers["a"]
    fault(a, "version", version="2024.10")
    assert check(a["base"], WARFARIN_IBUPROFEN).json()["content_version"] == "2024.10"
    assert requests.get(f"{a['base']}/health", timeout=TIMEOUT).json()["content_version"] == "2024.10"
    assert admin(a, "stats")["content_version"] == "2024.10"
    admin(a, "reset")
    assert check(a["base"], WARFARIN_IBUPROFEN).json()["content_version"] == "2024.11"


@pytest.mark.parametrize("failing, working", [("duplication", "drug-drug"), ("drug-drug", "duplication")])
def test_fault_partial(servers, failing, working):
    fault(servers["a"], "partial", check=failing)
    r = check(servers["a"]["base"], ["warfarin", "ibuprofen", "naproxen"])
    assert r.status_code == 200
    checks = r.json()["checks"]
    assert checks[failing]["status"] == "error" and checks[failing]["error"]
    assert checks[working]["status"] == "ok"


def test_fault_malformed(servers):
    fault(servers["a"], "malformed")
    r = check(servers["a"]["base"], WARFARIN_IBUPROFEN)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()


def test_fault_close_mid_response(servers):
    fault(servers["a"], "close-mid-response")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        check(servers["a"]["base"], WARFARIN_IBUPROFEN)
    admin(servers["a"], "reset")
    assert check(servers["a"]["base"], WARFARIN_IBUPROFEN).status_code == 200


@pytest.mark.parametrize("body", [{"mode": "explode"}, {"mode": "slow"}, {"mode": "version"},
                                  {"mode": "partial", "check": "dose-range"}, {"mode": "none", "x": 1}])
def test_bad_fault_is_400(servers, body):
    r = requests.post(f"{servers['a']['admin']}/fault", json=body, timeout=TIMEOUT)
    assert r.status_code == 400 and r.json()["error"]


# -- the load balancer --------------------------------------------------------------------------

def test_round_robin_splits_traffic(start_lb):
    lb = start_lb("--policy", "round-robin", *FAST)
    assert lb["service"] == "multum-lb" and lb["policy"] == "round-robin"
    assert [b["name"] for b in lb["backends"]] == ["multum-a", "multum-b"]
    seen = Counter()
    for _ in range(40):
        r = check(lb["base"], WARFARIN_IBUPROFEN)
        assert r.status_code == 200
        assert r.json()["server"] == r.headers["X-Multum-Server"]
        seen[r.headers["X-Multum-Server"]] += 1
    for name in ("multum-a", "multum-b"):
        assert 12 <= seen[name] <= 28, seen


def test_primary_backup_sends_all_to_first(start_lb):
    lb = start_lb("--policy", "primary-backup", *FAST)
    names = {check(lb["base"], WARFARIN_IBUPROFEN).headers["X-Multum-Server"] for _ in range(20)}
    assert names == {"multum-a"}


@pytest.mark.parametrize("mode", ["stopped", "hang", "error503", "malformed", "close-mid-response"])
@pytest.mark.parametrize("policy", ["primary-backup", "round-robin"])
def test_failover_no_failed_request(servers, start_lb, mode, policy):
    lb = start_lb("--policy", policy, *FAST)
    fault(servers["a"], mode)
    for _ in range(8):
        r = check(lb["base"], WARFARIN_IBUPROFEN)
        assert r.status_code == 200, r.text
        assert r.headers["X-Multum-Server"] == "multum-b"
        assert r.json()["checks"]["drug-drug"]["interactions"]
    a = backend(lb, "multum-a")
    assert a["healthy"] is False and a["last_error"]
    assert [e["event"] for e in lb_status(lb)["events"] if e["backend"] == "multum-a"] == ["down"]


def test_failover_on_sigkill(servers, start_lb):
    c = SimProcess("genrep.sim.multum", ["--name", "multum-c"])
    try:
        info = c.start()
        lb = start_lb("--policy", "primary-backup", *FAST, backends=[info, servers["b"]])
        assert check(lb["base"], WARFARIN_IBUPROFEN).headers["X-Multum-Server"] == "multum-c"
        os.kill(info["pid"], signal.SIGKILL)
        for _ in range(8):
            r = check(lb["base"], WARFARIN_IBUPROFEN)
            assert r.status_code == 200, r.text
            assert r.headers["X-Multum-Server"] == "multum-b"
    finally:
        c.stop()


def test_retries_are_bounded(servers, start_lb):
    # probes far apart: the request path alone notices the failure
    lb = start_lb("--policy", "primary-backup", "--probe-interval", "60", "--timeout", PROBE_TIMEOUT,
                  "--retries", "0")
    fault(servers["a"], "error503")
    r = check(lb["base"], WARFARIN_IBUPROFEN)
    assert r.status_code == 503, r.text
    assert "interaction check not performed" in r.json()["error"] and "multum-a" in r.json()["error"]
    r = check(lb["base"], WARFARIN_IBUPROFEN)  # multum-a was marked down at once
    assert r.status_code == 200 and r.headers["X-Multum-Server"] == "multum-b"


@pytest.mark.parametrize("probe_interval", ["0.1", "60"])
def test_both_down_not_performed(servers, start_lb, probe_interval):
    lb = start_lb("--policy", "round-robin", "--probe-interval", probe_interval, "--timeout", "0.5")
    fault(servers["a"], "stopped")
    fault(servers["b"], "error503")
    for _ in range(3):
        r = check(lb["base"], WARFARIN_IBUPROFEN)
        assert r.status_code == 503
        assert r.json()["error"].startswith("interaction check not performed: no Multum server answered")
        assert "checks" not in r.json()


def test_failback_after_n_good_probes(servers, start_lb):
    interval, n = 0.1, 5
    lb = start_lb("--policy", "primary-backup", "--probe-interval", str(interval),
                  "--failback-after", str(n), "--timeout", PROBE_TIMEOUT)
    fault(servers["a"], "stopped")
    assert wait_until(lambda: not backend(lb, "multum-a")["healthy"], WAIT)
    assert check(lb["base"], WARFARIN_IBUPROFEN).headers["X-Multum-Server"] == "multum-b"
    t0 = time.time()
    admin(servers["a"], "reset")
    # right after recovery: still down, traffic stays on the backup. Checked only while the answers
    # came back before n good probes were possible: a starved test would see a legitimate failback
    # (the "up" event's time below is the check that does not depend on this process's speed).
    a_now = backend(lb, "multum-a")
    served_by = check(lb["base"], WARFARIN_IBUPROFEN).headers["X-Multum-Server"]
    if time.time() - t0 < (n - 1) * interval - 0.05:
        assert a_now["healthy"] is False
        assert served_by == "multum-b"
    assert wait_until(lambda: backend(lb, "multum-a")["healthy"], WAIT)
    events = [e for e in lb_status(lb)["events"] if e["backend"] == "multum-a"]
    assert [e["event"] for e in events] == ["down", "up"]  # no flapping
    up = events[1]
    assert up["t"] - t0 >= (n - 1) * interval - 0.02, up["t"] - t0
    assert backend(lb, "multum-a")["consecutive_ok"] >= n
    assert check(lb["base"], WARFARIN_IBUPROFEN).headers["X-Multum-Server"] == "multum-a"


def test_no_failover_is_the_2024_state(servers, start_lb):
    lb = start_lb("--policy", "primary-backup", "--no-failover", *FAST)
    fault(servers["a"], "stopped")
    for _ in range(3):
        r = check(lb["base"], WARFARIN_IBUPROFEN)
        assert r.status_code == 503
        assert "interaction check not performed" in r.json()["error"]
    assert backend(lb, "multum-b")["requests"] == 0
    admin(servers["a"], "reset")  # manual switch-over is all there is: the first server again
    r = check(lb["base"], WARFARIN_IBUPROFEN)
    assert r.status_code == 200 and r.headers["X-Multum-Server"] == "multum-a"


def test_no_failback_stays_down(servers, start_lb):
    lb = start_lb("--policy", "primary-backup", "--no-failback", "--probe-interval", "0.1",
                  "--failback-after", "2", "--timeout", PROBE_TIMEOUT)
    fault(servers["a"], "error503")
    assert wait_until(lambda: not backend(lb, "multum-a")["healthy"], WAIT)
    admin(servers["a"], "reset")
    seen = {}

    def enough_good_probes() -> bool:  # the snapshot that shows failback-after good probes
        seen["a"] = backend(lb, "multum-a")
        return seen["a"]["consecutive_ok"] >= 2

    assert wait_until(enough_good_probes, WAIT), seen
    a = seen["a"]
    assert a["healthy"] is False and a["consecutive_ok"] >= 2
    assert check(lb["base"], WARFARIN_IBUPROFEN).headers["X-Multum-Server"] == "multum-b"


def test_content_versions_differ_flagged(servers, start_lb):
    lb = start_lb("--policy", "round-robin", *FAST)
    assert lb_status(lb)["content_versions_differ"] is False
    assert "X-Content-Versions-Differ" not in check(lb["base"], WARFARIN_IBUPROFEN).headers
    fault(servers["a"], "version", version="2024.10")
    assert wait_until(lambda: lb_status(lb)["content_versions_differ"], WAIT)
    versions = {b["name"]: b["content_version"] for b in lb_status(lb)["backends"]}
    assert versions == {"multum-a": "2024.10", "multum-b": "2024.11"}
    for _ in range(2):
        r = check(lb["base"], WARFARIN_IBUPROFEN)
        assert r.headers["X-Content-Versions-Differ"] == "true"
        assert r.json()["content_version"] == versions[r.headers["X-Multum-Server"]]
    admin(servers["a"], "reset")
    assert wait_until(lambda: not lb_status(lb)["content_versions_differ"], WAIT)


def test_canary_not_liveness(servers, start_lb):
    """/health says ok, but the drug-drug check fails: the canary marks the server down."""
    lb = start_lb("--policy", "primary-backup", *FAST)
    fault(servers["a"], "partial", check="drug-drug")
    assert requests.get(f"{servers['a']['base']}/health", timeout=TIMEOUT).json()["status"] == "ok"
    assert wait_until(lambda: not backend(lb, "multum-a")["healthy"], WAIT)
    assert "drug-drug" in backend(lb, "multum-a")["last_error"]


def test_partial_answer_passed_through(servers, start_lb):
    lb = start_lb("--policy", "primary-backup", *FAST)
    fault(servers["a"], "partial", check="duplication")
    probes_before = backend(lb, "multum-a")["probes"]
    r = check(lb["base"], ["warfarin", "ibuprofen", "naproxen"])
    assert r.status_code == 200 and r.headers["X-Multum-Server"] == "multum-a"
    assert r.json()["checks"]["duplication"]["status"] == "error"
    # a few canary probes have run against the partial answer (counted, not slept for)
    assert wait_until(lambda: backend(lb, "multum-a")["probes"] >= probes_before + 4, WAIT)
    assert backend(lb, "multum-a")["healthy"] is True


def test_lb_responsive_while_backend_hangs(servers, start_lb):
    # The attempts on the hanging server last HANG s; every "not blocked" bound below is far under it.
    # The test ends the hang itself (error503) once it has seen enough, so it never waits HANG out.
    hang = 30.0
    lb = start_lb("--policy", "primary-backup", "--probe-interval", "0.1", "--timeout", str(hang))
    fault(servers["a"], "hang")
    probes_before = backend(lb, "multum-b")["probes"]
    result = {}

    def call():
        result["r"] = check(lb["base"], WARFARIN_IBUPROFEN, timeout=2 * hang)

    t = threading.Thread(target=call)
    t.start()
    try:
        # the request is held by the hanging server (the LB counts requests, not probes)
        assert wait_until(lambda: backend(lb, "multum-a")["requests"] >= 1, hang / 2)
        for _ in range(5):
            t0 = time.monotonic()
            lb_status(lb)
            assert time.monotonic() - t0 < SLACK
            time.sleep(0.1)
        # probing did not stall behind the hanging server's probe
        assert wait_until(lambda: backend(lb, "multum-b")["probes"] >= probes_before + 3, SLACK)
        assert "r" not in result, "the request was answered before the hang ended"
        fault(servers["a"], "error503")  # end the hang: the LB fails over to the backup
    finally:
        t.join(2 * hang)
    assert result["r"].status_code == 200 and result["r"].headers["X-Multum-Server"] == "multum-b"


@pytest.mark.parametrize("args", [["--backend", "nonsense"], ["--backend", "x=http://10.0.0.1:80"],
                                  ["--backend", "x=http://127.0.0.1:1", "--policy", "random"],
                                  ["--backend", "x=http://127.0.0.1:1", "--backend", "x=http://127.0.0.1:2"]])
def test_lb_bad_arguments(args):
    with pytest.raises(SimStartError):
        SimProcess("genrep.sim.multum_lb", args, ready_timeout=10).start()


def _lb_profile(lb: dict, kind: str = "virtual"):
    from dataclasses import replace
    from urllib.parse import urlsplit

    from genrep.config.endpoints import Endpoint
    from genrep.config.profile import load_profile
    port = urlsplit(lb["base"]).port
    profile = load_profile("virtual", defects=()).with_endpoints(
        {"multum_lb": Endpoint("multum_lb", "http", "127.0.0.1", port, base_url=lb["base"])})
    return profile if kind == "virtual" else replace(profile, kind=kind)


def test_await_good_probes_ends_when_the_load_balancer_has_them(servers, start_lb):
    """The steps' teardown wait (steps/multum_steps.py): it ends once the load balancer's status shows N
    good probes of every backend after a fault is cleared, not after a fixed sleep; never before."""
    from genrep.integrations.multum import await_good_probes
    interval, n = 0.1, 4
    lb = start_lb("--policy", "round-robin", "--probe-interval", str(interval), "--failback-after", str(n),
                  "--timeout", PROBE_TIMEOUT)
    profile = _lb_profile(lb)
    fault(servers["a"], "stopped")
    assert wait_until(lambda: not backend(lb, "multum-a")["healthy"], WAIT)
    assert await_good_probes(profile, n, 0.3) is False  # still down: the bound is waited out
    admin(servers["a"], "reset")
    t0 = time.monotonic()
    bound = 2 * WAIT
    assert await_good_probes(profile, n, bound) is True
    waited = time.monotonic() - t0
    assert (n - 1) * interval - 0.05 <= waited < bound / 2, waited  # ended by the probes, not the bound
    a = backend(lb, "multum-a")
    assert a["consecutive_ok"] >= n and a["healthy"] is True


def test_await_content_version_and_no_status_outside_the_virtual_environment(servers, start_lb):
    from genrep.integrations.multum import await_content_version, await_good_probes
    lb = start_lb("--policy", "round-robin", *FAST)
    fault(servers["b"], "version", version="2024.10")
    assert await_content_version(_lb_profile(lb), "multum-b", "2024.10", WAIT) is True
    assert lb_status(lb)["content_versions_differ"] is True
    # an external profile: no status is read, the caller waits its own bound out (False at once:
    # far under one bound, which it would take to wait either bound out)
    bound = 2 * WAIT
    t0 = time.monotonic()
    assert await_good_probes(_lb_profile(lb, "external"), 1, bound) is False
    assert await_content_version(_lb_profile(lb, "external"), "multum-b", "2024.10", bound) is False
    assert time.monotonic() - t0 < bound / 2
