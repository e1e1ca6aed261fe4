"""An HL7 v2 message opened for editing by an operator, byte-exact where nothing is edited.

``HL7View`` splits the message into segments, each with its own terminator (CR, CRLF or LF as it
came), decoded with the codec MSH-18 names; joining and encoding gives the same bytes back. The
report text of an ORU is seen as *units*: one per OBX-5 repetition and, inside one, one per FT line
break (``\\.br\\``); a unit is one line of the report as a clinician sees it. ``set_lines`` writes
lines back: when the number of lines is unchanged only the changed units are rewritten (everything
else stays byte for byte), otherwise the text OBX segments are rebuilt in the message's own
convention (one OBX per line, one OBX with repetitions, or FT with ``\\.br\\``).

Messages with non-standard delimiters are left alone (``HL7View.open`` returns None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genrep.hl7.charsets import CHARSETS
from genrep.hl7.escape import FT_LINE_BREAK, escape, unescape
from genrep.hl7.parse import detect_charset

TEXT_TYPES = ("TX", "FT", "ST")
STANDARD = "|^~\\&"
_TERMINATOR = re.compile(r"(\r\n|\r|\n)")
_BR = re.compile(r"\\\.br\\")


@dataclass
class Unit:
    """One line of the report text: where it sits (segment, repetition, FT piece) and its raw text."""
    segment: int
    repetition: int
    piece: int
    raw: str
    codec: str = "utf-8"

    @property
    def text(self) -> str:
        return unescape(self.raw, charset=self.codec) if "\\" in self.raw else self.raw


class HL7View:
    def __init__(self, text: str, codec: str):
        self.codec = codec
        parts = _TERMINATOR.split(text)
        self.segments: list[str] = parts[0::2]
        self.terminators: list[str] = parts[1::2] + [""] * (len(parts[0::2]) - len(parts[1::2]))

    @classmethod
    def open(cls, data: bytes) -> "HL7View | None":
        """The message as a view, or None when it is not an HL7 message genrep can edit safely."""
        if not data.startswith(b"MSH" + STANDARD.encode()):
            return None
        codec = CHARSETS.get(detect_charset(data))
        if codec is None:
            return None
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            codec = "latin-1"  # bytes that contradict MSH-18: edited byte for byte, never re-coded
            text = data.decode(codec)
        return cls(text, codec)

    def encode(self) -> bytes:
        return "".join(s + t for s, t in zip(self.segments, self.terminators)).encode(self.codec)

    def can_encode(self, text: str) -> bool:
        try:
            text.encode(self.codec)
            return True
        except UnicodeEncodeError:
            return False

    # -- segments ------------------------------------------------------------------------------
    def fields(self, index: int) -> list[str]:
        return self.segments[index].split("|")

    def set_fields(self, index: int, fields: list[str]) -> None:
        self.segments[index] = "|".join(fields)

    @property
    def message_type(self) -> str:
        """MSH-9.1: ORU, ADT, ORM, ACK ..."""
        fields = self.fields(0)
        return fields[8].split("^", 1)[0] if len(fields) > 8 else ""

    def find(self, seg_id: str) -> list[int]:
        head = seg_id + "|"
        return [i for i, s in enumerate(self.segments) if s.startswith(head)]

    def text_obx(self) -> list[int]:
        """Indexes of the OBX segments whose OBX-2 is a text type (TX, FT, ST)."""
        out = []
        for i in self.find("OBX"):
            f = self.fields(i)
            if len(f) > 5 and f[2].split("^", 1)[0].strip().upper() in TEXT_TYPES:
                out.append(i)
        return out

    def obx_value(self, index: int) -> str:
        return self.fields(index)[5]

    def set_obx_value(self, index: int, raw: str) -> None:
        f = self.fields(index)
        f[5] = raw
        self.set_fields(index, f)

    # -- report text as lines ------------------------------------------------------------------
    def units(self) -> list[Unit]:
        out = []
        for seg in self.text_obx():
            for r, rep in enumerate(self.obx_value(seg).split("~")):
                for p, piece in enumerate(_BR.split(rep)):
                    out.append(Unit(seg, r, p, piece, self.codec))
        return out

    def lines(self) -> list[str]:
        return [u.text for u in self.units()]

    def report_text(self) -> str:
        return "\n".join(self.lines())

    def convention(self) -> str:
        obx = self.text_obx()
        if len(obx) != 1:
            return "obx-per-line"
        f = self.fields(obx[0])
        if f[2].split("^", 1)[0].strip().upper() == "FT" or "\\.br\\" in f[5]:
            return "ft-br"
        return "repetitions" if "~" in f[5] else "obx-per-line"

    def set_lines(self, lines: list[str]) -> bool:
        """Write ``lines`` as the report text; False when nothing changed (or it cannot be encoded)."""
        units = self.units()
        old = [u.text for u in units]
        if lines == old or not units or not self.can_encode("\n".join(lines)):
            return False
        if len(lines) == len(units):
            changed = {i for i, (a, b) in enumerate(zip(old, lines)) if a != b}
            for seg in sorted({units[i].segment for i in changed}):
                reps: dict[int, list[str]] = {}
                for i, u in enumerate(units):
                    if u.segment == seg:
                        reps.setdefault(u.repetition, []).append(escape(lines[i]) if i in changed else u.raw)
                self.set_obx_value(seg, "~".join(FT_LINE_BREAK.join(p) for _, p in sorted(reps.items())))
            return True
        self._rebuild(lines)
        return True

    def _rebuild(self, lines: list[str]) -> None:
        obx = self.text_obx()
        convention = self.convention()
        first = obx[0]
        template = self.fields(first)
        terminator = self.terminators[first]
        if convention == "obx-per-line":
            new = []
            for i, line in enumerate(lines, start=1):
                f = list(template)
                f[1], f[5] = str(i), escape(line)
                if f[4].strip().isdigit():
                    f[4] = str(i)
                new.append("|".join(f))
        else:
            f = list(template)
            sep = "~" if convention == "repetitions" else FT_LINE_BREAK
            f[5] = sep.join(escape(line) for line in lines)
            new = ["|".join(f)]
        keep = [(s, t) for i, (s, t) in enumerate(zip(self.segments, self.terminators)) if i not in obx[1:]]
        at = first  # the first text OBX: no removed segment lies before it
        keep[at:at + 1] = [(s, terminator) for s in new]
        self.segments = [s for s, _ in keep]
        self.terminators = [t for _, t in keep]


def edit_text(data: bytes, change, *, types: tuple[str, ...] = ("ORU",)) -> bytes | None:
    """``change(lines) -> lines`` applied to the report text of an HL7 message; the new bytes, or
    None when the message is not one of ``types``, has no text, or ``change`` changed nothing."""
    view = HL7View.open(data)
    if view is None or view.message_type not in types or not view.text_obx():
        return None
    lines = view.lines()
    new = change(list(lines))
    if new is None or new == lines or not view.set_lines(new):
        return None
    return view.encode()


def report_lines(data: bytes, types: tuple[str, ...] = ("ORU",)) -> list[str] | None:
    """The report text's lines of an HL7 message of one of ``types`` (None otherwise)."""
    view = HL7View.open(data)
    if view is None or view.message_type not in types or not view.text_obx():
        return None
    return view.lines()
