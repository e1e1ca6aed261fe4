"""Enhanced acknowledgement mode end to end, over real sockets (issue 16): a profile endpoint with
``ack_mode: enhanced`` makes genrep's messages carry MSH-15/16 = AL; the virtual EHR, a correct
enhanced-mode receiver, answers a commit ACK (CA) and then the application ACK (AA/AE) as MSH-16
asks; the client takes the AA as the answer (the CA kept) and the report reads back intact. A peer
that commits and never sends the application ACK is ``NoApplicationAck``; original mode is unchanged
(one ACK per message). And the endpoint's ``code_pages``: genrep writes cp1252 under 8859/1, which the
virtual EHR (strict table 0211) refuses, naming the likely Windows-1252 mislabel."""

from __future__ import annotations

import dataclasses
import socket
import threading

import pytest

from genrep import hl7
from genrep.errors import HL7Error
from genrep.integrations.radiology import RadiologyClient, new_accession, new_control_id
from genrep.text.identities import IdentityGuard
from genrep.transport.mllp import FrameDecoder, NoApplicationAck, frame

from .conftest import MLLP_TIMEOUT

REPORT = "Lungröntgen: ingen pneumothorax.\nHjärtstorlek normal; sinus fria.\n\nSlutsats: inga tecken på fraktur."


def _with(profile, **settings):
    ep = dataclasses.replace(profile.endpoint("radiology_mllp"), **settings)
    return profile.with_endpoints({"radiology_mllp": ep})


@pytest.fixture
def enhanced(ehr, contract, allowlist):
    """A RadiologyClient whose profile endpoint says ``ack_mode: enhanced``, on the shared EHR."""
    profile, _info = ehr
    client = RadiologyClient(_with(profile, ack_mode="enhanced"), contract, IdentityGuard(allowlist))
    yield client
    client.close()


class Wire:
    """A raw connection to the EHR's MLLP port: write framed payloads, read answer frames in order."""

    def __init__(self, info: dict):
        self.sock = socket.create_connection((info["host"], info["mllp_port"]), timeout=MLLP_TIMEOUT)
        self.decoder = FrameDecoder()
        self.ready: list[bytes] = []

    def send(self, payload: bytes) -> None:
        self.sock.sendall(frame(payload))

    def next(self) -> hl7.Ack:
        while not self.ready:
            data = self.sock.recv(65536)
            assert data, "the EHR closed the connection"
            self.ready.extend(self.decoder.feed(data))
        return hl7.parse_ack(self.ready.pop(0))

    def close(self) -> None:
        self.sock.close()


def _adt(patient, ack_types: tuple[str, str] | None) -> tuple[str, bytes]:
    cid = new_control_id()
    msg = hl7.build_adt("A08", patient, control_id=cid)
    if ack_types is not None:
        msh, rest = msg.split("\r", 1)
        fields = msh.split("|")
        fields[14], fields[15] = ack_types
        msg = "|".join(fields) + "\r" + rest
    return cid, hl7.encode(msg)


def test_a_report_to_an_enhanced_endpoint_gets_ca_then_aa_and_reads_back_intact(enhanced, patient):
    registered = enhanced.register(patient)
    assert hl7.parse(registered.message).msh.fields[15:17] == ["AL", "AL"]
    assert registered.ack.code == "AA"
    assert hl7.parse_ack(enhanced.mllp.last_commit).code == "CA"

    accession = new_accession()
    message = enhanced.build_report(patient, hl7.Report(accession=accession, text=REPORT))
    cid = hl7.parse(message).control_id
    ex = enhanced.send_message(message)
    commit = hl7.parse_ack(enhanced.mllp.last_commit)
    assert (commit.code, commit.control_id) == ("CA", cid)       # the commit ACK first ...
    assert (ex.ack.code, ex.ack.control_id) == ("AA", cid)       # ... then the application ACK: the answer
    assert enhanced.mllp.last_skipped == ()                      # nothing out of step
    reports, _ = enhanced.read_back(accession)
    assert len(reports) == 1 and reports[0].text == REPORT
    check = enhanced.check(REPORT, reports[0])
    assert check.ok, check.message()


def test_on_the_wire_ca_comes_first_then_the_application_ack_per_msh16(ehr, patient):
    _profile, info = ehr
    wire = Wire(info)
    try:
        for ack_types, expected in (((("AL", "AL")), ["CA", "AA"]), (("AL", "SU"), ["CA", "AA"]),
                                    (("AL", "ER"), ["CA"]), (("AL", "NE"), ["CA"]), (("NE", "AL"), ["AA"]),
                                    (None, ["AA"])):
            cid, payload = _adt(patient, ack_types)
            wire.send(payload)
            # then an original-mode message: its AA is the next frame after exactly the expected ones
            marker, marker_payload = _adt(patient, None)
            wire.send(marker_payload)
            got = [wire.next() for _ in expected]
            assert [(a.code, a.control_id) for a in got] == [(code, cid) for code in expected], ack_types
            after = wire.next()
            assert (after.code, after.control_id) == ("AA", marker), f"{ack_types}: an extra answer"
    finally:
        wire.close()


def test_an_application_error_is_ca_then_ae_when_msh16_asks_for_errors(ehr, enhanced, patient):
    _profile, info = ehr
    enhanced.register(patient)  # its own patient: the refusal must be for the missing text, not an unknown patient
    built = enhanced.build_report(patient, hl7.Report(accession=new_accession(), text="x"))
    no_text = "\r".join(s for s in built.split("\r") if s and not s.startswith("OBX|")) + "\r"
    msh, rest = no_text.split("\r", 1)
    fields = msh.split("|")
    fields[15] = "ER"                                            # application ACK on error only
    cid = fields[9]
    wire = Wire(info)
    try:
        wire.send(hl7.encode("|".join(fields) + "\r" + rest))
        commit, application = wire.next(), wire.next()
        assert (commit.code, commit.control_id) == ("CA", cid)   # safely received ...
        assert (application.code, application.control_id) == ("AE", cid)  # ... but refused: nothing stored
        assert "holds no text" in application.text
    finally:
        wire.close()


def test_original_mode_is_unchanged_one_ack_per_message(rad, patient):
    ex = rad.register(patient)
    assert hl7.parse(ex.message).msh.fields[15:17] == ["", ""]
    assert ex.ack.code == "AA" and rad.mllp.last_commit is None
    assert hl7.parse(hl7.decode(ex.ack_raw)).msh.fields[15:17] == ["", ""]


@pytest.fixture
def commit_only_peer():
    """A tiny loopback server that answers each message with a CA and never the application ACK."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    stop = threading.Event()

    def serve():
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            decoder = FrameDecoder()
            conn.settimeout(0.2)
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                for payload in decoder.feed(data):
                    request = hl7.parse(hl7.decode(payload))
                    conn.sendall(frame(hl7.build_ack(request, "CA").encode("utf-8")))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(timeout=5)


def test_a_peer_that_commits_and_never_answers_is_no_application_ack(ehr, contract, allowlist, patient,
                                                                      commit_only_peer):
    profile, _info = ehr
    ep = dataclasses.replace(profile.endpoint("radiology_mllp"), port=commit_only_peer, ack_mode="enhanced")
    peer_profile = dataclasses.replace(profile.with_endpoints({"radiology_mllp": ep}),
                                       timeouts=dataclasses.replace(profile.timeouts, read=1.0))
    client = RadiologyClient(peer_profile, contract, IdentityGuard(allowlist))
    try:
        with pytest.raises(NoApplicationAck, match=r"^no_ack: .* committed 'GR\w+' \(CA\) but sent no application "
                                                   r"ACK within 1\.0 s, though MSH-16 asked for one \(AL\)") as err:
            client.register(patient)
        assert hl7.parse_ack(err.value.commit).code == "CA"
    finally:
        client.close()


def test_a_documented_code_page_is_written_and_the_strict_ehr_names_the_mislabel(ehr, contract, allowlist, patient):
    profile, _info = ehr
    client = RadiologyClient(_with(profile, code_pages=(("8859/1", "cp1252"),)), contract, IdentityGuard(allowlist))
    try:
        assert client.register(patient, charset="8859/1").ack.code == "AA"
        text = "Fraktur 3–4 cm, kostnad 100 €."
        message = client.build_report(patient, hl7.Report(accession=new_accession(), text=text), charset="8859/1")
        ex = client.send_message(message)
        assert b"3\x964 cm" in ex.payload and b"100 \x80" in ex.payload
        assert hl7.detect_charset(ex.payload) == "8859/1"
        # the virtual EHR is a strict table 0211 receiver: it refuses the C1 bytes and says why
        assert ex.ack.code == "AE", ex.ack.text
        assert "likely Windows-1252 labelled 8859/1" in ex.ack.text
    finally:
        client.close()
    with pytest.raises(HL7Error, match="cannot be encoded"):
        hl7.encode(message)  # without the setting the same text is refused before a byte is sent
