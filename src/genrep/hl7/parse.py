"""Receiving side: decode bytes, split an ER7 message, extract report text, patient, accession.

Used by the virtual EHR simulator on its MLLP hot path, so it is plain string splitting with no
hl7apy (hl7apy parses a 50-OBX ORU at ~14/s; this does thousands per second).  Structure
validation, when wanted, is ``build.validate_structure``.

Design choices, because this is what decides whether a receiver stores the whole report:

* Character set: ``decode`` (``hl7.decoding``) reads the bytes with the codec MSH-18 names (HL7
  table 0211) and refuses bytes that contradict it (``CharsetMismatch``) rather than storing
  mojibake.
* Segments end at CR.  A raw CR inside OBX-5 (a faulty sender) therefore starts a "segment" made
  of the rest of the line; it is refused with the text it starts with, instead of being stored
  as half a report.  An LF after a CR is part of a CRLF terminator; an LF anywhere else inside a
  field is text.  A message with no CR at all is taken as LF-terminated.
* Values stay raw (escaped) in ``Segment``/``Message`` accessors (``hl7.segments``);
  ``report_text``, ``patient_from`` and ``accession_from`` return unescaped text.

One concern per module (issue 13): ``hl7.decoding`` (bytes -> str, the charset checks),
``hl7.segments`` (``Delimiters``, ``Segment``, ``Message``: the parsed structure with its lazy
segment index) and this module (``parse``: str -> ``Message``, and the content readers, which read
that lazy index directly on the hot path measured by ``genrep bench mllp``).  Every name is
importable from here as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from genrep.errors import HL7Error
from genrep.hl7.charsets import CHARSETS
from genrep.hl7.decoding import _BOM, CharsetMismatch, decode, detect_charset
from genrep.hl7.escape import unescape
from genrep.hl7.segments import _PATH, Delimiters, Message, Segment

__all__ = [
    "CharsetMismatch", "Message", "Segment", "TEXT_TYPES", "CODED_TYPES", "accession_from",
    "accession_reader", "decode", "detect_charset", "parent_accession_from", "parse", "patient_from",
    "parse_header", "patient_identifier_from", "report_text",
]

#: OBX-2 value types whose OBX-5 is report text, taken whole.
TEXT_TYPES = frozenset({"TX", "FT", "ST"})
#: Coded OBX-2 types: the text (2nd) component is used, falling back to the code.
CODED_TYPES = frozenset({"CE", "CWE", "CF"})

_SEGMENT_ID = re.compile(r"[A-Z0-9]{3}\Z")
# a CR that is not followed by a segment id + field separator, another CR, or the end of text
# (a second MSH counts as bad too: two messages in one frame)
_BAD_SEGMENT_START = re.compile(r"\r(?:MSH|(?![A-Z0-9]{3}(?:\||\r|\Z)|\r|\Z))")
_SEEN_IDS = frozenset({"MSH", "EVN", "PID", "PD1", "NK1", "PV1", "PV2", "ORC", "OBR", "OBX", "NTE",
                       "MSA", "ERR", "AL1", "DG1", "SPM", "TQ1", "IN1", "GT1", "ROL"})


def _snippet(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# --------------------------------------------------------------------------- str -> Message

def _split_segments(text: str) -> list[str]:
    if "\n" not in text:  # the common case: CR-terminated, no LF anywhere
        return text.split("\r")
    if "\r" in text:
        parts = text.split("\r")
        for i in range(1, len(parts)):
            if parts[i].startswith("\n"):  # CRLF terminator
                parts[i] = parts[i][1:]
        # an LF right before the CR (LF CR) or at the very end is a terminator too
        parts = [p.rstrip("\n") for p in parts]
        return parts
    else:  # LF-terminated message (e.g. a file edited on Unix)
        return text.split("\n")


_DELIMITERS: dict[str, Delimiters] = {}


def parse(text: str) -> Message:
    """Split an ER7 message into segments and fields (no validation of content).

    HL7Error with a reason for: an empty message, one not starting with MSH, bad MSH
    delimiters, a segment that does not start with a segment id (typically text after a raw CR
    inside OBX-5), missing MSH-9 or MSH-10.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text or text.isspace():  # (not text.strip(): that copies the whole message)
        raise HL7Error("empty message")
    if not text.startswith("MSH"):
        raise HL7Error(f"message does not start with MSH: {_snippet(text, 20)}")
    fast = "\n" not in text  # CR-terminated (the norm): segments are split lazily
    if fast:
        end = text.find("\r")
        parts = None
        msh_text = text if end < 0 else text[:end]
    else:
        parts = _split_segments(text)
        msh_text = parts[0]
    if len(msh_text) < 8:
        raise HL7Error(f"MSH segment too short: {_snippet(msh_text)}")
    field_sep = msh_text[3]
    if field_sep.isalnum() or field_sep.isspace():
        raise HL7Error(f"invalid field separator {field_sep!r} in MSH")
    msh_fields = msh_text.split(field_sep)
    encoding = msh_fields[1]
    delimiters = _DELIMITERS.get(field_sep + encoding)  # only valid ones are kept
    if delimiters is None:
        if not 4 <= len(encoding) <= 5 or len(set(encoding + field_sep)) != len(encoding) + 1 \
                or any(ch.isalnum() or ch.isspace() for ch in encoding):
            raise HL7Error(f"invalid encoding characters in MSH-2: {encoding!r}")
        delimiters = Delimiters(field_sep, encoding[0], encoding[1], encoding[2], encoding[3])
        if len(_DELIMITERS) < 64:  # bounded: a sender cannot grow it without limit
            _DELIMITERS[field_sep + encoding] = delimiters

    msh = Segment("MSH", ["MSH", field_sep, encoding, *msh_fields[2:]], delimiters)
    if fast and field_sep == "|" and not _BAD_SEGMENT_START.search(text):
        # the common case, checked in one C-level scan of the text instead of a Python check per
        # segment; the other segments are split from the text only when someone reads them
        message = Message(None, delimiters, text, msh=msh)
    else:
        message = _parse_slow(parts if parts is not None else _split_segments(text), msh,
                              delimiters, text)
    if not message._code_event()[0]:
        raise HL7Error("MSH-9 (message type) is missing")
    if not message.control_id:
        raise HL7Error("MSH-10 (message control id) is missing")
    return message


def parse_header(data: bytes) -> Message | None:
    """The MSH segment alone, for answering a message that was refused before it could be parsed
    (bad bytes for its charset, a broken segment): the ACK can still name its control id.
    Read as Latin-1 (every byte is a character); None when not even the MSH parses."""
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    end = min((i for i in (data.find(b"\r"), data.find(b"\n")) if i >= 0), default=len(data))
    try:
        return parse(data[:end].decode("latin-1"))
    except HL7Error:
        return None


def _parse_slow(parts: list[str], msh: Segment, delimiters: Delimiters, text: str) -> Message:
    field_sep = delimiters.field
    body = [part for part in parts[1:] if part]  # blank lines between/after segments are skipped
    known = _SEEN_IDS
    bad = next((i for i, part in enumerate(body)
                if part[:3] not in known or part[:3] == "MSH" or part[3:4] not in (field_sep, "")), None)
    if bad is not None:  # the slow path: find the first really bad segment, say why
        for number, part in enumerate(body[bad:], start=bad + 2):
            seg_id = part[:3]
            if not _SEGMENT_ID.match(seg_id) or part[3:4] not in (field_sep, ""):
                raise HL7Error(f"segment {number} does not start with a segment id: {_snippet(part)}")
            if seg_id == "MSH":
                raise HL7Error(f"segment {number} is a second MSH (two messages in one frame?)")
    return Message([msh], delimiters, text, body)


# --------------------------------------------------------------------------- content

def report_text(message: Message) -> str:
    """The report text of an ORU, whatever the line convention, as a correct receiver stores it.

    Every OBX whose OBX-2 is TX, FT or ST contributes one line per OBX-5 repetition (an empty
    OBX-5 is one empty line); ``\\.br\\`` inside a value is a line break.  For CE/CWE/CF the
    text component is used.  Other value types (ED, NM, ...) are not text and are skipped.
    Lines are joined with "\\n"; nothing is trimmed (TX says a receiver "should" remove
    trailing spaces: that is a normalisation for the comparison, not for storage).
    """
    codec = message.codec
    d = message.delimiters
    delims = d.as_string()
    rep_sep, comp_sep, esc = d.repetition, d.component, d.escape
    lines: list[str] = []
    fs = d.field
    body = message._body
    if body is not None:  # fast path on the raw segment strings (no Segment objects)
        head = "OBX" + fs
        known: dict[str, str] = {}
        for row in [p.split(fs, 6) for p in body if p.startswith(head)]:
            raw_type = row[2] if len(row) > 2 else ""
            value_type = known.get(raw_type)
            if value_type is None:
                value_type = known[raw_type] = raw_type.split(rep_sep, 1)[0].split(comp_sep, 1)[0].strip().upper()
            if value_type in TEXT_TYPES:
                value = row[5] if len(row) > 5 else ""
                if rep_sep in value or esc in value:
                    lines.extend([unescape(r, charset=codec, delimiters=delims) if esc in r else r
                                  for r in value.split(rep_sep)])
                else:
                    lines.append(value)
            elif value_type in CODED_TYPES:
                lines.extend(_coded_lines(row[5] if len(row) > 5 else "", rep_sep, comp_sep, codec, delims))
        return "\n".join(lines)
    for seg in message.segments:
        if seg.id != "OBX":
            continue
        fields = seg._fields
        if fields is None:  # only fields 2 and 5 are needed: do not split the rest
            fields = seg._raw.split(fs, 6)
        raw_type = fields[2] if len(fields) > 2 else ""
        value_type = raw_type.split(rep_sep, 1)[0].split(comp_sep, 1)[0].strip().upper()
        if value_type in TEXT_TYPES:
            value = fields[5] if len(fields) > 5 else ""
            for r in value.split(rep_sep):  # "" -> [""]: an empty OBX-5 is one empty line
                lines.append(unescape(r, charset=codec, delimiters=delims) if esc in r else r)
        elif value_type in CODED_TYPES:
            lines.extend(_coded_lines(fields[5] if len(fields) > 5 else "", rep_sep, comp_sep,
                                      codec, delims))
    return "\n".join(lines)


def _coded_lines(value: str, rep_sep: str, comp_sep: str, codec: str, delims: str) -> list[str]:
    """Lines of a CE/CWE/CF OBX-5: the text component (else the code) of each repetition."""
    out = []
    for rep in value.split(rep_sep):
        comps = rep.split(comp_sep)
        text = comps[1] if len(comps) > 1 and comps[1] else comps[0]
        out.append(unescape(text, charset=codec, delimiters=delims))
    return out


def patient_from(message: Message) -> dict[str, str]:
    """identifier (PID-3.1, first repetition), family (PID-5.1.1), given (PID-5.2),
    birth_date (PID-7.1), sex (PID-8), all unescaped; "" for what is absent."""
    pid = message.first("PID")
    if pid is None:
        raise HL7Error("message has no PID segment")
    u = message.unescape
    return {
        "identifier": u(pid.component(3, 1)),
        "family": u(pid.subcomponent(5, 1, 1)),
        "given": u(pid.component(5, 2)),
        "birth_date": u(pid.component(7, 1)),
        "sex": u(pid.component(8, 1)),
    }


def patient_identifier_from(message: Message) -> str:
    """PID-3.1 of the first repetition, unescaped; "" when absent.  ``patient_from`` reads the
    whole identity; a receiver that only looks the patient up needs just this."""
    pid = message.first("PID")
    if pid is None:
        raise HL7Error("message has no PID segment")
    return message.unescape(pid.component(3, 1))


def accession_reader(accession_field: str = "OBR-3") -> Callable[[Message], str]:
    """A function reading the accession number (unescaped) from a message, with the field path
    checked once: OBR-3 (EI.1), OBR-18, or "both" (OBR-3, else OBR-18).  Any other
    ``SEG-n[.c[.s]]`` path is read as given.  HL7Error for an invalid path."""
    if accession_field == "both":
        first, second = accession_reader("OBR-3"), accession_reader("OBR-18")
        return lambda message: first(message) or second(message)
    m = _PATH.match(accession_field)
    if not m:
        raise HL7Error(f"invalid field path {accession_field!r} (expected e.g. 'PID-3' or 'MSH-9.1')")
    seg_id, n = m.group(1), int(m.group(2))
    c = int(m.group(3)) if m.group(3) else 1   # a bare SEG-n means its first component (EI.1)
    s = int(m.group(4)) if m.group(4) else 0

    def read(message: Message) -> str:
        seg = message.first(seg_id)
        if seg is None:
            return ""
        raw = seg.subcomponent(n, c, s) if s else seg.component(n, c)
        return message.unescape(raw)
    return read


def accession_from(message: Message, accession_field: str = "OBR-3") -> str:
    """The accession number (unescaped), from OBR-3 (EI.1), OBR-18, or "both" (OBR-3, else
    OBR-18).  Any other ``SEG-n[.c]`` path is read as given.  "" when absent."""
    return accession_reader(accession_field)(message)


def parent_accession_from(message: Message) -> str:
    """Parent accession of an addendum: OBR-29 (EIP) placer component, else filler; unescaped."""
    obr = message.first("OBR")
    if obr is None:
        return ""
    raw = obr.subcomponent(29, 1, 1) or obr.subcomponent(29, 2, 1)
    return message.unescape(raw)


__all__ += ["Delimiters", "CHARSETS"]
