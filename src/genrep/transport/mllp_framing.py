"""MLLP framing: ``frame`` wraps one payload, ``FrameDecoder`` reassembles frames from whatever
``recv()`` gave.

MLLP wraps each HL7 v2 message as ``0x0B <message> 0x1C 0x0D``: no length, no checksum. A single
``recv()`` is not a frame: frames arrive split across reads and several frames arrive in one read,
so the reading side goes through the incremental decoder here. Pure bytes, no sockets: the client
(``transport.mllp``) and the virtual EHR's receiver (``sim.ehr_mllp``) share it. Split from
``transport.mllp`` (issue 13); ``genrep.transport.mllp`` re-exports every public name.
"""

from __future__ import annotations

from genrep.errors import HL7Error, ProtocolError

__all__ = ["VT", "FS", "CR", "frame", "is_one_frame", "FrameTooLarge", "FrameDecoder"]

VT, FS, CR = b"\x0b", b"\x1c", b"\x0d"
_VT, _FS, _CR = 0x0B, 0x1C, 0x0D
_END = FS + CR


def frame(payload: bytes) -> bytes:
    """Wrap one payload as an MLLP frame: ``VT + payload + FS + CR``.

    A payload containing VT (0x0B) or the end marker FS CR cannot be framed: a receiver would cut
    or restart the message there. That happens with text pasted from RTF (vertical tab) that was
    not HL7-escaped (``\\X0B\\``), so it is rejected with a clear error instead of being sent as a
    silently broken frame. Use ``MLLPClient.send_raw`` to send deliberately broken frames.
    """
    payload = bytes(payload)
    if VT in payload:
        raise HL7Error(f"message contains a raw 0x0B (vertical tab) at byte {payload.index(VT)}: "
                       "it would restart the MLLP frame; escape it as \\X0B\\")
    if FS in payload and _END in payload:  # a 1-byte search first: memchr, not a 2-byte scan
        raise HL7Error(f"message contains the MLLP end marker 0x1C 0x0D at byte "
                       f"{payload.index(_END)}: it would end the frame early")
    return b"".join((VT, payload, _END))  # one copy of the payload, not two


def is_one_frame(data: bytes, max_size: int | None = None) -> bool:
    """Whether ``data`` is exactly one whole MLLP frame: VT first, its only FS right before the
    final CR, no other VT, a payload of at most ``max_size`` bytes. The usual read (one answer in
    one ``recv``) and a frame built ahead (``MLLPClient.send_framed``), told by a few byte scans;
    ``FrameDecoder.feed`` returns exactly ``data[1:-2]`` for such bytes."""
    n = len(data)
    return (n > 2 and data[0] == _VT and data[n - 1] == _CR and data.find(FS, 1) == n - 2
            and data.find(VT, 1) < 0 and (max_size is None or n - 3 <= max_size))


class FrameTooLarge(ProtocolError):
    """A frame grew past the configured maximum payload size.

    ``size`` is the number of payload bytes seen so far (at least ``limit + 1``), ``limit`` the
    maximum. ``payloads`` holds frames that completed earlier in the same ``feed()`` call and must
    be handled before this error (usually empty).
    """

    def __init__(self, message: str, *, size: int | None = None, limit: int | None = None,
                 payloads: list[bytes] | None = None):
        self.size, self.limit = size, limit
        self.payloads = list(payloads or [])
        super().__init__(message)


class FrameDecoder:
    """Incremental MLLP frame reassembly: feed() whatever recv() gave, get back complete payloads.

    Rules:

    * Bytes outside a frame (before a VT) are dropped and counted in ``discarded``; not an error.
    * A VT inside an unfinished frame restarts the frame; the aborted bytes (its VT and payload so
      far) are counted in ``discarded``.
    * The end is FS CR. A FS followed by any other byte is payload; a FS at the end of a chunk waits
      for the next byte.
    * When a frame in progress exceeds ``max_size`` payload bytes, ``feed`` raises
      ``FrameTooLarge`` and resets: the rest of that frame (everything up to the next VT) is
      discarded, so the caller can answer AR and decide whether to close. Input after the overflow
      point that has not been decoded yet is kept and decoded by the next ``feed`` call
      (``feed(b"")`` is fine). Frames completed earlier in the same call are on the exception's
      ``payloads``.
    """

    def __init__(self, max_size: int | None = None):
        if max_size is not None and max_size < 0:
            raise ValueError("max_size must be >= 0 or None")
        self.max_size = max_size
        self._buf = bytearray()
        self._in_frame = False
        self._fs_seen = False        # last byte of the previous chunk was FS inside a frame
        self._backlog = b""          # undecoded input left over after a FrameTooLarge
        self._discarded = 0

    @property
    def pending(self) -> int:
        """Bytes buffered of an incomplete frame (payload so far, without the VT), plus any
        undecoded backlog left after a FrameTooLarge."""
        return len(self._buf) + self._fs_seen + len(self._backlog)

    @property
    def in_frame(self) -> bool:
        """True after a VT until the frame's FS CR."""
        return self._in_frame

    @property
    def discarded(self) -> int:
        """Bytes received outside a frame (or in an aborted frame) and dropped."""
        return self._discarded

    def reset(self) -> None:
        """Forget any partial frame and backlog (counters are kept)."""
        self._buf.clear()
        self._in_frame = self._fs_seen = False
        self._backlog = b""

    def feed(self, data: bytes) -> list[bytes]:
        if not self._in_frame and not self._backlog and is_one_frame(data, self.max_size):
            return [bytes(data[1:-2])]  # the common case: exactly one whole frame in one read
        if self._backlog:
            data, self._backlog = self._backlog + bytes(data), b""
        else:
            data = bytes(data)
        out: list[bytes] = []
        buf = self._buf
        i, n = 0, len(data)
        while i < n:
            if not self._in_frame:
                j = data.find(VT, i)
                if j < 0:
                    self._discarded += n - i
                    break
                self._discarded += j - i
                self._in_frame = True
                i = j + 1
                continue
            if self._fs_seen:                      # FS ended the previous chunk
                self._fs_seen = False
                if data[i] == _CR:
                    out.append(bytes(buf))
                    buf.clear()
                    self._in_frame = False
                    i += 1
                    continue
                self._take(FS, data, i, out)       # lone FS is payload; data[i] is scanned next
                continue
            j_fs = data.find(FS, i)
            j_vt = data.find(VT, i, j_fs if j_fs >= 0 else n)
            j = j_vt if j_vt >= 0 else (j_fs if j_fs >= 0 else n)
            if j > i:
                self._take(data[i:j], data, j, out)
            i = j
            if j == n:
                break
            if data[j] == _VT:                     # restart: abort the unfinished frame
                self._discarded += 1 + len(buf)
                buf.clear()
                i = j + 1
                continue
            # data[j] is FS
            if j + 1 == n:
                self._fs_seen = True
                break
            if data[j + 1] == _CR:
                out.append(bytes(buf))
                buf.clear()
                self._in_frame = False
                i = j + 2
            else:
                self._take(FS, data, j + 1, out)
                i = j + 1
        return out

    def _take(self, chunk: bytes, data: bytes, resume: int, out: list[bytes]) -> None:
        """Append payload bytes; on overflow reset, keep the undecoded rest and raise."""
        size = len(self._buf) + len(chunk)
        if self.max_size is None or size <= self.max_size:
            self._buf += chunk
            return
        self.reset()
        rest = data[resume:]
        k = rest.find(VT)                          # the rest of the oversized frame is dropped
        self._discarded += len(rest) if k < 0 else k
        self._backlog = b"" if k < 0 else rest[k:]
        raise FrameTooLarge(f"MLLP frame exceeds {self.max_size} bytes ({size} bytes seen so far)",
                            size=size, limit=self.max_size, payloads=out)
