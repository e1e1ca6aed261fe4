"""Original-mode (and enhanced-mode) acknowledgements: build on the receiving side (virtual EHR),
parse on the sending side (harness), and match an answer to the message it answers.

An ACK is answered even for input that could not be parsed (``message=None``: MSA-2 empty), so
the sender learns about the failure instead of timing out.  Remember that AA does not prove the
report was stored correctly; the harness always reads back.

Matching (the sending side, ``transport.mllp.MLLPClient.send``): an answer belongs to a message
when its MSA-2 equals the message's MSH-10. ``ack_request`` reads what a message asks for from its
raw bytes (MSH-10, MSH-15 accept and MSH-16 application acknowledgement types), ``read_ack_header``
the code and control id of an answer frame, both without a full parse (the load path checks
thousands a second). Enhanced mode (HL7 v2 2.9.3): a receiver first answers a commit ACK (CA, CE,
CR) and, when MSH-16 asks for it, an application ACK (AA, AE, AR) later.

Reading an ACK is tolerant of its character set (``parse_ack``): the code, control id and text are
what the harness needs, whatever MSH-18 says. An AE with non-ASCII text and no MSH-18 (common) is
read as the AE it is, with ``Ack.charset_problem`` saying what was wrong with its bytes.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from typing import NamedTuple

from genrep.errors import HL7Error
from genrep.hl7.charsets import CHARSETS, TABLE_0211
from genrep.hl7.escape import escape, unescape
from genrep.hl7.model import Ack
from genrep.hl7.parse import Message, decode, detect_charset, parse

__all__ = ["ACK_CODES", "APPLICATION_CODES", "COMMIT_CODES", "ERROR_CODES", "AckHeader", "AckRequest",
           "ack_request", "build_ack", "is_plain_aa", "parse_ack", "plain_ack_msh_end", "read_ack_header"]

ACK_CODES = ("AA", "AE", "AR", "CA", "CE", "CR")
#: Enhanced mode's commit acknowledgements (the receiver has the message safely) ...
COMMIT_CODES = frozenset({"CA", "CE", "CR"})
#: ... and the application acknowledgements (original mode's only answer).
APPLICATION_CODES = frozenset({"AA", "AE", "AR"})
#: HL7 table 0155, the values of MSH-15 and MSH-16.
ACK_CONDITIONS = ("AL", "NE", "ER", "SU")

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


def _new_prefix() -> None:
    """A prefix of its own for a forked process (each simulator is a fork of its launcher): drawn at
    import, every simulator would otherwise number its ACKs exactly as its siblings do."""
    global _ACK_PREFIX, _ACK_SEQ
    _ACK_PREFIX, _ACK_SEQ = "ACK" + uuid.uuid4().hex[:7].upper(), itertools.count(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_prefix)


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


def _decode_tolerant(data: bytes, code_pages=None) -> tuple[str, str]:
    """(text, problem) of an answer's bytes: strictly by its MSH-18 when that works; otherwise as
    UTF-8 when the bytes are UTF-8 (the usual mislabel), else by the declared codec with
    replacement characters (when it is in table 0211 and is not ASCII), else as Windows-1252 when
    it has C1 bytes that Windows-1252 prints, else as Latin-1 (every byte a character). The MSA code and control id are ASCII in every table 0211 character set
    that MLLP carries, so they read the same whichever reading is chosen. ``code_pages``: the
    endpoint's documented code pages (``decode``), tried first like the declared set."""
    try:
        return decode(data, code_pages), ""
    except HL7Error as exc:
        problem = str(exc)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), problem
    except UnicodeDecodeError:
        pass
    codec = TABLE_0211.get(detect_charset(data).upper())
    if codec and codec != "ascii":
        return data.decode(codec, errors="replace"), problem
    if any(0x80 <= b <= 0x9F for b in data):  # C1 bytes: Windows-1252 is the usual sender
        try:
            return data.decode("cp1252"), problem
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1"), problem


def parse_ack(data: bytes | str, code_pages=None) -> Ack:
    """Parse an acknowledgement.  HL7Error when it is not an ACK (MSH-9.1) with an MSA segment.

    Bytes are read tolerantly (``_decode_tolerant``): an answer whose bytes contradict its MSH-18,
    or whose MSH-18 is not one Python can decode, is still read (``charset_problem`` says what was
    wrong), because what it answers matters more than how its text is spelled. ``code_pages``: a
    profile endpoint's ``code_pages`` (MSH-18 value, upper case -> Windows code page), the peer's
    documented deviation from table 0211: an answer labelled with such a value is read with it."""
    problem = ""
    if isinstance(data, (bytes, bytearray)):
        text, problem = _decode_tolerant(bytes(data), code_pages)
    else:
        text = data
    message = parse(text)
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
    return Ack(code=code, control_id=u(msa.field(2)), text=u(msa.field(3)), error=error,
               charset_problem=problem)


# -- matching an answer to the message it answers ------------------------------------------------
# NamedTuples, not dataclasses: the load path builds one of each per message (a frozen dataclass
# costs ~1.7 us to construct, a NamedTuple ~0.3 us)

class AckRequest(NamedTuple):
    """What a message asks of its receiver, read from its own MSH: ``control_id`` (MSH-10, which the
    answer's MSA-2 must quote), ``accept_ack`` (MSH-15) and ``application_ack`` (MSH-16), each a
    table 0155 value (AL, NE, ER, SU) or "" when not valued."""

    control_id: str
    accept_ack: str = ""
    application_ack: str = ""

    @property
    def enhanced(self) -> bool:
        """Enhanced acknowledgement mode: MSH-15 or MSH-16 valued (both empty: original mode)."""
        return bool(self.accept_ack or self.application_ack)

    @property
    def waits_for_application_ack(self) -> bool:
        """A commit accept (CA) is not the answer: the message asked for the application ACK
        always (MSH-16 AL). With ER or SU the receiver sends one only on error or only on
        success, so its absence proves nothing and the CA is the answer."""
        return self.application_ack == "AL"

    @property
    def silent_on_success(self) -> bool:
        """The receiver answers nothing at all when the message succeeds (MSH-15 and MSH-16 each
        NE or ER): nothing to wait for."""
        return self.accept_ack in ("NE", "ER") and self.application_ack in ("NE", "ER")


class AckHeader(NamedTuple):
    """What the sending side needs of an answer frame to match it: MSH-9.1 ``message_type``, MSA-1
    ``code`` and MSA-2 ``control_id`` (unescaped, surrounding spaces removed)."""

    message_type: str
    code: str
    control_id: str

    @property
    def is_commit(self) -> bool:
        return self.code in COMMIT_CODES


def _msh_fields(data: bytes) -> tuple[list[bytes], bytes, bytes, bytes] | None:
    """(MSH fields as split bytes, field separator, component separator, escape character) of a raw
    message, MSH-n at index n - 1; None when the bytes do not open with an MSH segment."""
    if data[:3] != b"MSH":
        if data[:6] != b"\xef\xbb\xbfMSH":
            return None
        data = data[3:]
    if len(data) < 8:
        return None
    sep = data[3:4]
    end = data.find(b"\r")
    lf = data.find(b"\n", 0, end if end >= 0 else len(data))
    if lf >= 0:
        end = lf
    fields = (data if end < 0 else data[:end]).split(sep)
    enc = fields[1]
    return fields, sep, enc[0:1] or b"^", enc[2:3] or b"\\"


def _text(raw: bytes, esc: bytes, sep: bytes, encoding_chars: bytes) -> str:
    """A raw value as text: Latin-1 (every byte one character, so both sides of a comparison read
    the same bytes the same way), unescaped when it holds the escape character."""
    value = raw.decode("latin-1").strip(" \t")  # not str.strip(): 0xA0 may be half a UTF-8 letter
    if esc in raw and len(encoding_chars) >= 3:
        value = unescape(value, charset="latin-1", delimiters=(sep + encoding_chars).decode("latin-1"))
    return value


def _condition(fields: list[bytes], n: int, comp: bytes) -> str:
    """MSH-n (a table 0155 value) upper case, "" when absent."""
    if len(fields) < n:
        return ""
    raw = fields[n - 1]
    return raw.split(comp, 1)[0].decode("latin-1").strip().upper() if raw else ""


# The last standard-delimiter MSH line read, cut around its MSH-10: (the line up to MSH-10, the line
# from the field separator after MSH-10 to its CR, MSH-15, MSH-16). A load user's messages share
# their MSH but for MSH-10 (a per-second template): the next one is read with two prefix tests.
_LAST_MSH: tuple[bytes, bytes, str, str] | None = None


def ack_request(payload: bytes) -> AckRequest | None:
    """What ``payload`` asks for (see ``AckRequest``); None when it is not an HL7 message with an
    MSH-10 (framing tests send such bytes: any answer is then taken as it comes).

    A payload whose MSH line is the last one read here but for MSH-10 is answered from that line's
    MSH-15/16: ``head`` + MSH-10 + ``tail`` where MSH-10 holds no field separator, CR, LF or escape
    character is exactly the line the split below would read, with the same fields but MSH-10."""
    last = _LAST_MSH
    if last is not None and payload.startswith(last[0]):
        at = len(last[0])
        j = payload.find(b"|", at)
        if j > at and payload.startswith(last[1], j):
            raw = payload[at:j]
            if b"\r" not in raw and b"\n" not in raw and b"\\" not in raw:
                control_id = raw.decode("latin-1").strip(" \t")
                if control_id:
                    return AckRequest(control_id, last[2], last[3])
    if payload[:9] == b"MSH|^~\\&|":  # the usual delimiters, CR-terminated MSH: one split (load path)
        end = payload.find(b"\r", 9)
        line = payload[:end] if end >= 0 else payload
        fields = line.split(b"|")
        if len(fields) > 9 and b"\n" not in line:
            raw = fields[9]
            if raw and b"\\" not in raw:
                control_id = raw.decode("latin-1").strip(" \t")
                if len(fields) < 15:
                    return AckRequest(control_id) if control_id else None
                request = AckRequest(control_id, _condition(fields, 15, b"^"), _condition(fields, 16, b"^"))
                if control_id and end >= 0:
                    _remember_msh(fields, request)
                return request if control_id else None
    found = _msh_fields(payload)
    if found is None:
        return None
    fields, sep, comp, esc = found
    if len(fields) < 10:
        return None
    control_id = _text(fields[9], esc, sep, fields[1])
    if not control_id:
        return None
    return AckRequest(control_id, _condition(fields, 15, comp), _condition(fields, 16, comp))


def _remember_msh(fields: list[bytes], request: AckRequest) -> None:
    global _LAST_MSH
    _LAST_MSH = (b"|".join(fields[:9]) + b"|", b"|" + b"|".join(fields[10:]) + b"\r",
                 request.accept_ack, request.application_ack)


def read_ack_header(data: bytes) -> AckHeader | None:
    """MSH-9.1, MSA-1 and MSA-2 of an answer frame; None when it is not an HL7 message with an MSA
    segment (not an acknowledgement at all). A UTF-16/32 answer is read through its text."""
    found = _msh_fields(data)
    if found is None:
        if data[:1] not in (b"\xff", b"\xfe", b"\x00", b"M"):
            return None
        try:
            text = decode(data)
        except HL7Error:
            return None
        return read_ack_header(text.encode("utf-8")) if text.startswith("MSH") else None
    fields, sep, comp, esc = found
    at = data.find(b"\rMSA" + sep)
    if at < 0:
        at = data.find(b"\nMSA" + sep)
        if at < 0:
            return None
    start = at + 1
    end = data.find(b"\r", start)
    if end < 0:
        end = len(data)
    lf = data.find(b"\n", start, end)
    if lf >= 0:
        end = lf
    msa = data[start:end].split(sep, 3)
    message_type = fields[8].split(comp, 1)[0].decode("latin-1").strip() if len(fields) > 8 else ""
    code = msa[1].split(comp, 1)[0].decode("latin-1").strip().upper() if len(msa) > 1 else ""
    control_id = _text(msa[2], esc, sep, fields[1]) if len(msa) > 2 else ""
    return AckHeader(message_type, code, control_id)


def plain_ack_msh_end(raw: bytes) -> int:
    """Where the MSH line of ``raw`` ends (its first CR) when ``raw`` is an ACK as ``is_plain_aa``
    needs it: standard delimiters, MSH-9.1 ``ACK``, at least 10 MSH fields, no ERR segment; -1
    otherwise (also when no CR follows the MSH line: then there is no MSA). The part of the quick
    test that does not depend on the control id, shared with ``transport.mllp_lean``."""
    if not raw.startswith(b"MSH|^~\\&|") or b"\rERR|" in raw:
        return -1
    end = raw.find(b"\r")
    if end < 0:
        return -1
    fields = raw[:end].split(b"|")
    if len(fields) < 10 or fields[8].split(b"^")[0] != b"ACK":
        return -1
    return end


def is_plain_aa(raw: bytes, control_id: str) -> bool:
    """The usual answer, recognised without a full parse (a load user checks thousands a second):
    an ACK (MSH-9 ``ACK``, standard delimiters) whose MSA is exactly ``AA`` and ``control_id``,
    with no ERR segment. False says only "not proven": ``parse_ack`` gives the full verdict."""
    if plain_ack_msh_end(raw) < 0:
        return False
    msa = b"\rMSA|AA|" + control_id.encode("ascii", "replace")
    at = raw.find(msa)
    return at >= 0 and raw[at + len(msa):at + len(msa) + 1] in (b"\r", b"|", b"")
