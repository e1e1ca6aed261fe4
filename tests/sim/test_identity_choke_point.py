"""Issue 12: no non-allowlisted personnummer leaves the harness, whatever its spelling or path.

Generated numbers (hypothesis: any date 1901-2024, personnummer or samordningsnummer, checksum
right) are spelled the ways a receiver would still read as the number (Unicode digits, dashes and
spaces, zero-width characters, HL7 escapes and formatting commands, percent, JSON and character
reference escapes) and sent through every outbound path of the harness: MLLP (ADT, ORU, raw
chunks), HTTP URLs, headers and JSON bodies, the prescribing client, the NLL client and admin, the
FHIR client and a fault driver's HTTP transport. A loopback listener stands where every endpoint
points, and must receive nothing: not a byte, not a connection.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrep import hl7
from genrep.text import identities
from genrep.config.profile import load_profile
from genrep.config.contracts import load_radiology
from genrep.errors import IdentityViolation
from genrep.transport.fhir import FHIRClient
from genrep.transport.http import HttpTransport
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.text.identity_spellings import spellings
from genrep.transport.mllp import MLLPClient
from genrep.integrations.multum import PrescribingClient
from genrep.integrations.nll import NLLAdmin, NLLClient
from genrep.integrations.radiology import RadiologyClient
from genrep.text.testdata import patient_for
from support import LoopbackListener

ALLOWLIST = Allowlist.load()


@pytest.fixture(scope="module")
def listener():
    lst = LoopbackListener()
    yield lst
    lst.close()
    # the whole module's traffic: every generated spelling through every path
    assert lst.connections == 0 and bytes(lst.received) == b"", "something reached the listener"


@pytest.fixture(scope="module")
def profile(listener, tmp_path_factory):
    folder = tmp_path_factory.mktemp("profile")
    path = folder / "listener.yaml"
    base = f"http://127.0.0.1:{listener.port}"
    path.write_text(f"""name: listener
kind: external
production: false
endpoints:
  radiology_mllp: {{protocol: mllp, host: 127.0.0.1, port: {listener.port}}}
  ehr_fhir: {{protocol: http, base_url: "{base}/fhir"}}
  ehr_api: {{protocol: http, base_url: "{base}/ehr"}}
  nll_fhir: {{protocol: http, base_url: "{base}/nll"}}
  nll_admin: {{protocol: http, base_url: "{base}/nll-admin"}}
timeouts: {{connect: 1, read: 1}}
""", encoding="utf-8")
    return load_profile(str(path))


@pytest.fixture(autouse=True)
def _nothing_reached(listener):
    yield
    assert listener.connections == 0 and bytes(listener.received) == b""


SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])


def refused(send) -> None:
    """``send`` must raise IdentityViolation; the latch is then cleared for the next example."""
    try:
        with pytest.raises(IdentityViolation):
            send()
    finally:
        identities.reset_refusals()


def adt_with(text: str) -> str:
    return (f"MSH|^~\\&|RIS|RAD|EHR|HOSP|20241112053000||ADT^A04|C1|P|2.5|||||SE|UNICODE UTF-8\r"
            f"EVN|A04|20241112053000\rPID|1||{text}^^^SKV^PN||Testsson^Test\r")


def oru_with(text: str, where: str) -> str:
    pid = "191212121212"
    segs = [f"MSH|^~\\&|RIS|RAD|EHR|HOSP|202411120530||ORU^R01|C2|P|2.5|||||SE|UNICODE UTF-8",
            f"PID|1||{pid}^^^SKV^PN||Testsson^Test",
            "OBR|1||ACC1|71020^DT thorax|||202411120530",
            f"OBX|1|TX|71020||{'Ingen fraktur. ' + text if where == 'OBX' else 'Ingen fraktur.'}||||||F"]
    if where == "NTE":
        segs.append(f"NTE|1||Remiss: {text}")
    return "\r".join(segs) + "\r"


# ------------------------------------------------------------------------------------ paths ---

@SETTINGS
@given(text=spellings(), where=st.sampled_from(["PID", "OBX", "NTE"]))
def test_mllp_send_refuses_every_spelling(profile, text, where):
    client = MLLPClient("127.0.0.1", profile.endpoint("radiology_mllp").port, connect_timeout=1, read_timeout=1)
    message = adt_with(text) if where == "PID" else oru_with(text, where)
    refused(lambda: client.send(message.encode("utf-8")))
    client.close()


@SETTINGS
@given(text=spellings(), cut=st.integers(0, 400))
def test_mllp_raw_chunks_refuse_a_number_split_over_two_writes(profile, text, cut):
    client = MLLPClient("127.0.0.1", profile.endpoint("radiology_mllp").port, connect_timeout=1, read_timeout=1)
    framed = b"\x0b" + oru_with(text, "OBX").encode("utf-8") + b"\x1c\x0d"
    cut = min(cut, len(framed))
    refused(lambda: client.send_raw([framed[:cut], framed[cut:]]))
    client.close()


@SETTINGS
@given(text=spellings(), part=st.sampled_from(["query", "path", "header", "json", "data"]))
def test_http_transport_refuses_every_spelling_in_every_part(profile, text, part):
    transport = HttpTransport(profile.endpoint("ehr_fhir").base_url, connect_timeout=1, read_timeout=1)
    kwargs: dict = {}
    path = "Patient"
    if part == "query":
        kwargs["params"] = {"identifier": f"http://electronichealth.se/identifier/personnummer|{text}"}
    elif part == "path":
        path = f"Patient/{text}"
    elif part == "header":
        kwargs["headers"] = {"X-Patient": text.encode("utf-8").decode("latin-1")}
    elif part == "json":
        kwargs["json"] = {"resourceType": "Patient", "identifier": [{"value": text}]}
    else:
        kwargs["data"] = f"note={text}".encode("utf-8")
    refused(lambda: transport.request("POST" if part in ("json", "data") else "GET", path, **kwargs))
    transport.close()


@SETTINGS
@given(text=spellings())
def test_prescribing_refuses_every_spelling(profile, text):
    client = PrescribingClient(profile)
    refused(lambda: client.prescribe(text, ["warfarin"], "aspirin"))
    client.close()


@SETTINGS
@given(text=spellings())
def test_nll_client_and_admin_and_fhir_refuse_every_spelling(profile, text):
    guard = IdentityGuard(ALLOWLIST)
    nll = NLLClient(profile, guard)
    refused(lambda: nll.prescriptions(text))
    admin = NLLAdmin(profile, guard)
    refused(lambda: admin.load(text, []))
    fhir = FHIRClient(HttpTransport(profile.endpoint("ehr_fhir").base_url, connect_timeout=1, read_timeout=1))
    refused(lambda: fhir.search("DiagnosticReport", {"patient": text}))
    for transport in (nll.fhir.transport, admin.http, fhir.transport):
        transport.close()


@SETTINGS
@given(text=spellings())
def test_radiology_client_refuses_a_report_text(profile, text):
    client = RadiologyClient(profile, load_radiology(), IdentityGuard(ALLOWLIST))
    patient = patient_for(ALLOWLIST.pick(0))
    report = hl7.Report(accession="ACCX1", text=f"Slutsats: ingen fraktur. Tidigare journal {text}.")
    refused(lambda: client.send_message(client.build_report(patient, report)))
    client.close()


def test_a_refusal_stops_the_run_nothing_more_is_sent(profile):
    """After one refusal, a clean message is refused too (every path), and nothing is sent."""
    client = MLLPClient("127.0.0.1", profile.endpoint("radiology_mllp").port, connect_timeout=1, read_timeout=1)
    with pytest.raises(IdentityViolation, match="PID-3"):
        client.send(adt_with("19640823-3234").encode())
    clean = adt_with("191212121212").encode()
    with pytest.raises(IdentityViolation, match="nothing more is sent"):
        client.send(clean)
    with pytest.raises(IdentityViolation, match="nothing more is sent"):
        PrescribingClient(profile).prescribe("191212121212", ["warfarin"], "aspirin")
    client.close()


def test_refusal_is_shared_through_the_latch_file(tmp_path, monkeypatch, profile):
    """Another process of the same run (an xdist worker) sees the refusal through the latch file."""
    latch = tmp_path / "identity-refused.txt"
    monkeypatch.setenv(identities.LATCH_ENV, str(latch))
    with pytest.raises(IdentityViolation):
        identities.guard_outbound("PID|1||196408233234", destination="x")
    text = latch.read_text(encoding="utf-8")
    assert "19640823****" in text and "196408233234" not in text
    identities.reset_refusals()  # as in a fresh process: only the file remembers
    with pytest.raises(IdentityViolation, match="nothing more is sent"):
        PrescribingClient(profile).prescribe("191212121212", ["warfarin"], "aspirin")
