"""The virtual EHR's MLLP inbound, over real loopback sockets against a real child process.

Every test registers its own patient and uses fresh accessions and control ids, so tests do not
depend on each other (``POST /admin/reset`` is used only where an empty store matters).
"""

from __future__ import annotations

import random
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep import hl7
from genrep.errors import ConnectionClosed, ConnectionRefused, ReadTimeout
from genrep.transport.fhir import validate
from genrep.text.identities import Allowlist
from genrep.transport.mllp import CR, FS, VT, frame
from genrep.integrations.radiology import new_accession, new_control_id
from genrep.text.testdata import patient_for

from .conftest import (adt, ack_code, assert_alive, closed_port, fhir_get, health, mllp_client, oru,
                       register, reports_for, reset, silent_server, stored_text, wait_until)

REFUSED = ("AE", "AR")
TEXT = ("Slätröntgen thorax.\n"
        "Ingen pneumothorax. Inga pleuravätskor.\n"
        "  Indraget stycke: hjärtat ej förstorat.\n"
        "\n"
        "Sammanfattning: utan anmärkning, åäö ÅÄÖ é.")
HYPO = dict(deadline=None, database=None)


def expected_stored(text: str) -> str:
    """What a correct receiver stores: the lines, joined with LF (nothing trimmed)."""
    return "\n".join(hl7.split_lines(text))


def identity(**kw):
    return Allowlist.load().pick(**kw)


# -- ADT ------------------------------------------------------------------------------------

@pytest.mark.parametrize("event,ident", [
    ("A01", dict(index=0)),                            # female personnummer
    ("A04", dict(index=2)),                            # male personnummer
    ("A08", dict(index=0, kind="samordningsnummer")),  # day + 60 in the number, real birth date
])
def test_adt_registers_patient_readable_over_fhir(ehr, event, ident):
    _profile, info = ehr
    who = identity(**ident)
    pat = patient_for(who, seed=event)
    with mllp_client(info) as c:
        ack = hl7.parse_ack(c.send(adt(pat, event, control_id=(cid := new_control_id()))))
    assert ack.code == "AA", ack
    assert ack.control_id == cid
    r = fhir_get(info, "Patient", params={"identifier": who.number})
    assert r.status_code == 200
    entries = r.json()["entry"]
    assert len(entries) == 1
    res = entries[0]["resource"]
    validate(res)
    assert res["identifier"][0]["value"] == who.number
    assert res["birthDate"] == who.birth_date.isoformat()
    assert res["gender"] == {"F": "female", "M": "male"}[who.sex]
    assert res["name"][0]["family"] == pat.family and res["name"][0]["given"] == [pat.given]


def test_adt_a08_updates_the_same_patient(ehr):
    _profile, info = ehr
    who = identity(index=3)
    first, second = patient_for(who, seed="a"), patient_for(who, seed="b-other")
    with mllp_client(info) as c:
        assert ack_code(c.send(adt(first, "A04"))) == "AA"
        assert ack_code(c.send(adt(second, "A08"))) == "AA"
    entries = fhir_get(info, "Patient", params={"identifier": who.number}).json()["entry"]
    assert len(entries) == 1
    assert entries[0]["resource"]["name"][0]["given"] == [second.given]


def test_unsupported_adt_event_gets_ar(ehr, patient):
    _profile, info = ehr
    message = hl7.build_adt("A04", patient, control_id=new_control_id()).replace(
        "ADT^A04^ADT_A01", "ADT^A05^ADT_A05", 1).replace("EVN|A04", "EVN|A05", 1)
    with mllp_client(info) as c:
        ack = hl7.parse_ack(c.send(hl7.encode(message)))
    assert ack.code == "AR"
    assert "A05" in ack.text


# -- ORU ------------------------------------------------------------------------------------

def test_oru_for_unregistered_patient_gets_ae_and_nothing_stored(ehr, patient):
    _profile, info = ehr
    reset(info)  # the patient must be unknown
    accession, payload = oru(patient, TEXT)
    with mllp_client(info) as c:
        ack = hl7.parse_ack(c.send(payload))
    assert ack.code == "AE"
    assert reports_for(info, accession) == []


def test_oru_round_trip_text_complete(ehr, patient):
    _profile, info = ehr
    register(info, patient)
    for convention in hl7.CONVENTIONS:
        accession, payload = oru(patient, TEXT, convention=convention)
        with mllp_client(info) as c:
            assert ack_code(c.send(payload)) == "AA"
        assert stored_text(info, accession) == expected_stored(TEXT), convention


def test_many_messages_on_one_persistent_connection(ehr, patient):
    _profile, info = ehr
    sent = {}
    with mllp_client(info) as c:
        assert ack_code(c.send(adt(patient))) == "AA"
        for i in range(40):
            text = f"Rad {i}: ingen fraktur.\nRad två för {i}."
            accession, payload = oru(patient, text)
            ack = hl7.parse_ack(c.send(payload))
            assert ack.code == "AA", (i, ack)
            sent[accession] = text
        assert c.connections == 1
    pid = fhir_get(info, "Patient", params={"identifier": patient.identifier}).json()["entry"][0]["resource"]["id"]
    r = fhir_get(info, "DiagnosticReport", params={"patient": pid})
    stored = {e["resource"]["identifier"][0]["value"] for e in r.json()["entry"]}
    assert set(sent) <= stored
    for accession in random.Random(1).sample(sorted(sent), 5):
        assert stored_text(info, accession) == sent[accession]


def test_frame_split_byte_by_byte(ehr, patient):
    _profile, info = ehr
    register(info, patient)
    accession, payload = oru(patient, TEXT)
    data = frame(payload)
    with mllp_client(info) as c:
        raw = c.send_raw([data[i:i + 1] for i in range(len(data))], pause=0.0005)
    assert ack_code(raw) == "AA"
    assert stored_text(info, accession) == expected_stored(TEXT)


@settings(max_examples=8, **HYPO)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_frame_split_in_random_chunks(ehr, patient, seed):
    _profile, info = ehr
    register(info, patient)
    rng = random.Random(seed)
    text = "\n".join(f"Rad {i}: {'ingen blödning ' * rng.randint(0, 6)}åäö" for i in range(rng.randint(1, 30)))
    accession, payload = oru(patient, text)
    data = frame(payload)
    cuts = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 12))))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    assert b"".join(chunks) == data
    with mllp_client(info) as c:
        raw = c.send_raw(chunks, pause=0.002)
    assert ack_code(raw) == "AA"
    assert stored_text(info, accession) == text


def test_two_frames_coalesced_in_one_write_get_two_acks_in_order(ehr, patient):
    _profile, info = ehr
    register(info, patient)
    (acc1, p1), (acc2, p2) = oru(patient, "Första: ingen fraktur."), oru(patient, "Andra: inga fynd.")
    cid1, cid2 = hl7.parse(p1.decode()).control_id, hl7.parse(p2.decode()).control_id
    with mllp_client(info) as c:
        first = hl7.parse_ack(c.send_raw([frame(p1) + frame(p2)]))
        second = hl7.parse_ack(c.receive())
    assert (first.code, first.control_id) == ("AA", cid1)
    assert (second.code, second.control_id) == ("AA", cid2)
    assert stored_text(info, acc1) == "Första: ingen fraktur."
    assert stored_text(info, acc2) == "Andra: inga fynd."


def test_garbage_before_vt_is_ignored(ehr, patient):
    _profile, info = ehr
    register(info, patient)
    accession, payload = oru(patient, TEXT)
    with mllp_client(info) as c:
        raw = c.send_raw([b"\x00\xffnoise before the frame\r\n" + FS + CR + frame(payload)])
    assert ack_code(raw) == "AA"
    assert stored_text(info, accession) == expected_stored(TEXT)


# -- size limit (own EHR with --max-message-bytes 2000) ------------------------------------

@pytest.mark.parametrize("chunked", [False, True], ids=["one-write", "in-chunks"])
def test_oversized_message_gets_ar_nothing_stored_connection_still_serves(start_ehr, patient, chunked):
    _profile, info, _sim = start_ehr("--max-message-bytes", "2000")
    register(info, patient)
    big_text = "\n".join(f"Rad {i}: ingen fraktur, inga fynd, åäö." for i in range(120))
    accession, big = oru(patient, big_text)
    assert len(big) > 2000
    small_acc, small = oru(patient, "Kort svar: ingen fraktur.")
    small_cid = hl7.parse(small.decode()).control_id
    data = frame(big)
    chunks = [data[i:i + 500] for i in range(0, len(data), 500)] if chunked else [data]
    with mllp_client(info) as c:
        ack = hl7.parse_ack(c.send_raw(chunks, pause=0.01 if chunked else 0.0))
        assert ack.code == "AR"
        assert "2000" in ack.text
        # the same connection still serves, and the next answer belongs to the next message
        # (the oversized frame's tail produced no second answer)
        nxt = hl7.parse_ack(c.send(small))
        assert (nxt.code, nxt.control_id) == ("AA", small_cid)
        assert c.connections == 1
    assert reports_for(info, accession) == []
    assert stored_text(info, small_acc) == "Kort svar: ingen fraktur."
    assert health(info)["counters"]["frames_too_large"] == 1


# -- malformed input ------------------------------------------------------------------------

def _missing_msh10(patient) -> bytes:
    msg = hl7.build_adt("A04", patient, control_id="TOBEREMOVED")
    assert "|TOBEREMOVED|" in msg
    return msg.replace("|TOBEREMOVED|", "||", 1).encode("utf-8")


def _raw_cr_in_text(patient) -> tuple[str, bytes]:
    accession = new_accession()
    msg = hl7.build_oru(patient, hl7.Report(accession=accession, text="Första raden\rIngen fraktur."),
                        control_id=new_control_id(), escape_cr=False)
    return accession, hl7.encode(msg)


MALFORMED = {
    "not-msh": lambda p: (None, b"PID|1||191212121212^^^SE\rOBX|1|TX|||text\r"),
    "binary-junk": lambda p: (None, bytes(b for b in range(256) if b not in (0x0B, 0x1C)) * 3),
    "missing-msh10": lambda p: (None, _missing_msh10(p)),
    "raw-cr-in-obx5": _raw_cr_in_text,
    "empty": lambda p: (None, b""),
    "msh-only-garbage": lambda p: (None, b"MSH|"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_message_is_refused_and_server_stays_usable(ehr, patient, case):
    _profile, info = ehr
    register(info, patient)
    accession, payload = MALFORMED[case](patient)
    follow_acc, follow = oru(patient, "Efter felet: ingen fraktur.")
    with mllp_client(info) as c:
        ack = hl7.parse_ack(c.send_raw([VT + payload + FS + CR]))
        assert ack.code in REFUSED, (case, ack)
        assert ack_code(c.send(follow)) == "AA"  # same connection, next message accepted
    if accession:
        assert reports_for(info, accession) == []
    assert stored_text(info, follow_acc) == "Efter felet: ingen fraktur."
    assert_alive(info)


def test_utf8_bytes_declared_8859_1_get_ae_never_mojibake(ehr, patient):
    _profile, info = ehr
    register(info, patient)
    accession = new_accession()
    msg = hl7.build_oru(patient, hl7.Report(accession=accession, text="Ingen blödning, åäö."),
                        control_id=new_control_id(), charset="8859/1")
    payload = msg.encode("utf-8")  # wrong: the bytes are UTF-8, MSH-18 says 8859/1
    assert payload != hl7.encode(msg)
    with mllp_client(info) as c:
        ack = hl7.parse_ack(c.send(payload))
    assert ack.code == "AE"
    assert ack.control_id == msg.split("\r")[0].split("|")[9]  # refused, but named: MSH-10 is readable
    assert reports_for(info, accession) == []


def test_8859_1_message_with_swedish_letters_round_trips(ehr, patient):
    _profile, info = ehr
    with mllp_client(info) as c:
        assert ack_code(c.send(adt(patient, charset="8859/1"))) == "AA"
    text = "Ingen blödning. Små förändringar i övre loben.\nÅÄÖ åäö é ü"
    accession, payload = oru(patient, text, charset="8859/1")
    assert "å".encode("latin-1") in payload and "å".encode("utf-8") not in payload
    with mllp_client(info) as c:
        raw = c.send(payload)
    ack = hl7.parse_ack(raw)
    assert ack.code == "AA"
    assert stored_text(info, accession) == text


# -- connection edge cases ------------------------------------------------------------------

def _raw_connect(info) -> socket.socket:
    return socket.create_connection((info["host"], info["mllp_port"]), timeout=2.0)


def test_incomplete_frame_then_close_gets_no_ack_and_stores_nothing(ehr, patient):
    _profile, info = ehr
    register(info, patient)
    before = health(info)["counters"]["incomplete_frames"]
    accession, payload = oru(patient, TEXT)
    with _raw_connect(info) as s:
        s.sendall(VT + payload)  # the whole message, but no FS CR
        s.settimeout(0.5)
        with pytest.raises(TimeoutError):
            data = s.recv(4096)
            pytest.fail(f"got an answer to an incomplete frame: {data!r}")
    assert wait_until(lambda: health(info)["counters"]["incomplete_frames"] == before + 1, 5.0)
    assert reports_for(info, accession) == []
    assert_alive(info)


def test_client_that_connects_and_sends_nothing(ehr):
    _profile, info = ehr
    for _ in range(3):
        with _raw_connect(info):
            pass
    with _raw_connect(info) as s:
        s.shutdown(socket.SHUT_WR)
        s.settimeout(2.0)
        assert s.recv(100) == b""  # the server closes its side too, no answer
    assert_alive(info)


def test_resent_control_id_gets_same_ack_and_one_report(ehr, patient):
    _profile, info = ehr
    register(info, patient)
    accession, payload = oru(patient, TEXT)
    with mllp_client(info) as c:
        first = c.send(payload)
    with mllp_client(info) as c:  # a resend after a "lost" ACK comes on a new connection
        second = c.send(payload)
    assert ack_code(first) == ack_code(second) == "AA"
    assert hl7.parse_ack(first).control_id == hl7.parse_ack(second).control_id
    assert first == second
    reports = reports_for(info, accession)
    assert len(reports) == 1
    assert reports[0]["meta"]["versionId"] == "1"
    assert stored_text(info, accession) == expected_stored(TEXT)


def test_same_control_id_from_another_sender_is_a_different_message(ehr, patient):
    """Control ids are unique per sender (MSH-3/MSH-4), not across senders."""
    _profile, info = ehr
    register(info, patient)
    control_id = new_control_id()
    acc1, first = oru(patient, TEXT, control_id=control_id)
    acc2, second = oru(patient, TEXT, control_id=control_id)
    second = second.replace(b"|RIS|", b"|RIS2|", 1)
    assert b"|RIS2|" in second
    with mllp_client(info) as c:
        assert ack_code(c.send(first)) == "AA"
        assert ack_code(c.send(second)) == "AA"
    assert len(reports_for(info, acc1)) == len(reports_for(info, acc2)) == 1


def test_accession_over_limit_gets_ae_never_stored_shortened(ehr, patient, contract):
    _profile, info = ehr
    register(info, patient)
    accession = (new_accession() + "X" * 25)[:25]
    assert len(accession) == 25 > contract.accession_max_length
    _acc, payload = oru(patient, TEXT, accession=accession)
    with mllp_client(info) as c:
        ack = hl7.parse_ack(c.send(payload))
    assert ack.code == "AE"
    assert reports_for(info, accession) == []
    assert reports_for(info, accession[:contract.accession_max_length]) == []


def test_preliminary_then_corrected_replaces_text(ehr, patient):
    _profile, info = ehr
    register(info, patient)
    accession = new_accession()
    with mllp_client(info) as c:
        _, p = oru(patient, "Preliminärt: misstänkt fraktur.\nKontroll.", accession=accession, status="P")
        assert ack_code(c.send(p)) == "AA"
        [prelim] = reports_for(info, accession)
        assert prelim["status"] == "preliminary"
        _, corr = oru(patient, "Korrigerat: ingen fraktur.", accession=accession, status="C")
        assert ack_code(c.send(corr)) == "AA"
    [report] = reports_for(info, accession)
    validate(report)
    assert report["id"] == prelim["id"]
    assert report["status"] == "corrected"
    assert report["meta"]["versionId"] == "2"
    assert stored_text(info, accession) == "Korrigerat: ingen fraktur."


# -- fuzz -----------------------------------------------------------------------------------

def _frameable(data: bytes) -> bytes:
    """Remove the bytes that would restart or end the frame early (VT; FS CR)."""
    return data.replace(VT, b"").replace(FS + CR, FS)


@settings(max_examples=50, **HYPO)
@given(payload=st.one_of(
    st.binary(max_size=600),
    st.binary(max_size=300).map(lambda b: b"MSH|^~\\&|" + b),
    st.lists(st.sampled_from([b"MSH|^~\\&|", b"|", b"^", b"~", b"\\", b"&", b"\r", b"\n", b"PID",
                              b"OBX", b"ORU^R01", b"ADT^A01", b"\xe5", b"\xc3\xa5", b"\\X0D\\",
                              b"8859/1", b"UNICODE UTF-8", b"1", b"\x00", FS]),
             max_size=40).map(b"".join),
))
def test_fuzz_frames_never_get_aa(ehr, payload):
    _profile, info = ehr
    data = VT + _frameable(payload) + FS + CR
    with mllp_client(info) as c:
        try:
            raw = c.send_raw([data])
        except ConnectionClosed:
            return  # closing is an allowed answer
        ack = hl7.parse_ack(raw)  # always a well-formed ACK
        assert ack.code in REFUSED, (payload, ack)


def test_server_alive_after_fuzzing(ehr):
    # runs after the fuzz test in file order; also meaningful on its own
    _profile, info = ehr
    assert_alive(info)


# -- client timeouts --------------------------------------------------------------------------

def test_mllp_client_read_timeout_against_silent_server(patient):
    with silent_server() as port:
        client = mllp_client({"host": "127.0.0.1", "mllp_port": port}, read_timeout=0.5)
        _acc, payload = oru(patient, "ingen svar")
        start = time.monotonic()
        with pytest.raises(ReadTimeout, match="within 0.5 s"):
            client.send(payload)
        elapsed = time.monotonic() - start
        client.close()
    assert 0.45 <= elapsed < 0.5 + 4.0


def test_mllp_client_connection_refused_on_closed_port(patient):
    client = mllp_client({"host": "127.0.0.1", "mllp_port": closed_port()}, read_timeout=0.5)
    with pytest.raises(ConnectionRefused):
        client.send(adt(patient))


# -- defects (each its own EHR process) -------------------------------------------------------

DEFECT_TEXT = ("Rad ett: ingen fraktur.\n"
               "  Rad två: inga tecken på blödning, åäö.\n"
               "Rad tre: ej förstorat hjärta.\n"
               "Rad fyra: utan anmärkning.\n"
               "Rad fem: slut på utlåtandet, Ö.")


def _send_to_defect_ehr(start_ehr, patient, defect: str) -> tuple[dict, str, hl7.Ack]:
    _profile, info, _sim = start_ehr("--defect", defect)
    assert health(info)["defects"] == [defect.split(":")[0]]
    register(info, patient)
    accession, payload = oru(patient, DEFECT_TEXT)
    with mllp_client(info) as c:
        ack = hl7.parse_ack(c.send(payload))
    return info, accession, ack


def test_defect_truncation_cuts_stored_text_at_byte_limit_with_aa(start_ehr, patient):
    info, accession, ack = _send_to_defect_ehr(start_ehr, patient, "radiology-truncation:100")
    assert ack.code == "AA"
    stored = stored_text(info, accession)
    assert len(DEFECT_TEXT.encode("utf-8")) > 100
    assert stored == DEFECT_TEXT.encode("utf-8")[:100].decode("utf-8", errors="replace")
    assert stored != DEFECT_TEXT


def test_defect_drop_lines_keeps_first_lines(start_ehr, patient):
    info, accession, ack = _send_to_defect_ehr(start_ehr, patient, "radiology-drop-lines:2")
    assert ack.code == "AA"
    assert stored_text(info, accession) == "\n".join(DEFECT_TEXT.split("\n")[:2])


def test_defect_linebreaks_joins_lines(start_ehr, patient):
    info, accession, ack = _send_to_defect_ehr(start_ehr, patient, "radiology-linebreaks")
    assert ack.code == "AA"
    stored = stored_text(info, accession)
    assert "\n" not in stored
    assert stored == "".join(line.strip() for line in DEFECT_TEXT.split("\n"))
    assert "fraktur.Rad två" in stored  # words run together


def test_defect_ack_without_store(start_ehr, patient):
    info, accession, ack = _send_to_defect_ehr(start_ehr, patient, "radiology-ack-without-store")
    assert ack.code == "AA"
    assert not wait_until(lambda: reports_for(info, accession) != [], 0.5)
