"""Multum steps: interaction checks through the EHR, with faults injected into the drug database.

Faults go through ``genrep.faults`` (the simulators' admin API in the virtual environment; shell
commands or Toxiproxy for a real one). Failover is measured from the outside by a probe that keeps
prescribing a known interacting pair while the fault is in place; the measured failover time,
failed checks and false "no interactions" are compared with ``contracts/multum.yaml`` and
attached to the report with the timeline of requests per server.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import allure
import pytest
from pytest_bdd import given, parsers, then, when

from genrep.config.contracts import load_multum
from genrep.integrations.multum import (CheckResult, FailoverMeasurement, FailoverProbe, PrescribingClient,
                                        await_content_version, await_good_probes, await_load_balancer)
from genrep.results.allure import attach_text

from .patient_steps import Subject

OBSERVE_SECONDS = 4.0  # how long the probe watches after a fault (> the failover objective)
# ... and at most this much longer while the checks have not yet settled (3 good in a row after the
# last slow or failed one) and no failed check after the objective has decided it already
# (FailoverProbe.settle): a busy machine can delay the good checks that show a failover which
# ended in time; the failover time is still measured from the fault against the same objective
SETTLE_SECONDS = 3.0
BASELINE_CHECKS = 10  # normal checks the probe makes before a fault (their median latency is the "slow" baseline)


@dataclass
class MultumScenario:
    subject: Subject
    client: PrescribingClient
    faults: object
    contract: object
    environment: object = None  # the profile (the virtual load balancer's status, where there is one)
    result: CheckResult | None = None
    results: list[CheckResult] = field(default_factory=list)
    measurement: FailoverMeasurement | None = None
    probe: FailoverProbe | None = None
    faulted: list[str] = field(default_factory=list)
    cleared_at: float = 0.0
    latencies: list[float] = field(default_factory=list)
    injected: set[str] = field(default_factory=set)  # every target a fault went into (the teardown waits for them)

    def __repr__(self) -> str:
        return "MultumScenario()"

    def inject(self, target: str, fault: str, **params) -> None:
        self.injected.add(target)  # recorded first: a half-applied fault is still waited for
        self.faults.inject(target, fault, **params)


@pytest.fixture(scope="session")
def multum_contract():
    return load_multum()


@pytest.fixture(scope="session")
def prescribing_client(environment):
    client = PrescribingClient(environment)
    yield client
    client.close()


@pytest.fixture
def mul(subject, prescribing_client, fault_driver, multum_contract, environment):
    scenario = MultumScenario(subject, prescribing_client, fault_driver, multum_contract, environment)
    yield scenario
    if scenario.probe is not None:
        scenario.probe.stop()
    fault_driver.clear()  # every scenario leaves both servers healthy (Toxiproxy-style reset)
    if scenario.injected:  # the load balancer takes its healthy probes to fail back; untouched, it is as it was
        _wait_until_balanced_healthy(scenario)


def _wait_until_balanced_healthy(mul: MultumScenario, timeout: float = 10.0) -> None:
    """After clearing faults: wait until checks succeed again (failback needs N probes).

    The wait for the N good probes is bounded as it always was (N probe intervals and 0.5 s); in the
    virtual environment it ends as soon as the load balancer's status shows N consecutive good probes
    of both servers (the condition the fixed wait stood for), else, or against a real environment
    whose load balancer shows no such status, the bound is waited out."""
    wait = mul.contract.failback_after_healthy_probes * mul.contract.probe_interval_seconds + 0.5
    _or_wait_out(wait, lambda: await_good_probes(mul.environment, mul.contract.failback_after_healthy_probes, wait))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if mul.client.prescribe(mul.subject.fhir_id, [mul.contract.canary[0]], mul.contract.canary[1]).status == "checked":
            return
        time.sleep(0.2)


def _or_wait_out(bound: float, seen) -> None:
    """``seen()`` (a bounded wait for a condition, True once it holds); when it did not, the rest of
    ``bound`` is waited out, as the fixed wait it replaces did."""
    began = time.monotonic()
    if not seen():
        time.sleep(max(0.0, began + bound - time.monotonic()))


def _probe(mul: MultumScenario) -> FailoverProbe:
    probe = FailoverProbe(mul.client, mul.subject.fhir_id, mul.contract.canary, interval=0.05)
    mul.probe = probe
    return probe


def _baseline(probe: FailoverProbe, bound: float) -> None:
    """A baseline of normal checks before the fault: until the probe has ``BASELINE_CHECKS`` good
    checks, at most ``bound`` seconds (the fixed wait this replaces; a baseline that is not there by
    then is what it was: the measurement falls back to its default latency)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline and sum(1 for s in list(probe.samples) if s.ok) < BASELINE_CHECKS:
        time.sleep(0.01)


# ---------------------------------------------------------------------------------- Given ---
@given("both Multum servers are healthy")
@given("båda Multum-servrarna är friska")
def given_healthy(mul):
    # the virtual load balancer may still be failing back from an earlier scenario, or a busy
    # machine may have held a server past a probe: until its status shows both servers healthy
    # again (bounded; no status to read against a real environment: nothing waited)
    await_good_probes(mul.environment, mul.contract.failback_after_healthy_probes, 10.0)
    result = mul.client.prescribe(mul.subject.fhir_id, [mul.contract.canary[0]], mul.contract.canary[1])
    assert result.status == "checked", f"environment_not_ready: interaction checks fail before any fault: {result.reason}"


@given("both Multum servers are down")
@given("båda Multum-servrarna är nere")
def given_both_down(mul):
    for target in ("multum-a", "multum-b"):
        mul.inject(target, "stopped")
    mul.faulted = ["multum-a", "multum-b"]


@given(parsers.parse('Multum server "{target}" answers with content version "{version}"'))
@given(parsers.parse('Multum-servern "{target}" svarar med innehållsversion "{version}"'))
def given_version(mul, target, version):
    mul.inject(target, "version", version=version)
    # the load balancer learns versions from its probes: three probe intervals at most, less once its
    # status (virtual environment) shows it has learned this one
    wait = mul.contract.probe_interval_seconds * 3
    # the status is waited for longer than the three intervals (a busy machine delays the probes;
    # how fast versions are learned is not what these scenarios judge)
    _or_wait_out(wait, lambda: await_content_version(mul.environment, target, version, max(wait, 10.0)))


@given(parsers.parse('both Multum servers fail their "{check}" check'))
@given(parsers.parse('båda Multum-servrarna misslyckas med kontrollen "{check}"'))
def given_partial(mul, check):
    for target in ("multum-a", "multum-b"):
        mul.inject(target, "partial", check=check)


# ----------------------------------------------------------------------------------- When ---
@when(parsers.parse('the clinician prescribes "{new}" to a patient taking "{current}"'))
@when(parsers.parse('läkaren förskriver "{new}" till en patient som tar "{current}"'))
def when_prescribe(mul, new, current):
    mul.result = mul.client.prescribe(mul.subject.fhir_id, [current], new)
    attach_text("Interaction check result", repr(mul.result.raw or mul.result))


@when(parsers.parse('Multum server "{target}" fails ({fault}) while clinicians prescribe'))
@when(parsers.parse('Multum-servern "{target}" slutar fungera ({fault}) medan läkare förskriver'))
def when_fault_under_traffic(mul, target, fault):
    probe = _probe(mul)
    probe.start()
    _baseline(probe, 1.0)  # a baseline of normal checks first
    fault_at = time.monotonic()
    mul.inject(target, fault)
    mul.faulted.append(target)
    time.sleep(OBSERVE_SECONDS)
    probe.settle(fault_at, mul.contract.max_failover_seconds, SETTLE_SECONDS)
    probe.stop()
    mul.measurement = probe.measure(fault_at)
    _attach_measurement(mul)


@when(parsers.parse('Multum server "{target}" fails and recovers while clinicians prescribe'))
@when(parsers.parse('Multum-servern "{target}" går ner och kommer tillbaka medan läkare förskriver'))
def when_fail_and_recover(mul, target):
    probe = _probe(mul)
    probe.start()
    _baseline(probe, 0.8)  # the server in rotation, answering, before it goes down
    mul.inject(target, "stopped")
    mul.faulted.append(target)
    time.sleep(1.5)
    # down as the load balancer sees it before it recovers (virtual: its status, bounded; a busy
    # machine can delay the probes that mark it down, and a server never marked down cannot fail back)
    await_load_balancer(mul.environment, lambda backends: any(
        b.get("name") == target and b.get("healthy") is False for b in backends), 10.0)
    # the time just before the clear: a pause of the harness right after it must not make the
    # load balancer's wait look shorter than it was (an early failback still shows: the clear
    # itself takes milliseconds)
    mul.cleared_at = time.monotonic()
    mul.faults.clear(target)
    time.sleep(OBSERVE_SECONDS)
    probe.stop()
    attach_text("Timeline: checks per server per 0.5 s (CSV)", probe.timeline(), kind="text")


@when(parsers.parse("clinicians prescribe {count:d} times with both servers healthy"))
@when(parsers.parse("läkare förskriver {count:d} gånger med båda servrarna friska"))
def when_prescribe_many(mul, count):
    mul.results = [mul.client.prescribe(mul.subject.fhir_id, [mul.contract.canary[0]], mul.contract.canary[1])
                   for _ in range(count)]


@when(parsers.parse('twice the peak prescribing load runs with Multum server "{target}" down'))
@when(parsers.parse('dubbla toppbelastningen av förskrivningar körs med Multum-servern "{target}" nere'))
def when_double_peak(mul, target):
    mul.inject(target, "stopped")
    mul.faulted.append(target)
    rate = 2 * mul.contract.peak_checks_per_second
    total = int(rate * mul.contract.load_test_seconds)
    start = time.monotonic()
    lock = threading.Lock()

    def one(i: int) -> None:
        time.sleep(max(0.0, start + i / rate - time.monotonic()))  # open-model arrivals at 2x peak
        r = mul.client.prescribe(mul.subject.fhir_id, [mul.contract.canary[0]], mul.contract.canary[1])
        with lock:
            mul.results.append(r)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(total)))
    mul.latencies = sorted(r.elapsed * 1000 for r in mul.results)
    attach_text("Load at 2x peak", f"{total} checks at {rate:.0f}/s over {mul.contract.load_test_seconds:.0f} s "
                f"with {target} down; p50 {statistics.median(mul.latencies):.0f} ms, p95 {_p95(mul.latencies):.0f} ms; "
                f"statuses: {_count(r.status for r in mul.results)}")


def _p95(values: list[float]) -> float:
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))] if values else float("inf")


def _count(items) -> dict:
    out: dict = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def _attach_measurement(mul: MultumScenario) -> None:
    m = mul.measurement
    text = m.describe(mul.contract.max_failover_seconds)
    attach_text("Failover measurement", text)
    attach_text("Timeline: checks per server per 0.5 s (CSV)", mul.probe.timeline())
    if m.failover_seconds is not None:
        allure.dynamic.parameter("measured failover seconds", f"{m.failover_seconds:.2f}")
    allure.dynamic.parameter("failover objective seconds", f"{mul.contract.max_failover_seconds:.2f}")


# ----------------------------------------------------------------------------------- Then ---
@then(parsers.parse('the EHR reports a "{severity}" interaction between "{a}" and "{b}"'))
@then(parsers.parse('journalen visar en interaktion av graden "{severity}" mellan "{a}" och "{b}"'))
def then_interaction(mul, severity, a, b):
    r = mul.result
    assert r.performed, f"check_not_performed: the interaction check was not performed: {r.reason}"
    hits = [i for i in r.interactions if {d.lower() for d in i.get("drugs", [])} == {a.lower(), b.lower()}]
    assert hits, (f"false_no_interactions: the EHR reported no interaction between {a} and {b}"
                  if not r.interactions else f"missed_interaction: {a}+{b} not among {r.interactions}")
    assert hits[0].get("severity") == severity, f"wrong_severity: {hits[0].get('severity')} instead of {severity}"


@then("interaction checks fail over within the contract's objectives")
@then("växlar interaktionskontrollerna över inom kontraktets mål")
def then_failover(mul):
    m = mul.measurement
    c = mul.contract
    assert m.recovered and m.failover_seconds is not None and m.failover_seconds <= c.max_failover_seconds, (
        f"failover_failed: {m.describe(c.max_failover_seconds)}")
    assert m.failed_checks <= c.max_failed_checks_during_failover, (
        f"failover_failed: {m.failed_checks} checks failed while failing over (allowed "
        f"{c.max_failed_checks_during_failover}); {m.describe()}")


@then('no check answered "no interactions" for a pair that interacts')
@then('svarade ingen kontroll "inga interaktioner" för ett par som interagerar')
def then_no_false_negative(mul):
    m = mul.measurement
    false_neg = m.false_no_interactions if m is not None else sum(
        1 for r in mul.results if r.status == "checked" and not r.has_interaction(*mul.contract.canary))
    assert false_neg <= mul.contract.max_false_no_interactions, (
        f"false_no_interactions: {false_neg} check(s) said 'no interactions' for {'+'.join(mul.contract.canary)}")


@then("the EHR says the interaction check was not performed")
@then("visar journalen att interaktionskontrollen inte utfördes")
def then_not_performed(mul):
    r = mul.result
    if r.status == "checked" and not r.interactions:
        raise AssertionError("false_no_interactions: the check failed but the EHR said 'no interactions'")
    assert r.status == "not-performed", f"unexpected_status: {r.status} ({r.reason})"
    assert r.reason, "unclear_outcome: 'not performed' without a reason"


@then("the failed check is recorded in the audit log")
@then("registreras den misslyckade kontrollen i granskningsloggen")
def then_audited(mul):
    entries = mul.client.audit(mul.subject.fhir_id)
    assert any(e.get("status") == "not-performed" and e.get("reason") for e in entries), (
        f"not_audited: no 'not performed' entry in the audit log ({len(entries)} entries)")


@then(parsers.parse('"{target}" gets traffic back only after the contract\'s healthy probes, without flapping'))
@then(parsers.parse('får "{target}" trafik igen först efter kontraktets godkända hälsokontroller, utan att pendla'))
def then_failback(mul, target):
    probe = mul.probe
    back = [s for s in probe.samples if s.started >= mul.cleared_at and s.ok and s.result.server == target]
    assert back, f"no_failback: {target} recovered but got no traffic back within {OBSERVE_SECONDS} s"
    waited = back[0].started - mul.cleared_at
    minimum = (mul.contract.failback_after_healthy_probes - 1) * mul.contract.probe_interval_seconds
    assert waited >= minimum, (f"early_failback: {target} got traffic {waited:.2f} s after recovering, before "
                               f"{mul.contract.failback_after_healthy_probes} healthy probes ({minimum:.2f} s)")
    later = [s for s in probe.samples if s.started > back[0].started]
    failures = [s for s in later if not s.ok]
    assert not failures, f"flapping: {len(failures)} failed checks after failback"
    attach_text("Failback", f"{target} got traffic again {waited:.2f} s after it recovered (minimum {minimum:.2f} s)")


@then("the differing content versions are flagged")
@then("flaggas de olika innehållsversionerna")
def then_versions_flagged(mul):
    r = mul.result
    assert r.performed, f"check_not_performed: {r.reason}"
    assert r.raw.get("content_versions_differ") is True, (
        f"versions_not_flagged: servers run different content versions but the result does not say so "
        f"(answered by {r.server}, version {r.content_version})")


@then(parsers.parse('the result is labelled partial, naming "{check}" as not performed'))
@then(parsers.parse('märks resultatet som ofullständigt och anger att "{check}" inte utfördes'))
def then_partial(mul, check):
    r = mul.result
    if r.status == "checked":
        raise AssertionError(f"partial_not_labelled: the {check} check failed but the result says 'checked'")
    assert r.status == "partial", f"unexpected_status: {r.status} ({r.reason})"
    assert check in r.raw.get("not_performed", []), f"partial_unnamed: not_performed = {r.raw.get('not_performed')}"


@then("each server answered its share of the checks within the contract's tolerance")
@then("besvarade varje server sin andel av kontrollerna inom kontraktets tolerans")
def then_balanced(mul):
    ok = [r for r in mul.results if r.status == "checked"]
    assert len(ok) == len(mul.results), f"checks_failed: {len(mul.results) - len(ok)} of {len(mul.results)} failed"
    counts = _count(r.server for r in ok)
    attach_text("Checks per server", repr(counts))
    tol = mul.contract.balance_tolerance
    for server in ("multum-a", "multum-b"):
        share = counts.get(server, 0) / len(ok)
        assert abs(share - 0.5) <= tol, (f"unbalanced: {server} answered {share:.0%} of the checks "
                                         f"(allowed 50% +- {tol:.0%}); per server: {counts}")


@then("the p95 latency of interaction checks meets the contract's objective")
@then("uppfyller interaktionskontrollernas p95-svarstid kontraktets mål")
def then_latency(mul):
    p95 = _p95(mul.latencies)
    failed = [r for r in mul.results if not r.performed]
    assert not failed, f"failover_failed: {len(failed)} of {len(mul.results)} checks not performed under load"
    assert p95 <= mul.contract.check_latency_p95_ms, (
        f"latency_slo_missed: p95 {p95:.0f} ms > objective {mul.contract.check_latency_p95_ms:.0f} ms")
    allure.dynamic.parameter("p95 ms", f"{p95:.0f}")
