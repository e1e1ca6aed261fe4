"""Hypothesis strategies: personnummer that are NOT on the allowlist, spelled every way a receiver
would still read as the number.

The guard's proof (issue 12) and anyone testing a new outbound path draw from here: a number that
one of these spellings gets past the guard is a leak. Spellings: 12 or 10 digits, with or without
a separator ('-' and the Unicode dashes, '+' for the over-100 form, a space and the Unicode
spaces); digits in ASCII or another Unicode decimal script (full-width, Arabic-Indic, Devanagari,
Bengali, mathematical); zero-width characters between digits; then one encoding layer: HL7 hex
escapes, the number split by HL7 formatting commands (``\\H\\ .. \\N\\``, ``\\.br\\``),
percent-encoding (UTF-8), JSON ``\\u`` escapes or character references.
"""

from __future__ import annotations

from datetime import date

from hypothesis import assume
from hypothesis import strategies as st

from genrep.text.identities import Allowlist, canonical
from genrep.text.identity_scan import luhn_ok

DASHES = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d"]
SPACES = [" ", "\xa0", "\u2009", "\u202f", "\u3000", "\u2007"]
DIGIT_BASES = [0x30, 0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x1D7CE]  # ASCII, full-width, Arabic-Indic ...
ZERO_WIDTH = ["\u200b", "\u00ad", "\u2060", "\ufeff", "\u200d"]



_ALLOWED = Allowlist.load()._numbers


@st.composite
def foreign_numbers(draw) -> tuple[str, date]:
    """(12-digit canonical number, birth date): checksum-valid, not on the allowlist."""
    born = draw(st.dates(date(1901, 1, 1), date(2024, 12, 31)))
    coordination = draw(st.booleans())
    yymmdd = f"{born:%y}{born.month:02d}{born.day + (60 if coordination else 0):02d}"
    nnn = f"{draw(st.integers(0, 999)):03d}"
    check = next(str(c) for c in range(10) if luhn_ok(yymmdd + nnn + str(c)))
    number = f"{born.year // 100:02d}{yymmdd}{nnn}{check}"
    assume(number not in _ALLOWED)
    return number, born


@st.composite
def spellings(draw) -> str:
    """One non-allowlisted number, spelled as a receiver would still read it."""
    number, born = draw(foreign_numbers())
    layout = draw(st.sampled_from(["12", "12sep", "10sep", "10"]))
    age_100 = date.today().year - born.year >= 100
    if layout == "10" and age_100:
        layout = "10sep"  # without '+' the ten digits mean someone born a century later
    sep = draw(st.sampled_from(DASHES + SPACES)) if layout.endswith("sep") else ""
    if layout == "10sep" and age_100:
        sep = draw(st.sampled_from(["+", "\uff0b"]))
    datepart = number[:8] if layout.startswith("12") else number[2:8]
    ascii_form = datepart + ("+" if sep in ("+", "\uff0b") else "-" if sep else "") + number[8:]
    assume(canonical(ascii_form) not in _ALLOWED)  # what the receiver reads is refused
    base = draw(st.sampled_from(DIGIT_BASES))
    chars = [chr(base + int(c)) if c.isdigit() else c for c in datepart] + ([sep] if sep else []) \
        + [chr(base + int(c)) for c in number[8:]]
    if draw(st.booleans()):  # invisible characters between digits
        for _ in range(draw(st.integers(1, 3))):
            chars.insert(draw(st.integers(1, len(chars) - 1)), draw(st.sampled_from(ZERO_WIDTH)))
    text = "".join(chars)
    encoding = draw(st.sampled_from(["none", "hl7hex", "hl7split", "hl7br", "percent", "json", "charref"]))
    if encoding == "hl7hex":
        text = "".join(f"\\X{c.encode('utf-8').hex().upper()}\\" if draw(st.booleans()) else c for c in text)
    elif encoding in ("hl7split", "hl7br"):
        cut = draw(st.integers(1, len(text) - 1))
        text = text[:cut] + ("\\H\\" if encoding == "hl7split" else "\\.br\\") + text[cut:] \
            + ("\\N\\" if encoding == "hl7split" else "")
    elif encoding == "percent":
        text = "".join("".join(f"%{b:02X}" for b in c.encode("utf-8")) if draw(st.booleans()) else c for c in text)
    elif encoding == "json":
        text = "".join(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF and draw(st.booleans()) else c for c in text)
    elif encoding == "charref":
        text = "".join(f"&#{ord(c)};" if draw(st.booleans()) else c for c in text)
    return text


