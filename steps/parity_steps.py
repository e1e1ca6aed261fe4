"""Parity steps: every entry point of a system (profile ``entry_points``) passes the smoke journey and is
configured alike. Thin: ``genrep.parity`` runs the journey, reads and judges the fingerprints and words
the failure messages (``parity_differs``, ``parity_misconfigured``, ``parity_smoke_failed``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pytest_bdd import given, parsers, then, when

from genrep import parity
from genrep.config.parity import load_parity
from genrep.results.allure import attach_text


@dataclass
class ParityScenario:
    system: str = ""
    entries: list = field(default_factory=list)

    def __repr__(self) -> str:
        return "ParityScenario()"


@pytest.fixture
def parity_scenario():
    return ParityScenario()


@pytest.fixture(scope="session")
def parity_contract():
    return load_parity()


@given(parsers.parse('the entry points of the "{system}" system in the profile'))
@given(parsers.parse('ingångarna till systemet "{system}" i profilen'))
def given_entry_points(parity_scenario, environment, system):
    parity_scenario.system = system
    eps = parity.entry_points(environment, system)
    parity_scenario.entries = [parity.EntryReport(e.name, e.kind) for e in eps]
    attach_text("entry points", "\n".join(f"{e.name} ({e.kind})" for e in eps))


@when("the smoke journey runs through every entry point")
@when("smoke-flödet körs genom varje ingång")
def when_smoke(parity_scenario, environment, parity_contract, allowlist, identity_guard, request):
    for e in parity_scenario.entries:
        e.smoke = parity.smoke_journey(environment.through(parity_scenario.system, e.name), parity_contract,
                                       guard=identity_guard, allowlist=allowlist,
                                       seed=f"{request.node.name}-{e.name}")
        attach_text(f"smoke journey through {e.name}",
                    "\n".join(f"{'ok  ' if ok else 'FAIL'} {n}: {d}" for n, ok, d in e.smoke.steps))


@when("the configuration fingerprint of every entry point is read")
@when("konfigurationens fingeravtryck läses från varje ingång")
def when_fingerprints(parity_scenario, environment, parity_contract):
    eps = {e.name: e for e in parity.entry_points(environment, parity_scenario.system)}
    parity_scenario.entries = [parity.fingerprint_entry(environment, parity_scenario.system, eps[e.name],
                                                        parity_contract) for e in parity_scenario.entries]
    parity.compare_entries(parity_scenario.entries, parity_contract)
    for e in parity_scenario.entries:
        attach_text(f"fingerprint of {e.name}", repr(e.fingerprint) if e.fingerprint else e.unreachable)


def _no_unreachable(scenario: ParityScenario) -> None:
    unreachable = [e for e in scenario.entries if e.unreachable or (e.smoke and e.smoke.unreachable)]
    if unreachable:  # an outage, not a product verdict: the transport error goes up as it is
        from genrep.errors import TransportError
        raise TransportError(parity.unreachable_message(unreachable))


@then("the smoke journey passes through each of them")
@then("smoke-flödet lyckas genom var och en av dem")
def then_smoke_passes(parity_scenario):
    _no_unreachable(parity_scenario)
    message = parity.smoke_message(parity_scenario.entries)
    assert not message, message


@then("every entry point is configured like the first")
@then("varje ingång är konfigurerad som den första")
def then_alike(parity_scenario):
    _no_unreachable(parity_scenario)
    message = parity.differ_message(parity_scenario.entries, parity_scenario.entries[0].name)
    assert not message, message


@then("no entry point lacks an integration, its schedule templates or a booking type's resources")
@then("ingen ingång saknar en integration, sina schemamallar eller en bokningstyps resurser")
def then_own_rules(parity_scenario):
    _no_unreachable(parity_scenario)
    message = parity.misconfigured_message(parity_scenario.entries)
    assert not message, message
