"""The NLL simulator as a real process over HTTP: both releases, headers, faults, admin, drift.

One simulator per module (per xdist worker), reset before each test; payloads are validated with
the fhir.resources R4B models.
"""

from __future__ import annotations

import json
import signal
import time
import uuid

import pytest
import requests
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.structuredefinition import StructureDefinition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrep.integrations import nll_drift as drift
from genrep.config.contracts import load_nll
from genrep.config.profile import Endpoint, Profile, Timeouts
from genrep.errors import FHIRError, ProtocolError, ReadTimeout
from genrep.integrations.nll import NLLClient
from genrep.sim import nll_releases as rel
from genrep.sim.process import SimProcess, SimStartError
from genrep.text.identities import Allowlist, IdentityGuard

from .conftest import wait_until

TIMEOUT = (5.0, 30.0)  # for calls that must be answered: a hang guard; a timeout that must fire is passed
#: a busy CI host can starve any process for seconds: a "did not wait" bound allows this much, and
#: stays below what it guards against (the 10 s default read timeout, a 30 s fault delay, ...)
SLACK = 5.0
PNR = "191212121212"
OTHER = "200001012384"
PI_TEXT = "Ta 1 tablett 3 gånger dagligen\nvid smärta, högst 6 per dygn.\nUndvik alkohol."
RX = [
    {"id": "rx-1", "medication": "Alvedon 500 mg tablett", "patient_instruction": PI_TEXT,
     "dosage_text": "1x3", "administration_instruction": "Tas med ett glas vatten",
     "note": "Smärtlindring efter operation", "version": 2, "status": "active"},
    {"id": "rx-2", "medication": "Waran 2,5 mg tablett", "patient_instruction_absent": "masked"},
    {"id": "rx-3", "medication": "Omeprazol 20 mg kapsel", "patient_instruction": "1 kapsel på morgonen",
     "patient_instruction_absent": None, "modifier_extension": False},
]


@pytest.fixture(scope="module")
def nll():
    sim = SimProcess("genrep.sim.nll", ["--port", "0"])
    info = sim.start()
    try:
        yield info
    finally:
        sim.stop()


@pytest.fixture(autouse=True)
def clean(nll):
    admin(nll, "reset")
    yield
    admin(nll, "reset")


def admin_url(info: dict, path: str) -> str:
    return f"http://{info['host']}:{info['port']}/admin/{path}"


def admin(info: dict, path: str, body=None, *, method: str = "POST", status: int = 200) -> dict:
    r = requests.request(method, admin_url(info, path), json=body, timeout=TIMEOUT)
    assert r.status_code == status, r.text
    return r.json()


def hdrs(**extra) -> dict:
    return {"x-request-id": str(uuid.uuid4()), "x-user-agent": "genrep-test", **extra}


def get(info: dict, path: str, *, headers: dict | None = None, timeout=TIMEOUT, **kw) -> requests.Response:
    return requests.get(f"{info['fhir_base']}/{path}", headers=hdrs() if headers is None else headers,
                        timeout=timeout, **kw)


def put_patient(info: dict, prescriptions: list[dict], pnr: str = PNR) -> None:
    admin(info, f"patients/{pnr}", {"prescriptions": prescriptions}, method="PUT")


def search(info: dict, value: str = PNR) -> dict:
    r = get(info, "MedicationRequest", params={"patient.identifier": f"{rel.PNR_SYSTEM}|{value}"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    body = r.json()
    Bundle.model_validate(body)
    for e in body.get("entry", []):
        MedicationRequest.model_validate(e["resource"])
    return body


def assert_outcome(r: requests.Response, status: int, text: str = "") -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    body = r.json()
    OperationOutcome.model_validate(body)
    assert text in body["issue"][0]["diagnostics"]
    return body


def directions(info: dict, rid: str) -> dict:
    r = get(info, f"MedicationRequest/{rid}/$patient-dosage-directions")
    assert r.status_code == 200, r.text
    body = r.json()
    Parameters.model_validate(body)
    return {p["name"]: p.get("valueString", p.get("valueCode")) for p in body.get("parameter", [])}


# -- start-up ------------------------------------------------------------------------------------

def test_ready_line(nll):
    assert nll["service"] == "nll" and nll["host"] == "127.0.0.1" and nll["port"] > 0
    assert nll["fhir_base"] == f"http://127.0.0.1:{nll['port']}/fhir"
    assert nll["release"] == "N" and isinstance(nll["pid"], int)
    h = admin(nll, "health", method="GET")
    assert h["status"] == "ok" and h["release"] == "N" and h["fault"] == "none" and h["pid"] == nll["pid"]


@pytest.mark.parametrize("args,message", [(["--release", "N+2"], "unknown release"),
                                          (["--host", "0.0.0.0"], "loopback only")])
def test_bad_start_arguments(args, message):
    with pytest.raises(SimStartError, match=message):
        SimProcess("genrep.sim.nll", ["--port", "0", *args]).start()


def test_start_on_release_n_plus_1_and_reset_keeps_it():
    sim = SimProcess("genrep.sim.nll", ["--port", "0", "--release", "N+1"])
    info = sim.start()
    try:
        assert info["release"] == "N+1"
        admin(info, "release", {"release": "N"})
        admin(info, "reset")
        assert admin(info, "health", method="GET")["release"] == "N+1"
    finally:
        sim.stop()


# -- headers and search --------------------------------------------------------------------------

@pytest.mark.parametrize("drop", ["x-request-id", "x-user-agent"])
def test_missing_header_is_400(nll, drop):
    h = hdrs()
    del h[drop]
    assert_outcome(get(nll, "MedicationRequest", headers=h, params={"patient.identifier": PNR}), 400, drop)
    assert_outcome(get(nll, "metadata", headers=h), 400, drop)


def test_request_id_must_be_a_uuid(nll):
    assert_outcome(get(nll, "metadata", headers=hdrs(**{"x-request-id": "abc"})), 400, "UUID")
    rid = str(uuid.uuid4())
    r = get(nll, "metadata", headers=hdrs(**{"x-request-id": rid}))
    assert r.status_code == 200 and r.headers["x-request-id"] == rid


def test_unknown_patient_is_an_empty_bundle(nll):
    body = search(nll, OTHER)
    assert body["type"] == "searchset" and body["total"] == 0 and body.get("entry", []) == []


def test_search_needs_the_patient(nll):
    assert_outcome(get(nll, "MedicationRequest"), 400, "patient.identifier")
    assert_outcome(get(nll, "MedicationRequest", params={"patient": PNR}), 400, "unsupported")


def test_release_n_shape(nll):
    put_patient(nll, RX)
    body = search(nll)
    assert search(nll, PNR) == body
    assert get(nll, "MedicationRequest", params={"patient.identifier": PNR}).json()["total"] == 3
    res = {e["resource"]["id"]: e["resource"] for e in body["entry"]}
    rx1 = res["rx-1"]
    assert rx1["meta"] == {"versionId": "2", "profile": [rel.PROFILE_URL]}
    assert rx1["status"] == "active" and rx1["intent"] == "order"
    assert rx1["medicationCodeableConcept"]["text"] == "Alvedon 500 mg tablett"
    assert rx1["subject"]["identifier"] == {"system": rel.PNR_SYSTEM, "value": PNR}
    d = rx1["dosageInstruction"][0]
    assert d["text"] == "1x3" and d["patientInstruction"] == PI_TEXT
    assert d["additionalInstruction"][0]["text"] == "Tas med ett glas vatten"
    assert rx1["note"][0]["text"] == "Smärtlindring efter operation"
    assert "extension" not in rx1 and "modifierExtension" not in rx1
    absent = res["rx-2"]["dosageInstruction"][0]
    assert "patientInstruction" not in absent
    assert absent["_patientInstruction"]["extension"] == [{"url": rel.DATA_ABSENT_REASON, "valueCode": "masked"}]
    one = get(nll, "MedicationRequest/rx-1")
    assert one.status_code == 200 and one.json() == rx1
    MedicationRequest.model_validate(one.json())
    assert_outcome(get(nll, "MedicationRequest/rx-404"), 404, "rx-404")


def test_release_n_plus_1_shape_and_switch_back(nll):
    put_patient(nll, RX)
    n = search(nll)
    assert admin(nll, "release", {"release": "N+1"}) == {"release": "N+1"}
    rx1 = get(nll, "MedicationRequest/rx-1").json()
    MedicationRequest.model_validate(rx1)
    assert rx1["extension"] == [{"url": rel.FORMAT_EXT, "valueCoding": {"system": rel.FORMAT_SYSTEM, "code": "E"}}]
    d = rx1["dosageInstruction"][0]
    assert d["patientInstruction"] == PI_TEXT.replace("\n", "\r\n")
    assert "additionalInstruction" not in d
    assert d["extension"] == [{"url": rel.ADMIN_EXT, "valueString": "Tas med ett glas vatten"}]
    assert rx1["note"][0]["text"] == "Smärtlindring efter operation"  # unchanged fields unchanged (N10)
    assert search(nll)["total"] == 3
    admin(nll, "release", {"release": "N"})
    assert search(nll) == n


def test_metadata_and_structure_definition_follow_the_release(nll):
    for release, limit in (("N", 512), ("N+1", 256)):
        admin(nll, "release", {"release": release})
        cap = get(nll, "metadata").json()
        CapabilityStatement.model_validate(cap)
        assert cap["software"]["version"] == release and cap["fhirVersion"] == "4.0.1"
        sd = get(nll, "StructureDefinition/NLLMedicationRequest").json()
        StructureDefinition.model_validate(sd)
        assert sd["version"] == release and sd["url"] == rel.PROFILE_URL
        els = {e["id"]: e for e in sd["differential"]["element"]}
        assert els["MedicationRequest.dosageInstruction.patientInstruction"]["maxLength"] == limit
        assert els["MedicationRequest.dosageInstruction.route.text"]["maxLength"] == 256
        assert all({"path", "min", "max"} <= set(e) for e in els.values())
        assert ("MedicationRequest.extension:prescriptionFormat" in els) == (release == "N+1")
        assert ("MedicationRequest.dosageInstruction.additionalInstruction.text" in els) == (release == "N")
    assert_outcome(get(nll, "StructureDefinition/Other"), 404)
    assert_outcome(get(nll, "Patient"), 404)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_ping(nll, method):
    r = requests.request(method, f"{nll['fhir_base']}/$ping", headers=hdrs(), timeout=TIMEOUT)
    assert r.status_code == 200
    body = r.json()
    OperationOutcome.model_validate(body)
    assert body["issue"] == [{"severity": "information", "code": "informational", "diagnostics": "pong"}]


# -- $patient-dosage-directions -------------------------------------------------------------------

def test_dosage_directions_both_releases(nll):
    long_word = "Dosering" * 7  # 56 characters: longer than a label line
    text = f"Ta en tablett morgon och kväll i samband med måltid\n{long_word} slut"
    put_patient(nll, [{"id": "rx-7", "medication": "X", "patient_instruction": text,
                       "administration_instruction": "Sväljes hel"}])
    p = directions(nll, "rx-7")
    assert p["patientInstruction"] == text and p["administrationInstruction"] == "Sväljes hel"
    lines = p["patientInstructionFormatted"].split("\n")
    assert lines == ["Ta en tablett morgon och kväll i samband", "med måltid", long_word[:40],
                     long_word[40:] + " slut"]
    admin(nll, "release", {"release": "N+1"})
    q = directions(nll, "rx-7")
    assert q["patientInstruction"] == text.replace("\n", "\r\n")
    assert q["patientInstructionFormatted"] == "\r\n".join(lines)
    assert q["administrationInstruction"] == "Sväljes hel"  # the operation keeps it in both releases


@pytest.mark.parametrize("reason", ["masked", "unknown"])
def test_dosage_directions_absent_instruction(nll, reason):
    put_patient(nll, [{"id": "rx-8", "medication": "X", "patient_instruction_absent": reason}])
    assert directions(nll, "rx-8") == {"dataAbsentReason": reason}
    assert_outcome(get(nll, "MedicationRequest/nope/$patient-dosage-directions"), 404)


def _assert_wrapped_keeps_every_word(text: str, formatted: str, width: int = 40) -> None:
    """Every word of ``text`` appears whole and in order; only a word longer than ``width`` is
    hard-broken, into ``width``-character parts; no line is longer than ``width``; the input's own
    line breaks are kept."""
    for line in formatted.split("\n"):
        assert len(line) <= width, line
    expected = [w[i:i + width] for w in text.split() for i in range(0, len(w), width)]
    assert formatted.split() == expected
    assert formatted.count("\n") >= text.count("\n")


WORDS = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                                                blacklist_characters="\x85\u180e\u200b"),
                         min_size=1, max_size=55), min_size=0, max_size=40)


@settings(max_examples=300, deadline=None)
@given(words=WORDS, seps=st.lists(st.sampled_from([" ", "  ", "\n", "\t", " \n "]), min_size=40, max_size=40))
def test_wrap_label_never_drops_a_word(words, seps):
    text = "".join(w + s for w, s in zip(words, seps)).strip(" \t")
    wrapped = rel.wrap_label(text)
    _assert_wrapped_keeps_every_word(text, "\n".join(wrapped))
    assert len(wrapped) >= text.count("\n") + 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäöÅÄÖ0123456789.,-", min_size=1,
                              max_size=50), min_size=1, max_size=30))
def test_dosage_directions_wrapping_over_http(nll, words):
    text = " ".join(words)
    put_patient(nll, [{"id": "rx-h", "medication": "X", "patient_instruction": text}])
    p = directions(nll, "rx-h")
    assert p["patientInstruction"] == text
    _assert_wrapped_keeps_every_word(text, p["patientInstructionFormatted"])


# -- faults ----------------------------------------------------------------------------------------

def test_fault_unavailable(nll):
    put_patient(nll, RX)
    admin(nll, "fault", {"mode": "unavailable"})
    for path in ("MedicationRequest?patient.identifier=" + PNR, "metadata", "$ping"):
        assert_outcome(get(nll, path), 503, "unavailable")
    assert admin(nll, "health", method="GET")["fault"] == "unavailable"
    admin(nll, "fault", {"mode": "none"})
    assert search(nll)["total"] == 3


def test_fault_hang_times_out_and_admin_still_answers(nll):
    admin(nll, "fault", {"mode": "hang"})
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(nll, "metadata", timeout=(1.0, 0.5))
    assert time.monotonic() - t0 < 2 * SLACK  # the hang itself never ends
    h = admin(nll, "health", method="GET")
    assert h["status"] == "ok" and h["fault"] == "hang"
    admin(nll, "reset")
    assert get(nll, "metadata").status_code == 200


def test_hung_request_is_answered_when_the_mode_changes(nll):
    import threading
    admin(nll, "fault", {"mode": "hang"})
    result = {}
    before = admin(nll, "health", method="GET")["requests"]
    t = threading.Thread(target=lambda: result.setdefault("r", get(nll, "$ping", timeout=(5.0, 30.0))))
    t.start()
    # the request has reached NLL and hangs there (a sleep could end before it arrived, and the
    # mode change would then release nothing)
    assert wait_until(lambda: admin(nll, "health", method="GET")["requests"] > before, 30.0)
    assert "r" not in result
    admin(nll, "fault", {"mode": "none"})
    t.join(30.0)
    assert result["r"].status_code == 200


def test_fault_slow(nll):
    admin(nll, "fault", {"mode": "slow", "delay": 0.4})
    t0 = time.monotonic()
    assert get(nll, "$ping").status_code == 200
    assert time.monotonic() - t0 >= 0.35
    admin(nll, "fault", {"mode": "slow", "delay": 30})  # admin is never slowed: far under this delay
    t0 = time.monotonic()
    assert admin(nll, "health", method="GET")["fault"] == "slow"
    assert time.monotonic() - t0 < SLACK


def test_fault_malformed_wrong_type_oversized(nll):
    put_patient(nll, RX)
    admin(nll, "fault", {"mode": "malformed"})
    r = get(nll, "MedicationRequest", params={"patient.identifier": PNR})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/fhir+json")
    with pytest.raises(ValueError):
        json.loads(r.content)
    admin(nll, "fault", {"mode": "wrong-content-type"})
    r = get(nll, "metadata")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    admin(nll, "fault", {"mode": "oversized"})
    r = get(nll, "MedicationRequest/rx-1")
    assert r.status_code == 200 and len(r.content) > 10 * 1024 * 1024
    assert json.loads(r.content)["id"] == "rx-1"
    admin(nll, "reset")
    assert admin(nll, "health", method="GET")["fault"] == "none"
    assert search(nll)["total"] == 0  # reset cleared the patients too


# -- admin robustness ------------------------------------------------------------------------------

BAD_PUTS = [
    b"", b"not json", b"[1", b"[]", b"null", b'{"prescriptions": {}}', b'{"prescriptions": [1]}',
    b'{"prescriptions": [{"id": "rx-1"}]}', b'{"prescriptions": [{"id": 1, "medication": "X"}]}',
    b'{"prescriptions": [{"id": "", "medication": "X"}]}',
    b'{"prescriptions": [{"id": "a b", "medication": "X"}]}',
    b'{"prescriptions": [{"id": "a", "medication": "X", "version": "2"}]}',
    b'{"prescriptions": [{"id": "a", "medication": "X", "version": 0}]}',
    b'{"prescriptions": [{"id": "a", "medication": "X", "status": "nope"}]}',
    b'{"prescriptions": [{"id": "a", "medication": "X", "patient_instruction": 5}]}',
    b'{"prescriptions": [{"id": "a", "medication": "X", "patient_instruction_absent": "gone"}]}',
    b'{"prescriptions": [{"id": "a", "medication": "X", "patient_instruction": "t", "patient_instruction_absent": "masked"}]}',
    b'{"prescriptions": [{"id": "a", "medication": "X", "modifier_extension": "yes"}]}',
    b'{"prescriptions": [{"id": "a", "medication": "X", "medicaton": "typo"}]}',
    b'{"prescriptions": [{"id": "a", "medication": "X"}, {"id": "a", "medication": "Y"}]}',
    b'{"prescriptions": [], "extra": 1}',
    "{\"prescriptions\": [{\"id\": \"a\", \"medication\": \"\udcff\"}]}".encode("utf-8", "surrogatepass"),
    b"\xff\xfe",
    b"[" * 100000,
    b"x" * (2 * 1024 * 1024),
]


def test_admin_never_crashes_on_bad_bodies(nll):
    url = admin_url(nll, f"patients/{PNR}")
    for body in BAD_PUTS:
        r = requests.put(url, data=body, timeout=TIMEOUT, headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 413), (body[:80], r.status_code, r.text[:200])
        assert "error" in r.json(), body[:80]
    for path, body in (("release", b'{"release": "N+2"}'), ("release", b"[]"), ("release", b"x"),
                       ("fault", b'{"mode": "explode"}'), ("fault", b'{"mode": "slow"}'),
                       ("fault", b'{"mode": "slow", "delay": -1}'), ("fault", b'{"mode": "slow", "delay": "1"}'),
                       ("fault", b"[]"), ("fault", b"")):
        r = requests.post(admin_url(nll, path), data=body, timeout=TIMEOUT)
        assert r.status_code == 400 and "error" in r.json(), (path, body)
    r = requests.put(admin_url(nll, "patients/12345"), json={"prescriptions": []}, timeout=TIMEOUT)
    assert r.status_code == 400 and "12-digit" in r.json()["error"]
    r = requests.post(admin_url(nll, "nothing"), timeout=TIMEOUT)
    assert r.status_code == 404 and "error" in r.json()
    h = admin(nll, "health", method="GET")
    assert h["status"] == "ok" and h["patients"] == 0 and h["fault"] == "none" and h["release"] == "N"


def test_put_replaces_delete_removes_and_ids_are_unique(nll):
    put_patient(nll, RX)
    put_patient(nll, [{"id": "rx-1", "medication": "Alvedon", "version": 3}])
    body = search(nll)
    assert body["total"] == 1 and body["entry"][0]["resource"]["meta"]["versionId"] == "3"
    assert_outcome(get(nll, "MedicationRequest/rx-2"), 404)
    # ids are per patient: the same id for another patient is allowed; read-by-id gives the latest PUT
    put_patient(nll, [{"id": "rx-1", "medication": "Y"}], OTHER)
    assert get(nll, "MedicationRequest/rx-1").json()["subject"]["identifier"]["value"] == OTHER
    assert search(nll)["entry"][0]["resource"]["medicationCodeableConcept"]["text"] == "Alvedon"
    assert admin(nll, f"patients/{PNR}", method="DELETE") == {"patient": PNR, "deleted": True}
    assert admin(nll, f"patients/{PNR}", method="DELETE")["deleted"] is False
    assert search(nll)["total"] == 0
    assert get(nll, "MedicationRequest/rx-1").status_code == 200  # still OTHER's
    admin(nll, f"patients/{OTHER}", method="DELETE")
    assert_outcome(get(nll, "MedicationRequest/rx-1"), 404)
    assert admin(nll, "health", method="GET")["requests"] >= 2


def test_empty_strings_are_left_out(nll):
    put_patient(nll, [{"id": "rx-e", "medication": "X", "note": "", "dosage_text": "", "patient_instruction": "",
                       "administration_instruction": ""}])
    res = get(nll, "MedicationRequest/rx-e").json()
    MedicationRequest.model_validate(res)
    assert "note" not in res and "dosageInstruction" not in res
    assert directions(nll, "rx-e") == {}


# -- drift against the running provider -------------------------------------------------------------

def provider(info: dict, *, connect: float = 5.0, read: float = 30.0) -> NLLClient:
    """An NLLClient for the running simulator, as an external profile's ``nll_fhir`` endpoint."""
    ep = Endpoint("nll_fhir", "http", info["host"], info["port"], base_url=info["fhir_base"])
    profile = Profile(name="nll-sim", kind="external", description="", endpoints={"nll_fhir": ep},
                      timeouts=Timeouts(connect=connect, read=read))
    return NLLClient(profile, IdentityGuard(Allowlist.load()))


def test_drift_against_both_releases(nll):
    contract = load_nll()
    put_patient(nll, RX)
    report = drift.check_provider(provider(nll), contract, [PNR])
    assert report.changes == [] and report.samples_checked == 3 and report.source == nll["fhir_base"]
    admin(nll, "release", {"release": "N+1"})
    report = drift.check_provider(provider(nll), contract, [PNR])
    assert report.breaking and report.provider_release == "N+1"
    assert report.kinds() == {"added", "limit-changed", "removed", "line-breaks-changed"}
    assert "BREAKING  limit-changed" in report.render()


def test_drift_against_a_faulty_provider(nll):
    contract = load_nll()
    admin(nll, "fault", {"mode": "unavailable"})
    with pytest.raises(FHIRError) as ei:
        drift.check_provider(provider(nll), contract)
    assert ei.value.status == 503
    admin(nll, "fault", {"mode": "malformed"})
    with pytest.raises(ProtocolError, match="malformed JSON"):
        drift.check_provider(provider(nll), contract)
    admin(nll, "fault", {"mode": "wrong-content-type"})
    with pytest.raises(ProtocolError, match="content type"):
        drift.check_provider(provider(nll), contract)
    admin(nll, "fault", {"mode": "oversized"})  # over 10 MB: past the check's bound, under the client's 32 MiB
    client = provider(nll)
    with pytest.raises(ProtocolError, match=f"larger than {drift.MAX_PROVIDER_BYTES} bytes"):
        drift.check_provider(client, contract)
    assert client.fhir.transport.max_body_bytes == 32 * 1024 * 1024  # the client's own bound is back
    admin(nll, "fault", {"mode": "hang"})
    t0 = time.monotonic()
    with pytest.raises(ReadTimeout):
        drift.check_provider(provider(nll, connect=1.0, read=0.5), contract)
    # the profile's 0.5 s read timeout was used (not the 10 s default), and not retried
    assert time.monotonic() - t0 < SLACK


def test_stop_is_prompt_with_a_hanging_request():
    import threading
    sim = SimProcess("genrep.sim.nll", ["--port", "0"])
    info = sim.start()
    try:
        admin(info, "fault", {"mode": "hang"})
        t = threading.Thread(target=lambda: _swallow(lambda: get(info, "$ping", timeout=(1.0, 10.0))),
                             daemon=True)
        t.start()
        assert wait_until(lambda: admin(info, "health", method="GET")["requests"] >= 1, 30.0)  # it hangs
    finally:
        proc = sim.proc
        t0 = time.monotonic()
        sim.stop(timeout=30.0)
    # SIGTERM ended it: one that ignored SIGTERM would take the 30 s grace, then SIGKILL
    assert time.monotonic() - t0 < 2 * SLACK
    assert proc.returncode != -signal.SIGKILL
    assert sim.proc is None


def _swallow(fn):
    try:
        fn()
    except requests.RequestException:
        pass
