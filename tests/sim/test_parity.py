"""Like-for-like entry points over real sockets: the virtual environment's two EHR nodes (``ehr`` and
``ehr-b``, each its own process and ports), each node's ``GET /fhir/$fingerprint`` (sim.ehr_fingerprint)
read and judged by genrep.parity: alike when clean, exactly the differences of each ``ehr-b`` defect, and
an entry point whose port is closed an outage (exit 3), never "differs"."""

from __future__ import annotations

from dataclasses import replace

import pytest

from genrep import parity
from genrep.config.parity import INTEGRATIONS, load_parity
from genrep.config.profile import Endpoint, load_profile
from genrep.errors import ConnectionRefused
from genrep.sim.ehr_fingerprint import CONFIGURATION, SOFTWARE_VERSION
from genrep.sim.process import NODE_ENDPOINTS, start_virtual_environment

CONTRACT = load_parity()
NO_MULTUM = "parity-node-b-no-multum"
NO_TEMPLATES = "parity-node-b-no-schedule-templates"


@pytest.fixture(scope="module")
def environments():
    """Factory, once per module and defect set: ``environments(*defects)`` -> the running environment's
    profile (every environment stopped when the module ends)."""
    started: dict[tuple[str, ...], object] = {}

    def _get(*defects: str):
        if defects not in started:
            started[defects] = start_virtual_environment(load_profile("virtual", defects=defects))
        return started[defects].profile

    yield _get
    for venv in started.values():
        venv.stop()


def fingerprints(profile) -> dict[str, dict]:
    return {e.name: parity.read_fingerprint(profile.through("ehr", e.name), CONTRACT)
            for e in parity.entry_points(profile, "ehr")}


def test_two_nodes_each_their_own_process_and_fingerprint(environments):
    profile = environments()
    a, b = parity.entry_points(profile, "ehr")
    assert (a.name, b.name) == ("node-a", "node-b")
    assert set(a.endpoints) == set(b.endpoints) == set(NODE_ENDPOINTS)
    for name in ("radiology_mllp", "ehr_fhir", "ehr_api"):  # node b is reached on ports of its own
        assert a.endpoints[name].port != b.endpoints[name].port
        assert a.endpoints[name] == profile.endpoints[name]  # node a: the profile's own EHR
    fps = fingerprints(profile)
    for node, fp in fps.items():
        assert fp["node"] == node
        assert fp["software_version"] == SOFTWARE_VERSION
        assert {k: v["reachable"] for k, v in fp["integrations"].items()} == {k: True for k in INTEGRATIONS}
        assert fp["schedule_templates"] == CONFIGURATION["schedule_templates"]
        assert fp["booking_types"] == CONFIGURATION["booking_types"]
        assert parity.own_problems(fp, CONTRACT) == []
    assert parity.differences(fps["node-a"], fps["node-b"], CONTRACT, "node-a") == []


def test_clean_environment_is_alike_smoke_journey_and_all(environments):
    report = parity.run_parity(environments(), "ehr", contract=CONTRACT)
    assert report.exit_code == parity.EXIT_ALIKE, "\n".join(report.lines())
    assert [e.name for e in report.entries] == ["node-a", "node-b"] and report.reference == "node-a"
    for e in report.entries:
        assert e.alike and not e.unreachable and not e.problems and not e.differences
        assert e.smoke is not None and e.smoke.ok and len(e.smoke.steps) == 5, e.smoke.steps


def test_node_b_without_multum_gives_exactly_its_differences(environments):
    report = parity.run_parity(environments(NO_MULTUM), "ehr", contract=CONTRACT)
    a, b = report.entries
    assert report.exit_code == parity.EXIT_DIFFER, "\n".join(report.lines())
    assert a.alike and a.smoke.ok
    assert not b.unreachable and not b.alike
    assert b.differences == ["integrations.multum: reachable at node-a, not reachable here"]
    assert len(b.problems) == 1 and b.problems[0].startswith("multum is not reachable from this entry point (")
    # prescribing fails there only: every smoke step passes but the interaction check
    failures = b.smoke.failures()
    assert len(failures) == 1 and failures[0].startswith("interaction check "), b.smoke.steps
    assert not b.smoke.unreachable
    assert parity.unreachable_message(report.entries) == ""


def test_node_b_without_schedule_templates_gives_exactly_its_differences(environments):
    report = parity.run_parity(environments(NO_TEMPLATES), "ehr", contract=CONTRACT)
    a, b = report.entries
    assert report.exit_code == parity.EXIT_DIFFER, "\n".join(report.lines())
    assert a.alike
    portal = "Webbokning provtagning"
    assert b.differences == [
        f"schedule templates missing {sorted(CONFIGURATION['schedule_templates'])} (compared with node-a)",
        f"booking type {portal!r} has resources [] here, {CONFIGURATION['booking_types'][portal]} at node-a"]
    assert b.problems == ["no schedule templates are loaded",
                          f"booking type {portal!r} has no resources (it cannot be booked)"]
    assert b.smoke.ok and not b.unreachable  # the journey does not book: it passes through node b


def _closed(port: int, ep: Endpoint) -> Endpoint:
    if ep.base_url:
        scheme, rest = ep.base_url.split("://", 1)
        path = rest.split("/", 1)[1] if "/" in rest else ""
        return replace(ep, port=port, base_url=f"{scheme}://{ep.host}:{port}/{path}")
    return replace(ep, port=port)


def with_node_b_closed(profile):
    """``profile`` with entry point node-b's every endpoint on a loopback port nothing listens on."""
    from genrep.sim.ehr_fingerprint import closed_port_url
    port = int(closed_port_url().rsplit(":", 1)[1])
    a, b = profile.entry_points["ehr"]
    b = replace(b, endpoints={k: _closed(port, ep) for k, ep in b.endpoints.items()})
    return replace(profile, entry_points={**profile.entry_points, "ehr": (a, b)})


@pytest.mark.parametrize("smoke", [True, False], ids=["with-smoke", "fingerprints-only"])
def test_a_closed_entry_point_is_an_outage_never_differs(environments, smoke):
    profile = with_node_b_closed(environments())
    with pytest.raises(ConnectionRefused):
        parity.read_fingerprint(profile.through("ehr", "node-b"), CONTRACT)
    report = parity.run_parity(profile, "ehr", contract=CONTRACT, smoke=smoke)
    a, b = report.entries
    assert report.exit_code == parity.EXIT_UNREACHABLE, "\n".join(report.lines())
    assert a.alike
    assert b.unreachable.startswith("the fingerprint could not be read (")
    assert b.fingerprint is None and b.differences == [] and b.problems == []
    if smoke:
        assert b.smoke.unreachable and b.smoke.steps == []  # stopped at the first connection, no verdict
    lines = report.lines()
    assert "  node-b (node): UNREACHABLE" in lines and not any("DIFFERS" in ln for ln in lines)
    assert parity.differ_message(report.entries, "node-a") == ""
    assert parity.misconfigured_message(report.entries) == ""
    assert parity.smoke_message(report.entries) == ""
    assert parity.unreachable_message(report.entries).startswith("environment_unavailable: 1 entry point(s)")
