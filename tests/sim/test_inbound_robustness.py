"""The virtual EHR's MLLP inbound under random byte streams, split at random, over a real socket.

``test_ehr_mllp`` already fuzzes one frame per connection (``test_fuzz_frames_never_get_aa``: a
random payload, its VT/FS CR removed, in one write) and splits one valid message at random
(``test_frame_split_in_random_chunks``). This file covers what those leave out: a *stream* on one
connection that mixes valid messages, random frames and random bytes between frames (VT, FS and
CR included anywhere), cut into random TCP writes. A small reference model of MLLP framing (a
frame is the bytes after the last VT up to FS CR; bytes outside a frame are ignored) says how many
complete frames the stream holds; the EHR must then:

- answer every complete frame with exactly one ACK, in order, or close the connection;
- accept every valid message in the stream (AA for its own control id) and store its report;
- still answer a valid message on the same connection afterwards (nothing left over, no extra
  ACK), and on a new connection;
- never make the harness wait unbounded (every read has a deadline).
"""

from __future__ import annotations

import random

from hypothesis import event, given, settings
from hypothesis import strategies as st

from genrep import hl7
from genrep.errors import ConnectionClosed
from genrep.transport.mllp import CR, FS, VT, frame
from genrep.integrations.radiology import new_control_id

from .conftest import adt, assert_alive, mllp_client, oru, register, reports_for

HYPO = {"deadline": None, "database": None}
READ_TIMEOUT = 5.0

TOKENS = [VT, FS, CR, FS + CR, VT + b"MSH|^~\\&|", b"MSH|^~\\&|", b"|", b"^", b"~", b"\\", b"&",
          b"\r", b"\n", b"PID", b"OBX", b"ORU^R01", b"ADT^A04", b"\xe5", b"\xc3\xa5", b"\x00",
          b"\xff", b"8859/1", b"UNICODE UTF-8", b"1", b"noise"]
junk = st.one_of(st.binary(max_size=200), st.lists(st.sampled_from(TOKENS), max_size=30).map(b"".join))


def count_frames(stream: bytes) -> int:
    """Reference model of MLLP framing: complete frames in ``stream``."""
    frames, in_frame, i = 0, False, 0
    while i < len(stream):
        b = stream[i:i + 1]
        if b == VT:
            in_frame = True  # a VT outside a frame starts one, inside restarts it
        elif in_frame and b == FS and stream[i + 1:i + 2] == CR:
            frames += 1
            in_frame = False
            i += 1
        i += 1
    return frames


def _cuts(data: bytes, rng: random.Random) -> list[bytes]:
    if len(data) < 2:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(0, 15))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


@settings(max_examples=40, **HYPO)
@given(parts=st.lists(st.one_of(
    st.tuples(st.just("valid"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("junk"), junk),                    # raw bytes, VT/FS/CR allowed
    st.tuples(st.just("frame"), junk),                   # a framed random payload
), min_size=1, max_size=8), seed=st.integers(0, 2 ** 32 - 1))
def test_random_stream_in_random_writes_gets_one_ack_per_frame(ehr, patient, parts, seed):
    _profile, info = ehr
    register(info, patient)
    rng = random.Random(seed)
    stream, valid = b"", []  # valid: (offset in the frame sequence, control id, accession)
    for kind, value in parts:
        if kind == "valid":
            # VT first: whatever junk came before, this frame starts clean here
            control_id = new_control_id()
            accession, payload = oru(patient, f"Svar {value}: ingen fraktur.\nRad två.",
                                     control_id=control_id)
            stream += frame(payload)
            valid.append((count_frames(stream) - 1, control_id, accession))
        elif kind == "junk":
            stream += value
        else:
            stream += VT + value.replace(VT, b"") + FS + CR
    # the VT of a valid frame restarts any frame junk left open, so the model's count of the
    # frames so far stays right; a trailing unfinished frame is closed off by the probe's VT
    expected = count_frames(stream)
    event(f"complete frames: {min(expected, 4)}{'+' if expected >= 4 else ''}, valid: {len(valid)}")
    probe = new_control_id()
    probe_frame = frame(adt(patient, "A08", control_id=probe))
    assert count_frames(stream + probe_frame) == expected + 1

    acks = []
    with mllp_client(info, read_timeout=READ_TIMEOUT) as c:
        try:
            c.send_raw(_cuts(stream + probe_frame, rng), expect_response=False, pause=0.0005)
            for _ in range(expected + 1):
                acks.append(hl7.parse_ack(c.receive()))  # always a well-formed ACK
        except ConnectionClosed:
            closed = True  # closing is an allowed answer, but only for a frame that is not valid
        else:
            closed = False
    event(f"connection closed: {closed}")
    assert len(acks) <= expected + 1
    if not closed:
        assert (acks[-1].code, acks[-1].control_id) == ("AA", probe), (acks[-1], "extra or missing ACK")
    for index, control_id, accession in valid:
        if closed and index >= len(acks):
            # the connection was closed before this valid frame was answered: it must have been
            # because of an earlier frame, and nothing may be half stored
            assert len(reports_for(info, accession)) <= 1
            continue
        ack = acks[index]
        assert (ack.code, ack.control_id) == ("AA", control_id), (index, ack)
        assert len(reports_for(info, accession)) == 1, (index, accession, "AA but not stored")
    for k, ack in enumerate(acks[:expected]):
        if k not in {v[0] for v in valid}:
            assert ack.code in ("AA", "AE", "AR"), (k, ack)
    if closed:
        assert_alive(info)  # a closed connection must not mean a dead EHR


@settings(max_examples=30, **HYPO)
@given(data=st.one_of(st.binary(max_size=2000),
                      st.lists(st.one_of(junk, junk.map(lambda b: VT + b + FS + CR)),
                               max_size=10).map(b"".join)),
       seed=st.integers(0, 2 ** 32 - 1))
def test_random_bytes_then_a_valid_message_on_the_same_connection(ehr, patient, data, seed):
    """Pure random bytes (any framing bytes, any split), then VT + a valid ADT + FS CR: the ADT
    gets its own AA after exactly one ACK per complete frame the random bytes held."""
    _profile, info = ehr
    rng = random.Random(seed)
    expected = count_frames(data)
    event(f"complete frames in the random bytes: {min(expected, 2)}{'+' if expected >= 2 else ''}")
    probe = new_control_id()
    stream = data + frame(adt(patient, "A04", control_id=probe))
    with mllp_client(info, read_timeout=READ_TIMEOUT) as c:
        try:
            c.send_raw(_cuts(stream, rng), expect_response=False)
            acks = [hl7.parse_ack(c.receive()) for _ in range(expected + 1)]
        except ConnectionClosed:
            acks = None
    event(f"connection closed: {acks is None}")
    if acks is None:
        assert_alive(info)
        return
    assert (acks[-1].code, acks[-1].control_id) == ("AA", probe), acks
    assert all(a.code in ("AA", "AE", "AR") for a in acks[:-1]), acks


def test_server_alive_after_stream_fuzzing(ehr):
    _profile, info = ehr
    assert_alive(info)
