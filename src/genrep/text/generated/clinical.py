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

from hypothesis import assume
from hypothesis import strategies as st

from genrep.text.fidelity import NEGATION_WORDS
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
        return [_wrap_column_line(draw, spec, word)]
    raise AssertionError(feature)


def _wrap_column_line(draw, spec: _Spec, word: str, lead: str = "") -> str:
    """A line (starting with ``lead``, e.g. a conclusion heading) whose negation ``word`` starts at,
    ends at or spans one of the wrap columns; filler words before it, optionally after it."""
    column = draw(st.sampled_from(spec.wrap_columns))
    shown = _cap(draw, word)
    start = draw(st.integers(max(len(lead), column - len(shown)), max(len(lead), column)))
    gap = start - len(lead)
    prefix = lead + ((_fill(draw, gap - 1) + " ") if gap >= 2 else " " * gap)
    suffix = draw(st.sampled_from(("", ".", "suffix")))
    if suffix == "suffix":
        suffix = " " + _fill(draw, draw(st.integers(1, 30))) + "."
    return prefix + shown + suffix


def _conclusion_block(draw, spec: _Spec) -> list[str]:
    """The conclusion paragraph a Swedish radiology report ends with: a heading (``Slutsats:``,
    ``Bedömning:``) with the first statement on its line or alone above it, then up to two more
    lines; negation words in it, also across a wrap column, as required or drawn. An EHR lifts the
    paragraph (to the next blank line) out as ``DiagnosticReport.conclusion``."""
    heading = draw(st.sampled_from(_CONCLUSION_HEADINGS))
    inline = draw(st.booleans())
    kinds = [draw(st.sampled_from(("negation", "wrap", "sentence"))) for _ in range(draw(st.integers(1, 3)))]
    if "conclusion_negation_wrap_column" in spec.require and "wrap" not in kinds:
        kinds[draw(st.integers(0, len(kinds) - 1))] = "wrap"
    if "conclusion_negation" in spec.require and kinds == ["sentence"] * len(kinds):
        kinds[draw(st.integers(0, len(kinds) - 1))] = "negation"
    lines = [] if inline else [heading]
    for i, kind in enumerate(kinds):
        lead = heading + " " if inline and i == 0 else ""
        if kind == "wrap":
            lines.append(_wrap_column_line(draw, spec, draw(st.sampled_from(spec.negation_words)), lead))
        elif kind == "negation":
            lines.append(lead + _negation_phrase(draw, spec))
        else:
            lines.append(lead + _sentence_line(draw, spec))
    return lines


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
    # a report ends with its conclusion paragraph, three times in four (before a last-word negation)
    concluded = spec.report and (bool(spec.require & set(REPORT_FEATURES)) or draw(st.integers(0, 3)) != 3)
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
        lead, trail = draw(st.integers(0, 2)), draw(st.integers(0, 2))

    def gaps_for(n: int) -> list[int]:
        if not blank:
            return [0] * n
        gaps = [draw(st.sampled_from((0, 0, 1, 1, 2))) for _ in range(n)]
        if n and not any(gaps) and (lead + trail == 0 or spec.strip):
            gaps[draw(st.integers(0, n - 1))] = 1
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
