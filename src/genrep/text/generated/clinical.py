"""``clinical_texts``: Swedish clinical report text with every character class a receiver must keep.

Texts are assembled from blocks (sentence lines, inline fragments on their own line or inside a
sentence, bullet and numbered lists, indented tables, negation placed at a line start or end, alone
or across a wrap column, first and last word), shuffled, joined by LF with optional blank lines.
A required feature's block is never dropped; under ``max_length`` optional blocks are dropped until
the text fits. ``_Spec``, ``_spec`` and ``_clinical_text`` are shared with the HL7 and FHIR string
strategies, which start from the same clinical text and change only what their format adds.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from hypothesis import assume
from hypothesis import strategies as st

from genrep.text.fidelity import NEGATION_WORDS
from genrep.text.generated.draws import chances, coin, index_sets, integer, permutations, pick, picks, table
from genrep.text.generated.model import (CLINICAL_FEATURES, REPORT_FEATURES, WRAP_COLUMNS, GeneratedText,
                                         _ordered)
from genrep.text.generated.vocabulary import (
    _AFTER_NEGATION, _AMPERSANDS, _ARROWS, _BEFORE_NEGATION, _BULLETS, _BY_LENGTH, _COMPARISONS,
    _COMPOUND_PARTS, _CONCLUSION_HEADINGS, _DOSAGES, _LEADS, _MARKUP, _MAX_FILL, _NEGATION_PHRASES, _NEUTRAL,
    _QUOTES, _SWEDISH_WORDS, _TABLE_LABELS, _TOKEN, _UNITS, clinical_features)
from genrep.text.identity_scan import numbers_in


@dataclass(frozen=True)
class _Spec:
    require: frozenset[str]
    negation_words: tuple[str, ...]
    wrap_columns: tuple[int, ...]
    codec: str | None
    max_length: int | None
    strip: bool            # no leading/trailing whitespace or blank lines (FHIR string)
    min_lines: int = 1
    report: bool = True    # a report text: may end with a conclusion paragraph (REPORT_FEATURES)


def _ok(token: str, codec: str | None) -> bool:
    if codec is None:
        return True
    try:
        token.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=256)
def _pool(items: tuple[str, ...], codec: str | None) -> tuple[str, ...]:
    return tuple(i for i in items if _ok(i, codec))


@lru_cache(maxsize=64)
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


@lru_cache(maxsize=64)
def _shown_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """The negation words as written, for one pick: a word, then lower case, Capitalised or UPPER."""
    return tuple(style for w in words for style in (w, w.capitalize(), w.upper()))


def _negation_word(draw, spec: _Spec) -> str:
    return pick(draw, _shown_words(spec.negation_words))


@lru_cache(maxsize=None)
def _fillers(longest: int) -> tuple[str, ...]:
    """Filler words for one pick: a length from 1 to ``longest`` uniformly, then a word of it."""
    return table([_BY_LENGTH[length] for length in range(1, longest + 1)])


def _fill(draw, n: int) -> str:
    """Words and single spaces, exactly ``n`` characters (n >= 1)."""
    parts: list[str] = []
    remaining = n
    while remaining > 0:
        if remaining <= _MAX_FILL and (remaining <= 3 or coin(draw)):
            parts.append(pick(draw, _BY_LENGTH[remaining]))
            break
        # while k words of the longest length would still leave over _MAX_FILL + 1 characters, the
        # next k words are each of any length (no coin before them): draw them together, up to 3
        # (192**3 choices)
        k = min(3, (remaining - 1) // (_MAX_FILL + 1))
        words = (picks(draw, _fillers(_MAX_FILL), k) if k > 1
                 else [pick(draw, _fillers(min(_MAX_FILL, remaining - 2)))])
        parts += words
        remaining -= sum(len(w) + 1 for w in words)
    return " ".join(parts)


def _number(draw, decimal: bool | None = None) -> str:
    if decimal is None:
        decimal = coin(draw)
    whole = integer(draw, 0, 250)
    return f"{whole},{integer(draw, 1, 9)}" if decimal else str(whole)


@lru_cache(maxsize=64)
def _negation_phrases(words: tuple[str, ...]) -> tuple[str, ...]:
    """Negation phrases for one pick: a word of ``words`` uniformly, then one of its phrases."""
    return table([_NEGATION_PHRASES.get(word, (f"{word.capitalize()} anmärkning.",)) for word in words])


@lru_cache(maxsize=64)
def _sentences(words: tuple[str, ...]) -> tuple[str, ...]:
    """Sentences for one pick: a negation phrase one time in three, else a neutral sentence."""
    return table([_negation_phrases(words), _NEUTRAL], weights=[1, 2])


def _negation_phrase(draw, spec: _Spec) -> str:
    return pick(draw, _negation_phrases(spec.negation_words))


def _sentence_line(draw, spec: _Spec) -> str:
    sentences = _sentences(spec.negation_words)
    return " ".join(pick(draw, sentences) for _ in range(integer(draw, 1, 3)))


_LONGEST_PART = max(map(len, _COMPOUND_PARTS))


def _long_word(draw, soft_hyphen: bool) -> str:
    """Compound parts until the word is over 40 letters (two at a time while the second would be
    drawn anyway)."""
    parts: list[str] = []
    while (length := sum(map(len, parts))) <= 40:
        parts += (picks(draw, _COMPOUND_PARTS, 2) if length <= 40 - _LONGEST_PART
                  else [pick(draw, _COMPOUND_PARTS)])
    if soft_hyphen:
        cuts = draw(index_sets(1, len(parts) - 1, 1, 3))
        word = "".join(("\xad" if i in cuts else "") + p for i, p in enumerate(parts))
    else:
        word = "".join(parts)
    return word.capitalize() if coin(draw) else word


def _fragment(draw, feature: str, spec: _Spec) -> str:
    """An inline snippet that exercises ``feature``."""
    codec = spec.codec
    if feature == "unit":
        space = pick(draw, (" ", ""))
        return f"{_number(draw)}{space}{pick(draw, _pool(_UNITS, codec))}"
    if feature == "comparison":
        sign, space = pick(draw, _pool(_COMPARISONS, codec)), pick(draw, (" ", ""))
        return f"{sign}{space}{_number(draw)} {pick(draw, ('mm', 'cm', 'mmol/L'))}"
    if feature == "arrow":
        arrow = pick(draw, _pool(_ARROWS, codec))
        return pick(draw, (f"CRP {_number(draw, False)} {arrow} {_number(draw, False)}",
                           f"{arrow} kontroll", f"Hb {arrow}"))
    if feature == "ampersand":
        return pick(draw, _AMPERSANDS)
    if feature == "quote":
        return pick(draw, _pool(_QUOTES, codec))
    if feature == "markup":
        return pick(draw, _MARKUP)
    if feature == "nbsp":
        return pick(draw, (f"{_number(draw)}\xa0{pick(draw, ('mm', 'mg', 'ml/h'))}",
                           "kl.\xa014.30", "s.k.\xa0ground glass", "ingen\xa0fraktur"))
    if feature == "decimal_comma":
        return f"{_number(draw, True)} {pick(draw, ('mg', 'cm', 'ml'))}"
    if feature == "date":
        year, month, day = integer(draw, 2015, 2025), integer(draw, 1, 12), integer(draw, 1, 28)
        return pick(draw, (f"{year}-{month:02d}-{day:02d}", f"{day}/{month}",
                           f"{day}/{month}-{year % 100:02d}"))
    if feature == "dosage":
        return pick(draw, _pool(_DOSAGES, codec))
    if feature == "soft_hyphen":
        return _long_word(draw, True)
    if feature == "long_word":
        return _long_word(draw, _ok("\xad", codec) and coin(draw))
    if feature == "nfd":
        return unicodedata.normalize("NFD", pick(draw, _SWEDISH_WORDS))
    raise AssertionError(feature)


_INLINE = ("unit", "comparison", "arrow", "ampersand", "quote", "markup", "nbsp", "decimal_comma",
           "date", "dosage", "long_word", "soft_hyphen", "nfd")


def _bullet_block(draw, spec: _Spec) -> list[str]:
    marker = pick(draw, _pool(_BULLETS, spec.codec))
    indent = pick(draw, ("", "  ", "\t"))
    items = [_sentence_line(draw, spec) if coin(draw) else _negation_phrase(draw, spec)
             for _ in range(integer(draw, 2, 4))]
    return [f"{indent}{marker} {item}" for item in items]


def _numbered_block(draw, spec: _Spec) -> list[str]:
    style = pick(draw, ("{}.", "{})", "({})", "alpha"))
    lines = []
    for i in range(1, integer(draw, 2, 4) + 1):
        marker = f"{'abcdefgh'[i - 1]})" if style == "alpha" else style.format(i)
        item = pick(draw, _NEUTRAL) if coin(draw) else _negation_phrase(draw, spec)
        lines.append(f"{marker} {item}")
    return lines


def _table_block(draw, spec: _Spec) -> list[str]:
    sep = pick(draw, ("\t", "  ", "\t\t", "    "))
    indent = pick(draw, ("\t", "  ", "    ", " \t"))
    unit = pick(draw, ("cm", "mm", "ml"))
    lines = [pick(draw, ("Mätvärden:", "Mått (vänster/höger):", "Tabell:"))]
    header = ["Vänster", "Höger"] if coin(draw) else ["Organ", "Vänster", "Höger"]
    lines.append(indent + sep.join(header))
    for _ in range(integer(draw, 2, 4)):
        label = pick(draw, _TABLE_LABELS)
        cells = [f"{_number(draw, True)} {unit}" for _ in range(2)]
        lines.append(indent + sep.join([label, *cells]))
    return lines


def _negation_block(draw, feature: str, spec: _Spec) -> list[str]:
    if feature == "negation":
        return [_negation_phrase(draw, spec)]
    word = _negation_word(draw, spec)
    if feature == "negation_alone":
        return [word + pick(draw, ("", ".", ":", "!"))]
    if feature in ("negation_line_start", "negation_first_word"):
        return [f"{word} {pick(draw, _AFTER_NEGATION)}"]
    if feature in ("negation_line_end", "negation_last_word"):
        return [f"{pick(draw, _BEFORE_NEGATION)} {word}{pick(draw, ('', '.', '!'))}"]
    if feature == "negation_wrap_column":
        return [_wrap_column_line(draw, spec, word)]
    raise AssertionError(feature)


def _wrap_column_line(draw, spec: _Spec, shown: str, lead: str = "") -> str:
    """A line (starting with ``lead``, e.g. a conclusion heading) whose negation word ``shown``
    starts at, ends at or spans one of the wrap columns; filler words before it, optionally after it."""
    column = pick(draw, spec.wrap_columns)
    start = integer(draw, max(len(lead), column - len(shown)), max(len(lead), column))
    gap = start - len(lead)
    prefix = lead + ((_fill(draw, gap - 1) + " ") if gap >= 2 else " " * gap)
    suffix = pick(draw, ("", ".", "suffix"))
    if suffix == "suffix":
        suffix = " " + _fill(draw, integer(draw, 1, 30)) + "."
    return prefix + shown + suffix


def _conclusion_block(draw, spec: _Spec) -> list[str]:
    """The conclusion paragraph a Swedish radiology report ends with: a heading (``Slutsats:``,
    ``Bedömning:``) with the first statement on its line or alone above it, then up to two more
    lines; negation words in it, also across a wrap column, as required or drawn. An EHR lifts the
    paragraph (to the next blank line) out as ``DiagnosticReport.conclusion``."""
    heading = pick(draw, _CONCLUSION_HEADINGS)
    inline = coin(draw)
    kinds = [pick(draw, ("negation", "wrap", "sentence")) for _ in range(integer(draw, 1, 3))]
    if "conclusion_negation_wrap_column" in spec.require and "wrap" not in kinds:
        kinds[integer(draw, 0, len(kinds) - 1)] = "wrap"
    if "conclusion_negation" in spec.require and kinds == ["sentence"] * len(kinds):
        kinds[integer(draw, 0, len(kinds) - 1)] = "negation"
    lines = [] if inline else [heading]
    for i, kind in enumerate(kinds):
        lead = heading + " " if inline and i == 0 else ""
        if kind == "wrap":
            lines.append(_wrap_column_line(draw, spec, _negation_word(draw, spec), lead))
        elif kind == "negation":
            lines.append(lead + _negation_phrase(draw, spec))
        else:
            lines.append(lead + _sentence_line(draw, spec))
    return lines


_NEGATION_BLOCKS = ("negation", "negation_alone", "negation_line_start", "negation_line_end",
                    "negation_wrap_column")
# the features a text has one time in four unless required, and the one-in-four chance of a report
# without a conclusion: one byte each, drawn together (``draws.chances``)
_OPTIONAL = _INLINE + ("bullet_list", "numbered_list", "table") + _NEGATION_BLOCKS + (
    "negation_first_word", "negation_last_word", "blank_line")
_CHANCE = {feature: i for i, feature in enumerate(_OPTIONAL)}
_NO_CONCLUSION = len(_OPTIONAL)
_GAPS = (0, 0, 1, 1, 2)  # blank lines between blocks of a text with blank lines
# an inline fragment goes inside a sentence (None) or, half the time, on a line of its own after a lead
_PLACES: tuple[str | None, ...] = table([(None,), _LEADS])


@st.composite
def _clinical_text(draw, spec: _Spec) -> str:
    """Clinical text (lines joined by LF) exercising every feature of ``spec.require``."""
    available = _available(spec.codec)
    chance = chances(draw, _NO_CONCLUSION + 1)

    def wanted(feature: str) -> bool:
        if feature not in available:
            return False
        return feature in spec.require or chance[_CHANCE[feature]] % 4 == 0

    # blocks: (lines, required?)
    blocks: list[tuple[list[str], bool]] = []
    paragraphs = [[_sentence_line(draw, spec)] for _ in range(integer(draw, 1, 3))]
    blocks += [(p, False) for p in paragraphs]
    for feature in _INLINE:
        if not wanted(feature):
            continue
        fragment = _fragment(draw, feature, spec)
        place = pick(draw, _PLACES)
        if place is not None:  # on its own line, after a lead word
            blocks.append(([f"{place} {fragment}"], feature in spec.require))
        else:  # inside a sentence line
            target = integer(draw, 0, len(paragraphs) - 1)
            line = paragraphs[target][0]
            spaces = [i for i, c in enumerate(line) if c == " "] + [len(line)]
            at = pick(draw, spaces)
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

    order = draw(permutations(len(blocks)))
    blocks = [blocks[i] for i in order]
    first = _negation_block(draw, "negation_first_word", spec) if wanted("negation_first_word") else None
    last = _negation_block(draw, "negation_last_word", spec) if wanted("negation_last_word") else None
    # a report ends with its conclusion paragraph, three times in four (before a last-word negation)
    concluded = spec.report and (bool(spec.require & set(REPORT_FEATURES)) or chance[_NO_CONCLUSION] % 4 != 3)
    conclusion = _conclusion_block(draw, spec) if concluded else None
    tail = ([conclusion] if conclusion else []) + ([last] if last else [])

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
        lead, trail = integer(draw, 0, 2), integer(draw, 0, 2)

    def gaps_for(n: int) -> list[int]:
        if not blank:
            return [0] * n
        gaps = [_GAPS[b % len(_GAPS)] for b in chances(draw, n)]
        if n and not any(gaps) and (lead + trail == 0 or spec.strip):
            gaps[integer(draw, 0, n - 1)] = 1
        return gaps

    parts = ([first] if first else []) + [b for b, _ in blocks] + tail
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
            parts = ([first] if first else []) + [b for b, _ in blocks if b] + tail
            gaps = gaps[:max(0, len(parts) - 1)]
            gaps += [0] * (len(parts) - 1 - len(gaps))
            text = assemble(parts, gaps, lead, trail)
        assume(len(text) <= spec.max_length and text.strip())
    return text


def _clean(*texts: str | None) -> bool:
    """No personnummer-shaped number in any view the identity guard decodes."""
    return not any(numbers_in(t) for t in texts if t)


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
    report = set(REPORT_FEATURES) <= set(known)
    require = (require,) if isinstance(require, str) else tuple(require)
    asked = set(require)
    if not report and asked & set(REPORT_FEATURES):
        raise ValueError(f"feature(s) {', '.join(sorted(asked & set(REPORT_FEATURES)))} belong to report texts "
                         f"(a conclusion paragraph), not to {what}")
    req = _check_require(require, known, available, what)
    return _Spec(req, words, columns, codec, max_length, strip, min_lines, report)


def _finish_clinical(text: str, spec: _Spec) -> GeneratedText | None:
    features = clinical_features(text, negation_words=spec.negation_words, wrap_columns=spec.wrap_columns)
    if not spec.require <= features or not _clean(text):
        return None
    return GeneratedText(text, None, text, _ordered(features, CLINICAL_FEATURES))
