"""The certificate check's judgement on generated certificates (valid, 5 days left, expired, not yet
valid, wrong host, wrong CA), its Allure results and how the gate counts them (SEC-CERT-001)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest

from genrep.config.profile import Endpoint, Profile, TLSOptions, Timeouts
from genrep.config.contracts import load_catalogue, load_gate
from genrep.results.gate import decide
from genrep.results.reader import ScenarioResult, read_results
from genrep.certs import (CERT_REQUIREMENT, CertStatus, check_client_certificate, host_matches, write_allure_results)
from genrep.transport.pki import ThrowawayCA

NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(scope="module")
def ca():
    return ThrowawayCA()


def client_endpoint(tmp_path, issued, *, key_from=None) -> tuple[Profile, Endpoint]:
    issued.write(tmp_path / "c.pem", tmp_path / "c.key")
    if key_from is not None:
        key_from.write(tmp_path / "other.pem", tmp_path / "c.key")
    ca_file = tmp_path / "ca.pem"
    ep = Endpoint("radiology_mllp", "mllp", "ehr.test.example", 2575, tls=True,
                  tls_options=TLSOptions(ca_file=str(ca_file), client_cert=str(tmp_path / "c.pem"),
                                         client_key=str(tmp_path / "c.key")))
    return Profile("p", "external", "", {"radiology_mllp": ep}, Timeouts(), file="p.yaml"), ep


@pytest.mark.parametrize("kwargs, days, problems", [
    ({"days": 365}, (364.9, 365.0), []),
    ({"days": 5}, (4.9, 5.0), ["expiring (under 30 days)"]),
    ({"not_before": NOW - dt.timedelta(days=90), "not_after": NOW - dt.timedelta(days=2)}, (-2.01, -1.99), ["expired"]),
    ({"not_before": NOW + dt.timedelta(days=3), "days": 400}, (399, 400.1), ["not_yet_valid"]),
])
def test_client_certificate_validity(tmp_path, ca, kwargs, days, problems):
    ca.write(tmp_path / "ca.pem")
    p, ep = client_endpoint(tmp_path, ca.issue(client_name="c", **kwargs))
    status = check_client_certificate(p, ep)
    assert days[0] <= status.days_left <= days[1]
    assert status.failures(30) == problems
    assert status.ok(30) is (problems == [])


def test_client_certificate_with_the_wrong_key_is_unusable(tmp_path, ca):
    ca.write(tmp_path / "ca.pem")
    p, ep = client_endpoint(tmp_path, ca.issue(client_name="c"), key_from=ca.issue(client_name="d"))
    status = check_client_certificate(p, ep)
    assert status.failures(30) == ["unusable"] and "does not belong" in status.error


def test_host_matching(ca):
    cert = ca.issue("127.0.0.1", "ehr.test.example", "*.fhir.test.example").cert
    assert host_matches(cert, "127.0.0.1") and host_matches(cert, "EHR.test.example.")
    assert host_matches(cert, "r4.fhir.test.example")
    assert not host_matches(cert, "a.b.fhir.test.example")  # a wildcard covers one label
    assert not host_matches(cert, "fhir.test.example")
    assert not host_matches(cert, "127.0.0.2") and not host_matches(cert, "other.example")
    assert not host_matches(ca.issue(client_name="no san").cert, "no san")  # no common-name fallback


def status(kind="server", **kw) -> CertStatus:
    base = dict(label="ehr_fhir", address="h:443", server_name="h", subject="CN=h", issuer="CN=ca",
                not_after="2027-01-01T00:00:00+00:00", days_left=300.0, chain_ok=True, hostname_ok=True)
    base.update(kw)
    return CertStatus(kind, **base)


def test_allure_results_carry_the_requirement_and_the_gate_counts_them(tmp_path):
    results = tmp_path / "results"
    good = [status(), status("client", label="virtual", address="/x/c.pem", days_left=200.0)]
    written = write_allure_results(results, good, min_days=30, environment="virtual-tls (virtual)")
    assert len(written) == 2
    data = json.loads(written[0].read_text(encoding="utf-8"))
    labels = {lb["name"]: lb["value"] for lb in data["labels"]}
    assert labels["requirement"] == CERT_REQUIREMENT and labels["severity"] == "critical"
    assert {p["name"] for p in data["parameters"]} >= {"days left", "not after", "minimum days", "chain valid"}
    rules = load_gate()
    verdict = decide(read_results(results), load_catalogue(), rules.thresholds)
    assert verdict.go, verdict.reasons
    assert verdict.requirements[CERT_REQUIREMENT].status == "passed"

    # a rerun replaces the earlier certificate results; an expiring one is a critical defect
    bad = [status(days_left=5.0), status(label="nll_fhir", chain_ok=False, problems=["untrusted"])]
    write_allure_results(results, bad, min_days=30, environment="x")
    scenario_results = read_results(results)
    assert len(scenario_results) == 2 and all(r.failed for r in scenario_results)
    kinds = sorted(k for r in scenario_results for k in r.kinds)
    assert kinds == ["cert_expiring", "cert_invalid"]
    verdict = decide(scenario_results, load_catalogue(), rules.thresholds)
    assert not verdict.go
    assert any(CERT_REQUIREMENT in r and "critical" in r for r in verdict.reasons)
    assert verdict.defects["interface test"]["critical"] == 2


def test_a_rehearsal_without_certificate_results_is_not_held_up_by_the_requirement():
    cat = load_catalogue()
    assert cat[CERT_REQUIREMENT].integration == "security" and cat[CERT_REQUIREMENT].negative
    # results of one integration (radiology) exercise only it: SEC-CERT-001 is neither counted nor required
    reqs = [rid for rid, r in cat.items() if r.integration == "radiology"]
    results = [ScenarioResult(name=rid, full_name=rid, status="passed", message="", requirements=[rid],
                              history_id=rid) for rid in reqs]
    verdict = decide(results, cat)
    assert verdict.go, verdict.reasons
    assert CERT_REQUIREMENT not in verdict.requirements


def test_unreachable_endpoint_fails_the_result(tmp_path):
    s = replace(status(), reachable=False, days_left=None, error="cannot connect to h:443 (refused)")
    path, = write_allure_results(tmp_path, [s], min_days=30, environment="x")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["status"] == "failed" and data["statusDetails"]["message"].startswith("cert_unreachable: ")
