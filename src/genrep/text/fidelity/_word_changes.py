"""Detector for changes in the words themselves: words lost or added, accents (combining marks)
dropped, and lines that changed with no word lost or added (punctuation, symbols, spacing).

Counts words on both sides as multisets, after taking out what the line and structure detectors
and the mojibake detector already explain, so that one loss is reported once, under its most
specific kind.
"""

from __future__ import annotations

from collections import Counter

from genrep.text.fidelity._context import _Analysis
from genrep.text.fidelity._kinds import KINDS
from genrep.text.fidelity._mojibake import _explain_replacement_char, _mojibake
from genrep.text.fidelity._result import Finding
from genrep.text.fidelity._text import _WORD, _base_and_marks, _count_marks, _words
from genrep.text.fidelity._wording import _end, _plural, _q


def _words_and_chars(an: _Analysis) -> list[Finding]:
    acc, a, b = an.acc, an.a, an.b
    out: list[Finding] = []
    s, t = an.s, an.t
    moji = _mojibake(an)
    repaired = t
    if moji:
        out.append(moji[0])
        repaired = moji[1]
    rb = repaired.split("\n") if moji else b
    lost = _words(s) - _words(repaired)
    added = _words(repaired) - _words(s)
    for ln in acc.missing:
        lost -= _words(a[ln - 1])
    for ln in acc.extra:
        added -= _words(rb[ln - 1])
    for m in acc.merges:
        joined, parts = _words(m["stored"]), _words(" ".join(m["sent"]))
        lost -= parts - joined
        added -= joined - parts
    for m in acc.splits:
        whole, parts = _words(m["sent"]), _words(" ".join(m["stored"]))
        lost -= whole - parts
        added -= parts - whole
    if moji and "\ufffd" in repaired:
        _explain_replacement_char(an, lost, added)

    marks = _combining_marks(an, lost, added)
    if marks:
        out.append(marks)

    if +lost:
        out.append(_word_finding("lost_words", lost, s))
    if +added:
        out.append(_word_finding("added_words", added, t))

    unexplained = [(i, j) for i, j in acc.pairs
                   if a[i] != b[j] and rb[j] != a[i] and _words(a[i]) == _words(b[j])]
    if unexplained:
        i, j = unexplained[0]
        msg = (f"Text changed on {_plural(len(unexplained), 'line')} although no word was "
               f"lost or added (punctuation, symbols or spacing): sent line {i + 1} "
               f"{_q(a[i])} is stored as {_q(b[j])}")
        out.append(Finding("changed_text", KINDS["changed_text"], _end(msg),
                           {"sent_lines": [p[0] + 1 for p in unexplained],
                            "stored_lines": [p[1] + 1 for p in unexplained]}))
    return out


def _word_finding(kind: str, words: Counter[str], text: str) -> Finding:
    order: list[str] = []
    seen: set[str] = set()
    for w in _WORD.findall(text):
        if words[w] > 0 and w not in seen:
            seen.add(w)
            order.append(w)
    total = sum(words.values())
    listed = ", ".join(_q(w, 40) for w in order[:10]) + (", ..." if len(order) > 10 else "")
    if kind == "lost_words":
        msg = f"Words lost: {listed} ({_plural(total, 'word')} of the sent text missing from the stored text)"
    else:
        msg = f"Words added: {listed} ({_plural(total, 'word')} in the stored text that {'was' if total == 1 else 'were'} not sent)"
    return Finding(kind, KINDS[kind], _end(msg),
                   {"words": order, "counts": {w: words[w] for w in order}, "count": total})


def _combining_marks(an: _Analysis, lost: Counter[str], added: Counter[str]) -> Finding | None:
    if _count_marks(an.t) >= _count_marks(an.s):
        return None
    by_base: dict[str, list[tuple[str, int]]] = {}
    for w in lost:
        if lost[w] > 0:
            base, n = _base_and_marks(w)
            if n:
                by_base.setdefault(base, []).append((w, n))
    pairs: list[tuple[str, str]] = []
    for w in list(added):
        if added[w] <= 0:
            continue
        base, n = _base_and_marks(w)
        for cand, cn in by_base.get(base, []):
            if cn > n and lost[cand] > 0:
                k = min(lost[cand], added[w])
                lost[cand] -= k
                added[w] -= k
                pairs.append((cand, w))
                break
    if not pairs:
        return None
    shown = ", ".join(f"{_q(x, 30)} -> {_q(y, 30)}" for x, y in pairs[:5])
    msg = (f"Accents/diacritics lost: {shown}; a dropped combining mark turns \"å\", \"ä\", "
           f"\"ö\" into \"a\", \"a\", \"o\" and can change the word")
    return Finding("combining_marks_lost", KINDS["combining_marks_lost"], _end(msg),
                   {"pairs": [{"sent": x, "stored": y} for x, y in pairs],
                    "sent_marks": _count_marks(an.s), "stored_marks": _count_marks(an.t)})
