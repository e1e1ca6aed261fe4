"""Defect ``radiology-ack-misaligned`` over real loopback sockets: the virtual EHR answers one message
behind on each connection (the ACK of the message before, the first an AA naming no message), as
node-hl7-server was seen to do (docs/interop.md), and genrep's MLLP client says so (``AckMismatch``,
kind ``ack_mismatch``) instead of taking another message's AA for its own."""

from __future__ import annotations

import socket

import pytest

from genrep import hl7
from genrep.integrations.radiology import RadiologyClient, new_control_id
from genrep.results.failure_kinds import kinds_in
from genrep.sim.defects import DEFECTS, startup_args
from genrep.text.identities import IdentityGuard
from genrep.transport.mllp import AckMismatch, FrameDecoder, frame

from .conftest import adt, health, mllp_client, oru, stored_text, wait_until

DEFECT = "radiology-ack-misaligned"
TEXT = "Slätröntgen thorax.\nIngen pneumothorax.\nSammanfattning: utan anmärkning."
#: the read timeout where the EHR's (stray) answer must arrive first: generous, since a busy CI host
#: starves processes for seconds. The client's own ACK never comes; once the stray one has, the
#: client waits only its grace (``mllp_answers.STRAY_GRACE_S``) for it, not this whole timeout.
READ_TIMEOUT = 5.0


@pytest.fixture
def misaligned(start_ehr):
    """(profile, info) of an EHR started with the defect."""
    assert startup_args([DEFECT], "ehr") == ["--defect", DEFECT]
    profile, info, _sim = start_ehr(*startup_args([DEFECT], "ehr"))
    assert health(info)["defects"] == [DEFECT]
    return profile, info


def _answers(info: dict, payloads: list[bytes], *, timeout: float = 30.0) -> list[hl7.Ack]:
    """Send each payload on one raw connection, reading one answer frame after each."""
    out = []
    with socket.create_connection((info["host"], info["mllp_port"]), timeout=timeout) as sock:
        decoder, ready = FrameDecoder(), []
        for payload in payloads:
            sock.sendall(frame(payload))
            while not ready:
                data = sock.recv(65536)
                assert data, "the EHR closed the connection"
                ready += decoder.feed(data)
            out.append(hl7.parse_ack(ready.pop(0)))
    return out


def test_defect_is_a_radiology_defect_caught_as_ack_mismatch():
    d = DEFECTS[DEFECT]
    assert (d.target, d.integration, d.expected_kinds) == ("ehr", "radiology", ("ack_mismatch",))
    assert set(d.detected_by) == {"RAD-001", "RAD-R21"}


def test_each_answer_is_the_previous_messages_ack(misaligned, patient):
    _profile, info = misaligned
    ids = [new_control_id() for _ in range(3)]
    accession, report = oru(patient, TEXT, control_id=ids[2])
    acks = _answers(info, [adt(patient, control_id=ids[0]), adt(patient, "A08", control_id=ids[1]), report])
    assert [(a.code, a.control_id) for a in acks] == [("AA", ""), ("AA", ids[0]), ("AA", ids[1])]
    # only the wire is out of step: every message was processed and stored
    assert wait_until(lambda: stored_text(info, accession) is not None, 30.0)
    assert stored_text(info, accession) == TEXT
    # a new connection starts behind again: its first answer names no message
    again = new_control_id()
    assert [(a.code, a.control_id) for a in _answers(info, [adt(patient, control_id=again)])] == [("AA", "")]


def test_clean_ehr_answers_in_step(ehr, patient):
    _profile, info = ehr
    ids = [new_control_id() for _ in range(2)]
    acks = _answers(info, [adt(patient, control_id=ids[0]), adt(patient, "A08", control_id=ids[1])])
    assert [(a.code, a.control_id) for a in acks] == [("AA", ids[0]), ("AA", ids[1])]


def test_client_raises_ack_mismatch_when_its_own_ack_never_comes(misaligned, patient):
    _profile, info = misaligned
    cid = new_control_id()
    with mllp_client(info, read_timeout=READ_TIMEOUT) as c:
        with pytest.raises(AckMismatch) as caught:
            c.send(adt(patient, control_id=cid))
    exc = caught.value
    assert str(exc).startswith("ack_mismatch: no ACK for control id ")
    assert kinds_in(str(exc)) == ["ack_mismatch"]
    assert exc.control_id == cid
    assert [(s.code, s.reason) for s in exc.skipped] == [("AA", "unnamed")]


def test_client_raises_ack_mismatch_when_its_ack_comes_after_another(misaligned, patient):
    """Two messages in one write: the first's ACK comes second, after the unnamed AA, and is
    attached to the error; it is never taken silently."""
    _profile, info = misaligned
    first, second = new_control_id(), new_control_id()
    with mllp_client(info, read_timeout=2 * READ_TIMEOUT) as c:  # both answers come
        with pytest.raises(AckMismatch) as caught:
            c.send_raw([frame(adt(patient, control_id=first)) + frame(adt(patient, "A08", control_id=second))])
    exc = caught.value
    assert str(exc).startswith(f"ack_mismatch: the answer to {first!r}")
    assert hl7.parse_ack(exc.answer).control_id == first
    assert [s.reason for s in exc.skipped] == ["unnamed"]


def test_scenario_client_fails_with_ack_mismatch(misaligned, contract, allowlist, patient):
    """The client the radiology scenarios use (``RadiologyClient``, the Background's registration)."""
    profile, _info = misaligned
    client = RadiologyClient(profile, contract, IdentityGuard(allowlist))
    client.mllp.read_timeout = READ_TIMEOUT
    try:
        with pytest.raises(AckMismatch) as caught:
            client.register(patient, "A04")
    finally:
        client.close()
    assert kinds_in(str(caught.value)) == ["ack_mismatch"]
