"""Client SSLContexts from profile endpoints, the one factory for clients, and how ssl failures
become clear genrep errors. (Over real sockets: tests/sim/test_tls_transport.py.)"""

from __future__ import annotations

import ssl
import time
from dataclasses import replace

import pytest

from genrep.config.profile import Endpoint, Profile, TLSOptions, Timeouts
from genrep.errors import CertificateError, ConfigError, TLSError
from genrep.transport.http import HttpTransport
from genrep.secrets import forget_secrets
from genrep.transport.pki import ThrowawayCA
from genrep.transport.tls import classify, client_context, tls_error
from genrep.transport.endpoints import http_transport_for, mllp_client_for

PASSWORD = "fake-unit-key-password-2b7d"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = ThrowawayCA()
    ca.write(d / "ca.pem")
    ca.issue(client_name="unit client").write(d / "client.pem", d / "client.key")
    ca.issue(client_name="unit client enc").write(d / "enc.pem", d / "enc.key", password=PASSWORD)
    ThrowawayCA("other").issue(client_name="x").write(d / "other.pem", d / "other.key")
    return d


@pytest.fixture(autouse=True)
def _clean_registry():
    yield
    forget_secrets()


def profile(**eps) -> Profile:
    return Profile(name="unit", kind="external", description="", endpoints=eps,
                   timeouts=Timeouts(connect=1.5, read=4.0), file="unit.yaml")


def ep(name="ehr_fhir", protocol="http", **opts) -> Endpoint:
    base = "https://fhir.test.example/r4" if protocol == "http" else ""
    return Endpoint(name, protocol, "fhir.test.example", 443, base_url=base, tls=True,
                    tls_options=TLSOptions(**opts))


def test_client_context_is_strict(pki):
    e = ep(ca_file=str(pki / "ca.pem"))
    ctx = client_context(profile(ehr_fhir=e), e)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert len(ctx.get_ca_certs()) == 1  # only the configured CA, not the system store as well
    e13 = replace(e, tls_options=replace(e.tls_options, min_version="TLSv1.3"))
    assert client_context(profile(ehr_fhir=e13), e13).minimum_version == ssl.TLSVersion.TLSv1_3


def test_plaintext_endpoint_has_no_context():
    e = Endpoint("ehr_fhir", "http", "h.example", 80, base_url="http://h.example")
    assert client_context(profile(ehr_fhir=e), e) is None


def test_encrypted_key_with_password_from_env(pki, monkeypatch):
    monkeypatch.setenv("UNIT_KEY_PW", PASSWORD)
    e = ep(ca_file=str(pki / "ca.pem"), client_cert=str(pki / "enc.pem"), client_key=str(pki / "enc.key"),
           client_key_password_env="UNIT_KEY_PW")
    assert client_context(profile(ehr_fhir=e), e) is not None


@pytest.mark.parametrize("password", [None, "fake-wrong-password-x1"])
def test_wrong_or_missing_key_password_is_a_config_error_not_a_prompt(pki, monkeypatch, password):
    opts = dict(ca_file=str(pki / "ca.pem"), client_cert=str(pki / "enc.pem"), client_key=str(pki / "enc.key"))
    if password:
        monkeypatch.setenv("UNIT_KEY_PW", password)
        opts["client_key_password_env"] = "UNIT_KEY_PW"
    e = ep(**opts)
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        client_context(profile(ehr_fhir=e), e)
    assert time.monotonic() - start < 2  # never waits for a password on a terminal
    err = info.value
    assert err.key == "endpoints.ehr_fhir.tls.client_cert" and "key password" in str(err)
    assert PASSWORD not in str(err) and (password is None or password not in str(err))


def test_key_from_another_certificate_is_refused(pki):
    e = ep(ca_file=str(pki / "ca.pem"), client_cert=str(pki / "client.pem"), client_key=str(pki / "other.key"))
    with pytest.raises(ConfigError, match="does not belong to the certificate|key"):
        client_context(profile(ehr_fhir=e), e)


def test_missing_password_variable_names_the_key(pki, monkeypatch):
    monkeypatch.delenv("UNIT_KEY_PW", raising=False)
    e = ep(ca_file=str(pki / "ca.pem"), client_cert=str(pki / "enc.pem"), client_key=str(pki / "enc.key"),
           client_key_password_env="UNIT_KEY_PW")
    err = pytest.raises(ConfigError, client_context, profile(ehr_fhir=e), e).value
    assert err.key == "endpoints.ehr_fhir.tls.client_key_password_env" and "UNIT_KEY_PW" in str(err)


def test_factories_carry_tls_timeouts_and_names(pki, monkeypatch):
    monkeypatch.setenv("UNIT_TOKEN", "fake-unit-token-55aa")
    h = replace(ep(ca_file=str(pki / "ca.pem"), server_name="fhir-int.test.example"), credential_env="UNIT_TOKEN")
    m = Endpoint("radiology_mllp", "mllp", "fhir.test.example", 2575, tls=True,
                 tls_options=TLSOptions(ca_file=str(pki / "ca.pem")))
    p = profile(ehr_fhir=h, radiology_mllp=m)
    t = http_transport_for(p, "ehr_fhir")
    assert t.tls and t.timeout == (1.5, 4.0) and t.name == "ehr_fhir"
    assert t.server_hostname == "fhir-int.test.example"
    assert t.session.headers["Authorization"] == "Bearer fake-unit-token-55aa"
    assert "fake-unit-token" not in repr(t)
    c = mllp_client_for(p, "radiology_mllp", read_timeout=9)
    assert c.tls and c.name == "radiology_mllp" and c.server_hostname == "fhir.test.example"
    assert (c.connect_timeout, c.read_timeout) == (1.5, 9.0)
    with pytest.raises(ConfigError, match="not mllp"):
        mllp_client_for(p, "ehr_fhir")
    with pytest.raises(ConfigError, match="not in environment profile"):
        http_transport_for(p, replace(h, host="evil.example"))


def test_tls_transport_refuses_plain_http_urls_before_connecting(pki):
    e = ep(ca_file=str(pki / "ca.pem"))
    t = http_transport_for(profile(ehr_fhir=e), e)
    with pytest.raises(TLSError) as info:  # e.g. a Bundle next link pointing at http://
        t.request("GET", "http://fhir.test.example/r4/Patient?page=2")
    assert info.value.reason == "plaintext_url" and "no plaintext fallback" in str(info.value)
    with pytest.raises(TLSError, match="plain http"):
        HttpTransport("http://fhir.test.example", connect_timeout=1, read_timeout=1,
                      ssl_context=ssl.create_default_context())


def _verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    err = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}")
    err.verify_code, err.verify_message = code, message
    return err


@pytest.mark.parametrize("exc, reason", [
    (_verify_error(10, "certificate has expired"), "expired"),
    (_verify_error(9, "certificate is not yet valid"), "not_yet_valid"),
    (_verify_error(20, "unable to get local issuer certificate"), "untrusted"),
    (_verify_error(19, "self-signed certificate in certificate chain"), "untrusted"),
    (_verify_error(64, "IP address mismatch, certificate is not valid for '10.0.0.1'."), "hostname_mismatch"),
    (_verify_error(62, "Hostname mismatch, certificate is not valid for 'x'."), "hostname_mismatch"),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "plaintext"),
    (ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"),
     "client_cert_required"),
    (ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca"), "client_cert_rejected"),
    (ssl.SSLError(1, "[SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired"),
     "client_cert_rejected"),
    (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "peer_closed"),
])
def test_classification(exc, reason):
    wrapped = ConnectionError("pool", OSError("max retries", exc))  # as requests/urllib3 wrap it
    wrapped.__cause__ = exc
    assert classify(exc) == reason and classify(wrapped) == reason


def test_certificate_errors_say_which_and_for_which_endpoint():
    err = tls_error(_verify_error(10, "certificate has expired"), endpoint="ehr_fhir (https://h/r4)",
                    server_name="h", trust="trusted CA file /x/ca.pem")
    assert isinstance(err, CertificateError) and err.reason == "expired" and err.endpoint.startswith("ehr_fhir")
    assert str(err).startswith("expired: TLS to ehr_fhir (https://h/r4) refused: the server certificate has expired")
    err = tls_error(_verify_error(20, "unable to get local issuer certificate"), endpoint="e", trust="trusted CA file /x/ca.pem")
    assert "not signed by a trusted CA (trusted CA file /x/ca.pem)" in str(err)
    err = tls_error(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), endpoint="e")
    assert type(err) is TLSError and "did not answer with TLS" in str(err)
