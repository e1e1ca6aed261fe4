"""Where personnummer-shaped values hide in an outbound payload: the *decoded meaning*, not the bytes.

A receiver decodes what it gets: an EHR resolves ``\\X31\\`` to ``1``, drops ``\\H\\`` and ``\\N\\``
between digits, reads full-width or Arabic-Indic digits, a non-breaking hyphen or a thin space as
the separator, and a FHIR server resolves ``%31`` in a URL and ``\\u0031`` in JSON. A guard that
scans only the literal bytes lets every one of those spellings through (measured on the first
guard: 5 of 22 spellings flagged, 8 of 14 outbound paths leaked). So a payload is scanned in every
*view* a receiver could take of it:

* ``as written``;
* ``decoded``: Unicode digits, dashes and spaces folded to ASCII, zero-width characters removed,
  HL7 escapes resolved (``\\Xhh..\\``, delimiter escapes, formatting commands such as ``\\H\\``,
  ``\\N\\``, ``\\.br\\`` dropped), percent escapes (``%31``, UTF-8 sequences included), JSON
  escapes (``\\uXXXX``, and ``\\\\`` so that an HL7 escape inside a JSON string decodes next),
  HTML/XML character references and Python bytes escapes (``\\xe2\\x80\\x91``, as a traceback
  shows a payload) resolved; repeated until nothing more
  decodes (a percent-encoded HL7 escape is two layers), at most ``MAX_LAYERS`` times.

The decoder keeps, for every decoded character, the span of the original it came from, so the same
pass masks a value in a report whatever its spelling (``mask_spans``).

Field types: a payload found to hold a refused number is looked at again field by field, so a
refusal names the HL7 segment-field (``PID-3``) or the JSON path (``$.patient``) or URL part, and
an HL7 timestamp field (TS/DTM: ``MSH-7``, ``OBR-7`` ...) holding a valid timestamp is a date, not
an identity: ``YYYYMMDDHHMM`` is personnummer-shaped and checksum-valid one time in ten. Only
fields of those types are exempt, and only when their whole value is a valid timestamp; the same
digits anywhere else are still refused.

Our own code, not a library: ``personnummer`` validates one candidate string; finding candidates
in arbitrary encoded text, with offsets back into the original, is the job here. Speed matters on
the load path (a 9.7 KB ORU per message): the views are taken only when the text holds something
to decode (a non-ASCII character outside Latin-1, NBSP or soft hyphen, a backslash escape, ``%``
or ``&#``), and the digit runs are found in C (``bytes.translate`` and ``find``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import parse_qsl, urlsplit

MAX_LAYERS = 4  # decoding passes: a percent-encoded HL7 escape of a full-width digit is three

# YYMMDD or YYYYMMDD, an optional separator ('-', '+', or one space once dashes and spaces are
# folded to ASCII), then NNNC; not part of a longer digit run.
SHAPE = re.compile(r"(?<![0-9])((?:1[89]|20)?[0-9]{6})([-+ ]?)([0-9]{4})(?![0-9])")

# digits -> "0"; the separators -> "1"; anything else -> "x" (Latin-1 view, one byte per character)
_RUN_TABLE = bytes(0x30 if 0x30 <= b <= 0x39 else 0x31 if b in (0x2B, 0x2D, 0x20) else 0x78 for b in range(256))
_SIX = b"000000"  # every shape holds a run of at least six digits (YYMMDD)


def find_shapes(text: str) -> Iterator[re.Match]:
    """The ``SHAPE`` matches of ``text`` (as ``SHAPE.finditer(text)`` finds them), found fast: the
    regex runs only inside runs of digits and separators that hold six digits in a row."""
    mapped = text.encode("latin-1", "replace").translate(_RUN_TABLE)
    i = mapped.find(_SIX)
    n = len(mapped)
    while i >= 0:
        start = mapped.rfind(b"x", 0, i) + 1
        end = mapped.find(b"x", i)
        if end < 0:
            end = n
        if end - start >= 10:  # the shortest shape has ten digits
            yield from SHAPE.finditer(text, start, end)
        i = mapped.find(_SIX, end)


def luhn_ok(digits10: str) -> bool:
    total = 0
    for i, ch in enumerate(digits10):
        k = int(ch) * (2 if i % 2 == 0 else 1)
        total += k - 9 if k > 9 else k
    return total % 10 == 0


def full_date(century_or_none: str, yymmdd: str, sep: str) -> date | None:
    """The birth date (day - 60 for a samordningsnummer), or None if it is no date."""
    if century_or_none:
        year = int(century_or_none + yymmdd[:2])
    else:
        this_year = date.today().year
        year = 2000 + int(yymmdd[:2])
        if year > this_year:
            year -= 100
        if sep == "+":
            year -= 100
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > 60:
        day -= 60
    try:
        return date(year, month, day)
    except ValueError:
        return None


_CANONICAL: dict = {}  # a matched spelling (and today's date, for a 10-digit one) -> its 12-digit form or None
_CANONICAL_KEPT = 4096


def canonical_from_match(m: re.Match) -> str | None:
    """The 12-digit form of a ``SHAPE`` match, or None when the checksum or the date is wrong.
    Remembered per matched text: the load path scans the same patient's number thousands of times a
    second. A 10-digit spelling's century depends on today's date, so its key holds the date."""
    key = m.group(0) if len(m.group(1)) == 8 else (m.group(0), date.today())
    cache = _CANONICAL
    hit = cache.get(key, cache)
    if hit is not cache:
        return hit
    number = _canonical(m)
    if len(cache) >= _CANONICAL_KEPT:
        cache.clear()
    cache[key] = number
    return number


def _canonical(m: re.Match) -> str | None:
    datepart, sep, tail = m.group(1), m.group(2), m.group(3)
    century = datepart[:2] if len(datepart) == 8 else ""
    yymmdd = datepart[-6:]
    if not luhn_ok(yymmdd + tail):
        return None
    born = full_date(century, yymmdd, sep)
    if born is None:
        return None
    return f"{born.year // 100:02d}{yymmdd}{tail}"


# ----------------------------------------------------------------------------------- decoding ---

class _Fold(dict):
    """str.translate table, filled on first use: Unicode decimal digits to ASCII, dashes to '-',
    spaces to ' ', every other character unchanged (one character in, one out)."""

    _DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d\u02d7\u2796"
    _PLUS = "\uff0b\u207a\u208a\ufe62"

    def __missing__(self, cp: int):
        ch = chr(cp)
        if ch in self._DASHES:
            out: int = 0x2D
        elif ch in self._PLUS:
            out = 0x2B
        elif ch.isdecimal():
            out = 0x30 + unicodedata.decimal(ch)
        elif ch.isspace() or unicodedata.category(ch) == "Zs":
            out = 0x20
        else:
            out = cp
        self[cp] = out
        return out


_FOLD = _Fold()

_ATOM = re.compile(r"""
    \\X(?P<hl7hex>(?:[0-9A-Fa-f]{2})+)\\
  | \\(?P<hl7fmt>H|N|\.br|\.sp[0-9+\-]*|\.in[0-9+\-]*|\.ti[0-9+\-]*|\.sk[0-9+\-]*|\.fi|\.nf|\.ce
               |Z[^\\\r]{0,32}|C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4,6})\\
  | \\(?P<hl7delim>[FSTREP])\\
  | (?P<pct>(?:%[0-9A-Fa-f]{2})+)
  | (?P<pyhex>(?:\\x[0-9A-Fa-f]{2})+)
  | (?P<unipair>\\u[dD][89abAB][0-9A-Fa-f]{2}\\u[dD][c-fC-F][0-9A-Fa-f]{2})
  | \\u(?P<uni>[0-9A-Fa-f]{4})
  | \\(?P<jsonesc>[\\/"])
  | &\#(?P<dec>[0-9]{1,7});
  | &\#[xX](?P<hex>[0-9A-Fa-f]{1,6});
  | (?P<zw>[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff])
""", re.VERBOSE)
_HL7_DELIMS = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\", "P": "#"}
# the characters an atom can start with: found by a one-class regex (a fast C scan), and only
# there is ``_ATOM`` tried (``_ATOM.finditer`` tries every alternative at every position: 1 ms
# for a 10 KB report)
_ATOM_START = re.compile("[\\\\%&\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def _atoms(text: str) -> Iterator[re.Match]:
    """``_ATOM.finditer(text)``, faster."""
    pos = 0
    for start in _ATOM_START.finditer(text):
        i = start.start()
        if i < pos:
            continue
        m = _ATOM.match(text, i)
        if m is not None:
            yield m
            pos = m.end()


def _bytes_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _atom_value(m: re.Match) -> str:
    kind = m.lastgroup
    value = m.group(kind)
    if kind == "hl7hex":
        return _bytes_text(bytes.fromhex(value))
    if kind == "hl7fmt" or kind == "zw":
        return ""  # formatting commands and invisible characters carry no digits
    if kind == "hl7delim":
        return _HL7_DELIMS[value]
    if kind == "jsonesc":
        return value
    if kind == "unipair":  # a UTF-16 surrogate pair: one character beyond the BMP
        hi, lo = int(value[2:6], 16), int(value[8:12], 16)
        return chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
    if kind == "pct":
        return _bytes_text(bytes.fromhex(value.replace("%", "")))
    if kind == "pyhex":  # a bytes repr in a traceback: b'...640823\xe2\x80\x913234...'
        return _bytes_text(bytes.fromhex(value.replace("\\x", "")))
    if kind in ("uni", "hex"):
        cp = int(value, 16)
    else:
        cp = int(value)
    return chr(cp) if cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF else ""


def _needs_fold(text: str) -> bool:
    """Whether folding could change ``text``: Latin-1 text folds to itself but for NBSP (a space)
    and its own digits and dashes, which are ASCII (``str.translate`` costs ~35 ns a character)."""
    if text.isascii():
        return False
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return True
    return "\xa0" in text


def needs_decoding(text: str) -> bool:
    """Whether ``text`` holds anything a receiver would decode into other characters (cheap, C).
    The backslash of an HL7 message's own encoding characters (MSH-2) is not an escape."""
    if "%" in text:
        return True
    amp = text.find("&")  # memchr; '"&#" in text' is a slower two-character search (10 us / 10 KB)
    while amp >= 0:
        if text.startswith("#", amp + 1):
            return True
        amp = text.find("&", amp + 1)
    backslash = text.find("\\")
    if backslash >= 0:
        if backslash < 12 and text.lstrip("\x0b")[:3] == "MSH":
            backslash = text.find("\\", backslash + 1)
        if backslash >= 0:
            return True
    if text.isascii():
        return False
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return True  # beyond Latin-1: full-width digits, Unicode dashes and spaces live there
    return "\xa0" in text or "\xad" in text


@dataclass
class Decoded:
    """One decoding pass: the text, and for each of its characters the span of the original."""

    text: str
    starts: list[int]
    ends: list[int]


def decode_once(text: str, starts: list[int] | None = None, ends: list[int] | None = None, *,
                track: bool = True) -> Decoded | None:
    """One pass of every decoding; None when nothing decodes (the text is its own meaning). With
    ``track``, the original span of each output character is kept (for masking); the guard
    does not need it and skips the cost."""
    if track and starts is None:
        starts, ends = list(range(len(text))), list(range(1, len(text) + 1))
    pieces: list[str] = []
    out_starts: list[int] = []
    out_ends: list[int] = []
    pos = 0
    changed = False
    for m in _atoms(text):
        a, b = m.start(), m.end()
        if a > pos:
            pieces.append(text[pos:a])
            if track:
                out_starts += starts[pos:a]
                out_ends += ends[pos:a]
        value = _atom_value(m)
        pieces.append(value)
        if track:
            out_starts += [starts[a]] * len(value)
            out_ends += [ends[b - 1]] * len(value)
        pos = b
        changed = True
    if pos < len(text):
        pieces.append(text[pos:])
        if track:
            out_starts += starts[pos:]
            out_ends += ends[pos:]
    joined = "".join(pieces) if changed else text
    folded = joined.translate(_FOLD) if _needs_fold(joined) else joined
    if not changed and folded == text:
        return None
    return Decoded(folded, out_starts, out_ends)


def views(text: str, *, track: bool = False) -> Iterator[tuple[str, Decoded]]:
    """``("as written", text)`` and then each decoding pass (``"decoded"``, ``"decoded x2"`` ...)
    until nothing more decodes. ``track``: keep the original span of every character."""
    current = Decoded(text, [], [])
    yield "as written", current
    if not needs_decoding(text):
        return
    starts: list[int] | None = None
    ends: list[int] | None = None
    for layer in range(1, MAX_LAYERS + 1):
        nxt = decode_once(current.text, starts, ends, track=track)
        if nxt is None:
            return
        yield ("decoded" if layer == 1 else f"decoded x{layer}"), nxt
        current, starts, ends = nxt, nxt.starts, nxt.ends
        if not needs_decoding(current.text):
            return


def numbers_of(text: str) -> set[str]:
    """Every checksum-valid personnummer/samordningsnummer of ``text`` as it is written (one view),
    canonical 12-digit."""
    found = set()
    for m in find_shapes(text):
        number = canonical_from_match(m)
        if number is not None:
            found.add(number)
    return found


def numbers_in(text: str) -> dict[str, str]:
    """Every checksum-valid personnummer/samordningsnummer in any view of ``text``: canonical
    12-digit number -> the view it was first seen in."""
    found: dict[str, str] = {}
    for name, view in views(text):
        for number in numbers_of(view.text):
            found.setdefault(number, name)
    return found


def mask_spans(text: str) -> list[tuple[int, int, str]]:
    """Spans of ``text`` holding a personnummer-shaped value in any spelling, with the masked form
    to put there (date part kept, the last four digits as ``****``), outermost first."""
    spans: list[tuple[int, int, str]] = []
    for _name, view in views(text, track=True):
        mapped = _name != "as written"
        for m in find_shapes(view.text):
            if canonical_from_match(m) is None:
                continue
            masked = m.group(1) + m.group(2) + "****"
            if mapped:
                a, b = view.starts[m.start()], view.ends[m.end() - 1]
            else:
                a, b = m.start(), m.end()
            spans.append((a, b, masked))
    # keep the widest span where spans overlap (an escaped form covers its decoded digits)
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    kept: list[tuple[int, int, str]] = []
    for s in spans:
        if kept and s[0] < kept[-1][1]:
            if s[1] > kept[-1][1]:
                kept[-1] = (kept[-1][0], s[1], kept[-1][2])
            continue
        kept.append(s)
    return kept


# ----------------------------------------------------------------------- where (field types) ---

# HL7 v2.5.1 fields of type TS/DTM (segment -> field numbers, MSH-1 being the field separator)
HL7_TIMESTAMP_FIELDS: dict[str, frozenset[int]] = {
    "MSH": frozenset({7}), "EVN": frozenset({2, 3, 6}), "PID": frozenset({7, 29, 33}),
    "PV1": frozenset({44, 45}), "PV2": frozenset({8, 9, 16, 17, 26, 33, 34}),
    "ORC": frozenset({9, 15, 27}), "OBR": frozenset({6, 7, 8, 14, 22, 36, 37}),
    "OBX": frozenset({12, 14, 19}), "TXA": frozenset({4, 6, 7, 8}), "SPM": frozenset({17, 18, 19}),
    "TQ1": frozenset({7, 8}), "AL1": frozenset({6}), "DG1": frozenset({5, 19}), "MRG": frozenset(),
    "NTE": frozenset(), "SCH": frozenset(), "RXE": frozenset(), "RXO": frozenset(),
}
_OBX_TIMESTAMP_TYPES = frozenset({"TS", "DTM", "DT"})
_DTM = re.compile(r"([0-9]{4})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:\.[0-9]{1,4})?)?)?)?)?)?"
                  r"(?:[+-][0-9]{4})?")


def is_hl7_timestamp(value: str) -> bool:
    """A valid HL7 DTM value (``YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]``, real calendar and clock)."""
    m = _DTM.fullmatch(value)
    if not m:
        return False
    y, mo, d, h, mi, s = (int(g) if g else None for g in m.groups())
    try:
        datetime(y, mo or 1, d or 1, h or 0, mi or 0, s or 0)
    except ValueError:
        return False
    return True


def looks_like_hl7(text: str) -> bool:
    return text.lstrip("\x0b")[:3] == "MSH" and len(text.lstrip("\x0b")) > 8


def hl7_fields(text: str) -> Iterator[tuple[str, str, bool]]:
    """(``SEG-n`` name, raw field value, is a timestamp field holding a valid timestamp) for every
    field of an ER7 message."""
    body = text.lstrip("\x0b")
    fs = body[3]
    comp = body[4] if len(body) > 4 else "^"
    for segment in re.split(r"\r\n|\r|\n|\x1c", body):
        if len(segment) < 3:
            continue
        name = segment[:3]
        fields = segment.split(fs)
        # MSH-1 is the separator itself: MSH's list is one behind every other segment's
        offset = 1 if name == "MSH" else 0
        stamped = HL7_TIMESTAMP_FIELDS.get(name, frozenset())
        obx_type = fields[2] if name == "OBX" and len(fields) > 2 else ""
        for k, value in enumerate(fields[1:], start=1):
            number = k + offset
            if not value:
                continue
            timestamp_field = number in stamped or (name == "OBX" and number == 5
                                                    and obx_type in _OBX_TIMESTAMP_TYPES)
            exempt = timestamp_field and is_hl7_timestamp(value.split(comp, 1)[0])
            yield f"{name}-{number}", value, exempt


def json_strings(node, path: str = "$") -> Iterator[tuple[str, str]]:
    """(JSON path, text) for every key, string and number of a parsed JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key)) else f"{path}[{json.dumps(key)}]"
            yield f"{sub} (key)", str(key)
            yield from json_strings(value, sub)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from json_strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, str(node)


def url_parts(url: str) -> Iterator[tuple[str, str]]:
    """(part name, text) of a URL: its path, each query parameter (name and value), the fragment."""
    parts = urlsplit(url)
    yield "URL path", parts.path
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        yield f"URL query parameter {key!r}", f"{key}={value}"
    if parts.query:
        yield "URL query", parts.query
    if parts.fragment:
        yield "URL fragment", parts.fragment


@dataclass(frozen=True)
class Finding:
    """A refused number: its canonical form (never shown unmasked), where it was and in which view."""

    number: str
    where: str
    view: str


def locate(text: str, refused: set[str], *, kind: str = "") -> list[Finding]:
    """Where the ``refused`` numbers (found somewhere in ``text``) sit, by field type: HL7 fields,
    JSON paths or URL parts. HL7 timestamp fields holding a valid timestamp are skipped. When a
    number is in none of the parts (spread over several fields), it is reported for the payload."""
    findings: list[Finding] = []
    exempt_only: set[str] = set()
    parts: list[tuple[str, str, bool]] = []
    if kind == "url":
        parts = [(where, value, False) for where, value in url_parts(text)]
    elif looks_like_hl7(text):
        parts = list(hl7_fields(text))
    else:
        stripped = text.strip()
        if stripped[:1] in ("{", "["):
            try:
                parts = [(where, value, False) for where, value in json_strings(json.loads(stripped))]
            except ValueError:
                parts = []
    seen: set[str] = set()
    for where, value, exempt in parts:
        for number, view in numbers_in(value).items():
            if number not in refused:
                continue
            if exempt:
                exempt_only.add(number)
                continue
            seen.add(number)
            findings.append(Finding(number, where, view))
    # anything found in the whole text but in no single part (and not explained by timestamps)
    for number in sorted(refused - seen - exempt_only):
        findings.append(Finding(number, "the payload (across fields)", "decoded"))
    if not parts:
        findings = [Finding(f.number, "the payload", numbers_in(text).get(f.number, "decoded")) for f in findings]
    return findings
