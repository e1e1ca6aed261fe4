"""Hypothesis strategies: report and instruction texts a tester would never hand-pick, each with
the text a correct receiver must show, so the oracle is exact.

Three strategies, all returning :class:`GeneratedText` (what goes in, what must come out, and the
features it exercises, for reporting):

* :func:`clinical_texts`: the character classes of real Swedish clinical text (units, comparison
  signs and arrows, ampersands, quotes, markup-like text, lists, indented tables, NBSP, soft hyphen,
  compound words over 40 letters, decimal commas, dates, dosage notations, NFD letters, blank
  lines) and negation words at every position (first and last word, alone on a line, at a line
  start and end, across the wrap columns 60/65/72/80). Line breaks are LF; ``expected == plain``.
* :func:`hl7_texts`: the same texts for an HL7 v2 TX/FT/ST field, built from the text alphabet of
  HL7 v2 chapter 2. ``plain`` is what a RIS user typed: it may hold the delimiters
  ``| ^ ~ & \\``, text that only *looks* like an escape (``\\F\\``, ``\\.br\\``, ``\\X0D0A\\``,
  ``\\C2842\\`` ...) and CRLF/CR line endings; the builder must escape all of it. ``wire``, when
  set, is an already-escaped OBX-5 value of type ``wire_type`` encoding the same text with the
  escapes themselves: ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\Xhh..\\`` hex (multi-byte characters,
  also split over adjacent escapes; CR/LF), ``\\H\\``/``\\N\\`` highlighting, the FT formatting
  commands ``\\.br\\ \\.sp[N]\\ \\.in±N\\ \\.ti±N\\ \\.sk N\\ \\.ce\\ \\.fi\\ \\.nf\\`` (FT only)
  and ``~`` repetitions as hard line breaks (TX only).
* :func:`nll_texts`: texts under the FHIR R4 ``string`` rules (no control characters other than
  TAB, CR, LF; non-empty; no leading or trailing whitespace) and a maximum length in characters
  (the NLL contract's ``patientInstruction`` maxLength by default), optionally exactly at it.

``expected`` follows genrep's own decoder (``genrep.hl7.escape.unescape``): ``\\.br\\`` is a line
break, ``\\.spN\\`` N line breaks (``\\.sp\\`` one), ``\\H\\ \\N\\ .in .ti .sk .ce .fi .nf`` show as
nothing. Where chapter 2 means more (``.sk N`` skips N columns, ``.ce`` ends the line, ``.in``/``.ti``
indent), the generator only puts the command where the decoder's reading and the standard's differ
at most in whitespace and line layout, never in the words: ``.in``/``.ti``/``.ce`` at a line start,
``.sk`` after a space. Line breaks in ``expected`` are LF; a wire value's hex-escaped CR or CR LF
decodes to that CR (LF), so compare a wire's decoded text with line endings normalised (as the
contract's ``line_endings: true`` does).

Not generated on the wire: ``\\Cxxyy\\`` and ``\\Mxxyyzz\\`` (ISO 2022 character-set switches) and
``\\Zdddd\\`` (locally defined): ``unescape`` does not decode them (it keeps an unknown escape
literally so that a loss stays visible), so they occur only as literal text a user typed.

No generated text holds a personnummer-shaped number in any spelling the identity guard decodes
(``identity_scan.numbers_in`` on ``plain``, ``wire`` and ``expected``): one would be refused and stop
a run. Contract values are parameters (the text layer sits below ``config``); their defaults are
the contracts' values, which ``tests/unit/test_generated_texts.py`` checks.

Every strategy takes ``require``: feature names (``CLINICAL_FEATURES``, ``HL7_FEATURES``,
``NLL_FEATURES``) every example must exercise, e.g. ``clinical_texts(require=("table",
"negation"))``. Strategies are pure (no state, no randomness of their own): seeding and
derandomising are the caller's (``@seed``, ``settings(derandomize=True)``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from hypothesis import assume
from hypothesis import strategies as st

from genrep.hl7.charsets import CHARSETS, codec_for
from genrep.text.fidelity import NEGATION_WORDS
from genrep.text.identity_scan import numbers_in

__all__ = [
    "CLINICAL_FEATURES", "HL7_FEATURES", "HL7_PLAIN_FEATURES", "HL7_WIRE_FEATURES", "NLL_FEATURES",
    "NLL_MAX_LENGTH", "NLL_LINE_BREAK", "WRAP_COLUMNS", "GeneratedText", "clinical_features",
    "clinical_texts", "hl7_texts", "nll_texts",
]

#: Columns at which receivers and label printers wrap lines (character offsets from the line start).
WRAP_COLUMNS: tuple[int, ...] = (60, 65, 72, 80)
#: ``contracts/nll.yaml``: MedicationRequest.dosageInstruction.patientInstruction maxLength.
NLL_MAX_LENGTH = 512
#: ``contracts/nll.yaml`` ``line_breaks``: the EHR was built for LF only.
NLL_LINE_BREAK = "\n"

#: Features of clinical text (every strategy), detected in the final text.
CLINICAL_FEATURES: tuple[str, ...] = (
    "unit",                  # 2,5 mg  10 ml/h  50 µg  4,2 mmol/L  38,5 °C
    "comparison",            # < 5 mm  ≥ 2 cm
    "arrow",                 # → ↑ ↓
    "ampersand",             # höger & vänster
    "quote",                 # " ' « » „ “ ” ‘ ’
    "markup",                # <br> <b>..</b> &amp;
    "bullet_list",           # • - * – · lines
    "numbered_list",         # 1.  2)  a)
    "table",                 # indented rows, cells separated by tabs or runs of spaces
    "nbsp",                  # U+00A0
    "soft_hyphen",           # U+00AD (inside a long compound word)
    "long_word",             # a compound word of more than 40 letters
    "decimal_comma",         # 2,5
    "date",                  # 2024-11-05  5/11
    "dosage",                # 1x3  1+0+1  ½ tablett  3 gånger dagligen
    "nfd",                   # å/ä/ö as base letter + combining mark
    "blank_line",            # an empty line (paragraph break)
    "negation",              # any word of the negation list
    "negation_first_word",   # the text's first word
    "negation_last_word",    # the text's last word
    "negation_alone",        # the only word on its line
    "negation_line_start",   # a line starts with it
    "negation_line_end",     # a line ends with it (punctuation after it allowed)
    "negation_wrap_column",  # it starts at, ends at or spans one of the wrap columns
)
#: What the RIS user typed that the builder must escape (detected in ``plain``).
HL7_PLAIN_FEATURES: tuple[str, ...] = (
    "field_sep", "component_sep", "repetition_sep", "subcomponent_sep", "escape_char",
    "escape_lookalike",      # typed text that reads like an escape: \F\  \.br\  \X0D0A\  \C2842\
    "crlf", "cr",            # CR LF / lone CR line endings in the typed text
    "trailing_space",        # a line ending in spaces or a tab (TX: "should be removed")
)
#: Escapes used by ``wire`` (recorded as the value is encoded).
HL7_WIRE_FEATURES: tuple[str, ...] = (
    "esc_F", "esc_S", "esc_T", "esc_R", "esc_E",
    "hex",                   # any \Xhh..\
    "hex_non_ascii",         # a non-ASCII character as its bytes in the message charset
    "hex_split",             # one UTF-8 character split over adjacent hex escapes
    "hex_line_break",        # \X0A\  \X0D0A\  \X0D\
    "highlight",             # \H\..\N\
    "fmt_br", "fmt_sp", "fmt_in", "fmt_ti", "fmt_sk", "fmt_ce", "fmt_fi", "fmt_nf",  # FT only
    "repetition",            # ~ as a hard line break (TX only)
)
HL7_FEATURES: tuple[str, ...] = CLINICAL_FEATURES + HL7_PLAIN_FEATURES + HL7_WIRE_FEATURES
NLL_FEATURES: tuple[str, ...] = CLINICAL_FEATURES + (
    "at_max_length",          # exactly max_length characters
    "bytes_over_max_length",  # at most max_length characters, more than max_length UTF-8 bytes
)

_FT_ONLY = frozenset(f for f in HL7_WIRE_FEATURES if f.startswith("fmt_"))
_TX_ONLY = frozenset({"repetition"})


@dataclass(frozen=True)
class GeneratedText:
    """One generated text.

    ``plain``: what a user typed (line breaks LF, or CR LF / CR in HL7 examples).  ``wire``: an
    already-escaped OBX-5 value of type ``wire_type`` ("FT", "TX" or "ST") in ``charset`` (MSH-18)
    encoding the same text, or None.  ``expected``: what a correct receiver shows (decoded, line
    breaks LF).  ``features``: what it exercises, in the order of the feature constants.
    """

    plain: str
    wire: str | None
    expected: str
    features: tuple[str, ...]
    wire_type: str | None = None
    charset: str | None = None


# ------------------------------------------------------------------------------ vocabulary ---

_NEUTRAL = (
    "Hjärtat är normalstort.", "Lätt förtjockad slemhinna i vänster käkhåla.",
    "Oförändrat utseende jämfört med föregående undersökning.", "Levern är homogen.",
    "Njurarna är normalstora.", "Måttlig degenerativ förändring i ländryggen.",
    "Fortsatt kontroll rekommenderas.", "Status efter operation i höger höft.",
    "Förtätning basalt i höger lunga, förenligt med atelektas.", "Skelettet är åldersadekvat.",
    "Pleuravätska bilateralt, mer på vänster sida.", "Ta tabletten med ett glas vatten.",
    "Smörj tunt på det drabbade området.", "Kontakta vården vid försämring.",
)
_NEGATION_PHRASES = {
    "ingen": ("Ingen fraktur.", "Ingen misstanke om malignitet.", "Ingen fri vätska i buken.",
              "Ingen säker patologi."),
    "inga": ("Inga tecken till blödning.", "Inga förstorade lymfkörtlar."),
    "inget": ("Inget pneumothorax.", "Inget att anmärka."),
    "ej": ("Ej tecken till pneumoni.", "Ej påvisbar expansivitet.", "Ges ej till barn."),
    "inte": ("Kan inte uteslutas.", "Ta inte tillsammans med alkohol."),
    "utan": ("Utan anmärkning.", "Levern är homogen utan fokala förändringar."),
    "icke": ("Icke-kontrastladdande förändring.", "Icke signifikant stenos."),
    "no": ("No acute findings.",),
    "not": ("Not visualised.",),
    "without": ("Without contrast.",),
}
_AFTER_NEGATION = ("fraktur.", "säker patologi.", "förändring sedan föregående.", "tecken till stas",
                   "misstanke om blödning.", "kontrastuppladdning", "anmärkning.")
_BEFORE_NEGATION = ("Tecken till blödning:", "Kontrastuppladdning ses", "Pneumothorax:",
                    "Fri vätska i buken:", "Förändring jämfört med föregående:", "Malignitet")
# filler words for lines of an exact length; every length from 1 to _MAX_FILL is present
_FILLER = (
    "i", "å", "av", "på", "om", "en", "är", "så", "med", "och", "vid", "den", "som", "mer", "lätt",
    "till", "från", "även", "både", "form", "höger", "lever", "njure", "lunga", "tydlig", "mjälte",
    "bäcken", "normal", "vänster", "måttlig", "utbredd", "förtätad", "kontroll", "utseende",
    "bilateral", "förändrad", "segmentär", "oförändrad", "lymfkörtel", "förkalkning", "mediastinum",
    "förtjockning", "slemhinnorna", "kontrastmedel", "lungartärerna", "undersökningen",
    "ventrikelsystem", "lymfkörtelstatus",
)
_BY_LENGTH: dict[int, tuple[str, ...]] = {}
for _w in _FILLER:
    _BY_LENGTH.setdefault(len(_w), ())
    _BY_LENGTH[len(_w)] += (_w,)
_MAX_FILL = next(n for n in range(1, 100) if n not in _BY_LENGTH) - 1
assert _MAX_FILL >= 12, _BY_LENGTH

_COMPOUND_PARTS = ("lung", "artär", "emboli", "diagnostik", "undersöknings", "remiss", "svars",
                   "mall", "avdelnings", "föreståndar", "röntgen", "kontroll", "uppföljnings",
                   "protokoll", "sjukhus", "ledning", "magnetkamera", "datortomografi", "ultraljuds",
                   "thorax", "skelett", "höftleds", "protes", "komplikations", "bedömnings")
_UNITS = ("mg", "ml/h", "µg", "μg", "mmol/L", "°C", "mm", "cm", "ml", "mg/kg", "E/l", "g/l",
          "µmol/L", "ml/min/1,73 m²", "mSv", "HU")
_COMPARISONS = ("<", ">", "≤", "≥", "<=", ">=")
_ARROWS = ("→", "↑", "↓")
_AMPERSANDS = ("höger & vänster", "DT & MR", "Lungor & pleura:", "hjärta&lungor", "A&E")
_QUOTES = ('"diffus"', "'lätt'", "«oklar»", "„fläckvis“", "“ground glass”", "‘nodulär’",
           "s.k. ”tree in bud”")
_MARKUP = ("<br>", "<br/>", "<b>Fynd:</b>", "<p>", "</p>", "&amp;", "&lt;", "&gt;", "<i>obs</i>",
           "&nbsp;", "<u>Bedömning</u>", "<li>")
_DOSAGES = ("1x3", "1 x 2", "1+0+1", "1+1+1+1", "2+0+0+2", "½ tablett", "1 tablett 3 gånger dagligen",
            "högst 4 tabletter per dygn", "¼ tablett")
_BULLETS = ("•", "-", "*", "–", "·", "◦")
_TABLE_LABELS = ("Njure", "Längd", "Cortex", "Lever", "Mjälte", "Aorta", "Höger", "Vänster", "Ductus")
_SWEDISH_WORDS = ("förändring", "vänster", "lårbenshals", "käkhåla", "ödem", "Åsa", "bäcken")
_LEADS = ("Mått:", "Jfr", "Värde", "Status:", "Dos:", "Lab:", "Anm.")
_END_PUNCT = ".,:;!?)»”\"'"

# the plain-text insertions of hl7_texts, by feature
_PLAIN_TOKENS = {
    "field_sep": ("a|b", "|", "T1|T2", "Dx: K|M"),
    "component_sep": ("^", "x^2", "a^b"),
    "repetition_sep": ("~", "ca ~5 mm", "~~"),
    "subcomponent_sep": ("&", "R&D", "A & B"),
    "escape_char": ("C:\\temp", "\\", "a\\b", "\\\\server\\röntgen"),
    "escape_lookalike": ("\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\", "\\H\\fet\\N\\", "\\.br\\",
                         "\\.sp2\\", "\\.in+4\\", "\\.ce\\", "\\X0D0A\\", "\\XC3A5\\", "\\X41\\",
                         "\\C2842\\", "\\M2442\\", "\\Zlokal\\", "C:\\F\\x"),
}

# ------------------------------------------------------------------------------- detection ---

_TOKEN = re.compile(r"\w+")
_UNIT_RE = re.compile(r"\d[ \xa0]?(?:" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
                      + r")(?!\w)")
_COMPARISON_RE = re.compile(r"(?:[<>]=?|[≤≥])[ \xa0]?\d")
_AMPERSAND_RE = re.compile(r"&(?![A-Za-z]+;|#[0-9]+;|#x[0-9A-Fa-f]+;)")
_MARKUP_RE = re.compile(r"</?[A-Za-z]+/?>|&[A-Za-z]+;")
_BULLET_RE = re.compile(r"(?m)^[ \t]*[•\-*–·◦][ \t]+\S")
_NUMBERED_RE = re.compile(r"(?m)^[ \t]*(?:\(?[0-9]{1,2}[.)]|[a-h]\))[ \t]+\S")
_TABLE_ROW_RE = re.compile(r"\t|\S {2,}\S")
_DECIMAL_RE = re.compile(r"\d,\d")
_DATE_RE = re.compile(r"(?<!\d)(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2})(?!\d)")
_DOSAGE_RE = re.compile(r"\d ?x ?\d|\d(?:\+\d){2,}|[½¼]|gånger dagligen|per dygn")
_LONG_WORD_RE = re.compile(r"[^\W\d_][\w\xad]{40,}")
_BLANK_RE = re.compile(r"(?:^|\n)[ \t]*\n")


def clinical_features(text: str, *, negation_words: Iterable[str] = NEGATION_WORDS,
                      wrap_columns: Iterable[int] = WRAP_COLUMNS) -> frozenset[str]:
    """The ``CLINICAL_FEATURES`` found in ``text`` (lines split on LF, CR LF and CR)."""
    found: set[str] = set()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    checks = (("unit", _UNIT_RE), ("comparison", _COMPARISON_RE), ("ampersand", _AMPERSAND_RE),
              ("markup", _MARKUP_RE), ("bullet_list", _BULLET_RE), ("numbered_list", _NUMBERED_RE),
              ("decimal_comma", _DECIMAL_RE), ("date", _DATE_RE), ("dosage", _DOSAGE_RE),
              ("blank_line", _BLANK_RE))
    found.update(name for name, rx in checks if rx.search(text))
    if any(c in text for c in _ARROWS):
        found.add("arrow")
    if any(c in text for c in "\"'«»„“”‘’"):
        found.add("quote")
    if "\xa0" in text:
        found.add("nbsp")
    if "\xad" in text:
        found.add("soft_hyphen")
    if any(len(m.group().replace("\xad", "")) > 40 for m in _LONG_WORD_RE.finditer(text)):
        found.add("long_word")
    if any(unicodedata.combining(c) for c in text):
        found.add("nfd")
    lines = text.split("\n")
    if sum(1 for line in lines if _TABLE_ROW_RE.search(line)) >= 2:
        found.add("table")
    found.update(_negation_features(text, lines, frozenset(w.casefold() for w in negation_words),
                                    tuple(wrap_columns)))
    return frozenset(found)


def _negation_features(text: str, lines: list[str], words: frozenset[str],
                       columns: tuple[int, ...]) -> set[str]:
    tokens = list(_TOKEN.finditer(text))
    if not any(t.group().casefold() in words for t in tokens):
        return set()
    found = {"negation"}
    if tokens[0].group().casefold() in words:
        found.add("negation_first_word")
    if tokens[-1].group().casefold() in words:
        found.add("negation_last_word")
    for line in lines:
        toks = list(_TOKEN.finditer(line))
        if not toks:
            continue
        if toks[0].start() == 0 and toks[0].group().casefold() in words:
            found.add("negation_line_start")
        last = toks[-1]
        if last.group().casefold() in words and not line[last.end():].strip(" \t" + _END_PUNCT):
            found.add("negation_line_end")
            if len(toks) == 1:
                found.add("negation_alone")
        for t in toks:
            if t.group().casefold() in words and any(t.start() <= w <= t.end() for w in columns):
                found.add("negation_wrap_column")
    return found


def _hl7_plain_features(plain: str) -> set[str]:
    found = set()
    for name, char in (("field_sep", "|"), ("component_sep", "^"), ("repetition_sep", "~"),
                       ("subcomponent_sep", "&"), ("escape_char", "\\")):
        if char in plain:
            found.add(name)
    if re.search(r"\\(?:[FSTREHN]|X[0-9A-Fa-f]+|\.[a-z]{2}[^\\]*|[CMZ][^\\]+)\\", plain):
        found.add("escape_lookalike")
    if "\r\n" in plain:
        found.add("crlf")
    if re.search(r"\r(?!\n)", plain):
        found.add("cr")
    if re.search(r"[ \t](?:\r\n|\r|\n|\Z)", plain):
        found.add("trailing_space")
    return found


# ------------------------------------------------------------------------------ generation ---

@dataclass(frozen=True)
class _Spec:
    require: frozenset[str]
    negation_words: tuple[str, ...]
    wrap_columns: tuple[int, ...]
    codec: str | None
    max_length: int | None
    strip: bool            # no leading/trailing whitespace or blank lines (FHIR string)
    min_lines: int = 1


def _ok(token: str, codec: str | None) -> bool:
    if codec is None:
        return True
    try:
        token.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _pool(items: Iterable[str], codec: str | None) -> tuple[str, ...]:
    return tuple(i for i in items if _ok(i, codec))


def _available(codec: str | None) -> frozenset[str]:
    """Clinical features that can be written in ``codec``."""
    missing = set()
    for feature, pool in (("arrow", _ARROWS), ("comparison", _COMPARISONS), ("quote", _QUOTES),
                          ("nbsp", ("\xa0",)), ("soft_hyphen", ("\xad",)), ("dosage", _DOSAGES),
                          ("bullet_list", _BULLETS), ("nfd", ("a\u030a",))):
        if not _pool(pool, codec):
            missing.add(feature)
    return frozenset(CLINICAL_FEATURES) - missing


def _check_require(require: Iterable[str], known: tuple[str, ...], available: frozenset[str],
                   what: str) -> frozenset[str]:
    if isinstance(require, str):
        require = (require,)
    req = frozenset(require)
    unknown = sorted(req - set(known))
    if unknown:
        raise ValueError(f"unknown feature(s) {', '.join(unknown)} for {what} (known: {', '.join(known)})")
    impossible = sorted(req - available)
    if impossible:
        raise ValueError(f"feature(s) {', '.join(impossible)} cannot be written here ({what})")
    return req


def _cap(draw, word: str) -> str:
    style = draw(st.sampled_from(("lower", "capital", "upper")))
    return word.upper() if style == "upper" else word.capitalize() if style == "capital" else word


def _fill(draw, n: int) -> str:
    """Words and single spaces, exactly ``n`` characters (n >= 1)."""
    parts: list[str] = []
    remaining = n
    while remaining > 0:
        if remaining <= _MAX_FILL and (remaining <= 3 or draw(st.booleans())):
            parts.append(draw(st.sampled_from(_BY_LENGTH[remaining])))
            break
        longest = min(_MAX_FILL, remaining - 2)
        length = draw(st.integers(1, longest))
        parts.append(draw(st.sampled_from(_BY_LENGTH[length])))
        remaining -= length + 1
    return " ".join(parts)


def _number(draw, decimal: bool | None = None) -> str:
    if decimal is None:
        decimal = draw(st.booleans())
    whole = draw(st.integers(0, 250))
    return f"{whole},{draw(st.integers(1, 9))}" if decimal else str(whole)


def _negation_phrase(draw, spec: _Spec) -> str:
    word = draw(st.sampled_from(spec.negation_words))
    phrases = _NEGATION_PHRASES.get(word, (f"{word.capitalize()} anmärkning.",))
    return draw(st.sampled_from(phrases))


def _sentence_line(draw, spec: _Spec) -> str:
    sentences = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 2)) == 0:
            sentences.append(_negation_phrase(draw, spec))
        else:
            sentences.append(draw(st.sampled_from(_NEUTRAL)))
    return " ".join(sentences)


def _long_word(draw, soft_hyphen: bool) -> str:
    parts: list[str] = []
    while sum(map(len, parts)) <= 40:
        parts.append(draw(st.sampled_from(_COMPOUND_PARTS)))
    if soft_hyphen:
        cuts = draw(st.sets(st.integers(1, len(parts) - 1), min_size=1, max_size=3))
        word = "".join(("\xad" if i in cuts else "") + p for i, p in enumerate(parts))
    else:
        word = "".join(parts)
    return word.capitalize() if draw(st.booleans()) else word


def _fragment(draw, feature: str, spec: _Spec) -> str:
    """An inline snippet that exercises ``feature``."""
    codec = spec.codec
    if feature == "unit":
        space = draw(st.sampled_from((" ", "")))
        return f"{_number(draw)}{space}{draw(st.sampled_from(_pool(_UNITS, codec)))}"
    if feature == "comparison":
        sign, space = draw(st.sampled_from(_pool(_COMPARISONS, codec))), draw(st.sampled_from((" ", "")))
        return f"{sign}{space}{_number(draw)} {draw(st.sampled_from(('mm', 'cm', 'mmol/L')))}"
    if feature == "arrow":
        arrow = draw(st.sampled_from(_pool(_ARROWS, codec)))
        return draw(st.sampled_from((f"CRP {_number(draw, False)} {arrow} {_number(draw, False)}",
                                     f"{arrow} kontroll", f"Hb {arrow}")))
    if feature == "ampersand":
        return draw(st.sampled_from(_AMPERSANDS))
    if feature == "quote":
        return draw(st.sampled_from(_pool(_QUOTES, codec)))
    if feature == "markup":
        return draw(st.sampled_from(_MARKUP))
    if feature == "nbsp":
        return draw(st.sampled_from((f"{_number(draw)}\xa0{draw(st.sampled_from(('mm', 'mg', 'ml/h')))}",
                                     "kl.\xa014.30", "s.k.\xa0ground glass", "ingen\xa0fraktur")))
    if feature == "decimal_comma":
        return f"{_number(draw, True)} {draw(st.sampled_from(('mg', 'cm', 'ml')))}"
    if feature == "date":
        year, month, day = draw(st.integers(2015, 2025)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
        return draw(st.sampled_from((f"{year}-{month:02d}-{day:02d}", f"{day}/{month}",
                                     f"{day}/{month}-{year % 100:02d}")))
    if feature == "dosage":
        return draw(st.sampled_from(_pool(_DOSAGES, codec)))
    if feature == "soft_hyphen":
        return _long_word(draw, True)
    if feature == "long_word":
        return _long_word(draw, _ok("\xad", codec) and draw(st.booleans()))
    if feature == "nfd":
        return unicodedata.normalize("NFD", draw(st.sampled_from(_SWEDISH_WORDS)))
    raise AssertionError(feature)


_INLINE = ("unit", "comparison", "arrow", "ampersand", "quote", "markup", "nbsp", "decimal_comma",
           "date", "dosage", "long_word", "soft_hyphen", "nfd")


def _bullet_block(draw, spec: _Spec) -> list[str]:
    marker = draw(st.sampled_from(_pool(_BULLETS, spec.codec)))
    indent = draw(st.sampled_from(("", "  ", "\t")))
    items = [_sentence_line(draw, spec) if draw(st.booleans()) else _negation_phrase(draw, spec)
             for _ in range(draw(st.integers(2, 4)))]
    return [f"{indent}{marker} {item}" for item in items]


def _numbered_block(draw, spec: _Spec) -> list[str]:
    style = draw(st.sampled_from(("{}.", "{})", "({})", "alpha")))
    lines = []
    for i in range(1, draw(st.integers(2, 4)) + 1):
        marker = f"{'abcdefgh'[i - 1]})" if style == "alpha" else style.format(i)
        item = draw(st.sampled_from(_NEUTRAL)) if draw(st.booleans()) else _negation_phrase(draw, spec)
        lines.append(f"{marker} {item}")
    return lines


def _table_block(draw, spec: _Spec) -> list[str]:
    sep = draw(st.sampled_from(("\t", "  ", "\t\t", "    ")))
    indent = draw(st.sampled_from(("\t", "  ", "    ", " \t")))
    unit = draw(st.sampled_from(("cm", "mm", "ml")))
    lines = [draw(st.sampled_from(("Mätvärden:", "Mått (vänster/höger):", "Tabell:")))]
    header = ["Vänster", "Höger"] if draw(st.booleans()) else ["Organ", "Vänster", "Höger"]
    lines.append(indent + sep.join(header))
    for _ in range(draw(st.integers(2, 4))):
        label = draw(st.sampled_from(_TABLE_LABELS))
        cells = [f"{_number(draw, True)} {unit}" for _ in range(2)]
        lines.append(indent + sep.join([label, *cells]))
    return lines


def _negation_block(draw, feature: str, spec: _Spec) -> list[str]:
    word = draw(st.sampled_from(spec.negation_words))
    if feature == "negation":
        return [_negation_phrase(draw, spec)]
    if feature == "negation_alone":
        return [_cap(draw, word) + draw(st.sampled_from(("", ".", ":", "!")))]
    if feature in ("negation_line_start", "negation_first_word"):
        return [f"{_cap(draw, word)} {draw(st.sampled_from(_AFTER_NEGATION))}"]
    if feature in ("negation_line_end", "negation_last_word"):
        return [f"{draw(st.sampled_from(_BEFORE_NEGATION))} {_cap(draw, word)}{draw(st.sampled_from(('', '.', '!')))}"]
    if feature == "negation_wrap_column":
        column = draw(st.sampled_from(spec.wrap_columns))
        shown = _cap(draw, word)
        start = draw(st.integers(max(0, column - len(shown)), column))
        prefix = (_fill(draw, start - 1) + " ") if start >= 2 else " " * start
        suffix = draw(st.sampled_from(("", ".", "suffix")))
        if suffix == "suffix":
            suffix = " " + _fill(draw, draw(st.integers(1, 30))) + "."
        return [prefix + shown + suffix]
    raise AssertionError(feature)


_NEGATION_BLOCKS = ("negation", "negation_alone", "negation_line_start", "negation_line_end",
                    "negation_wrap_column")


@st.composite
def _clinical_text(draw, spec: _Spec) -> str:
    """Clinical text (lines joined by LF) exercising every feature of ``spec.require``."""
    available = _available(spec.codec)

    def wanted(feature: str) -> bool:
        if feature not in available:
            return False
        return feature in spec.require or draw(st.integers(0, 3)) == 0

    # blocks: (lines, required?)
    blocks: list[tuple[list[str], bool]] = []
    paragraphs = [[_sentence_line(draw, spec)] for _ in range(draw(st.integers(1, 3)))]
    blocks += [(p, False) for p in paragraphs]
    for feature in _INLINE:
        if not wanted(feature):
            continue
        fragment = _fragment(draw, feature, spec)
        if draw(st.booleans()):  # on its own line
            blocks.append(([f"{draw(st.sampled_from(_LEADS))} {fragment}"], feature in spec.require))
        else:  # inside a sentence line
            target = draw(st.integers(0, len(paragraphs) - 1))
            line = paragraphs[target][0]
            spaces = [i for i, c in enumerate(line) if c == " "] + [len(line)]
            at = draw(st.sampled_from(spaces))
            paragraphs[target][0] = line[:at] + " " + fragment + line[at:]
            if feature in spec.require:  # now needed: keep it
                idx = next(i for i, (b, _) in enumerate(blocks) if b is paragraphs[target])
                blocks[idx] = (paragraphs[target], True)
    for feature, make in (("bullet_list", _bullet_block), ("numbered_list", _numbered_block),
                          ("table", _table_block)):
        if wanted(feature):
            blocks.append((make(draw, spec), feature in spec.require))
    for feature in _NEGATION_BLOCKS:
        if wanted(feature):
            blocks.append((_negation_block(draw, feature, spec), feature in spec.require))
    while sum(len(b) for b, _ in blocks) < spec.min_lines:
        blocks.append(([_sentence_line(draw, spec)], True))

    order = draw(st.permutations(range(len(blocks))))
    blocks = [blocks[i] for i in order]
    first = _negation_block(draw, "negation_first_word", spec) if wanted("negation_first_word") else None
    last = _negation_block(draw, "negation_last_word", spec) if wanted("negation_last_word") else None

    def assemble(parts: list[list[str]], gaps: list[int], lead: int, trail: int) -> str:
        lines = [""] * lead
        for i, part in enumerate(parts):
            if i:
                lines += [""] * gaps[i - 1]
            lines += part
        return "\n".join(lines + [""] * trail)

    blank = wanted("blank_line")
    lead = trail = 0
    if blank and not spec.strip:
        lead, trail = draw(st.integers(0, 2)), draw(st.integers(0, 2))

    def gaps_for(n: int) -> list[int]:
        if not blank:
            return [0] * n
        gaps = [draw(st.sampled_from((0, 0, 1, 1, 2))) for _ in range(n)]
        if n and not any(gaps) and (lead + trail == 0 or spec.strip):
            gaps[draw(st.integers(0, n - 1))] = 1
        return gaps

    parts = ([first] if first else []) + [b for b, _ in blocks] + ([last] if last else [])
    gaps = gaps_for(len(parts) - 1)
    if blank and len(parts) == 1 and lead + trail == 0:
        parts.append([_sentence_line(draw, spec)])
        gaps = [1]
    text = assemble(parts, gaps, lead, trail)

    if spec.max_length is not None:
        # drop optional blocks until the text fits
        optional = [i for i, (_, req) in enumerate(blocks) if not req]
        while len(text) > spec.max_length and optional:
            drop = optional.pop()
            blocks[drop] = ([], False)
            parts = ([first] if first else []) + [b for b, _ in blocks if b] + ([last] if last else [])
            gaps = gaps[:max(0, len(parts) - 1)]
            gaps += [0] * (len(parts) - 1 - len(gaps))
            text = assemble(parts, gaps, lead, trail)
        assume(len(text) <= spec.max_length and text.strip())
    return text


def _clean(*texts: str | None) -> bool:
    """No personnummer-shaped number in any view the identity guard decodes."""
    return not any(numbers_in(t) for t in texts if t)


# ------------------------------------------------------------------------------- strategies ---

def clinical_texts(*, require: Iterable[str] = (), negation_words: Iterable[str] = NEGATION_WORDS,
                   wrap_columns: Iterable[int] = WRAP_COLUMNS, max_length: int | None = None,
                   codec: str | None = None) -> st.SearchStrategy[GeneratedText]:
    """Swedish clinical texts with the ``CLINICAL_FEATURES``; lines joined by LF, ``plain ==
    expected``, ``wire`` None.  ``codec``: a Python codec every character must encode in (None:
    any Unicode); ``max_length``: at most this many characters."""
    spec = _spec(require, CLINICAL_FEATURES, negation_words, wrap_columns, codec, max_length,
                 strip=False, what="clinical_texts")
    return _clinical_text(spec).map(lambda text: _finish_clinical(text, spec)).filter(
        lambda g: g is not None)


def _spec(require, known, negation_words, wrap_columns, codec, max_length, *, strip, what,
          min_lines: int = 1) -> _Spec:
    words = tuple(w.strip().casefold() for w in negation_words)
    if not words or not all(_TOKEN.fullmatch(w) for w in words):
        raise ValueError(f"negation_words must be single words; got {negation_words!r}")
    columns = tuple(int(c) for c in wrap_columns)
    if not columns or min(columns) < 1:
        raise ValueError(f"wrap_columns must be positive; got {wrap_columns!r}")
    if max_length is not None and max_length < max(columns) + 40:
        raise ValueError(f"max_length {max_length} is too short for a line across column {max(columns)}")
    available = _available(codec) | (frozenset(known) - frozenset(CLINICAL_FEATURES))
    if codec not in (None, "utf-8"):
        available -= {"hex_split"}  # one byte per character: nothing to split
    req = _check_require(require, known, available, what)
    return _Spec(req, words, columns, codec, max_length, strip, min_lines)


def _finish_clinical(text: str, spec: _Spec) -> GeneratedText | None:
    features = clinical_features(text, negation_words=spec.negation_words, wrap_columns=spec.wrap_columns)
    if not spec.require <= features or not _clean(text):
        return None
    return GeneratedText(text, None, text, _ordered(features, CLINICAL_FEATURES))


def _ordered(features: Iterable[str], order: tuple[str, ...]) -> tuple[str, ...]:
    have = set(features)
    return tuple(f for f in order if f in have)


def nll_texts(*, require: Iterable[str] = (), max_length: int = NLL_MAX_LENGTH,
              line_break: str = NLL_LINE_BREAK, negation_words: Iterable[str] = NEGATION_WORDS,
              wrap_columns: Iterable[int] = WRAP_COLUMNS) -> st.SearchStrategy[GeneratedText]:
    """Texts for an NLL FHIR ``string`` (e.g. ``Dosage.patientInstruction``): no control
    characters but TAB/CR/LF, not empty, no leading or trailing whitespace, at most ``max_length``
    characters (exactly that many with ``at_max_length``); lines joined by ``line_break``.
    ``expected == plain``."""
    if line_break not in ("\n", "\r\n", "\r"):
        raise ValueError(f"line_break must be LF, CR LF or CR; got {line_break!r}")
    spec = _spec(require, NLL_FEATURES, negation_words, wrap_columns, None, max_length, strip=True,
                 what="nll_texts")
    return _nll_text(spec, line_break).filter(lambda g: g is not None)


@st.composite
def _nll_text(draw, spec: _Spec, line_break: str) -> GeneratedText | None:
    text = draw(_clinical_text(spec)).strip()  # FHIR: no leading/trailing whitespace
    lines = text.split("\n")
    if "at_max_length" in spec.require or draw(st.integers(0, 3)) == 0:
        missing = spec.max_length - len(text)
        if missing == 1:
            lines[0] += "."
        elif missing >= 2:  # a filler line before the last one keeps first and last words
            lines.insert(max(1, len(lines) - 1), _fill(draw, missing - 1))
    text = line_break.join(lines)
    features = set(clinical_features(text, negation_words=spec.negation_words, wrap_columns=spec.wrap_columns))
    length = len(text)  # FHIR counts characters (a CR of CR LF included), not bytes
    if length == spec.max_length:
        features.add("at_max_length")
    if length <= spec.max_length < len(text.encode("utf-8")):
        features.add("bytes_over_max_length")
    if (length > spec.max_length or text != text.strip() or not spec.require <= features
            or not _clean(text)):
        return None
    return GeneratedText(text, None, text, _ordered(features, NLL_FEATURES))


def hl7_texts(*, require: Iterable[str] = (), charset: str = "UNICODE UTF-8", wire: bool | None = None,
              negation_words: Iterable[str] = NEGATION_WORDS,
              wrap_columns: Iterable[int] = WRAP_COLUMNS) -> st.SearchStrategy[GeneratedText]:
    """Report texts for an HL7 v2 TX/FT/ST field in a message whose MSH-18 is ``charset``
    ("UNICODE UTF-8", "8859/1" or "8859/15": every character encodes in it, hex escapes are its
    bytes).  ``wire``: True always, False never, None sometimes (always when ``require`` names a
    wire feature).  ``fmt_*`` (FT) and ``repetition`` (TX) cannot be required together."""
    if charset not in CHARSETS or not charset:
        raise ValueError(f"charset must be one of {', '.join(repr(c) for c in CHARSETS if c)}; got {charset!r}")
    codec = codec_for(charset)
    req_list = (require,) if isinstance(require, str) else tuple(require)
    wire_req = set(req_list) & set(HL7_WIRE_FEATURES)
    if wire_req and wire is False:
        raise ValueError(f"wire=False but wire features required: {', '.join(sorted(wire_req))}")
    if wire_req & _FT_ONLY and wire_req & _TX_ONLY:
        raise ValueError("FT formatting commands (fmt_*) and TX repetitions cannot be required together")
    breaks_needed = len(wire_req & {"fmt_br", "fmt_sp", "hex_line_break", "repetition"})
    spec = _spec(req_list, HL7_FEATURES, negation_words, wrap_columns, codec, None, strip=False,
                 what=f"hl7_texts(charset={charset!r})", min_lines=breaks_needed + 1)
    clinical = _Spec(spec.require & frozenset(CLINICAL_FEATURES), spec.negation_words,
                     spec.wrap_columns, codec, None, False, spec.min_lines)
    return _hl7_text(spec, clinical, charset, codec, wire).filter(lambda g: g is not None)


@st.composite
def _hl7_text(draw, spec: _Spec, clinical: _Spec, charset: str, codec: str,
              wire_mode: bool | None) -> GeneratedText | None:
    lines = draw(_clinical_text(clinical)).split("\n")
    # typed delimiters and escape look-alikes, each on a line of its own (inserted between lines,
    # so columns, first and last words stay where the clinical text put them)
    for feature, tokens in _PLAIN_TOKENS.items():
        if feature in spec.require or draw(st.integers(0, 3)) == 0:
            token = draw(st.sampled_from(tokens))
            line = draw(st.sampled_from((f"Jfr {token} ovan.", token, f"{token} se bilaga", f"Ref: {token}")))
            at = draw(st.integers(1, len(lines) - 1)) if len(lines) >= 2 else 1
            lines.insert(at, line)
    if "trailing_space" in spec.require or draw(st.integers(0, 3)) == 0:
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] += draw(st.sampled_from((" ", "  ", "\t", " \t ")))
    expected = "\n".join(lines)

    # the typed line endings: LF, CR LF or CR; a CR never directly before an LF of the next break
    seps = [draw(st.sampled_from(("\n", "\n", "\r\n", "\r"))) for _ in range(len(lines) - 1)]
    if seps:
        if "crlf" in spec.require and "\r\n" not in seps:
            seps[draw(st.integers(0, len(seps) - 1))] = "\r\n"
        if "cr" in spec.require and "\r" not in seps:
            seps[draw(st.integers(0, len(seps) - 1))] = "\r"
    for i in range(len(seps) - 1):
        if seps[i] == "\r" and lines[i + 1] == "" and seps[i + 1].startswith("\n"):
            seps[i + 1] = "\r"  # "\r" + "\r\n" or "\r" + "\n" would read as one CR LF
    plain = lines[0] + "".join(sep + line for sep, line in zip(seps, lines[1:]))

    features = set(clinical_features(expected, negation_words=spec.negation_words,
                                     wrap_columns=spec.wrap_columns))
    features |= _hl7_plain_features(plain)

    wire_req = spec.require & frozenset(HL7_WIRE_FEATURES)
    use_wire = wire_mode if wire_mode is not None else (bool(wire_req) or draw(st.booleans()))
    wire = wire_type = None
    if use_wire:
        if wire_req & _FT_ONLY:
            dialect = "FT"
        elif wire_req & _TX_ONLY:
            dialect = "TX"
        else:
            dialect = draw(st.sampled_from(("FT", "TX")))
        encoded = _encode_wire(draw, expected, dialect, codec, wire_req)
        if encoded is None:
            return None
        wire, wire_features = encoded
        features |= wire_features
        wire_type = dialect
        if dialect == "TX" and "\n" not in expected and len(expected) < 200 and "highlight" not in wire_features:
            wire_type = "ST"
    if not spec.require <= features or not _ok(plain, codec) or not _clean(plain, wire, expected):
        return None
    return GeneratedText(plain, wire, expected, _ordered(features, HL7_FEATURES), wire_type,
                         charset if wire is not None else None)


_NAMED = {"|": "F", "^": "S", "&": "T", "~": "R", "\\": "E"}


def _hex(data: bytes, lower: bool) -> str:
    h = data.hex()
    return "\\X" + (h if lower else h.upper()) + "\\"


def _encode_wire(draw, expected: str, dialect: str, codec: str,
                 require: frozenset[str]) -> tuple[str, set[str]] | None:
    """``expected`` as an escaped OBX-5 value of type ``dialect`` that genrep's decoder reads back
    as ``expected`` (line breaks: CR LF and CR decode as such; see the module docstring)."""
    features: set[str] = set()
    n = len(expected)
    lower = draw(st.booleans())
    chars = [i for i, c in enumerate(expected) if c != "\n"]
    non_ascii = [i for i in chars if ord(expected[i]) > 127]
    delims = [i for i in chars if expected[i] in _NAMED]
    newline_idx = [i for i, c in enumerate(expected) if c == "\n"]

    # hex-escaped characters (and whether a multi-byte one is split)
    hexed = set(draw(st.lists(st.sampled_from(chars), max_size=6))) if chars else set()
    if "hex_non_ascii" in require or "hex_split" in require:
        if not non_ascii:
            return None
        if not hexed & set(non_ascii):
            hexed.add(draw(st.sampled_from(non_ascii)))
    if "hex" in require and not hexed and not ({"hex_line_break"} & require):
        if not chars:
            return None
        hexed.add(draw(st.sampled_from(chars)))
    split_ok = [i for i in hexed if len(expected[i].encode(codec)) > 1]
    split = set(draw(st.lists(st.sampled_from(split_ok), max_size=2))) if split_ok else set()
    if "hex_split" in require and not split:
        if not split_ok:
            return None
        split.add(split_ok[0])
    # delimiters: named escape unless hex-escaped; a required named escape keeps one named
    for name in ("esc_F", "esc_S", "esc_T", "esc_R", "esc_E"):
        if name in require:
            char = next(c for c, letter in _NAMED.items() if letter == name[-1])
            where = [i for i in delims if expected[i] == char]
            if not where:
                return None
            if all(i in hexed for i in where):
                hexed.discard(where[0])

    # highlighted words
    words = [m.span() for m in re.finditer(r"[^\s]+", expected)]
    highlighted = set(draw(st.lists(st.integers(0, len(words) - 1), max_size=3))) if words else set()
    if "highlight" in require and not highlighted:
        if not words:
            return None
        highlighted.add(0)
    h_open = {words[k][0] for k in highlighted}
    h_close = {words[k][1] for k in highlighted}

    # line starts and positions after a space, for FT commands
    line_starts = [0] + [i + 1 for i in newline_idx]
    after_space = [i + 1 for i, c in enumerate(expected) if c == " " and i + 1 < n + 1]
    before: dict[int, list[str]] = {}

    def put(pos: int, command: str) -> None:
        before.setdefault(pos, []).append(command)

    if dialect == "FT":
        for cmd in ("in", "ti", "ce"):
            feat = f"fmt_{cmd}"
            chosen = set(draw(st.lists(st.sampled_from(line_starts), max_size=1)))
            if feat in require and not chosen:
                chosen = {line_starts[0]}
            for pos in chosen:
                if cmd == "ce":
                    put(pos, "\\.ce\\")
                else:
                    sign = draw(st.sampled_from(("", "+", "-", " ", " +", " -")))
                    put(pos, f"\\.{cmd}{sign}{draw(st.integers(1, 8))}\\")
                features.add(feat)
        spots = sorted(set(line_starts) | set(after_space))
        for cmd in ("fi", "nf"):
            feat = f"fmt_{cmd}"
            chosen = set(draw(st.lists(st.sampled_from(spots), max_size=1)))
            if feat in require and not chosen:
                chosen = {spots[0]}
            for pos in chosen:
                put(pos, f"\\.{cmd}\\")
                features.add(feat)
        chosen = set(draw(st.lists(st.sampled_from(after_space), max_size=1))) if after_space else set()
        if "fmt_sk" in require and not chosen:
            if not after_space:
                return None
            chosen = {after_space[0]}
        for pos in chosen:
            put(pos, f"\\.sk{draw(st.sampled_from(('', ' ', '+', ' +')))}{draw(st.integers(1, 8))}\\")
            features.add("fmt_sk")

    # line breaks: runs of consecutive LFs
    runs: list[list[int]] = []
    for i in newline_idx:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    break_code: dict[int, str] = {}   # index of an LF -> its encoding ("" = covered by a .sp)
    run_sp = [dialect == "FT" and draw(st.integers(0, 3)) == 0 for _ in runs]
    lf_mode = {i: draw(st.sampled_from(("br", "br", "hex") if dialect == "FT" else ("rep", "rep", "hex")))
               for i in newline_idx}
    needed = [m for feat, m in (("fmt_sp", "sp"), ("fmt_br", "br"), ("hex_line_break", "hex"),
                                ("repetition", "rep")) if feat in require]
    if "sp" in needed and not any(run_sp):
        if not runs:
            return None
        run_sp[draw(st.integers(0, len(runs) - 1))] = True
    for mode in needed:
        if mode == "sp":
            continue
        each = [i for k, run in enumerate(runs) if not run_sp[k] for i in run]
        if any(lf_mode[i] == mode for i in each):
            continue
        modes_of = [lf_mode[i] for i in each]
        spare = [i for i in each if lf_mode[i] not in needed or modes_of.count(lf_mode[i]) > 1]
        if not spare:
            return None
        lf_mode[spare[0]] = mode
    for k, run in enumerate(runs):
        if run_sp[k]:
            count = len(run)
            form = draw(st.sampled_from(("", " ", "+")))
            if count == 1 and draw(st.booleans()):
                break_code[run[0]] = "\\.sp\\"  # no number: one line
            else:
                break_code[run[0]] = f"\\.sp{form}{count}\\"
            for i in run[1:]:
                break_code[i] = ""
            features.add("fmt_sp")
            continue
        for pos, i in enumerate(run):
            mode = lf_mode[i]
            if mode == "br":
                break_code[i] = "\\.br\\"
                features.add("fmt_br")
            elif mode == "rep":
                break_code[i] = "~"
                features.add("repetition")
            else:  # a lone CR only ends a run: CR + the next LF would read as one CR LF
                last_of_run = pos == len(run) - 1
                form = draw(st.sampled_from(("0A", "0D0A", "0D") if last_of_run else ("0A", "0D0A")))
                break_code[i] = _hex(bytes.fromhex(form), lower)
                features |= {"hex", "hex_line_break"}

    out: list[str] = []
    for i, c in enumerate(expected):
        if i in h_close:
            out.append("\\N\\")
        out.extend(before.get(i, ()))
        if i in h_open:
            out.append("\\H\\")
            features.add("highlight")
        if c == "\n":
            out.append(break_code[i])
            continue
        if i in hexed:
            data = c.encode(codec)
            if i in split and len(data) > 1:
                cut = draw(st.integers(1, len(data) - 1))
                out.append(_hex(data[:cut], lower) + _hex(data[cut:], lower))
                features.add("hex_split")
            else:
                out.append(_hex(data, lower))
            features.add("hex")
            if ord(c) > 127:
                features.add("hex_non_ascii")
        elif c in _NAMED:
            out.append(f"\\{_NAMED[c]}\\")
            features.add(f"esc_{_NAMED[c]}")
        else:
            out.append(c)
    if n in h_close:
        out.append("\\N\\")
    out.extend(before.get(n, ()))
    return "".join(out), features
