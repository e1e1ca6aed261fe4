"""``nll_texts``: texts for an NLL FHIR ``string`` (``Dosage.patientInstruction``), under FHIR R4's rules and the contract's maximum length.

A clinical text made to obey the ``string`` rules (no control characters other than TAB, CR, LF;
non-empty; no leading or trailing whitespace), lines joined by the line break asked for, at most
``max_length`` characters (FHIR counts characters, not bytes), optionally exactly at it or over it
in UTF-8 bytes. Apart from the HL7 strategies: NLL text never passes through HL7.
"""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import strategies as st

from genrep.text.fidelity import NEGATION_WORDS
from genrep.text.generated.clinical import _clean, _clinical_text, _fill, _Spec, _spec
from genrep.text.generated.draws import integer
from genrep.text.generated.model import (NLL_FEATURES, NLL_LINE_BREAK, NLL_MAX_LENGTH, WRAP_COLUMNS,
                                         GeneratedText, _ordered)
from genrep.text.generated.vocabulary import clinical_features


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
    return _nll_text(spec, _clinical_text(spec), line_break).filter(lambda g: g is not None)


@st.composite
def _nll_text(draw, spec: _Spec, clinical: st.SearchStrategy[str], line_break: str) -> GeneratedText | None:
    text = draw(clinical).strip()  # FHIR: no leading/trailing whitespace
    lines = text.split("\n")
    # filled to the maximum length one time in four, and always when it (or more bytes than
    # characters allowed, which a Swedish text then has) is required
    if spec.require & {"at_max_length", "bytes_over_max_length"} or integer(draw, 0, 3) == 0:
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
