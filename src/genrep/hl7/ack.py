"""Original-mode (and enhanced-mode) acknowledgements: build on the receiving side (virtual EHR),
parse on the sending side (harness).

An ACK is answered even for input that could not be parsed (``message=None``: MSA-2 empty), so
the sender learns about the failure instead of timing out.  Remember that AA does not prove the
report was stored correctly; the harness always reads back.
"""

from __future__ import annotations

import itertools
import time
import uuid

from genrep.errors import HL7Error
from genrep.hl7.charsets import CHARSETS
from genrep.hl7.escape import escape
from genrep.hl7.model import Ack
from genrep.hl7.parse import Message, decode, parse

__all__ = ["ACK_CODES", "ERROR_CODES", "build_ack", "parse_ack"]

ACK_CODES = ("AA", "AE", "AR", "CA", "CE", "CR")

#: HL7 table 0357 (message error condition codes) used in ERR-3.
ERROR_CODES = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


_ACK_PREFIX = "ACK" + uuid.uuid4().hex[:7].upper()
_ACK_SEQ = itertools.count(1)


def _new_control_id() -> str:
    """Unique ACK control id: a random per-process prefix and a counter (MSH-10 <= 20 chars).
    A counter, not a uuid4 per ACK: the virtual EHR answers thousands of messages a second."""
    return f"{_ACK_PREFIX}{next(_ACK_SEQ) % 10**10:010d}"


def _timestamp() -> str:
    """The current local time as DTM seconds, formatted once per second (the virtual EHR builds
    thousands of ACKs a second)."""
    now = int(time.time())
    cached = _TS_CACHE
    if cached[0] != now:
        cached[:] = [now, time.strftime("%Y%m%d%H%M%S", time.localtime(now))]
    return cached[1]


_TS_CACHE: list = [None, ""]
# ACK header parts per distinct (raw) sender header, see _header.
# Bounded: a sender cannot make it grow without limit.
_HEADERS: dict[tuple | None, tuple[str, str, str, str]] = {}
_HEADERS_MAX = 256


def _header(message: Message | None) -> tuple[str, str, str, str]:
    """(MSH up to the timestamp, MSH-8 to MSH-10, MSH-11 onwards, charset) of the ACK."""
    if message is None:
        key = None
    else:  # the raw fields the header depends on: MSH-3..6, 9, 11, 12, 18
        f = message.msh.fields
        key = (message.delimiters, len(f), *f[3:7], *f[9:10], *f[11:13], *f[18:19])
    cached = _HEADERS.get(key)
    if cached is not None:
        return cached
    if message is not None:
        u = message.unescape
        msh = message.msh
        send_app, send_fac = u(msh.field(5)), u(msh.field(6))
        recv_app, recv_fac = u(msh.field(3)), u(msh.field(4))
        event = u(message.event)
        processing_id = u(msh.component(11, 1)) or "P"
        version = u(message.version) or "2.5"
        charset = message.charset if message.charset in CHARSETS else "UNICODE UTF-8"
    else:
        send_app, send_fac, recv_app, recv_fac = "EHR", "REGION", "", ""
        event, processing_id, version = "", "P", "2.5"
        charset = "UNICODE UTF-8"
    head = "MSH|^~\\&|" + "|".join([escape(send_app), escape(send_fac), escape(recv_app),
                                     escape(recv_fac)]) + "|"
    tail = f"||ACK^{escape(event)}^ACK|"
    rest = f"|{escape(processing_id)}|{escape(version)}" + (f"||||||{charset}" if charset else "")
    value = (head, tail, rest, charset)
    if len(_HEADERS) >= _HEADERS_MAX:
        _HEADERS.clear()
    _HEADERS[key] = value
    return value


def build_ack(message: Message | None, code: str, text: str = "", *,
              error_code: str | None = None, control_id: str | None = None,
              timestamp: str | None = None) -> str:
    """ACK for ``message``: MSH with sending/receiving swapped, ``ACK^<event>^ACK``, the original
    version, processing id and charset; MSA (code, original MSH-10, text); ERR unless AA/CA.

    ``error_code`` is an HL7 table 0357 code for ERR-3 (default 207, or 200 for AR on unparseable
    input).  Characters of ``text`` the charset cannot carry are replaced by "?", so building an
    ACK never fails.  ``control_id`` defaults to a fresh unique id.  The MSH parts that depend only
    on the sender's header are built once per distinct header (``genrep bench mllp``).
    """
    if code not in ACK_CODES:
        raise HL7Error(f"invalid acknowledgement code {code!r} "
                       f"(expected one of {', '.join(ACK_CODES)})")
    head, tail, rest, charset = _header(message)
    orig_control_id = message.unescape(message.control_id) if message is not None else ""
    msh = (head + (timestamp or _timestamp()) + tail + escape(control_id or _new_control_id()) + rest)
    if text:
        codec = CHARSETS[charset]
        text = text.encode(codec, errors="replace").decode(codec)
    segments = [msh, f"MSA|{code}|{escape(orig_control_id)}" + (f"|{escape(text)}" if text else "")]
    if code not in ("AA", "CA"):
        err = error_code or ("207" if message is not None else "200")
        description = ERROR_CODES.get(err, "")
        severity = "E"
        err3 = f"{escape(err)}^{escape(description)}^HL70357"
        # ERR-3 error code, ERR-4 severity, ERR-8 user message
        segments.append(f"ERR|||{err3}|{severity}" + (f"||||{escape(text)}" if text else ""))
    return "\r".join(segments) + "\r"


def parse_ack(data: bytes | str) -> Ack:
    """Parse an acknowledgement.  HL7Error when it is not an ACK (MSH-9.1) with an MSA segment."""
    message = parse(decode(data) if isinstance(data, (bytes, bytearray)) else data)
    msg_code = message.msh.component(9, 1)
    if msg_code != "ACK":
        raise HL7Error(f"expected an ACK, got message type {message.message_type!r}")
    msa = message.first("MSA")
    if msa is None:
        raise HL7Error("ACK has no MSA segment")
    u = message.unescape
    code = u(msa.component(1, 1)).strip()
    if not code:
        raise HL7Error("ACK has an empty MSA-1 (acknowledgement code)")
    error: str | None = None
    err = message.first("ERR")
    if err is not None:
        err_code, err_text = u(err.component(3, 1)), u(err.component(3, 2))
        error = " ".join(p for p in (err_code, err_text) if p) or u(err.field(1)) or None
    return Ack(code=code, control_id=u(msa.field(2)), text=u(msa.field(3)), error=error)
