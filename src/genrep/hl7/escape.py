"""HL7 v2 escape sequences for text values (ST, TX, FT, and components of other types).

Why our own escaping instead of hl7apy's or python-hl7's:

* hl7apy 1.3.5 knows only ``\\H\\ \\N\\ \\F\\ \\S\\ \\T\\ \\R\\ \\E\\``; every other escape
  (``\\.br\\``, ``\\Xhh\\`` ...) is re-escaped to ``\\E\\.br\\E\\`` on build and on
  parse->serialize, and it leaves a raw CR inside a value, which ends the segment on the wire.
* python-hl7's ``escape()`` hex-encodes å/ä/ö, so a UTF-8 or 8859/1 receiver sees ``\\XE5\\``
  instead of the character the message charset could carry directly.

The harness compares what was sent with what an EHR stored, so the escapes we put on the wire
must be exactly the ones we intend, and the decoder must never silently drop text: an escape it
does not know (or a lone backslash) is kept literally, so a loss shows up in the comparison
instead of disappearing here.
"""

from __future__ import annotations

import re

__all__ = ["FT_LINE_BREAK", "escape", "unescape", "STANDARD_DELIMITERS"]

#: FT formatting command for a line break.
FT_LINE_BREAK = "\\.br\\"

#: Field separator followed by MSH-2 encoding characters (component, repetition, escape,
#: subcomponent) as used by every message genrep builds.
STANDARD_DELIMITERS = "|^~\\&"

# Characters that must not appear raw inside a value.  CR ends a segment; LF is a segment
# terminator for many LF-tolerant parsers; VT (0x0B) and FS (0x1C) are the MLLP frame bytes,
# which naive frame readers split on.
_ESCAPE_TABLE = str.maketrans({
    "\\": "\\E\\",
    "|": "\\F\\",
    "^": "\\S\\",
    "&": "\\T\\",
    "~": "\\R\\",
    "\r": "\\X0D\\",
    "\n": "\\X0A\\",
    "\x0b": "\\X0B\\",
    "\x1c": "\\X1C\\",
})

_ESCAPES = tuple((chr(c), r) for c, r in _ESCAPE_TABLE.items())
_SPECIAL = re.compile("[" + re.escape("".join(c for c, _ in _ESCAPES)) + "]")
assert _ESCAPES[0][0] == "\\"  # the escape character itself first (see ``escape``)

# Largest N honoured in ``\.spN\`` / ``\.sk N\``-style counts; a hostile ``\.sp999999999\``
# must not allocate gigabytes in a receiver.
MAX_FORMAT_COUNT = 1000

_FORMAT_RE = re.compile(
    r"""\.(?:
        (?P<br>br)
      | sp\s*(?P<sp>[+]?\d+)?
      | (?:in|ti)\s*[+-]?\d+
      | sk\s*[+]?\d+
      | fi | nf | ce
    )\Z""",
    re.VERBOSE,
)
_HEX_RE = re.compile(r"X((?:[0-9A-Fa-f]{2})+)\Z")


def escape(text: str) -> str:
    """Escape ``text`` for a TX/FT/ST value (or one component) with the standard delimiters.

    ``\\`` -> ``\\E\\``, ``|`` -> ``\\F\\``, ``^`` -> ``\\S\\``, ``&`` -> ``\\T\\``,
    ``~`` -> ``\\R\\``; CR, LF (and the MLLP frame bytes VT, FS) -> ``\\Xhh\\``.  Everything
    else (å, ä, ö, NBSP, tabs) is left as is: the message charset (MSH-18) encodes it.
    """
    # str.translate with multi-character replacements runs a Python-level loop per character
    # (~0.5 ms for a 10 KB report); one C-level scan per special character is ~50 times faster.
    # The escape character goes first, so the backslashes the others insert stay as they are.
    # Most values (names, codes, report lines) hold none: one regex scan answers that.
    if _SPECIAL.search(text) is None:
        return text
    for char, replacement in _ESCAPES:
        if char in text:
            text = text.replace(char, replacement)
    return text


def unescape(value: str, *, charset: str = "utf-8", delimiters: str = STANDARD_DELIMITERS) -> str:
    """Decode the escape sequences in one raw value (a field, component or repetition).

    ``charset`` is the Python codec of the message (MSH-18), used for ``\\Xhh..\\`` hex data;
    adjacent hex escapes are decoded together so a multi-byte character split over two of
    them still decodes.  ``delimiters`` is the field separator followed by the MSH-2 encoding
    characters, for messages that use non-standard ones.

    Formatting commands: ``\\.br\\`` -> newline, ``\\.sp\\``/``\\.spN\\`` -> N newlines
    (default 1, capped at ``MAX_FORMAT_COUNT``); ``.in .ti .sk .fi .nf .ce`` are removed.
    ``\\H\\``/``\\N\\`` (highlighting) are dropped.  Anything unknown or undecodable, and a
    backslash with no closing one, is kept literally.
    """
    if len(delimiters) < 4:
        raise ValueError("delimiters must be the field separator and at least 3 "
                         "encoding characters")
    esc = delimiters[3]
    if esc not in value:  # the common case: nothing to decode (hot path in the virtual EHR)
        return value
    field_sep, comp_sep, rep_sep = delimiters[0], delimiters[1], delimiters[2]
    sub_sep = delimiters[4] if len(delimiters) > 4 else "&"
    simple = {"F": field_sep, "S": comp_sep, "R": rep_sep, "E": esc, "T": sub_sep,
              "H": "", "N": ""}

    out: list[str] = []
    pending_hex = bytearray()   # bytes of consecutive \X..\ escapes not yet decoded
    pending_raw: list[str] = []  # their raw text, kept if the bytes do not decode

    def flush_hex() -> None:
        if not pending_hex:
            return
        try:
            out.append(bytes(pending_hex).decode(charset))
        except (UnicodeDecodeError, LookupError):
            out.append("".join(pending_raw))
        pending_hex.clear()
        pending_raw.clear()

    i, n = 0, len(value)
    while i < n:
        start = value.find(esc, i)
        if start < 0:
            flush_hex()
            out.append(value[i:])
            break
        if start > i:
            flush_hex()
            out.append(value[i:start])
        end = value.find(esc, start + 1)
        if end < 0:  # lone escape character: keep the rest literally
            flush_hex()
            out.append(value[start:])
            break
        body = value[start + 1:end]
        hex_match = _HEX_RE.match(body)
        if hex_match:
            pending_hex += bytes.fromhex(hex_match.group(1))
            pending_raw.append(value[start:end + 1])
            i = end + 1
            continue
        flush_hex()
        if body in simple:
            out.append(simple[body])
            i = end + 1
            continue
        fmt = _FORMAT_RE.match(body)
        if fmt:
            if fmt.group("br"):
                out.append("\n")
            elif body.startswith(".sp"):
                count = int(fmt.group("sp")) if fmt.group("sp") else 1
                out.append("\n" * min(count, MAX_FORMAT_COUNT))
            i = end + 1
            continue
        # Unknown: keep the opening escape character literally and rescan from the closing
        # one, so a stray unescaped backslash does not swallow a valid escape after it.
        out.append(value[start:end])
        i = end
    flush_hex()
    return "".join(out)
