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
from genrep.hl7.ack import AckRequest

__all__ = ["LeanAnswer", "plain_aa_frame"]

_VT, _FS, _CR = 0x0B, b"\x1c", 0x0D
_VT_B = b"\x0b"
_MSH, _ERR, _MSA = b"MSH|^~\\&|", b"\rERR|", b"\rMSA|"


def plain_aa_frame(data: bytes, control_id: str, max_frame: int | None) -> bytes | None:
    """The payload when ``data`` is exactly one whole MLLP frame (as ``FrameDecoder.feed``'s
    one-frame test: VT first, its only FS right before the final CR, no other VT, within
    ``max_frame``) whose payload is a plain AA for ``control_id`` (an ASCII letters-and-digits id):
    its first MSA is ``MSA|AA|<id>`` followed by CR, ``|`` or the end, and ``is_plain_aa`` holds.
    None otherwise.

    ``is_plain_aa``'s tests are made here in one pass over what this test has already found
    (its MSA search finds the first MSA, which is the one checked here): the same answer, ~1 us
    less per message (``tests/unit/test_mllp_framed_send.py`` compares the two on generated frames)."""
    n = len(data)
    if (n < 3 or data[0] != _VT or data[n - 1] != _CR or data.find(_FS, 1) != n - 2
            or data.find(_VT_B, 1) >= 0 or (max_frame is not None and n - 3 > max_frame)):
        return None
    payload = data[1:n - 2]
    if not payload.startswith(_MSH) or _ERR in payload:
        return None
    end = payload.find(b"\r")
    if end < 0:
        return None
    at = payload.find(_MSA, end)  # the first MSA: no CR comes before the MSH line's end
    aa = b"\rMSA|AA|" + control_id.encode("ascii")
    if at < 0 or not payload.startswith(aa, at):
        return None
    after = payload[at + len(aa):at + len(aa) + 1]
    if after != b"\r" and after != b"|" and after:
        return None
    fields = payload[:end].split(b"|")
    if len(fields) < 10:
        return None
    kind = fields[8]
    return payload if kind == b"ACK" or kind.startswith(b"ACK^") else None


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
            self._note(wanted, "answered")
            self.last_plain_aa = wanted
            return payload
        frames = self._ingest(data)        # the same bytes, as the full path's first read takes them
        self._answers += len(frames)
        self._ready.extend(frames)
        return self._answer(request, deadline)
