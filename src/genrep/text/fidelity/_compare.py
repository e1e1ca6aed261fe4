"""The comparison itself: :func:`compare` normalises both texts and, when they differ, runs the
detectors in their fixed order and sorts the findings into report order.

The order is the classification: the negation check always runs; then the first whole-text shape
that fits (only the Unicode form, empty, truncated) ends the analysis; otherwise the structure
detector (same words, other whitespace), or the line, word and mojibake detectors, record what
they see and ``_report`` words it.
"""

from __future__ import annotations

import unicodedata

from genrep.text.fidelity._context import _Analysis
from genrep.text.fidelity._kinds import _KIND_ORDER
from genrep.text.fidelity._lines import _lines
from genrep.text.fidelity._negation import _negation
from genrep.text.fidelity._report import _findings_from_acc
from genrep.text.fidelity._result import FidelityResult, Finding
from genrep.text.fidelity._rules import TextRules, normalise
from genrep.text.fidelity._shapes import _empty, _generic_change, _truncation, _unicode_form_finding
from genrep.text.fidelity._structure import _structure, _structure_by_count
from genrep.text.fidelity._text import _nows
from genrep.text.fidelity._word_changes import _words_and_chars


def compare(sent: str, stored: str, rules: TextRules | None = None) -> FidelityResult:
    """Compare the sent report text with the text read back from the receiving system."""
    if not isinstance(sent, str) or not isinstance(stored, str):
        raise TypeError("compare() takes decoded text (str), not bytes: decode first, "
                        "then compare")
    rules = rules if rules is not None else TextRules()
    s, t = normalise(sent, rules), normalise(stored, rules)
    if s == t:
        return FidelityResult(True, [], sent, stored, rules)
    analysis = _Analysis(s, t, rules)
    return FidelityResult(False, _run(analysis), sent, stored, rules)


def _run(an: _Analysis) -> list[Finding]:
    findings: list[Finding] = []
    neg = _negation(an)
    if neg:
        findings.append(neg)
    findings += _classify(an)
    if not [f for f in findings if f.kind != "lost_negation"] and an.s != an.t:
        if not findings:
            findings.append(_generic_change(an))
    findings.sort(key=lambda f: _KIND_ORDER.get(f.kind, len(_KIND_ORDER)))
    return findings


def _classify(an: _Analysis) -> list[Finding]:
    s, t = an.s, an.t
    if s == t:  # only the Unicode form differs (unicode_form None)
        return [_unicode_form_finding(an)]
    if t.strip() == "":
        return [_empty(an)] if s.strip() else [_generic_change(an)]
    trunc = _truncation(an)
    if trunc:
        return [trunc]
    out: list[Finding] = []
    if _nows(s) == _nows(t):
        _structure(an, list(range(len(an.a))), list(range(len(an.b))))
    elif (unicodedata.normalize("NFD", _nows(s)) == unicodedata.normalize("NFD", _nows(t))):
        out += _structure_by_count(an)
    else:
        _lines(an)
        out += _words_and_chars(an)
    out += _findings_from_acc(an)
    if an.raw_differs_in_form:
        out.append(_unicode_form_finding(an, also=True))
    return out
