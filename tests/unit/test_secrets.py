"""Secrets: the redaction registry behind ``genrep.secrets.redact``, and error bodies scrubbed before
they reach an exception message or a report."""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

import pytest
import requests_mock as rm
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.errors import FHIRError
from genrep.transport.fhir import FHIRClient
from genrep.transport.http import HttpTransport
from genrep.secrets import forget_secrets, redact, register_secret, registered_secrets, scrub_secrets
from genrep.results.allure import safe_text

BASE = "https://fhir.test.example/r4"
TOKEN = "fake-unit-secret-token-9d41"
PASSWORD = "fake unit password with spaces"


@pytest.fixture(autouse=True)
def _clean():
    forget_secrets()
    yield
    forget_secrets()


def test_registered_values_are_redacted_in_any_shape_of_text():
    register_secret(TOKEN)
    register_secret(PASSWORD)
    text = f"got {TOKEN!r} in json {{\"k\": \"{TOKEN}\"}} and a sentence: {PASSWORD}."
    out = redact(text)
    assert TOKEN not in out and PASSWORD not in out and out.count("[REDACTED]") == 3
    assert safe_text(text) == out  # Allure attachments go through the same redaction


def test_patterns_alone_miss_what_the_registry_catches():
    echoed = f"bearer token not accepted (received '{TOKEN}')"
    assert TOKEN in redact(echoed)  # no credential-shaped context around it ...
    register_secret(TOKEN)
    assert TOKEN not in redact(echoed)  # ... so only the registry removes it


def test_longest_secret_first_and_short_values_ignored():
    register_secret("fake-abcd")
    register_secret("fake-abcd-efgh")
    assert redact("x fake-abcd-efgh y") == "x [REDACTED] y"
    register_secret("abc")  # too short to be a secret: would redact ordinary words
    assert "abc" not in registered_secrets() and redact("abc") == "abc"


def test_transport_registers_its_token():
    HttpTransport(BASE, connect_timeout=1, read_timeout=1, token=TOKEN)
    assert TOKEN in registered_secrets()


def test_error_body_echoing_the_token_is_scrubbed_before_anyone_sees_it():
    client = FHIRClient(HttpTransport(BASE, connect_timeout=1, read_timeout=1, token=TOKEN))
    outcome = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "login",
                          "diagnostics": f"bearer token not accepted (received '{TOKEN}')"}]}
    with rm.Mocker() as m:
        m.get(f"{BASE}/Patient", status_code=401, json=outcome,
              headers={"Content-Type": "application/fhir+json"})
        with pytest.raises(FHIRError) as info:
            client.search("Patient", {"identifier": "x"})
        assert m.request_history[0].headers["Authorization"] == f"Bearer {TOKEN}"  # it was sent
    assert info.value.status == 401
    assert TOKEN not in str(info.value) and TOKEN not in (info.value.outcome or "")
    assert "received '[REDACTED]'" in str(info.value)


def test_success_bodies_are_never_altered():
    """Data under test is compared byte for byte: a report that happens to contain a registered
    value must come back as the server sent it."""
    register_secret(TOKEN)
    transport = HttpTransport(BASE, connect_timeout=1, read_timeout=1)
    with rm.Mocker() as m:
        m.get(f"{BASE}/Binary/b1", status_code=200, text=f"report text {TOKEN}",
              headers={"Content-Type": "text/plain"})
        assert transport.request("GET", "Binary/b1").text == f"report text {TOKEN}"


def test_scrub_secrets_bytes():
    register_secret("fake-åäö-secret")
    assert scrub_secrets("a fake-åäö-secret b".encode()) == b"a [REDACTED] b"
    assert scrub_secrets(b"nothing here") == b"nothing here"


def test_transport_errors_never_carry_the_token(monkeypatch):
    import requests
    transport = HttpTransport(BASE, connect_timeout=1, read_timeout=1, token=TOKEN)

    def boom(*a, **k):
        raise requests.exceptions.ConnectionError(f"failed with headers {{'Authorization': 'Bearer {TOKEN}'}}")

    monkeypatch.setattr(transport.session, "request", boom)
    with pytest.raises(Exception) as info:
        transport.request("GET", "Patient")
    assert TOKEN not in str(info.value)


@settings(max_examples=200, deadline=None)
@given(secret=st.text(min_size=4, max_size=40).filter(lambda s: s.strip() == s and len(s.strip()) >= 4),
       user=st.text(alphabet="abcdefghij", max_size=8), before=st.text(max_size=5), after=st.text(max_size=5))
def test_encoded_forms_of_a_registered_secret_are_redacted(secret, user, before, after):
    """Raw, URL-encoded and base64 (alone, in 'Bearer <it>', in Basic's 'user:<it>', URL-safe):
    after redaction no form of the secret is left."""
    forget_secrets()
    register_secret(secret)
    raw = secret.encode("utf-8")
    echoes = [secret, quote(secret, safe=""), quote_plus(secret),
              base64.b64encode(raw).decode(), base64.b64encode(f"Bearer {secret}".encode()).decode(),
              base64.b64encode(f"{user}:{secret}".encode()).decode(),
              base64.urlsafe_b64encode(f"{user}:{secret}".encode()).decode()]
    for echo in echoes:
        out = redact(f"{before}{echo}{after}")
        assert "[REDACTED]" in out
        for k in range(3):  # the secret's own base64 characters at any alignment
            core = base64.b64encode(b"\0" * k + raw).decode()[-(-8 * k // 6):(8 * k + 8 * len(raw)) // 6]
            assert len(core) < 4 or core not in out.replace("[REDACTED]", "\0")
        assert secret not in out and quote(secret, safe="") not in out
        assert scrub_secrets(f"{before}{echo}{after}".encode()).count(b"[REDACTED]") >= 1
