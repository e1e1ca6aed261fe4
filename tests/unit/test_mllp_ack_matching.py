"""ACKs matched to their messages (``MLLPClient.send``), over real loopback sockets.

Each peer here is a small scripted MLLP server that reads the sent MSH-10 with a regex of its own
(not genrep's code) and answers the way real peers do: in step, one message late (what
node-hl7-server did on one connection), twice, a commit ACK before the application ACK (enhanced
mode), two ACK frames in one write, ACKs naming no message. The rule checked: ``send`` returns the
ACK whose MSA-2 is the sent MSH-10, or raises a classified error within the deadline; it never
returns an answer to another message.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep import hl7
from genrep.errors import HL7Error, ReadTimeout
from genrep.transport import mllp_answers
from genrep.transport.mllp import (AckMismatch, FrameDecoder, MLLPClient, NoApplicationAck, frame)

_MSH10 = re.compile(rb"^MSH\|(?:[^|\r]*\|){8}([^|\r]*)")

# CI runs the suite on a CPU-starved machine, where the peer's thread can wait seconds for a CPU:
# a wait for an answer that will come is long (it ends when the answer does), a wait that must run
# out is short, and a bound saying "it did not hang" is that wait plus SLACK.
ANSWERED = 30.0   # read timeout for sends the peer answers
SLACK = 5.0
GRACE = 0.5       # STRAY_GRACE_S in these tests: the wait for the own ACK once a stray came


@pytest.fixture
def short_grace(monkeypatch):
    """After an answer to another message the own ACK is waited for GRACE s (not 2 s): the stray
    gets the whole read timeout to arrive, and the wait that must run out is short."""
    monkeypatch.setattr(mllp_answers, "STRAY_GRACE_S", GRACE)


def msh10(payload: bytes) -> str:
    m = _MSH10.match(payload)
    return m.group(1).decode() if m else ""


def message(control_id: str, *, accept: str = "", application: str = "") -> bytes:
    """A small ADT whose MSH-10 is ``control_id``, MSH-15/16 as given (original mode when empty)."""
    head = f"MSH|^~\\&|RIS|SECTRA|EHR|KS|20250101120000||ADT^A08^ADT_A01|{control_id}|P|2.5"
    if accept or application:
        head += f"|||{accept}|{application}"
    return (head + "\rEVN|A08|20250101120000\r").encode()


def ack(control_id: str, code: str = "AA", text: str = "") -> bytes:
    msa = f"MSA|{code}|{control_id}" + (f"|{text}" if text else "")
    return f"MSH|^~\\&|EHR|KS|RIS|SECTRA|20250101120000||ACK^A08^ACK|A{control_id}|P|2.5\r{msa}\r".encode()


class Peer:
    """A threaded loopback MLLP server: for every complete frame on a connection it calls
    ``answer(state, payload)`` -> a list of writes (bytes; ``None`` closes the connection).
    ``state`` is a dict per connection (``state["ids"]``: the control ids received so far)."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received: list[str] = []
        self.accepted = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass
        self._thread.join(timeout=2)

    def _accept(self):
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        dec, state = FrameDecoder(), {"ids": []}
        try:
            while not self._stop.is_set():
                data = conn.recv(65536)
                if not data:
                    return
                for payload in dec.feed(data):
                    state["ids"].append(msh10(payload))
                    self.received.append(msh10(payload))
                    for write in self.answer(state, payload):
                        if write is None:
                            conn.close()
                            return
                        if isinstance(write, float):
                            time.sleep(write)
                        else:
                            conn.sendall(write)
        except OSError:
            pass


def client(peer: Peer, **kw) -> MLLPClient:
    kw.setdefault("read_timeout", ANSWERED)
    return MLLPClient("127.0.0.1", peer.port, **kw)


def in_step(state, payload):
    return [frame(ack(msh10(payload)))]


# ---------------------------------------------------------------- answers in step
def test_in_step_peer_every_answer_is_its_own():
    with Peer(in_step) as peer, client(peer) as c:
        for i in range(50):
            got = hl7.parse_ack(c.send(message(f"M{i}")))
            assert (got.code, got.control_id) == ("AA", f"M{i}")
        assert c.skipped_total == 0 and c.connections == 1


# ---------------------------------------------------------------- answers out of step
def previous_ack(state, payload):
    """node-hl7-server on one connection: each message answered with the previous one's ACK."""
    ids = state["ids"]
    return [frame(ack(ids[-2] if len(ids) > 1 else ids[-1]))]


def test_previous_message_ack_is_never_taken_as_the_answer(short_grace):
    """Before: messages 2-5 each 'passed' with the previous message's AA. Now every send either
    gets its own ACK or fails as ack_mismatch, naming the ACK that came instead."""
    outcomes = []
    with Peer(previous_ack) as peer, client(peer) as c:
        for i in range(1, 6):
            t0 = time.monotonic()
            try:
                got = hl7.parse_ack(c.send(message(f"M{i}")))
                assert got.control_id == f"M{i}"
                outcomes.append("own")
            except AckMismatch as e:
                assert str(e).startswith("ack_mismatch: no ACK for control id " + repr(f"M{i}"))
                assert f"a second ACK for 'M{i - 1}', already answered" in str(e)
                assert f"within {GRACE:g} s of the first answer to another message" in str(e)
                # the grace cut the wait, not the read timeout (and not a hang)
                assert time.monotonic() - t0 < GRACE + 2 * SLACK < ANSWERED
                outcomes.append("ack_mismatch")
    # a mismatch closes the connection, so the next message opens a new one, where this peer
    # answers its first message in step
    assert outcomes == ["own", "ack_mismatch", "own", "ack_mismatch", "own"]


def duplicated(state, payload):
    return [frame(ack(msh10(payload))) * 2]          # every ACK twice, in one write


def test_duplicated_acks_are_skipped_and_flagged():
    with Peer(duplicated) as peer, client(peer) as c:
        assert hl7.parse_ack(c.send(message("D1"))).control_id == "D1"
        with pytest.raises(AckMismatch, match=r"^ack_mismatch: the answer to 'D2' .* came after 1 answer\(s\) "
                                              r"to other messages: AA: a second ACK for 'D1', already answered"
                           ) as ei:
            c.send(message("D2"))
        assert hl7.parse_ack(ei.value.answer).control_id == "D2"     # the right one is kept
        assert [s.reason for s in ei.value.skipped] == ["duplicate"]
        assert c.connected                                            # in step again: no reconnect


def late_by_one(state, payload):
    """The ACK of the previous message first, then this one's, in one write (a peer that lagged)."""
    ids = state["ids"]
    before = frame(ack("OTHER-" + ids[-1])) if len(ids) % 2 == 0 else b""
    return [before + frame(ack(ids[-1]))]


def test_two_frames_in_one_write_are_split_and_matched():
    with Peer(late_by_one) as peer, client(peer) as c:
        assert hl7.parse_ack(c.send(message("L1"))).control_id == "L1"
        with pytest.raises(AckMismatch, match="an ACK for 'OTHER-L2', which this client never sent") as ei:
            c.send(message("L2"))
        assert hl7.parse_ack(ei.value.answer).control_id == "L2"


def wrong_id_always(state, payload):
    return [frame(ack("SOMEONE-ELSE"))]


def test_no_matching_ack_by_the_deadline_is_a_classified_error_not_a_hang(short_grace):
    with Peer(wrong_id_always) as peer:
        c = client(peer)
        t0 = time.monotonic()
        with pytest.raises(AckMismatch, match=r"^ack_mismatch: no ACK for control id 'W1' .* within 0.5 s of "
                                              r"the first answer to another message; "
                                              r"instead 1 answer\(s\) to other messages: AA: an ACK for "
                                              r"'SOMEONE-ELSE', which this client never sent"):
            c.send(message("W1"))
        assert GRACE - 0.05 <= time.monotonic() - t0 < GRACE + 2 * SLACK < ANSWERED  # the grace, not the read timeout
        assert not c.connected


def test_a_read_timeout_shorter_than_the_grace_is_named_as_the_read_timeout(monkeypatch):
    """When the read deadline comes before the grace would end, the error names the read timeout.
    The grace is made long here, so the stray ACK gets the whole (3 s) read timeout to arrive."""
    monkeypatch.setattr(mllp_answers, "STRAY_GRACE_S", 60.0)
    with Peer(wrong_id_always) as peer:
        c = client(peer, read_timeout=3.0)
        t0 = time.monotonic()
        with pytest.raises(AckMismatch, match=r"^ack_mismatch: no ACK for control id 'W1' .* within 3.0 s; "
                                              r"instead 1 answer\(s\) to other messages: AA: an ACK for "
                                              r"'SOMEONE-ELSE', which this client never sent"):
            c.send(message("W1"))
        assert 2.95 <= time.monotonic() - t0 < 3.0 + SLACK
        assert not c.connected


def test_silence_is_still_a_read_timeout():
    with Peer(lambda state, payload: []) as peer:
        with pytest.raises(ReadTimeout, match="no MLLP answer") as ei:
            client(peer, read_timeout=0.3).send(message("S1"))
        assert not isinstance(ei.value, AckMismatch)


# ---------------------------------------------------------------- enhanced mode
def commit_then_application(code="AA", *, pause=0.05, one_write=False):
    def answer(state, payload):
        cid = msh10(payload)
        if one_write:
            return [frame(ack(cid, "CA")) + frame(ack(cid, code))]
        return [frame(ack(cid, "CA")), pause, frame(ack(cid, code))]
    return answer


@pytest.mark.parametrize("one_write", [False, True])
@pytest.mark.parametrize("code", ["AA", "AE", "AR"])
def test_commit_accept_then_application_ack_the_application_ack_answers(code, one_write):
    with Peer(commit_then_application(code, one_write=one_write)) as peer, client(peer) as c:
        for i in range(3):
            raw = c.send(message(f"E{i}", accept="AL", application="AL"))
            assert (hl7.parse_ack(raw).code, hl7.parse_ack(raw).control_id) == (code, f"E{i}")
            assert hl7.parse_ack(c.last_commit).code == "CA"
        assert c.skipped_total == 0


def test_commit_error_ends_the_exchange():
    with Peer(lambda state, payload: [frame(ack(msh10(payload), "CE", "kö full"))]) as peer, client(peer) as c:
        assert hl7.parse_ack(c.send(message("CE1", accept="AL", application="AL"))).code == "CE"


def test_commit_accept_without_the_application_ack_asked_for():
    with Peer(lambda state, payload: [frame(ack(msh10(payload), "CA"))]) as peer:
        # the CA must come within the read timeout that must then run out: 2 s, not 0.4, for the CA
        c = client(peer, read_timeout=2.0)
        with pytest.raises(NoApplicationAck, match=r"^no_ack: .* committed 'N1' \(CA\) but sent no application "
                                                   r"ACK within 2.0 s, though MSH-16 asked for one \(AL\)") as ei:
            c.send(message("N1", accept="AL", application="AL"))
        assert hl7.parse_ack(ei.value.commit).code == "CA"


def test_commit_accept_answers_when_no_application_ack_was_asked_for():
    """MSH-16 ER/SU (or original mode): the CA is the answer; an application AA arriving later is
    the expected sequence (recorded, not flagged), an AE after it is flagged."""
    codes = iter(["AA", "AE"])

    def answer(state, payload):
        cid = msh10(payload)
        later = [frame(ack(state["previous"], next(codes)))] if "previous" in state else []
        state["previous"] = cid
        return later + [frame(ack(cid, "CA"))]

    with Peer(answer) as peer, client(peer) as c:
        assert hl7.parse_ack(c.send(message("C1", accept="AL", application="ER"))).code == "CA"
        assert hl7.parse_ack(c.send(message("C2", accept="AL", application="ER"))).code == "CA"
        assert [(s.reason, s.code, s.flagged) for s in c.last_skipped] == [("after_commit", "AA", False)]
        with pytest.raises(AckMismatch, match="AE: the application ACK for 'C2', which had been answered"):
            c.send(message("C3", accept="AL", application="ER"))


def test_a_message_asking_for_no_ack_on_success_is_refused_before_sending():
    with Peer(in_step) as peer, client(peer) as c:
        with pytest.raises(HL7Error, match="asks for no acknowledgement on success"):
            c.send(message("Q1", accept="NE", application="NE"))
        time.sleep(0.05)
        assert peer.received == []


# ---------------------------------------------------------------- ACKs naming no message
def test_a_refusal_naming_no_message_is_the_answer_an_aa_naming_none_is_not(short_grace):
    with Peer(lambda state, payload: [frame(ack("", "AR", "cannot read MSH"))]) as peer, client(peer) as c:
        assert hl7.parse_ack(c.send(message("R1"))).code == "AR"
    with Peer(lambda state, payload: [frame(ack("", "AA"))]) as peer:
        with pytest.raises(AckMismatch, match="an ACK naming no message"):
            client(peer).send(message("R2"))


def test_a_payload_with_no_msh10_takes_the_next_frame():
    with Peer(lambda state, payload: [frame(b"whatever")]) as peer, client(peer) as c:
        assert c.send(b"not hl7") == b"whatever"


def test_not_an_ack_is_returned_for_the_caller_to_refuse():
    with Peer(lambda state, payload: [frame(payload)]) as peer, client(peer) as c:   # an echo
        raw = c.send(message("X1"))
        with pytest.raises(HL7Error, match="expected an ACK"):
            hl7.parse_ack(raw)


# ---------------------------------------------------------------- pipelined raw writes
def test_send_raw_batch_answers_are_matched_whatever_their_order():
    def reversed_pair(state, payload):
        ids = state["ids"]
        if len(ids) % 2:
            return []
        return [frame(ack(ids[-1])) + frame(ack(ids[-2]))]

    with Peer(reversed_pair) as peer, client(peer) as c:
        answer = c.send_raw([frame(message("B1")) + frame(message("B2"))])
        assert hl7.parse_ack(answer).control_id == "B1"
        assert hl7.parse_ack(c.receive(control_id="B2")).control_id == "B2"
        assert c.skipped_total == 0


# ---------------------------------------------------------------- any script
_OWN, _DUP, _OTHER, _UNNAMED_AA = "own", "dup", "other", "unnamed"


@settings(max_examples=30, deadline=None)
@given(scripts=st.lists(st.tuples(st.lists(st.sampled_from([_DUP, _OTHER, _UNNAMED_AA]), max_size=3),
                                  st.booleans(), st.integers(0, 3)), min_size=1, max_size=5))
def test_property_send_never_returns_an_answer_to_another_message(scripts):
    """For each message the peer sends some stray frames (a duplicate of an earlier ACK, an ACK for
    an unknown id, an AA naming nothing), then its own ACK or nothing, in any split of writes.
    ``send`` returns its own ACK exactly when no stray came before it, raises ack_mismatch with
    the right answer attached when one did, and a classified error when its own never came."""
    plan, seen = list(scripts), []

    def answer(state, payload):
        cid = msh10(payload)
        seen.append(cid)
        strays, answered, cut = plan[len(seen) - 1]
        earlier = seen[-2] if len(seen) > 1 else "BEFORE-ANY"
        parts = {_DUP: ack(earlier), _OTHER: ack("NOBODY"), _UNNAMED_AA: ack("", "AA")}
        wire = b"".join(frame(parts[s]) for s in strays) + (frame(ack(cid)) if answered else b"")
        if not wire:
            return []
        at = min(cut * 7, len(wire))
        return [w for w in (wire[:at], 0.002, wire[at:]) if w != b""]

    # a function-scoped fixture would outlive hypothesis's examples: the grace is patched here
    with pytest.MonkeyPatch.context() as mp, Peer(answer) as peer, client(peer) as c:
        mp.setattr(mllp_answers, "STRAY_GRACE_S", 0.15)
        for i, (strays, answered, _cut) in enumerate(plan):
            cid = f"P{i}"
            # a peer that writes something gets the whole long timeout; only silence is waited out
            # (an own ACK written after strays may miss the 0.15 s grace: ack_mismatch, allowed)
            c.read_timeout = ANSWERED if strays or answered else 0.15
            try:
                raw = c.send(message(cid))
            except AckMismatch as e:
                assert strays or not answered
                if e.answer is not None:
                    assert hl7.parse_ack(e.answer).control_id == cid
                    assert answered
                continue
            except ReadTimeout:
                assert not answered and not strays
                continue
            assert answered and not strays
            assert hl7.parse_ack(raw).control_id == cid
