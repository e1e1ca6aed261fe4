"""FHIR read client and HTTP transport against requests-mock (genrep.transport.fhir, genrep.transport.http)."""

from __future__ import annotations

import base64
import json

import pytest
import requests
import requests_mock as rm
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from genrep.errors import (ConfigError, ConnectionClosed, ConnectionRefused, ConnectTimeout, FHIRError,
                           GenrepError, ProtocolError, ReadTimeout)
from genrep.transport.fhir import FHIR_JSON, FHIRClient, parse_json, validate
from genrep.transport.http import HttpTransport
from genrep.secrets import redact

BASE = "https://fhir.test.example/r4"
TOKEN = "tok-3f9a1c77-SECRET-b2e4"
JSON_HDR = {"Content-Type": "application/fhir+json; charset=utf-8"}

PATIENT = {"resourceType": "Patient", "id": "p1",
           "identifier": [{"system": "http://electronichealth.se/identifier/personnummer",
                           "value": "191212121212"}],
           "name": [{"family": "Tolvansson", "given": ["Tolvan"]}], "gender": "male", "birthDate": "1912-12-12"}
REPORT = {"resourceType": "DiagnosticReport", "id": "r1", "status": "final",
          "code": {"text": "DT thorax"},
          "identifier": [{"value": "ACC123"}],
          "presentedForm": [{"contentType": "text/plain", "url": "Binary/b1"}]}


def bundle(*resources, next_url=None):
    b = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
         "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}
    if next_url:
        b["link"] = [{"relation": "self", "url": f"{BASE}/x"}, {"relation": "next", "url": next_url}]
    return b


def allow_only(*hosts):
    def check(host):
        if host not in hosts:
            raise ConfigError(f"host {host!r} is not in environment profile 'test'; refusing to send")
    return check


@pytest.fixture
def client():
    t = HttpTransport(BASE, connect_timeout=1.5, read_timeout=4.0, token=TOKEN,
                      check_host=allow_only("fhir.test.example"))
    yield FHIRClient(t)
    t.close()


def assert_no_token(exc: BaseException):
    for text in (str(exc), repr(exc), str(getattr(exc, "outcome", "") or "")):
        assert TOKEN not in text
        assert TOKEN[:12] not in text


# -- search / read ---------------------------------------------------------------------------------

def test_search_returns_validated_resources(client, requests_mock):
    requests_mock.get(f"{BASE}/DiagnosticReport", json=bundle(REPORT), headers=JSON_HDR)
    out = client.search("DiagnosticReport", {"identifier": "ACC123"})
    assert out == [REPORT]
    req = requests_mock.request_history[0]
    assert req.qs == {"identifier": ["acc123"]} or req.qs == {"identifier": ["ACC123"]}
    assert req.headers["Accept"] == FHIR_JSON
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.timeout == (1.5, 4.0)  # every wait bounded


def test_search_skips_other_resource_types(client, requests_mock):
    outcome = {"resourceType": "OperationOutcome", "id": "o", "issue": [{"severity": "information",
                                                                         "code": "informational"}]}
    requests_mock.get(f"{BASE}/Patient", json=bundle(PATIENT, outcome), headers=JSON_HDR)
    assert client.search("Patient", {"identifier": "191212121212"}) == [PATIENT]


def test_search_follows_next_links(client, requests_mock):
    p2 = dict(PATIENT, id="p2")
    p3 = dict(PATIENT, id="p3")
    requests_mock.get(f"{BASE}/Patient", json=bundle(PATIENT, next_url=f"{BASE}/Patient?page=2"),
                      headers=JSON_HDR)
    requests_mock.get(f"{BASE}/Patient?page=2", json=bundle(p2, next_url=f"{BASE}/Patient?page=3"),
                      headers=JSON_HDR, complete_qs=True)
    requests_mock.get(f"{BASE}/Patient?page=3", json=bundle(p3), headers=JSON_HDR, complete_qs=True)
    assert [p["id"] for p in client.search("Patient", {})] == ["p1", "p2", "p3"]
    assert requests_mock.call_count == 3


def test_search_refuses_endless_paging(client, requests_mock):
    requests_mock.get(f"{BASE}/Patient", json=bundle(PATIENT, next_url=f"{BASE}/Patient?page=n"),
                      headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="50 pages"):
        client.search("Patient", {})
    assert requests_mock.call_count == 51


def test_next_link_to_foreign_host_refused_before_request(client, requests_mock):
    requests_mock.get(f"{BASE}/Patient", json=bundle(PATIENT, next_url="https://evil.example/Patient?p=2"),
                      headers=JSON_HDR)
    evil = requests_mock.get("https://evil.example/Patient", json=bundle())
    with pytest.raises(ConfigError, match="evil.example"):
        client.search("Patient", {})
    assert evil.call_count == 0 and requests_mock.call_count == 1


def test_search_not_a_bundle(client, requests_mock):
    requests_mock.get(f"{BASE}/Patient", json=PATIENT, headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="expected a Bundle"):
        client.search("Patient", {})


@pytest.mark.parametrize("body", [
    {"resourceType": "Bundle", "type": "searchset", "entry": ["x"]},
    {"resourceType": "Bundle", "type": "searchset", "entry": {"resource": PATIENT}},
    {"resourceType": "Bundle", "type": "searchset", "link": [{"relation": "next", "url": 5}]},
])
def test_malformed_bundle(client, requests_mock, body):
    requests_mock.get(f"{BASE}/Patient", json=body, headers=JSON_HDR)
    with pytest.raises(ProtocolError):
        client.search("Patient", {})


def test_invalid_resource_in_bundle(client, requests_mock):
    bad = {k: v for k, v in REPORT.items() if k != "code"}  # code is required (1..1)
    requests_mock.get(f"{BASE}/DiagnosticReport", json=bundle(bad), headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="invalid FHIR R4 DiagnosticReport"):
        client.search("DiagnosticReport", {})


def test_read_ok_and_wrong_resource_type(client, requests_mock):
    requests_mock.get(f"{BASE}/Patient/p1", json=PATIENT, headers=JSON_HDR)
    assert client.read("Patient", "p1")["id"] == "p1"
    requests_mock.get(f"{BASE}/Patient/p2", json=REPORT, headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="expected Patient, got DiagnosticReport"):
        client.read("Patient", "p2")


def test_plain_application_json_accepted(client, requests_mock):
    requests_mock.get(f"{BASE}/Patient/p1", json=PATIENT, headers={"Content-Type": "application/json"})
    assert client.read("Patient", "p1")["gender"] == "male"


# -- errors ----------------------------------------------------------------------------------------

def test_404_operation_outcome(client, requests_mock):
    outcome = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "not-found",
                          "diagnostics": "Resource Patient/nope is not known"}]}
    requests_mock.get(f"{BASE}/Patient/nope", status_code=404, json=outcome, headers=JSON_HDR)
    with pytest.raises(FHIRError) as info:
        client.read("Patient", "nope")
    exc = info.value
    assert exc.status == 404 and "Resource Patient/nope is not known" in exc.outcome
    assert "HTTP 404" in str(exc) and "is not known" in str(exc)
    assert_no_token(exc)


def test_outcome_details_text_and_code(client, requests_mock):
    outcome = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "invalid", "details": {"text": "bad identifier"}},
                         {"severity": "warning", "code": "throttled"}, "junk"]}
    requests_mock.get(f"{BASE}/Patient", status_code=400, json=outcome, headers=JSON_HDR)
    with pytest.raises(FHIRError) as info:
        client.search("Patient", {})
    assert info.value.outcome == "error: bad identifier; warning: throttled"


@pytest.mark.parametrize("kwargs", [
    {"text": "Service Unavailable", "headers": {"Content-Type": "text/html"}},
    {"text": "{not json", "headers": JSON_HDR},
    {"text": ""},
])
def test_503(client, requests_mock, kwargs):
    requests_mock.get(f"{BASE}/Patient", status_code=503, **kwargs)
    with pytest.raises(FHIRError) as info:
        client.search("Patient", {})
    assert info.value.status == 503 and "HTTP 503" in str(info.value)
    assert_no_token(info.value)


def test_malformed_json(client, requests_mock):
    requests_mock.get(f"{BASE}/Patient", text='{"resourceType": "Bundle", ', headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="malformed JSON"):
        client.search("Patient", {})


def test_wrong_content_type(client, requests_mock):
    requests_mock.get(f"{BASE}/Patient", text="<html>login</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(ProtocolError, match="text/html"):
        client.search("Patient", {})


def test_json_without_resource_type(client, requests_mock):
    requests_mock.get(f"{BASE}/Patient", json={"hello": "world"}, headers=JSON_HDR)
    with pytest.raises(ProtocolError, match="no resourceType"):
        client.search("Patient", {})


@pytest.mark.parametrize("raised, expected, words", [
    (requests.exceptions.ConnectTimeout("timed out"), ConnectTimeout, "no connection within 1.5 s"),
    (requests.exceptions.ReadTimeout("read timed out"), ReadTimeout, "no answer within 4.0 s"),
    (requests.exceptions.ConnectionError("[Errno 111] Connection refused"), ConnectionRefused, "refused"),
    (requests.exceptions.ConnectionError(f"Max retries exceeded; headers Authorization: Bearer {TOKEN}"),
     ConnectionRefused, "cannot connect"),
    (requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())"),
     ConnectionClosed, "closed"),
    (requests.exceptions.ChunkedEncodingError("broken"), ConnectionClosed, "ended early"),
    (requests.exceptions.InvalidHeader(f"bad header Bearer {TOKEN}"), ProtocolError, "InvalidHeader"),
])
def test_transport_exceptions_mapped(client, requests_mock, raised, expected, words):
    requests_mock.get(f"{BASE}/Patient", exc=raised)
    with pytest.raises(expected) as info:
        client.search("Patient", {})
    assert words in str(info.value) and "fhir.test.example" in str(info.value)
    assert_no_token(info.value)


def test_host_not_allowed_refused_before_any_request(requests_mock):
    t = HttpTransport("https://fhir.prod.example/r4", connect_timeout=1, read_timeout=1, token=TOKEN,
                      check_host=allow_only("fhir.test.example"))
    requests_mock.get(rm.ANY, json=PATIENT, headers=JSON_HDR)
    with pytest.raises(ConfigError, match="fhir.prod.example") as info:
        FHIRClient(t).read("Patient", "p1")
    assert requests_mock.request_history == []
    assert_no_token(info.value)
    with pytest.raises(ConfigError):
        FHIRClient(t).binary_text("b1", "text/plain")
    assert requests_mock.request_history == []


def test_token_not_in_reprs(client):
    assert TOKEN not in repr(client) and TOKEN not in repr(client.transport)


def test_no_token_no_authorization_header(requests_mock):
    t = HttpTransport(BASE, connect_timeout=1, read_timeout=1)
    requests_mock.get(f"{BASE}/Patient/p1", json=PATIENT, headers=JSON_HDR)
    FHIRClient(t).read("Patient", "p1")
    assert "Authorization" not in requests_mock.request_history[0].headers


# -- Binary ----------------------------------------------------------------------------------------

REPORT_TEXT = "Inga tecken på blödning.\nJämförelse: ingen ändring. µ ≥ 5 mm"


@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1", "windows-1252"])
def test_binary_text_plain_with_charset(client, requests_mock, charset):
    text = REPORT_TEXT if charset == "utf-8" else "Inga tecken på blödning.\nÅÄÖ åäö é"
    requests_mock.get(f"{BASE}/Binary/b1", content=text.encode(charset),
                      headers={"Content-Type": f'text/plain; charset="{charset}"'})
    assert client.binary_text("b1", "text/plain") == text
    assert requests_mock.request_history[0].headers["Accept"] == "text/plain"


def test_binary_text_plain_default_utf8_and_bad_bytes(client, requests_mock):
    requests_mock.get(f"{BASE}/Binary/b1", content=REPORT_TEXT.encode("utf-8"),
                      headers={"Content-Type": "text/plain"})
    assert client.binary_text("Binary/b1", "text/plain") == REPORT_TEXT
    requests_mock.get(f"{BASE}/Binary/b2", content=b"bl\xf6dning", headers={"Content-Type": "text/plain"})
    with pytest.raises(ProtocolError, match="not valid utf-8"):
        client.binary_text("b2", "text/plain")
    requests_mock.get(f"{BASE}/Binary/b3", content=b"x", headers={"Content-Type": "text/plain; charset=klingon"})
    with pytest.raises(ProtocolError, match="klingon"):
        client.binary_text("b3", "text/plain")


def test_binary_as_fhir_json_base64(client, requests_mock):
    data = base64.b64encode(REPORT_TEXT.encode("utf-8")).decode()
    wrapped = data[:20] + "\n" + data[20:]  # line-wrapped base64 is valid base64Binary
    for payload in (data, wrapped):
        requests_mock.get(f"{BASE}/Binary/b1", headers=JSON_HDR,
                          json={"resourceType": "Binary", "contentType": "text/plain; charset=utf-8",
                                "data": payload})
        assert client.binary_text("b1", "text/plain") == REPORT_TEXT
    latin = base64.b64encode("blödning".encode("latin-1")).decode()
    requests_mock.get(f"{BASE}/Binary/b2", headers=JSON_HDR,
                      json={"resourceType": "Binary", "contentType": "text/plain; charset=ISO-8859-1",
                            "data": latin})
    assert client.binary_text("b2", "text/plain") == "blödning"


@pytest.mark.parametrize("body, words", [
    ({"resourceType": "Binary", "contentType": "text/plain", "data": "not base64!!"}, "base64"),
    ({"resourceType": "Binary", "contentType": "text/plain"}, "no data"),
    ({"resourceType": "OperationOutcome", "issue": []}, "expected a Binary"),
    ([1, 2], "expected a Binary"),
])
def test_binary_fhir_json_invalid(client, requests_mock, body, words):
    requests_mock.get(f"{BASE}/Binary/b1", headers=JSON_HDR, json=body)
    with pytest.raises(ProtocolError, match=words):
        client.binary_text("b1", "text/plain")


def test_binary_malformed_json(client, requests_mock):
    requests_mock.get(f"{BASE}/Binary/b1", headers=JSON_HDR, text="{oops")
    with pytest.raises(ProtocolError, match="malformed JSON"):
        client.binary_text("b1", "text/plain")


def test_binary_wrong_content_type(client, requests_mock):
    requests_mock.get(f"{BASE}/Binary/b1", text="<html/>", headers={"Content-Type": "text/html"})
    with pytest.raises(ProtocolError, match="asked for text/plain, got text/html"):
        client.binary_text("b1", "text/plain")
    requests_mock.get(f"{BASE}/Binary/b2", content=b"x")
    with pytest.raises(ProtocolError):
        client.binary_text("b2", "application/pdf")


def test_binary_http_error(client, requests_mock):
    requests_mock.get(f"{BASE}/Binary/b1", status_code=404, headers=JSON_HDR,
                      json={"resourceType": "OperationOutcome",
                            "issue": [{"severity": "error", "code": "not-found", "diagnostics": "no b1"}]})
    with pytest.raises(FHIRError) as info:
        client.binary_text("b1", "text/plain")
    assert info.value.status == 404 and info.value.outcome == "error: no b1"
    requests_mock.get(f"{BASE}/Binary/b2", status_code=500, text="<html>")
    with pytest.raises(FHIRError) as info:
        client.binary_text("b2", "text/plain")
    assert info.value.status == 500 and info.value.outcome is None


# -- helpers ---------------------------------------------------------------------------------------

def test_validate_and_parse_json():
    validate(PATIENT)
    with pytest.raises(ProtocolError, match="unknown FHIR resource type"):
        validate({"resourceType": "Spaceship"})
    with pytest.raises(ProtocolError, match="invalid FHIR R4 Patient"):
        validate(dict(PATIENT, birthDate="12/12/1912"))
    with pytest.raises(ProtocolError, match="invalid FHIR R4 Patient"):
        validate(dict(PATIENT, favouriteColour="blue"))
    assert parse_json(json.dumps(PATIENT).encode())["id"] == "p1"
    with pytest.raises(ProtocolError):
        parse_json("[]")
    with pytest.raises(ProtocolError):
        parse_json("{")


def test_all_errors_are_genrep_errors():
    for cls in (FHIRError, ProtocolError, ConnectTimeout, ReadTimeout, ConnectionRefused, ConfigError):
        assert issubclass(cls, GenrepError)


# -- redact ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, secret", [
    (f"Authorization: Bearer {TOKEN}", TOKEN),
    (f"{{'Authorization': 'Bearer {TOKEN}', 'Accept': 'x'}}", TOKEN),
    (f"header value Bearer {TOKEN}", TOKEN),
    ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    ("login password=hunter2&user=x", "hunter2"),
    ('{"password": "hunter2", "user": "x"}', "hunter2"),
    ("GET https://h/x?access_token=abc123def&x=1", "abc123def"),
    ("api_key: k-123", "k-123"),
    ("client_secret=shh-123", "shh-123"),
])
def test_redact_removes_credentials(text, secret):
    out = redact(text)
    assert secret not in out and "[REDACTED]" in out


def test_redact_known_secret_anywhere_and_keeps_plain_text():
    assert redact(f"xx{TOKEN}yy", (TOKEN,)) == "xx[REDACTED]yy"
    plain = "GET https://fhir.test.example/r4/Patient?identifier=ACC123 a basic report"
    assert redact(plain, ("",)) == plain
    assert "user=x" in redact("password=hunter2&user=x")


_B64TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=_B64TOKEN, min_size=8, max_size=40),
       st.sampled_from(["Authorization: Bearer {}", "authorization=bearer {}", "Bearer {}", "password={}",
                        "token: {}", "{{'Authorization': 'Bearer {}'}}", '{{"access_token": "{}"}}']),
       st.text(max_size=20), st.sampled_from([" ", "\n", ", ", "; "]))
def test_redact_property(secret, shape, context, sep):
    """A credential in any of these shapes never survives redaction, whatever text surrounds it."""
    assume(secret not in shape.format(""))  # e.g. "Authoriz": the header's own name is not the credential
    text = context + sep + shape.format(secret) + sep + context
    out = redact(text)
    assert out.count(secret) <= (context + sep + sep + context).count(secret)
    assert "[REDACTED]" in out
