"""The words a feature file uses to ask for generated texts, in English and Swedish, and the features they stand for.

``Given 50 generated report texts with tables, negations and escapes`` (Swedish: ``Givet 50
genererade svarstexter med tabeller, negationer och escapesekvenser``): the part after "with"/"med"
is a list of words joined by commas and "and"/"och"; each word names one or more of the feature
constants of ``genrep.text.generated`` (``CLINICAL_FEATURES``, ``HL7_FEATURES``), which every text
of the batch must then exercise. A feature's own name (``negation_wrap_column``) is a word too.

:func:`features_for` turns the words into feature names, or raises ValueError naming the unknown
word, the closest known one and every word there is; :func:`problem` says the same as text (None
when the words are fine), for a linter that checks feature files without running them;
:data:`WORDS` lists them for the step catalogue. Pure data: no Hypothesis, no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from genrep.text.generated.model import HL7_FEATURES

_DELIMITERS = ("field_sep", "component_sep", "repetition_sep", "subcomponent_sep", "escape_char")

#: (English words, Swedish words, features): each word of a row stands for all the row's features
WORDS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (("tables",), ("tabeller",), ("table",)),
    (("negations",), ("negationer",), ("negation",)),
    (("negations at line starts",), ("negationer i radbörjan",), ("negation_line_start",)),
    (("negations at line ends",), ("negationer i radslut",), ("negation_line_end",)),
    (("negations alone on a line",), ("ensamma negationer",), ("negation_alone",)),
    (("negations at wrap columns",), ("negationer vid brytkolumner",), ("negation_wrap_column",)),
    (("conclusions",), ("slutsatser",), ("conclusion",)),
    (("negations in the conclusion",), ("negationer i slutsatsen",), ("conclusion_negation",)),
    (("negations at wrap columns in the conclusion",), ("negationer vid brytkolumner i slutsatsen",),
     ("conclusion_negation_wrap_column",)),
    (("units",), ("enheter",), ("unit",)),
    (("comparison signs",), ("jämförelsetecken",), ("comparison",)),
    (("arrows",), ("pilar",), ("arrow",)),
    (("ampersands",), ("et-tecken",), ("ampersand",)),
    (("quotes", "quotation marks"), ("citattecken",), ("quote",)),
    (("markup",), ("taggar",), ("markup",)),
    (("lists",), ("listor",), ("bullet_list", "numbered_list")),
    (("bullet lists",), ("punktlistor",), ("bullet_list",)),
    (("numbered lists",), ("numrerade listor",), ("numbered_list",)),
    (("non-breaking spaces", "NBSP"), ("hårda mellanslag",), ("nbsp",)),
    (("soft hyphens",), ("mjuka bindestreck",), ("soft_hyphen",)),
    (("long words",), ("långa ord",), ("long_word",)),
    (("decimal commas",), ("decimalkomman",), ("decimal_comma",)),
    (("dates",), ("datum",), ("date",)),
    (("dosages",), ("doseringar",), ("dosage",)),
    (("decomposed characters", "NFD"), ("nedbrutna tecken",), ("nfd",)),
    (("blank lines",), ("tomrader",), ("blank_line",)),
    (("escapes",), ("escapesekvenser",), _DELIMITERS + ("escape_lookalike",)),
    (("HL7 delimiters", "delimiters"), ("avgränsare", "HL7-avgränsare"), _DELIMITERS),
    (("escape look-alikes",), ("escapeliknande text",), ("escape_lookalike",)),
    (("hex escapes",), ("hexkoder",), ("hex",)),
    (("formatting commands",), ("formateringskommandon",), ("fmt_br", "fmt_sp")),
    (("highlighting",), ("fetstil",), ("highlight",)),
    (("repetitions",), ("repetitioner",), ("repetition",)),
    (("CRLF line endings",), ("CRLF-radslut",), ("crlf",)),
    (("carriage returns",), ("vagnreturer",), ("cr",)),
    (("trailing spaces",), ("avslutande blanksteg",), ("trailing_space",)),
)

_SPLIT = re.compile(r"\s*,\s*|\s+(?:and|och)\s+", re.I)


def _key(word: str) -> str:
    return " ".join(word.split()).casefold()


def _table(known: Iterable[str]) -> dict[str, tuple[str, ...]]:
    known = tuple(known)
    table: dict[str, tuple[str, ...]] = {}
    for english, swedish, features in WORDS:
        if set(features) <= set(known):
            for word in english + swedish:
                table[_key(word)] = features
    for name in known:
        table.setdefault(_key(name), (name,))
    return table


def word_list(known: Iterable[str] = HL7_FEATURES) -> str:
    """Every word there is for ``known`` features, English (Swedish), for an error message."""
    known = tuple(known)
    rows = [f"{' / '.join(en)} ({' / '.join(sv)})" for en, sv, features in WORDS if set(features) <= set(known)]
    return "; ".join(rows) + "; or a feature's own name (" + ", ".join(known) + ")"


def split_words(words: str) -> list[str]:
    """``"tables, negations and escapes"`` -> ``["tables", "negations", "escapes"]``."""
    return [w for w in (p.strip() for p in _SPLIT.split(words.strip())) if w]


def features_for(words: str, known: Iterable[str] = HL7_FEATURES) -> tuple[str, ...]:
    """The feature names ``words`` ask for, in the order of ``known``; ValueError for an unknown
    word (naming it, the closest known word and every word there is) or no word at all."""
    known = tuple(known)
    table = _table(known)
    parts = split_words(words)
    if not parts:
        raise ValueError(f"no text feature named in {words!r}: name them like \"tables and negations\" "
                         f"(the words: {word_list(known)})")
    wanted: set[str] = set()
    for part in parts:
        features = table.get(_key(part))
        if features is None:
            close = difflib.get_close_matches(_key(part), list(table), n=1, cutoff=0.6)
            hint = f"; did you mean \"{close[0]}\"?" if close else ""
            raise ValueError(f"unknown text feature \"{part}\" in \"{words}\"{hint} (the words: {word_list(known)})")
        wanted.update(features)
    return tuple(f for f in known if f in wanted)


def problem(words: str, known: Iterable[str] = HL7_FEATURES) -> str | None:
    """Why ``words`` do not name generated-text features (None when they do): what a linter reports."""
    try:
        features_for(words, known)
    except ValueError as exc:
        return str(exc)
    return None
