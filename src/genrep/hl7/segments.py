"""Receiving side, the parsed structure: ``Delimiters``, ``Segment`` and ``Message``.

Values stay raw (escaped) in the accessors (``Message.unescape`` unescapes one with the message's
delimiters and charset).  Fields are split on first use and the message keeps a lazy segment index
(``_body``, ``_firsts``): a receiver usually reads a few fields of a few segments, and the virtual
EHR parses thousands of messages per second (``genrep bench mllp``).  ``hl7.parse`` builds these
objects (``parse``) and its content readers (``report_text``) use that lazy index directly, on the
hot path.

Split from ``hl7.parse`` (issue 13), which re-exports ``Delimiters``, ``Segment`` and ``Message``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genrep.errors import HL7Error
from genrep.hl7.charsets import reading_codec
from genrep.hl7.escape import unescape

__all__ = ["Delimiters", "Message", "Segment"]

_PATH = re.compile(r"([A-Z0-9]{3})-(\d+)(?:\.(\d+))?(?:\.(\d+))?\Z")
_MISSING = object()


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
