"""The load path's answer, recognised in one pass: ``MLLPClient.send``'s lean first read (issue 18).

A load user sends thousands of messages a second to a peer that answers each with one plain AA.
``LeanAnswer._lean_answer`` reads the first answer bytes exactly as the full path would (the same
``recv``, deadline and errors: ``MLLPClient._recv_once``) and, when those bytes are **exactly one
complete frame** that is a plain AA for the control id just sent (``plain_aa_frame``), takes it
with the bookkeeping the full path would have done for it. Anything else (a partial frame, several
frames, bytes around the frame, another code, an ACK for another message, a commit ACK, an ERR
segment, a control id with characters the quick test does not cover, frames already queued, a
decoder in the middle of a frame) is handed, as the same bytes, to the full path
(``MLLPClient._ingest`` then ``AckMatching._answer``), so matching, stray-ACK grace, enhanced
mode, resend and connection policies behave exactly as without this module.

Why it is exact: ``plain_aa_frame`` accepts only what (1) ``FrameDecoder.feed``'s own one-frame
test accepts (so the decoder would have returned exactly this payload and nothing else), (2)
``AckMatching._answer``'s in-step test accepts (the first MSA is ``AA`` quoting the control id:
the full path returns the payload, nothing skipped, nothing committed) and (3)
``hl7.ack.is_plain_aa`` accepts (so ``load.workload.ack_problem`` would find nothing wrong: the
client says so in ``last_plain_aa`` and the load user need not parse it again).
"""

from __future__ import annotations

from genrep.errors import ReadTimeout
from genrep.hl7.ack import AckRequest, plain_ack_msh_end
from genrep.transport.mllp_framing import is_one_frame

__all__ = ["LeanAnswer", "plain_aa_frame"]

_MSA = b"\rMSA|"


def plain_aa_frame(data: bytes, control_id: str, max_frame: int | None) -> bytes | None:
    """The payload when ``data`` is exactly one whole MLLP frame (``is_one_frame``, as
    ``FrameDecoder.feed`` takes it, within ``max_frame``) whose payload is a plain AA for
    ``control_id`` (an ASCII letters-and-digits id): its first MSA is ``MSA|AA|<id>`` followed by
    CR, ``|`` or the end, and ``is_plain_aa`` holds. None otherwise.

    ``is_plain_aa`` is made of ``plain_ack_msh_end`` and a search for the MSA: here the MSA found
    is the first one, which that search would find too, so it is not searched again (~1 us less
    per message; ``tests/unit/test_mllp_framed_send.py`` compares the two on generated frames)."""
    if not is_one_frame(data, max_frame):
        return None
    payload = data[1:-2]
    end = plain_ack_msh_end(payload)
    if end < 0:
        return None
    at = payload.find(_MSA, end)  # the first MSA: no CR comes before the MSH line's end
    aa = b"\rMSA|AA|" + control_id.encode("ascii")
    if at < 0 or not payload.startswith(aa, at):
        return None
    after = payload[at + len(aa):at + len(aa) + 1]
    return payload if after in (b"\r", b"|", b"") else None


class LeanAnswer:
    """The lean first read of ``MLLPClient.send`` (see the module docstring); a mixin with no state
    of its own (``MLLPClient`` holds ``_decoder``, ``_ready``, ``_pending``, ``_received``,
    ``_answers``, ``last_plain_aa``, ``max_frame``)."""

    def _lean_answer(self, request: AckRequest, deadline: float) -> bytes:
        """The answer to ``request`` (just written), as ``_answer(request, deadline)`` gives it."""
        wanted = request.control_id
        dec = self._decoder
        if self._ready or dec.in_frame or dec.pending or not (wanted.isascii() and wanted.isalnum()):
            return self._answer(request, deadline)
        self.last_skipped, self.last_commit = (), None
        try:
            data = self._recv_once(deadline)
        except ReadTimeout as e:           # as _answer: nothing skipped, nothing committed
            raise self._unanswered(request, [], None, e) from e
        payload = plain_aa_frame(data, wanted, self.max_frame)
        if payload is not None:            # in step: the usual case, nothing to report
            self._received += len(data)
            self._answers += 1
            self._pending.discard(wanted)
            # _note(wanted, "answered"): the id was noted "sent" by this message's write, the last
            # note on this client, so it is the history's last entry already (no move, no trim)
            self._history[wanted] = "answered"
            self.last_plain_aa = wanted
            return payload
        frames = self._ingest(data)        # the same bytes, as the full path's first read takes them
        self._answers += len(frames)
        self._ready.extend(frames)
        return self._answer(request, deadline)
