"""Swedish clinical text: the words, phrases and character classes the generators draw from, and how each feature is recognised in a text.

The vocabulary holds no personnummer-shaped number, no HL7 delimiter where it is not a feature,
and only neutral or negation phrases whose meaning the fidelity checks know. ``clinical_features``
finds the ``CLINICAL_FEATURES`` in any text (the generators report what a text really exercises,
not what they meant it to); recognising is kept next to the words it recognises.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from genrep.text.fidelity import NEGATION_WORDS
from genrep.text.generated.model import WRAP_COLUMNS

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
# the headings of a report's conclusion paragraph, as radiologists write them
_CONCLUSION_HEADINGS = ("Slutsats:", "Bedömning:", "SLUTSATS:", "BEDÖMNING:", "Slutsats :")
_END_PUNCT = ".,:;!?)»”\"'"

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
# a conclusion heading at a line start, as a receiver recognises it (the virtual EHR's rule: any
# whitespace around the heading word, any case)
_CONCLUSION_RE = re.compile(r"^\s*(?:slutsats|bedömning)\s*:", re.I)


def conclusion_paragraph(text: str) -> list[str]:
    """The lines of the report's conclusion paragraph, heading line included: from the first line
    that opens with a conclusion heading (``Slutsats:``, ``Bedömning:``) up to the next blank line,
    as an EHR lifts it out for ``DiagnosticReport.conclusion``; [] when there is none."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for n, line in enumerate(lines):
        if _CONCLUSION_RE.match(line):
            out = [line]
            for following in lines[n + 1:]:
                if not following.strip():
                    break
                out.append(following)
            return out
    return []


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
    if any(map(unicodedata.combining, text)):
        found.add("nfd")
    lines = text.split("\n")
    if sum(1 for line in lines if _TABLE_ROW_RE.search(line)) >= 2:
        found.add("table")
    words, columns = frozenset(w.casefold() for w in negation_words), tuple(wrap_columns)
    found.update(_negation_features(text, lines, words, columns))
    found.update(_conclusion_features(text, words, columns))
    return frozenset(found)


def _conclusion_features(text: str, words: frozenset[str], columns: tuple[int, ...]) -> set[str]:
    paragraph = conclusion_paragraph(text)
    if not paragraph:
        return set()
    found = {"conclusion"}
    for line in paragraph:
        for t in _TOKEN.finditer(line):
            if t.group().casefold() in words:
                found.add("conclusion_negation")
                if any(t.start() <= w <= t.end() for w in columns):
                    found.add("conclusion_negation_wrap_column")
    return found


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
