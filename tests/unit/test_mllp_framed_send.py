"""The RisUser's framed path (issue 18) is the general send, computed ahead.

* ``Payloads.oru_framed`` gives exactly ``frame(payload)`` and ``ack_request(payload)`` for the very
  payload ``hl7.build_oru`` makes with those ids, in both acknowledgement modes.
* ``MLLPClient.send_framed`` answers and keeps its books as ``send`` does (the same peer, the same
  answers, the same skipped frames), refuses anything that is not exactly one frame before a byte
  leaves, and the identity guard scans the very bytes that leave.
* ``plain_aa_frame``, which now makes ``is_plain_aa``'s tests itself, accepts exactly what the
  one-frame test plus ``is_plain_aa`` accepted (the composition it replaced, kept here as the
  reference), on generated frames.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from genrep import hl7
from genrep.errors import HL7Error, IdentityViolation
from genrep.hl7.ack import ack_request, is_plain_aa
from genrep.load.workload import ORU_TEXT, Payloads
from genrep.text import identities
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.transport.mllp import MLLPClient, frame
from genrep.transport.mllp_lean import plain_aa_frame

from test_mllp_send_path import FOREIGN, AckServer


@pytest.fixture(autouse=True)
def _nothing_vetted():
    identities.forget_vetted()
    yield
    identities.forget_vetted()


@pytest.mark.parametrize("ack_mode", sorted(hl7.ACK_MODES))
def test_a_framed_oru_is_the_builders_message_framed_with_its_ack_request(ack_mode):
    payloads = Payloads(ack_mode=ack_mode)
    seen = set()
    for _ in range(5):
        data, request, accession = payloads.oru_framed("127.0.0.1:2575")
        payload = data[1:-2]
        assert frame(payload) == data
        assert ack_request(payload) == request
        ts = time.strftime("%Y%m%d%H%M%S", time.localtime(payloads._templates[True][0]))
        expected = hl7.build_oru(payloads.patient, hl7.Report(accession=accession, text=ORU_TEXT),
                                 control_id=request.control_id, timestamp=ts, ack_mode=ack_mode)
        assert payload == hl7.encode(expected)
        seen.add(request.control_id)
    assert len(seen) == 5
    assert payloads._oru_template(framed=True)[0].eligible  # vetted by its values, not scanned whole


@pytest.fixture
def server():
    s = AckServer()
    yield s
    s.close()


def test_send_framed_answers_and_keeps_its_books_as_send_does(server):
    payloads = Payloads()
    general = MLLPClient("127.0.0.1", server.port, read_timeout=10)
    framed = MLLPClient("127.0.0.1", server.port, read_timeout=10)
    try:
        for _ in range(3):
            data, request, _acc = payloads.oru_framed(general.endpoint)
            a = general.send(data[1:-2])
            b = framed.send_framed(data, request)
            assert a == b
            assert framed.last_plain_aa == general.last_plain_aa == request.control_id
            assert framed._history == general._history
        assert framed.connections == general.connections == 1
        assert (framed._answers, framed.last_skipped, framed.resends) == (general._answers, general.last_skipped,
                                                                        general.resends)
        assert server.received[0::2] == server.received[1::2]  # the same bytes reached the peer
    finally:
        general.close()
        framed.close()


@pytest.mark.parametrize("data", [b"MSH|x", b"\x0bMSH|x\x1c", b"\x0bMSH|\x0bx\x1c\r", b"\x0bMSH|\x1cx\x1c\r",
                                  b"\x0bMSH|x\x1c\r\x0bMSH|y\x1c\r", b"x\x0bMSH|x\x1c\r"],
                         ids=["no frame", "no CR", "VT inside", "FS inside", "two frames", "bytes before"])
def test_send_framed_refuses_anything_but_one_frame_before_a_byte_leaves(server, data):
    client = MLLPClient("127.0.0.1", server.port, read_timeout=10)
    with pytest.raises(HL7Error, match="exactly one MLLP frame"):
        client.send_framed(data, ack_request(b"MSH|^~\\&|A|B|C|D|1||ORU^R01|X1|P|2.5.1"))
    assert client.connections == 0 and server.received == []


def test_send_framed_passes_the_bytes_that_leave_through_the_guard(server):
    """A frame nobody vetted is scanned whole at the transport: a number off the allowlist stops it."""
    identities.install_outbound_guard(IdentityGuard(Allowlist.load()))
    try:
        payload = b"MSH|^~\\&|A|B|C|D|20250101||ORU^R01|X1|P|2.5.1\rPID|||" + FOREIGN.encode() + b"\r"
        client = MLLPClient("127.0.0.1", server.port, read_timeout=10)
        with pytest.raises(IdentityViolation):
            client.send_framed(frame(payload), ack_request(payload))
        assert client.connections == 0 and server.received == []
    finally:
        identities.install_outbound_guard(None)


# -- plain_aa_frame against the composition it replaced ------------------------------------------
def _reference(data: bytes, control_id: str, max_frame: int | None) -> bytes | None:
    """plain_aa_frame as it was: the one-frame test, the first MSA, then ``is_plain_aa``."""
    n = len(data)
    if (n < 3 or data[0] != 0x0B or data[n - 1] != 0x0D or data.find(b"\x1c", 1) != n - 2
            or data.find(b"\x0b", 1) >= 0 or (max_frame is not None and n - 3 > max_frame)):
        return None
    payload = data[1:n - 2]
    aa = b"MSA|AA|" + control_id.encode("ascii")
    at = payload.find(b"\rMSA|") + 1
    if not at or not payload.startswith(aa, at):
        return None
    end = at + len(aa)
    if payload[end:end + 1] not in (b"\r", b"|", b""):
        return None
    return payload if is_plain_aa(payload, control_id) else None


def _either(draw, usual: bytes, others: list[bytes]) -> bytes:
    """``usual`` three times in four, else one of ``others``: most frames differ from a plain AA in
    one or two places, where the two tests could disagree."""
    return usual if draw(st.integers(0, 3)) else draw(st.sampled_from(others))


@st.composite
def _answers(draw):
    """A plain AA frame for B1 with each of its parts changed now and then, or raw junk."""
    if draw(st.integers(0, 9)) == 0:
        pieces = [b"MSH|^~\\&|", b"ACK", b"|", b"\r", b"MSA|AA|B1", b"ERR|", b"\x1c", b"\x0b", b"x", b"\rMSA|"]
        return b"".join(draw(st.lists(st.sampled_from(pieces), max_size=12)))
    kind = _either(draw, b"ACK^R01^ACK", [b"ACK", b"ACK^", b"ACKX", b"ACKX^R01", b"ADT^A01", b"", b"XACK"])
    fields = [b"MSH", b"^~\\&", b"EHR", b"H", b"RIS", b"H", b"2025", b"", kind, b"A1", b"P", b"2.5"]
    fields = fields[:draw(st.sampled_from([12, 12, 12, 9, 10]))]
    msh = _either(draw, b"|".join(fields), [b"MSH|^~\\&#|E|H|R|H|2025||ACK|A1|P|2.5", b"MSH|^~\\&|E\rX|ACK"])
    middle = _either(draw, b"\r", [b"\rERR|x\r", b"\rNTE|MSA|AE|B1\r", b"\rXMSA|AA|B1\r", b"\rMSA|AE|B2\r",
                                   b"\rMSA|AA|B1\r", b"\r\r"])
    code = _either(draw, b"AA", [b"AE", b"AR", b"CA", b"aa", b"A"])
    cid = _either(draw, b"B1", [b"B12", b"B", b"b1", b"", b" B1"])
    tail = _either(draw, b"", [b"\r", b"|x", b"|", b"x", b"\rERR|1", b"\rMSA|AE|B1", b"\rNTE|ERR|", b"\rERR"])
    start = _either(draw, b"\x0b", [b"", b"x\x0b", b"\x0b\x0b"])
    end = _either(draw, b"\x1c\r", [b"\x1c", b"\r", b"\x1c\r\x0b", b"\x1c\r\x1c\r", b"\x1cx\x1c\r"])
    return start + msh + middle + b"MSA|" + code + b"|" + cid + tail + end


@settings(max_examples=1500, deadline=None)
@given(_answers(), st.sampled_from([None, 16 * 1024 * 1024, 16 * 1024 * 1024, 70, 10]))
def test_plain_aa_frame_accepts_exactly_what_the_old_composition_did(data, max_frame):
    assert plain_aa_frame(data, "B1", max_frame) == _reference(data, "B1", max_frame)


def test_the_generated_answers_include_plain_aas():
    """The comparison above means something only if the generator makes plain AAs too (and the
    hand-written ones here are told apart as they should be)."""
    found = find(_answers(), lambda data: plain_aa_frame(data, "B1", None) is not None,
                 settings=settings(max_examples=200, database=None))
    assert _reference(found, "B1", None) is not None
    frames = [b"\x0bMSH|^~\\&|E|H|R|H|2025||ACK^R01^ACK|A1|P|2.5\rMSA|AA|B1\x1c\r",
              b"\x0bMSH|^~\\&|E|H|R|H|2025||ACK|A1|P|2.5\rMSA|AA|B1|\x1c\r"]
    assert all(plain_aa_frame(f, "B1", None) is not None for f in frames)
    assert plain_aa_frame(frames[0].replace(b"ACK^", b"ACKX^"), "B1", None) is None
    assert plain_aa_frame(frames[0].replace(b"\rMSA", b"\rERR|1\rMSA"), "B1", None) is None
