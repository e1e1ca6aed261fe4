"""Receiving side: decode bytes, split an ER7 message, extract report text, patient, accession.

Used by the virtual EHR simulator on its MLLP hot path, so it is plain string splitting with no
hl7apy (hl7apy parses a 50-OBX ORU at ~14/s; this does thousands per second).  Structure
validation, when wanted, is ``build.validate_structure``.

Design choices, because this is what decides whether a receiver stores the whole report:

* Character set: the bytes are decoded with the codec MSH-18 names, any value of HL7 table 0211
  Python can read (``charsets.TABLE_0211``; UTF-16/32 by their byte order mark).  A declared 8859
  message whose bytes are UTF-8 is refused (``CharsetMismatch``) rather than turned into mojibake
  ("Ã¥" for "å"), unless every multi-byte sequence is what ordinary 8859 text holds (a letter and
  a no-break space, "PÅ\xa0"); so are C1 control characters declared as 8859 (Windows-1252
  mislabelled: 0x92 is "’" there), non-ASCII bytes with no MSH-18 and invalid UTF-8 declared as
  UTF-8.
* Segments end at CR.  A raw CR inside OBX-5 (a faulty sender) therefore starts a "segment" made
  of the rest of the line; it is refused with the text it starts with, instead of being stored
  as half a report.  An LF after a CR is part of a CRLF terminator; an LF anywhere else inside a
  field is text.  A message with no CR at all is taken as LF-terminated.
* Values stay raw (escaped) in ``Segment``/``Message`` accessors; ``report_text``,
  ``patient_from`` and ``accession_from`` return unescaped text.

Why one module of ~600 lines: it is one concern (reading an ER7 message the way a receiver does)
whose pieces share the delimiters, the lazy segment index and the hot-path shortcuts measured by
``genrep bench mllp``; splitting it would put the fast path's invariants in two places.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from genrep.errors import HL7Error
from genrep.hl7.charsets import CHARSETS, ISO2022_CODECS, reading_codec
from genrep.hl7.escape import unescape

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
_PATH = re.compile(r"([A-Z0-9]{3})-(\d+)(?:\.(\d+))?(?:\.(\d+))?\Z")
_BOM = b"\xef\xbb\xbf"


class CharsetMismatch(HL7Error):
    """The bytes are not in the character set MSH-18 declares (e.g. UTF-8 sent as 8859/1)."""


def _snippet(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# --------------------------------------------------------------------------- bytes -> str

def _msh18_repetitions(data: bytes) -> list[str]:
    """Every repetition of MSH-18, read from the raw bytes (ASCII in every charset MLLP carries
    byte-wise); [] when absent or not an MSH message."""
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if not data.startswith(b"MSH") or len(data) < 4:
        return []
    sep = data[3:4]
    end = len(data)
    for terminator in (b"\r", b"\n"):
        pos = data.find(terminator)
        if 0 <= pos < end:
            end = pos
    fields = data[:end].split(sep)
    # fields[0] = "MSH", fields[1] = MSH-2, so MSH-n = fields[n - 1]
    if len(fields) < 18:
        return []
    encoding_chars = fields[1]
    reps = fields[17].split(encoding_chars[1:2]) if len(encoding_chars) >= 2 else [fields[17]]
    return [r.decode("latin-1").strip() for r in reps]


def detect_charset(data: bytes) -> str:
    """MSH-18 (first repetition) read from the raw bytes; "" when absent or not an MSH message.

    The separators and MSH-18 itself are ASCII, so this works before knowing the charset.
    """
    reps = _msh18_repetitions(data)
    return reps[0] if reps else ""


# UTF-16/32 messages (table 0211 "UNICODE UTF-16/32"): "MSH" is not single-byte there, so they are
# recognised by their byte order mark or by the NUL bytes around the first letters
_WIDE = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
         (b"\xfe\xff", "utf-16"), (b"M\x00\x00\x00S\x00\x00\x00", "utf-32-le"),
         (b"\x00\x00\x00M\x00\x00\x00S", "utf-32-be"), (b"M\x00S\x00", "utf-16-le"), (b"\x00M\x00S", "utf-16-be"))
_C1 = re.compile(rb"[\x80-\x9f]")
_SINGLE_BYTE_8859 = frozenset({"latin-1", "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5", "iso8859-6",
                               "iso8859-7", "iso8859-8", "iso8859-9", "iso8859-15"})
# In 8859 text a capital or small letter followed by a no-break space (0xA0) or a soft hyphen (0xAD)
# is ordinary ("PÅ\xa0REMISS", "RÖ\xadNTGEN", "på\xa0\xa0") and happens to be a valid UTF-8
# sequence. Every other valid sequence, and any whose lead is 0xC2 or 0xC3 (UTF-8's own Latin-1
# letters: "Ã¥" for "å", "Ã\xa0" for "à"), is the UTF-8 signature. Left ambiguous: UTF-8 text
# whose only non-ASCII letters are ones like "Š" (0xC5 0xA0, which is "Å\xa0" in 8859/1) is read
# as 8859; the read-back comparison shows such a text changed.
_8859_AFTER_LETTER = frozenset({0xA0, 0xAD})
_NOT_8859_LETTER_LEAD = frozenset({0xC2, 0xC3, 0xD7, 0xF7})  # UTF-8's Latin-1 leads; "×", "÷"


def _decode_wide(data: bytes) -> str | None:
    """A UTF-16/UTF-32 message as text; None when the bytes are not one."""
    for mark, codec in _WIDE:
        if data.startswith(mark):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise CharsetMismatch(f"the message starts as {codec.upper()} but is not valid {codec} "
                                      f"at offset {exc.start}") from None
            text = text.lstrip("\ufeff")
            declared = detect_charset(text.encode("latin-1", errors="replace"))
            if declared.upper() not in ("UNICODE", "UNICODE UTF-16", "UNICODE UTF-32"):
                raise CharsetMismatch(f"the message is {codec[:6].upper()} but MSH-18 says "
                                      f"{declared or 'nothing (ASCII)'!s}")
            return text
    return None


def _genuine_8859(text: str) -> bool:
    """Bytes declared 8859 that are also valid UTF-8 (``text`` is that UTF-8 reading): True when
    every multi-byte sequence is, read as 8859, a letter followed by no-break spaces or soft hyphens
    (ordinary 8859 text), so the label is right; False when any is the UTF-8 signature."""
    for ch in text:
        if ch < "\x80":
            continue
        seq = ch.encode("utf-8")
        if seq[0] in _NOT_8859_LETTER_LEAD or any(b not in _8859_AFTER_LETTER for b in seq[1:]):
            return False
    return True


def _c1_problem(data: bytes, label: str) -> str | None:
    """The C1 control character (0x80-0x9F) in bytes declared 8859: not text in any part of 8859,
    but printable in Windows-1252 (the usual mislabel); None when there is none."""
    m = _C1.search(data)
    if m is None:
        return None
    byte = data[m.start()]
    try:
        shown = f" ({bytes([byte]).decode('cp1252')!r} in Windows-1252)"
    except UnicodeDecodeError:
        shown = ""
    count = len(_C1.findall(data))
    return (f"declared {label} but byte 0x{byte:02X} at offset {m.start()} is a C1 control character, not "
            f"{label} text{shown}; {count} such byte(s): likely Windows-1252 labelled {label}")


def decode(data: bytes) -> str:
    """Decode a message's bytes with the codec its own MSH-18 names (HL7 table 0211).

    HL7Error for an empty message, one not starting with MSH, or an MSH-18 that is not in table
    0211 (or has no Python codec); CharsetMismatch when the bytes contradict MSH-18: invalid for
    the declared codec, non-ASCII with no MSH-18, UTF-8 declared as 8859 (its signature, see
    ``_genuine_8859``), C1 control characters declared as 8859 (Windows-1252 mislabelled), UTF-16
    declared as anything else or the other way round.
    """
    if not data:
        raise HL7Error("empty message")
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if not data.startswith(b"MSH"):
        wide = _decode_wide(data)
        if wide is not None:
            return wide
        raise HL7Error(f"message does not start with MSH: {data[:20]!r}")
    reps = _msh18_repetitions(data)
    declared = reps[0] if reps else ""
    codec = reading_codec(declared)
    if codec == "utf-8":  # the common case: decoding is the validation
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CharsetMismatch(f"declared {declared!r} but the bytes are not valid utf-8 at offset "
                                  f"{exc.start}: {data[exc.start:exc.start + 4]!r}") from None
    label = repr(declared) if declared else "ASCII (no MSH-18)"
    if codec in ("utf-16", "utf-32"):
        raise CharsetMismatch(f"declared {declared} but the message is single-byte (its MSH is ASCII)")
    extension = next((c for c in map(reading_codec, reps[1:]) if c in ISO2022_CODECS), None) if len(reps) > 1 else None
    if extension is not None and codec == "ascii":  # "ISO IR6~ISO IR87": ISO 2022 code extension
        codec = extension
    if codec == "ascii" and not data.isascii():
        for offset, byte in enumerate(data):
            if byte >= 0x80:
                hint = ""
                try:
                    data.decode("utf-8")
                    hint = "; the content is UTF-8"
                except UnicodeDecodeError:
                    pass
                raise CharsetMismatch(f"declared {label} but byte 0x{byte:02X} at offset "
                                      f"{offset} is not 7-bit ASCII{hint}")
        return data.decode("ascii")
    if codec in _SINGLE_BYTE_8859 and not data.isascii():
        try:
            as_utf8 = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # valid UTF-8 with multi-byte sequences: UTF-8 mislabelled, unless it is 8859 by chance
            if _C1.search(data) is not None or not _genuine_8859(as_utf8):
                raise CharsetMismatch(f"declared {declared} but the content is UTF-8 "
                                      f"(multi-byte sequences); refusing to decode as {codec}")
        problem = _c1_problem(data, declared)
        if problem is not None:
            raise CharsetMismatch(problem)
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise CharsetMismatch(f"declared {label} but the bytes are not valid {codec} "
                              f"at offset {exc.start}: {data[exc.start:exc.start + 4]!r}") from None


# --------------------------------------------------------------------------- str -> Message

@dataclass(frozen=True)
class Delimiters:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    def as_string(self) -> str:
        """Field separator + encoding characters, as ``unescape`` takes them."""
        return self.field + self.component + self.repetition + self.escape + self.subcomponent


class Segment:
    """One segment.  ``fields[n]`` is field n (raw, escaped); for MSH, field 1 is the field
    separator and field 2 the encoding characters, as in the standard's numbering.

    Fields are split on first use: a receiver usually reads a few fields of a few segments, and
    the virtual EHR parses thousands of messages per second (``genrep bench mllp``).
    """

    __slots__ = ("id", "_fields", "_raw", "delimiters")

    def __init__(self, seg_id: str, fields: list[str] | None, delimiters: Delimiters, raw: str = ""):
        self.id = seg_id
        self._fields = fields
        self._raw = raw
        self.delimiters = delimiters

    @property
    def fields(self) -> list[str]:
        f = self._fields
        if f is None:
            f = self._fields = self._raw.split(self.delimiters.field)
        return f

    def __repr__(self) -> str:  # no values: they may be patient data
        return f"Segment({self.id!r}, {len(self.fields) - 1} fields)"

    def field(self, n: int) -> str:
        """Raw field n (all repetitions), "" when absent."""
        f = self._fields
        if f is None:
            f = self._fields = self._raw.split(self.delimiters.field)
        return f[n] if 0 < n < len(f) else ""

    def repetitions(self, n: int) -> list[str]:
        """Raw repetitions of field n; [] when the field is empty or absent."""
        value = self.field(n)
        if not value:
            return []
        if self.id == "MSH" and n in (1, 2):
            return [value]
        return value.split(self.delimiters.repetition)

    def component(self, n: int, c: int, *, repetition: int = 0) -> str:
        """Raw component c (1-based) of a repetition (default the first) of field n."""
        if repetition == 0 and not (n < 3 and self.id == "MSH"):  # the common case, fewer splits
            d = self.delimiters
            value = self.field(n).split(d.repetition, 1)[0]
            if c == 1:
                return value.split(d.component, 1)[0]
            comps = value.split(d.component, c)
            return comps[c - 1] if 0 < c <= len(comps) else ""
        reps = self.repetitions(n)
        if repetition >= len(reps):
            return ""
        if self.id == "MSH" and n in (1, 2):
            return reps[0] if c == 1 else ""
        comps = reps[repetition].split(self.delimiters.component)
        return comps[c - 1] if 0 < c <= len(comps) else ""

    def subcomponent(self, n: int, c: int, s: int, *, repetition: int = 0) -> str:
        """Raw subcomponent s of component c of field n."""
        subs = self.component(n, c, repetition=repetition).split(self.delimiters.subcomponent)
        return subs[s - 1] if 0 < s <= len(subs) else ""


class Message:
    """A parsed (not validated) HL7 v2 message.  See ``parse``."""

    __slots__ = ("_segments", "_raw_body", "_split_body", "delimiters", "text", "_msh", "_codec",
                 "_delims", "_type", "_charset", "_firsts")

    def __init__(self, segments: list[Segment] | None, delimiters: Delimiters, text: str,
                 body: list[str] | None = None, msh: Segment | None = None):
        # ``body``: raw non-MSH segment strings, turned into Segment objects on first use
        self._segments: list[Segment] | None = segments if body is None and msh is None else None
        self._raw_body = body
        self._split_body = body is None and segments is None
        self.delimiters = delimiters
        self.text = text
        self._msh = msh if msh is not None else segments[0]
        self._codec: str | None = None  # computed once: unescape needs it for every value
        self._delims = delimiters.as_string()
        self._type: tuple[str, str] | None = None   # (MSH-9.1, MSH-9.2), read once
        self._charset: str | None = None
        self._firsts: dict[str, Segment | None] = {}  # first() answers: a segment's fields are split once

    def __repr__(self) -> str:
        return (f"Message({self.message_type!r}, control_id={self.control_id!r}, "
                f"{len(self.segments)} segments)")

    @property
    def _body(self) -> list[str] | None:
        """Raw non-MSH segment strings, split from the text on first use (fast path only)."""
        if self._raw_body is None and self._split_body:
            self._raw_body = [part for part in self.text.split("\r")[1:] if part]
        return self._raw_body

    @property
    def segments(self) -> list[Segment]:
        if self._segments is None:
            d = self.delimiters
            self._segments = [self._msh, *[Segment(part[:3], None, d, part) for part in self._body]]
        return self._segments

    @property
    def msh(self) -> Segment:
        return self._msh

    def _code_event(self) -> tuple[str, str]:
        t = self._type
        if t is None:
            t = self._type = (self._msh.component(9, 1), self._msh.component(9, 2))
        return t

    @property
    def message_type(self) -> str:
        """MSH-9.1^MSH-9.2, e.g. "ORU^R01" ("ACK" when MSH-9 has no event)."""
        code, event = self._code_event()
        return f"{code}^{event}" if event else code

    @property
    def event(self) -> str:
        return self._code_event()[1]

    @property
    def control_id(self) -> str:
        return self._msh.field(10)

    @property
    def charset(self) -> str:
        """MSH-18 (first repetition), "" when absent (= ASCII)."""
        c = self._charset
        if c is None:
            reps = self._msh.repetitions(18)
            c = self._charset = reps[0].strip() if reps else ""
        return c

    @property
    def codec(self) -> str:
        """Python codec for ``charset`` (HL7Error when unsupported)."""
        if self._codec is None:
            self._codec = reading_codec(self.charset)
        return self._codec

    @property
    def version(self) -> str:
        return self._msh.component(12, 1)

    def all(self, seg_id: str) -> list[Segment]:
        if self._segments is None and len(seg_id) == 3:  # without building every Segment
            if seg_id == "MSH":
                return [self._msh]
            d = self.delimiters
            head = seg_id + d.field
            return [Segment(seg_id, None, d, p) for p in self._body if p.startswith(head) or p == seg_id]
        return [s for s in self.segments if s.id == seg_id]

    def first(self, seg_id: str) -> Segment | None:
        seg = self._firsts.get(seg_id, _MISSING)
        if seg is _MISSING:
            seg = self._firsts[seg_id] = self._find_first(seg_id)
        return seg

    def _find_first(self, seg_id: str) -> Segment | None:
        if self._segments is None and len(seg_id) == 3:
            if seg_id == "MSH":
                return self._msh
            d = self.delimiters
            head = seg_id + d.field
            if self._raw_body is None and self._split_body:  # not split yet: find it in the text
                text = self.text
                start = text.find("\r" + head)
                if start < 0:  # a segment with no fields at all ("\rNTE\r"), or none
                    start = text.find("\r" + seg_id + "\r")
                    if start < 0 and text.endswith("\r" + seg_id):
                        start = len(text) - 4
                    if start < 0:
                        return None
                end = text.find("\r", start + 1)
                return Segment(seg_id, None, d, text[start + 1:end if end >= 0 else None])
            for p in self._body:
                if p.startswith(head) or p == seg_id:
                    return Segment(seg_id, None, d, p)
            return None
        for s in self.segments:
            if s.id == seg_id:
                return s
        return None

    def field(self, path: str) -> str:
        """Raw value at ``SEG-n[.c[.s]]`` in the first segment with that id; "" when absent.

        ``SEG-n`` is the whole field (all repetitions); component and subcomponent paths read
        the first repetition.
        """
        m = _PATH.match(path)
        if not m:
            raise HL7Error(f"invalid field path {path!r} (expected e.g. 'PID-3' or 'MSH-9.1')")
        seg = self.first(m.group(1))
        if seg is None:
            return ""
        n = int(m.group(2))
        if m.group(3) is None:
            return seg.field(n)
        if m.group(4) is None:
            return seg.component(n, int(m.group(3)))
        return seg.subcomponent(n, int(m.group(3)), int(m.group(4)))

    def unescape(self, value: str) -> str:
        """Unescape a raw value with this message's delimiters and charset."""
        if self.delimiters.escape not in value:
            return value
        return unescape(value, charset=self.codec, delimiters=self._delims)


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
_MISSING = object()


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
