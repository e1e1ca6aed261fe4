"""TLS over real sockets: MLLP over TLS and FHIR over HTTPS, with and without client certificates.

Every refusal is proved from both sides: the client raises a clear error naming the problem and the
endpoint, and the server (a recording server on loopback, or the virtual EHR itself) received no
application data: no HL7 (no ``MSH``) and no HTTP request (no token). Each refusal has a positive
control (same server, good certificate: the message goes through), so the tests can fail.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from contextlib import contextmanager

import pytest

from genrep.errors import CertificateError, ConfigError, TLSError
from genrep.transport.endpoints import http_transport_for, mllp_client_for

from .conftest import ack_code, adt, closed_port, health, wait_until
from .test_tls_support import (KEY_PASSWORD, RecordingServer, good_server_context, make_certs, profile_with,
                               tls_endpoint)

HL7 = b"MSH|^~\\&|RIS|RAD|EHR|HOSP|20241120120000||ADT^A04|TLS1|P|2.5\rEVN|A04|20241120120000\r"
ACK = b"\x0bMSH|^~\\&|EHR|HOSP|RIS|RAD|20241120120000||ACK^A04|A1|P|2.5\rMSA|AA|TLS1\r\x1c\r"
TOKEN = "fake-transport-token-3f9c2a"


def mllp_reply(data: bytes) -> bytes | None:
    return ACK if data.endswith(b"\x1c\r") else None


def http_reply(data: bytes) -> bytes | None:
    if b"\r\n\r\n" not in data:
        return None
    body = b'{"resourceType":"CapabilityStatement"}'
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body), body)


REPLIES = {"mllp": mllp_reply, "http": http_reply}

#: a busy CI host can starve this process (client and recording server alike) for seconds: polls
#: for what must happen wait up to this, and "bounded" means within a timeout plus this
SLACK = 10.0


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def _token_env(monkeypatch):
    monkeypatch.setenv("GENREP_TEST_TLS_TOKEN", TOKEN)
    monkeypatch.setenv("GENREP_TEST_KEY_PASSWORD", KEY_PASSWORD)


def endpoint(proto: str, port: int, certs, **kwargs):
    ep = tls_endpoint("ris_link", proto, port, ca=certs.ca, **kwargs)
    if proto == "http":
        from dataclasses import replace
        ep = replace(ep, credential_env="GENREP_TEST_TLS_TOKEN")
    return ep


def exchange(profile, proto: str):
    """Send one HL7 message (mllp) or one authenticated GET (http) through the genrep factories."""
    if proto == "mllp":
        with mllp_client_for(profile, "ris_link") as client:
            return client.send(HL7)
    transport = http_transport_for(profile, "ris_link")
    try:
        return transport.request("GET", "metadata")
    finally:
        transport.close()


def assert_nothing_delivered(srv: RecordingServer) -> None:
    # the server thread records a failed handshake as the last thing it does with the connection
    # (any data it received is recorded before): wait for that, not a fixed time
    assert wait_until(lambda: srv.handshake_errors, SLACK), "the server saw no failed handshake"
    assert srv.connections >= 1, "the client never connected: the test proves nothing"
    assert bytes(srv.data) == b"", f"application data reached the server: {bytes(srv.data)[:80]!r}"


@contextmanager
def silent_recorder(hold: float):
    """A plaintext listener that records what it receives and never answers; it holds each
    connection open for ``hold`` s (the hang a bounded handshake must not wait for), or until the
    block ends. Yields (port, bytearray of what it received)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.1)
    data, stop, threads = bytearray(), threading.Event(), []

    def serve(conn: socket.socket) -> None:
        deadline = time.monotonic() + hold
        with conn:
            conn.settimeout(0.1)
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                data.extend(chunk)

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            t = threading.Thread(target=serve, args=(conn,), daemon=True)
            threads.append(t)
            t.start()

    acceptor = threading.Thread(target=run, daemon=True)
    acceptor.start()
    try:
        yield srv.getsockname()[1], data
    finally:
        stop.set()
        acceptor.join(5)
        for t in threads:
            t.join(5)
        srv.close()


# -- server certificates ---------------------------------------------------------------------------

@pytest.mark.parametrize("proto", ["mllp", "http"])
def test_good_certificate_is_accepted(certs, proto):
    """The positive control for every refusal below: same server code, good certificate."""
    with RecordingServer(good_server_context(certs), reply=REPLIES[proto]) as srv:
        result = exchange(profile_with({"ris_link": endpoint(proto, srv.port, certs)}), proto)
        time.sleep(0.1)
    if proto == "mllp":
        assert ack_code(result) == "AA" and HL7 in bytes(srv.data)
    else:
        assert result.status_code == 200
        assert f"Authorization: Bearer {TOKEN}".encode() in bytes(srv.data)  # it went inside TLS


BAD = [("expired", "expired", "has expired"),
       ("not_yet_valid", "not_yet_valid", "not yet valid"),
       ("wrong_ca", "untrusted", "not signed by a trusted CA"),
       ("wrong_host", "hostname_mismatch", "does not carry the name '127.0.0.1'")]


@pytest.mark.parametrize("proto", ["mllp", "http"])
@pytest.mark.parametrize("cert,reason,words", BAD, ids=[b[0] for b in BAD])
def test_bad_server_certificate_is_refused_before_any_data(certs, proto, cert, reason, words):
    with RecordingServer(good_server_context(certs, getattr(certs, cert)), reply=REPLIES[proto]) as srv:
        profile = profile_with({"ris_link": endpoint(proto, srv.port, certs)})
        with pytest.raises(CertificateError) as info:
            exchange(profile, proto)
        assert_nothing_delivered(srv)
    err = info.value
    text = str(err)
    assert err.reason == reason and text.startswith(f"{reason}: ")
    assert words in text and "ris_link" in text and str(srv.port) in text
    assert "no plaintext fallback" in text
    assert TOKEN not in text


def test_untrusted_message_names_the_trust_and_server_name_can_be_configured(certs):
    # the certificate says ehr.other.example; with server_name set to it the same server is accepted
    with RecordingServer(good_server_context(certs, certs.wrong_host), reply=mllp_reply) as srv:
        profile = profile_with({"ris_link": endpoint("mllp", srv.port, certs, server_name="ehr.other.example")})
        assert ack_code(exchange(profile, "mllp")) == "AA"
    with RecordingServer(good_server_context(certs, certs.wrong_ca), reply=mllp_reply) as srv:
        profile = profile_with({"ris_link": endpoint("mllp", srv.port, certs)})
        with pytest.raises(CertificateError, match=f"trusted CA file {certs.ca}"):
            exchange(profile, "mllp")


# -- a TLS client never falls back to plaintext -----------------------------------------------------

@pytest.mark.parametrize("proto", ["mllp", "http"])
def test_tls_client_against_silent_plaintext_server_sends_no_hl7_or_token(certs, proto):
    """A plaintext listener waiting for data: the TLS handshake times out (bounded by the connect
    timeout), and all the server ever saw was the TLS ClientHello: no MSH, no HTTP request line, no
    token. The listener holds the connection far longer than the bound, and the read timeout is
    longer still, so a handshake bounded by either (or by nothing) would show."""
    connect, hold = 1.0, 60.0
    with silent_recorder(hold) as (port, data):
        profile = profile_with({"ris_link": endpoint(proto, port, certs)}, connect=connect, read=2 * hold)
        start = time.monotonic()
        with pytest.raises(TLSError) as info:
            exchange(profile, proto)
        took = time.monotonic() - start
        assert wait_until(lambda: len(data) > 0, SLACK)
    raw = bytes(data)
    assert info.value.reason == "handshake_timeout" and "did not finish in time" in str(info.value)
    assert connect - 0.05 <= took < connect + SLACK, took
    assert raw[:1] == b"\x16", f"the server did not get a TLS handshake record: {raw[:20]!r}"
    assert b"MSH" not in raw and b"GET " not in raw and TOKEN.encode() not in raw


@pytest.mark.parametrize("proto", ["mllp", "http"])
def test_tls_client_against_answering_plaintext_server_is_refused(certs, proto):
    answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    with RecordingServer(None, reply=lambda data: answer) as srv:
        profile = profile_with({"ris_link": endpoint(proto, srv.port, certs)})
        with pytest.raises(TLSError) as info:
            exchange(profile, proto)
        time.sleep(0.2)
    assert info.value.reason == "plaintext" and "did not answer with TLS" in str(info.value)
    raw = bytes(srv.data)
    assert raw[:1] == b"\x16" and b"MSH" not in raw and TOKEN.encode() not in raw


def test_tls_client_against_the_plain_virtual_ehr_stores_nothing(ehr, certs):
    """The real (plaintext) virtual EHR on its MLLP port: the TLS client fails, the EHR received no
    message (its counters do not move), and it still serves plaintext clients."""
    profile, info = ehr
    before = health(info)["counters"]
    tls_profile = profile_with({"ris_link": tls_endpoint("ris_link", "mllp", info["mllp_port"], ca=certs.ca)},
                               connect=1.0)
    with pytest.raises(TLSError):
        exchange(tls_profile, "mllp")
    after = health(info)["counters"]
    assert after.get("messages", 0) == before.get("messages", 0)
    assert after.get("AA", 0) == before.get("AA", 0)
    with mllp_client_for(profile, "radiology_mllp") as plain:
        assert ack_code(plain.send(adt(_patient()))) == "AA"


def _patient():
    from genrep.text.identities import Allowlist
    from genrep.text.testdata import patient_for
    return patient_for(Allowlist.load().pick(0))


def test_redirect_to_plain_http_is_refused_and_never_followed(certs):
    with RecordingServer(None) as plain:
        location = f"http://127.0.0.1:{plain.port}/fhir/metadata".encode()

        def redirect(data):
            if b"\r\n\r\n" in data:
                return b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
            return None

        with RecordingServer(good_server_context(certs), reply=redirect) as srv:
            profile = profile_with({"ris_link": endpoint("http", srv.port, certs)})
            with pytest.raises(TLSError) as info:
                exchange(profile, "http")
        time.sleep(0.2)
        assert plain.connections == 0
    assert info.value.reason == "plaintext_url" and "no plaintext fallback" in str(info.value)


def test_redirect_to_a_host_outside_the_profile_is_refused(certs):
    def redirect(data):
        if b"\r\n\r\n" in data:
            return b"HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/x\r\nContent-Length: 0\r\n\r\n"
        return None

    with RecordingServer(good_server_context(certs), reply=redirect) as srv:
        profile = profile_with({"ris_link": endpoint("http", srv.port, certs)})
        with pytest.raises(ConfigError, match="elsewhere.example"):
            exchange(profile, "http")


# -- mutual TLS --------------------------------------------------------------------------------------

CLIENT_REFUSED = {"client_cert_required", "client_cert_rejected", "handshake_failure", "peer_closed"}


@pytest.mark.parametrize("proto", ["mllp", "http"])
@pytest.mark.parametrize("version", [None, ssl.TLSVersion.TLSv1_2], ids=["tls1.3", "tls1.2"])
def test_server_requiring_a_client_certificate_refuses_a_client_without_one(certs, proto, version):
    ctx = good_server_context(certs, client_ca=True, max_version=version)
    with RecordingServer(ctx, reply=REPLIES[proto]) as srv:
        profile = profile_with({"ris_link": endpoint(proto, srv.port, certs)})
        with pytest.raises(TLSError) as info:
            exchange(profile, proto)
        assert_nothing_delivered(srv)
    assert not isinstance(info.value, CertificateError)  # our side found nothing wrong with the server
    assert info.value.reason in CLIENT_REFUSED, str(info.value)
    assert "ris_link" in str(info.value) and "no plaintext fallback" in str(info.value)
    assert any("did not return a certificate" in e for e in srv.handshake_errors)


@pytest.mark.parametrize("proto", ["mllp", "http"])
def test_client_certificate_from_another_ca_is_refused(certs, proto):
    with RecordingServer(good_server_context(certs, client_ca=True), reply=REPLIES[proto]) as srv:
        profile = profile_with({"ris_link": endpoint(proto, srv.port, certs, client=certs.client_wrong_ca)})
        with pytest.raises(TLSError) as info:
            exchange(profile, proto)
        assert_nothing_delivered(srv)
    assert info.value.reason in CLIENT_REFUSED


@pytest.mark.parametrize("proto", ["mllp", "http"])
@pytest.mark.parametrize("which", ["plain key", "encrypted key"])
def test_mutual_tls_with_the_right_client_certificate_works(certs, proto, which):
    client = certs.client if which == "plain key" else certs.client_encrypted
    password_env = "" if which == "plain key" else "GENREP_TEST_KEY_PASSWORD"
    with RecordingServer(good_server_context(certs, client_ca=True), reply=REPLIES[proto]) as srv:
        profile = profile_with({"ris_link": endpoint(proto, srv.port, certs, client=client,
                                                     password_env=password_env)})
        result = exchange(profile, proto)
        time.sleep(0.1)
    assert (ack_code(result) == "AA") if proto == "mllp" else (result.status_code == 200)
    assert not srv.handshake_errors


def test_connection_refused_is_not_reported_as_tls(certs):
    from genrep.errors import ConnectionRefused
    profile = profile_with({"ris_link": endpoint("mllp", closed_port(), certs)})
    with pytest.raises(ConnectionRefused):
        exchange(profile, "mllp")


def test_handshake_cost_is_small(certs):
    """Measured, not asserted tightly: a full TLS 1.3 handshake with a client certificate on
    loopback, against a plain TCP connect (printed for the record; bounded generously)."""
    import socket
    with RecordingServer(good_server_context(certs, client_ca=True), reply=mllp_reply) as srv:
        profile = profile_with({"ris_link": endpoint("mllp", srv.port, certs, client=certs.client)})
        runs = []
        for _ in range(5):
            client = mllp_client_for(profile, "ris_link")
            start = time.perf_counter()
            client.connect()
            runs.append(time.perf_counter() - start)
            client.close()
        plain = []
        for _ in range(5):
            start = time.perf_counter()
            socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
            plain.append(time.perf_counter() - start)
    tls_ms, tcp_ms = sorted(runs)[2] * 1000, sorted(plain)[2] * 1000
    print(f"median TLS connect+handshake {tls_ms:.2f} ms, plain TCP connect {tcp_ms:.2f} ms")
    assert tls_ms < 500
