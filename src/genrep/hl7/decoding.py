"""Receiving side, bytes -> str: decode a message's bytes with the character set its MSH-18 names.

Design choices, because this is what decides whether a receiver stores the whole report:

* The bytes are decoded with the codec MSH-18 names, any value of HL7 table 0211 Python can read
  (``charsets.TABLE_0211``; UTF-16/32 by their byte order mark).  A declared 8859 message whose
  bytes are UTF-8 is refused (``CharsetMismatch``) rather than turned into mojibake ("Ã¥" for
  "å"), unless every multi-byte sequence is what ordinary 8859 text holds (a letter and a
  no-break space, "PÅ\xa0"); so are C1 control characters declared as 8859 (Windows-1252
  mislabelled: 0x92 is "’" there), non-ASCII bytes with no MSH-18 and invalid UTF-8 declared as
  UTF-8.
* MSH-18 is read from the raw bytes (``detect_charset``): the separators and MSH-18 itself are
  ASCII in every charset MLLP carries byte-wise, so this works before knowing the charset.

Split from ``hl7.parse`` (issue 13), which re-exports ``decode``, ``detect_charset`` and
``CharsetMismatch``; ``parse`` turns the text into a ``Message`` (``hl7.segments``).
"""

from __future__ import annotations

import re

from genrep.errors import HL7Error
from genrep.hl7.charsets import ISO2022_CODECS, WINDOWS_CODE_PAGES, reading_codec

__all__ = ["CharsetMismatch", "decode", "detect_charset"]

_BOM = b"\xef\xbb\xbf"


class CharsetMismatch(HL7Error):
    """The bytes are not in the character set MSH-18 declares (e.g. UTF-8 sent as 8859/1)."""


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


def _decode_code_page(data: bytes, declared: str, codec: str) -> str:
    """Bytes whose MSH-18 the profile maps to a Windows code page (``decode``'s ``code_pages``)."""
    label = f"{declared!r} (read as {codec}: the endpoint's code_pages)"
    if not data.isascii():
        try:
            as_utf8 = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # the UTF-8 signature ("â€“" for "–") is no more cp1252 text than it is 8859 text
            if not _genuine_8859(as_utf8):
                raise CharsetMismatch(f"declared {label} but the content is UTF-8 (multi-byte sequences); "
                                      f"refusing to decode as {codec}")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise CharsetMismatch(f"declared {label} but byte 0x{data[exc.start]:02X} at offset {exc.start} is "
                              f"not defined in {codec}") from None


def decode(data: bytes, code_pages=None) -> str:
    """Decode a message's bytes with the codec its own MSH-18 names (HL7 table 0211).

    HL7Error for an empty message, one not starting with MSH, or an MSH-18 that is not in table
    0211 (or has no Python codec); CharsetMismatch when the bytes contradict MSH-18: invalid for
    the declared codec, non-ASCII with no MSH-18, UTF-8 declared as 8859 (its signature, see
    ``_genuine_8859``), C1 control characters declared as 8859 (Windows-1252 mislabelled), UTF-16
    declared as anything else or the other way round.

    ``code_pages`` (a profile endpoint's ``code_pages``, MSH-18 value upper case -> Windows code
    page): a value it names is read with that code page, the peer's documented deviation from table
    0211 (C1 bytes are then text); UTF-8 bytes under such a label are still refused.
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
    codec = reading_codec(declared, code_pages)
    if codec in WINDOWS_CODE_PAGES:
        return _decode_code_page(data, declared, codec)
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
