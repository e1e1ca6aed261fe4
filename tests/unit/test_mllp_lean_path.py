"""The MLLP client's one-pass answer (``transport.mllp_lean``, issue 18) against real sockets.

A tiny responder thread answers each frame with scripted bytes. Every scenario is run twice, with
the lean first read and with it switched off (``_lean_answer`` replaced by the full path
``_answer``), and both runs must end alike: the same answer or the same error, the same skipped
and commit frames, the same frames left queued, the same history. Only a plain AA for the message
just sent, arriving as exactly one frame, is taken by the lean read (``last_plain_aa``).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from genrep.errors import ConnectionClosed, ReadTimeout
from genrep.transport import mllp_answers
from genrep.transport.mllp import AckMismatch, MLLPClient, NoApplicationAck
from genrep.transport.mllp_answers import AckMatching

VT, END = b"\x0b", b"\x1c\r"
CLOSE = object()
# CI runs on a CPU-starved machine, where the responder's thread can wait seconds for a CPU: a
# send it answers gets a long read timeout (it ends when the answer comes); once an answer to
# another message came, the own ACK is waited for GRACE s (STRAY_GRACE_S, 2 s in the product), so
# the scenarios whose own ACK never comes end soon; a bound on a wait that must run out is that
# wait plus SLACK.
ANSWERED = 5.0
GRACE = 0.6
SLACK = 5.0


def message(cid: str, ack_mode: str = "") -> bytes:
    modes = "|||AL|AL" if ack_mode == "AL" else ""
    return f"MSH|^~\\&|RIS|X|EHR|Y|20250101120000||ORU^R01|{cid}|P|2.5{modes}\rPID|1\r".encode()


def ack(cid: str, code: str = "AA", err: bool = False) -> bytes:
    body = (f"MSH|^~\\&|EHR|Y|RIS|X|20250101120001||ACK^R01^ACK|A{cid}|P|2.5\rMSA|{code}|{cid}\r"
            + ("ERR|^^^207&Application internal error\r" if err else "")).encode()
    return VT + body + END


class Responder:
    """Answers each complete frame with ``script(control id)``: a list of byte chunks (each sent
    in its own write, 50 ms apart), or CLOSE to close the connection."""

    def __init__(self, script):
        self.script = script
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn):
        buf = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while END in buf:
                frame, buf = buf.split(END, 1)
                cid = frame.split(b"\r")[0].split(b"|")[9].decode()
                out = self.script(cid)
                if out is CLOSE:
                    conn.close()
                    return
                for k, chunk in enumerate(out):
                    if k:
                        time.sleep(0.05)
                    conn.sendall(chunk)

    def close(self):
        self.server.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def exchange(script, *, lean: bool, monkeypatch, ack_mode: str = "", read_timeout: float = ANSWERED,
             warmup: bool = True):
    """Send one plain-AA'd warm-up message (the connection is then reused), then message B; return
    what the second send ended with and the client's state."""
    responder = Responder(lambda cid: [ack(cid)] if cid == "WARM" else script(cid))
    with monkeypatch.context() as m:
        m.setattr(mllp_answers, "STRAY_GRACE_S", GRACE)
        if not lean:
            m.setattr(MLLPClient, "_lean_answer", AckMatching._answer)
        client = MLLPClient("127.0.0.1", responder.port, read_timeout=ANSWERED, connect_timeout=ANSWERED)
        try:
            if warmup:
                client.send(message("WARM"))     # answered: the long timeout whatever B1's is
            client.read_timeout = read_timeout
            start = time.monotonic()
            try:
                outcome = ("ok", client.send(message("B1", ack_mode)))
            except Exception as e:  # noqa: BLE001 - the outcome compared
                outcome = (type(e).__name__, str(e).replace(str(responder.port), "PORT"),
                           getattr(e, "answer", None))
            elapsed = time.monotonic() - start
            state = dict(outcome=outcome, skipped=client.last_skipped, commit=client.last_commit,
                         ready=list(client._ready), history=dict(client._history),
                         connected=client.connected, plain_aa=client.last_plain_aa)
        finally:
            client.close()
            responder.close()
    return state, elapsed


def both(script, monkeypatch, **kw):
    lean, lean_s = exchange(script, lean=True, monkeypatch=monkeypatch, **kw)
    full, full_s = exchange(script, lean=False, monkeypatch=monkeypatch, **kw)
    assert full["plain_aa"] is None           # the full path never claims a proof
    proof = lean.pop("plain_aa")
    full.pop("plain_aa")
    assert lean == full
    return lean, proof, lean_s


def test_a_plain_aa_is_taken_by_the_lean_read(monkeypatch):
    state, proof, _ = both(lambda cid: [ack(cid)], monkeypatch)
    assert state["outcome"] == ("ok", ack("B1")[1:-2])
    assert proof == "B1"
    assert state["history"]["B1"] == "answered" and state["ready"] == [] and state["skipped"] == ()


def test_a_plain_aa_in_enhanced_mode_is_taken_too(monkeypatch):
    state, proof, _ = both(lambda cid: [ack(cid)], monkeypatch, ack_mode="AL")
    assert state["outcome"][0] == "ok" and proof == "B1"


def test_an_ack_for_another_control_id_is_a_mismatch_as_before(monkeypatch):
    state, proof, _ = both(lambda cid: [ack("ZZ9")], monkeypatch)
    assert state["outcome"][0] == AckMismatch.__name__ and proof is None
    assert [s.control_id for s in state["skipped"]] == ["ZZ9"]


@pytest.mark.parametrize("code", ["AE", "AR"])
def test_a_refusal_is_returned_as_before_and_not_proven(monkeypatch, code):
    state, proof, _ = both(lambda cid: [ack(cid, code)], monkeypatch)
    assert state["outcome"] == ("ok", ack("B1", code)[1:-2]) and proof is None


def test_an_aa_with_an_err_segment_is_returned_but_not_proven(monkeypatch):
    state, proof, _ = both(lambda cid: [ack(cid, err=True)], monkeypatch)
    assert state["outcome"] == ("ok", ack("B1", err=True)[1:-2]) and proof is None


def test_a_stray_ack_before_ours_in_one_read_is_a_mismatch_with_the_answer(monkeypatch):
    state, proof, _ = both(lambda cid: [ack("WARM") + ack(cid)], monkeypatch)
    assert state["outcome"][0] == AckMismatch.__name__ and state["outcome"][2] == ack("B1")[1:-2]
    assert [s.reason for s in state["skipped"]] == ["duplicate"] and proof is None


def test_an_ack_whose_first_msa_names_another_message_is_not_ours(monkeypatch):
    """Two MSA segments in one frame: the full path reads the first (another message's) only."""
    def script(cid):
        return [ack("ZZ9").replace(b"MSA|AA|ZZ9\r", f"MSA|AA|ZZ9\rMSA|AA|{cid}\r".encode())]
    state, proof, _ = both(script, monkeypatch)
    assert state["outcome"][0] == AckMismatch.__name__ and proof is None


def test_two_frames_in_one_read_leave_the_second_queued(monkeypatch):
    state, proof, _ = both(lambda cid: [ack(cid) + ack("LATER")], monkeypatch)
    assert state["outcome"] == ("ok", ack("B1")[1:-2]) and proof is None
    assert state["ready"] == [ack("LATER")[1:-2]]


def test_a_frame_split_over_reads_is_reassembled(monkeypatch):
    whole = ack("B1")
    state, proof, _ = both(lambda cid: [whole[:30], whole[30:]], monkeypatch)
    assert state["outcome"] == ("ok", whole[1:-2]) and proof is None


def test_bytes_before_the_frame_are_dropped_as_before(monkeypatch):
    state, proof, _ = both(lambda cid: [b"noise" + ack(cid)], monkeypatch)
    assert state["outcome"] == ("ok", ack("B1")[1:-2]) and proof is None


def test_a_commit_accept_then_the_aa_in_enhanced_mode(monkeypatch):
    state, proof, _ = both(lambda cid: [ack(cid, "CA"), ack(cid)], monkeypatch, ack_mode="AL")
    assert state["outcome"] == ("ok", ack("B1")[1:-2]) and proof is None
    assert state["commit"] == ack("B1", "CA")[1:-2]


def test_a_commit_accept_and_no_aa_is_no_application_ack(monkeypatch):
    # the CA must come within the read timeout that must then run out: 2 s, a compromise
    state, proof, _ = both(lambda cid: [ack(cid, "CA")], monkeypatch, ack_mode="AL", read_timeout=2.0)
    assert state["outcome"][0] == NoApplicationAck.__name__ and proof is None


def test_a_peer_that_never_answers_ends_in_read_timeout_within_the_bound(monkeypatch):
    state, proof, elapsed = both(lambda cid: [], monkeypatch, read_timeout=0.4)
    assert state["outcome"][0] == ReadTimeout.__name__ and not state["connected"]
    assert 0.35 <= elapsed < 0.4 + SLACK


def test_a_peer_that_closes_instead_of_answering(monkeypatch):
    state, proof, _ = both(lambda cid: CLOSE, monkeypatch)
    assert state["outcome"][0] == ConnectionClosed.__name__ and proof is None


def test_the_first_message_on_a_new_connection_is_taken_too(monkeypatch):
    state, proof, _ = both(lambda cid: [ack(cid)], monkeypatch, warmup=False)
    assert state["outcome"][0] == "ok" and proof == "B1"


def test_the_load_users_check_is_skipped_only_for_a_proven_aa():
    """``ack_problem`` agrees with every proof: what the client proved is a plain AA."""
    from genrep.load.workload import ack_problem
    from genrep.transport.mllp_lean import plain_aa_frame
    for data, proven in [(ack("B1"), True), (ack("B1", "AE"), False), (ack("B2"), False),
                         (ack("B1", err=True), False), (ack("B1") + ack("B1"), False),
                         (ack("B1")[:-1], False), (b"x" + ack("B1"), False)]:
        payload = plain_aa_frame(data, "B1", 16 * 1024 * 1024)
        assert (payload is not None) == proven
        if proven:
            assert ack_problem(payload, "B1") is None
    assert plain_aa_frame(ack("B1"), "B1", 10) is None  # over max_frame: the decoder's error instead
