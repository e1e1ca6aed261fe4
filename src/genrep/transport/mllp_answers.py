"""Matching an MLLP answer to its message: the ACK whose MSA-2 quotes the sent MSH-10.

Real peers answer out of step (a late ACK, a duplicate, a commit ACK before the application ACK,
two ACKs in one write). ``AckMatching`` is the part of ``MLLPClient`` that reads frames until the
answer to the message just sent and records every other one (``SkippedAck``), raising
``AckMismatch`` or ``NoApplicationAck`` when the answers are not aligned with the messages: the one
place the harness matches answers, for the steps and the load users alike. The rules are in
``MLLPClient``'s docstring and docs/robustness.md ("Real peers").

``AckMatching`` is a mixin with no state of its own: ``MLLPClient`` holds the state it reads and
writes (``_history``, ``_pending``, ``_ready``, ``skipped``, ``skipped_total``, ``last_skipped``,
``last_commit``) and the frame reading it calls (``_next_frame``, ``close``, ``_label``,
``read_timeout``). Split from ``transport.mllp`` (issue 13); ``genrep.transport.mllp`` re-exports
every public name.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from genrep.errors import ProtocolError, ReadTimeout, TransportError
from genrep.hl7.ack import AckHeader, AckRequest, ack_request, read_ack_header
from genrep.transport.mllp_framing import FrameDecoder

__all__ = ["AckMatching", "AckMismatch", "NoApplicationAck", "SkippedAck"]

_HISTORY = 4096          # control ids remembered per client (sent, answered, committed), oldest dropped
_SKIPPED_KEPT = 256      # skipped answers kept on the client for reports
#: Once an answer to another message arrived (the peer is out of step), how long the answer to the
#: message just sent is still waited for: a peer that answers one behind never sends it, and the
#: whole read timeout (10-30 s) per message would turn one misaligned peer into a stalled suite.
#: A peer that sends the stale answers and then its own (node-hl7-server) sends them in one burst.
STRAY_GRACE_S = 2.0


@dataclass(frozen=True)
class SkippedAck:
    """An answer frame that was not the answer to the message being sent: recorded, never taken.

    ``reason``: ``duplicate`` (a second ACK for a message already answered), ``late`` (an ACK for a
    message sent earlier and never answered), ``unknown`` (a control id this client never sent),
    ``unnamed`` (an AA or CA whose MSA-2 is empty: it names no message), ``after_commit`` (the
    application ACK for a message whose answer was its commit ACK: expected with MSH-16 ER or SU).
    """

    control_id: str
    code: str
    reason: str
    payload: bytes = field(repr=False, default=b"")

    @property
    def flagged(self) -> bool:
        """A sign the peer's answers are not aligned with the messages (a failure of its own kind);
        an AA after a commit accept is the expected enhanced-mode sequence, nothing more."""
        return not (self.reason == "after_commit" and self.code == "AA")

    def describe(self) -> str:
        what = {"duplicate": "a second ACK for {id}, already answered",
                "late": "a late ACK for {id}, sent earlier and never answered",
                "unknown": "an ACK for {id}, which this client never sent",
                "unnamed": "an ACK naming no message (MSA-2 empty)",
                "after_commit": "the application ACK for {id}, which had been answered with its commit ACK",
                }[self.reason]
        return f"{self.code or '?'}: " + what.format(id=repr(self.control_id))


class AckMismatch(ProtocolError):
    """The peer's answers are not aligned with the messages (message opens ``ack_mismatch: ``):
    no ACK quoting the sent MSH-10 arrived by the deadline while others did, or the answer came
    after ACKs for other messages (then ``answer`` holds it). ``skipped`` are the other frames."""

    def __init__(self, message: str, *, control_id: str, skipped: tuple[SkippedAck, ...] = (),
                 answer: bytes | None = None):
        self.control_id, self.skipped, self.answer = control_id, tuple(skipped), answer
        super().__init__(message)


class NoApplicationAck(ReadTimeout):
    """The peer committed the message (CA) but sent no application ACK by the deadline, though the
    message asked for one (MSH-16 AL). ``commit`` holds the CA frame."""

    def __init__(self, message: str, *, commit: bytes):
        self.commit = commit
        super().__init__(message)


_AA = AckHeader("ACK", "AA", "")  # the fast path's answer (its control id is the one wanted)
_SPECIAL_IN_ID = re.compile(r"[|^~\\&\r\n]|[^\x00-\xff]")  # delimiters (escaped on the wire) or not Latin-1


def _batch_requests(data: bytes) -> list[AckRequest]:
    """The requests of every complete frame in raw bytes (``send_raw``), in order."""
    out = []
    for payload in FrameDecoder().feed(data):
        req = ack_request(payload)
        if req is not None:
            out.append(req)
    return out


class AckMatching:
    """The answer-matching half of ``MLLPClient`` (see the module docstring for what it needs)."""

    def _note(self, control_id: str, state: str) -> None:
        history = self._history
        history[control_id] = state
        history.move_to_end(control_id)
        if len(history) > _HISTORY:
            history.popitem(last=False)

    def _skip(self, header: AckHeader, payload: bytes, skipped: list[SkippedAck]) -> None:
        state = self._history.get(header.control_id) if header.control_id else None
        if not header.control_id:
            reason = "unnamed"
        elif state == "committed" and not header.is_commit:
            reason = "after_commit"
            self._note(header.control_id, "answered")
        elif state in ("answered", "committed"):
            reason = "duplicate"
        elif state == "sent":
            reason = "late"
        else:
            reason = "unknown"
        entry = SkippedAck(header.control_id, header.code, reason, payload)
        skipped.append(entry)
        self.skipped.append(entry)
        self.skipped_total += 1

    def _answer(self, request: AckRequest | None, deadline: float) -> bytes:
        """Read frames until the answer to ``request`` (see the class doc); None: the next frame."""
        self.last_skipped, self.last_commit, self.last_plain_aa = (), None, None
        if request is None:
            return self._next_frame(deadline)
        wanted = request.control_id
        skipped: list[SkippedAck] = []
        grace = False                      # the deadline cut to STRAY_GRACE_S after a stray answer
        commit: bytes | None = None
        held: list[bytes] = []             # answers to other messages of the same raw write
        # the usual answer recognised with three byte searches (the load path answers thousands a
        # second): standard field separator, the first MSA is "AA" and quotes our control id
        aa = None if _SPECIAL_IN_ID.search(wanted) else b"MSA|AA|" + wanted.encode("latin-1", "replace")
        try:
            while True:
                try:
                    payload = self._next_frame(deadline)
                except ReadTimeout as e:
                    raise self._unanswered(request, skipped, commit, e, grace) from e
                if aa is not None and payload[:4] == b"MSH|":
                    at = payload.find(b"\rMSA|") + 1
                    end = at + len(aa)
                    if at and payload.startswith(aa, at) and payload[end:end + 1] in (b"\r", b"|", b"\n", b""):
                        if not skipped and commit is None:   # in step: the usual case, nothing to report
                            self._pending.discard(wanted)
                            self._note(wanted, "answered")
                            return payload
                        header = _AA
                        break
                header = read_ack_header(payload)
                if header is None:         # not an acknowledgement: the caller's parse says what it is
                    break
                if header.control_id == wanted:
                    if header.is_commit and commit is not None:
                        self._skip(header, payload, skipped)   # a second commit ACK: a duplicate
                        continue
                    if header.code == "CA" and request.waits_for_application_ack:
                        commit = payload
                        self._note(wanted, "committed")
                        continue
                    break
                if not header.control_id and header.code not in ("AA", "CA"):
                    break                  # a refusal of a message the receiver could not read
                if header.control_id in self._pending:
                    held.append(payload)
                    continue
                self._skip(header, payload, skipped)
                if skipped[-1].flagged and deadline > time.monotonic() + STRAY_GRACE_S:
                    deadline = time.monotonic() + STRAY_GRACE_S
                    grace = True
        finally:
            self._ready.extendleft(reversed(held))
        self._pending.discard(wanted)
        self._note(wanted, "committed" if header is not None and header.code == "CA" else "answered")
        self.last_skipped, self.last_commit = tuple(skipped), commit
        flagged = [s for s in skipped if s.flagged]
        if flagged:
            raise AckMismatch(
                f"ack_mismatch: the answer to {wanted!r} from {self._label()} came after "
                f"{len(flagged)} answer(s) to other messages: " + "; ".join(s.describe() for s in flagged),
                control_id=wanted, skipped=tuple(skipped), answer=payload)
        return payload

    def _unanswered(self, request: AckRequest, skipped: list[SkippedAck], commit: bytes | None,
                    timeout: ReadTimeout, grace: bool = False) -> TransportError:
        """The error for a deadline passed without the answer: what came instead, if anything."""
        self.last_skipped, self.last_commit = tuple(skipped), commit
        wanted = request.control_id
        if skipped:
            self.close()               # the peer's answers are out of step: start afresh
            return AckMismatch(
                f"ack_mismatch: no ACK for control id {wanted!r} from {self._label()} within "
                + (f"{STRAY_GRACE_S:g} s of the first answer to another message" if grace
                   else f"{self.read_timeout} s")
                + f"; instead {len(skipped)} answer(s) to other messages: "
                + "; ".join(s.describe() for s in skipped),
                control_id=wanted, skipped=tuple(skipped))
        if commit is not None:
            self.close()
            return NoApplicationAck(
                f"no_ack: {self._label()} committed {wanted!r} (CA) but sent no application ACK within "
                f"{self.read_timeout} s, though MSH-16 asked for one (AL)", commit=commit)
        return timeout
