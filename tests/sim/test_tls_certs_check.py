"""The certificate check (``genrep.certs.check_server``, behind ``genrep certs check``) against real
TLS listeners presenting generated certificates: valid, 5 days left, expired, not yet valid, signed
by another CA, issued for another host; and an endpoint that is not listening."""

from __future__ import annotations

import pytest

from genrep.certs import check_profile, check_server

from .conftest import closed_port
from .test_tls_support import RecordingServer, good_server_context, make_certs, profile_with, tls_endpoint


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("pki"))


def check(certs, pair, *, min_days=30, client=None, client_ca=False, server_name=""):
    with RecordingServer(good_server_context(certs, pair, client_ca=client_ca)) as srv:
        ep = tls_endpoint("ehr_fhir", "http", srv.port, ca=certs.ca, client=client, server_name=server_name)
        status = check_server(profile_with({"ehr_fhir": ep}), ep)
    assert bytes(srv.data) == b"", "the check must send no application data"
    return status, status.failures(min_days)


def test_valid_certificate(certs):
    status, failures = check(certs, certs.good)
    assert failures == [] and status.ok(30)
    assert status.chain_ok is True and status.hostname_ok is True
    assert 364 < status.days_left <= 365
    assert "genrep throw-away test CA" in status.issuer and "127.0.0.1" in status.subject
    assert status.handshake_ms is not None and status.handshake_ms < 1000


def test_five_days_left_is_under_the_threshold_but_valid(certs):
    status, failures = check(certs, certs.five_days)
    assert status.chain_ok and status.hostname_ok and 4.9 < status.days_left <= 5
    assert failures == ["expiring (under 30 days)"] and not status.ok(30)
    assert status.ok(5 - 1)  # a lower threshold accepts it
    assert "4.9 days left" in status.describe(30) or "5.0 days left" in status.describe(30)


def test_expired_certificate(certs):
    status, failures = check(certs, certs.expired)
    assert status.chain_ok is False and status.days_left < 0
    assert failures == ["expired"] and "has expired" in status.error


def test_not_yet_valid_certificate(certs):
    status, failures = check(certs, certs.not_yet_valid)
    assert status.chain_ok is False and failures == ["not_yet_valid"]


def test_certificate_from_another_ca(certs):
    status, failures = check(certs, certs.wrong_ca)
    assert status.chain_ok is False and status.hostname_ok is True
    assert failures == ["untrusted"] and "not signed by a trusted CA" in status.error


def test_certificate_for_another_host(certs):
    status, failures = check(certs, certs.wrong_host)
    assert status.chain_ok is True and status.hostname_ok is False
    assert failures == ["hostname_mismatch"]
    # the same certificate is right when the profile names the host it was issued for
    status, failures = check(certs, certs.wrong_host, server_name="ehr.other.example")
    assert failures == [] and status.hostname_ok


def test_server_requiring_client_certificate_is_checked_with_the_profiles_client_cert(certs):
    status, failures = check(certs, certs.good, client=certs.client, client_ca=True)
    assert failures == [] and status.chain_ok and status.hostname_ok


def test_unreachable_endpoint_is_reported_not_judged(certs):
    ep = tls_endpoint("ehr_fhir", "http", closed_port(), ca=certs.ca)
    status = check_server(profile_with({"ehr_fhir": ep}, connect=1.0), ep)
    assert not status.reachable and not status.ok(30) and "cannot connect" in status.error
    assert status.days_left is None


def test_check_profile_groups_endpoints_and_includes_client_certificates(certs):
    with RecordingServer(good_server_context(certs, certs.good, client_ca=True)) as srv:
        eps = {name: tls_endpoint(name, "http", srv.port, ca=certs.ca, client=certs.client)
               for name in ("ehr_fhir", "ehr_api")}
        statuses = check_profile(profile_with(eps))
    servers = [s for s in statuses if s.kind == "server"]
    clients = [s for s in statuses if s.kind == "client"]
    assert len(servers) == 1 and servers[0].label == "ehr_fhir, ehr_api"
    assert len(clients) == 1 and "ehr_fhir, ehr_api" in clients[0].label
    assert all(s.ok(30) for s in statuses)
