"""Detector for structure changes where the words survived: the same non-whitespace characters,
but line breaks lost or added, words run together or split apart, or only the spacing changed.

Works on token and line-break offsets in whitespace-free text, so a block of any size is analysed
in one pass; it records what it sees in the shared ``_Acc`` (``_report`` words it), except for
:func:`_structure_by_count`, which answers directly when only line counts are reliable.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

from genrep.text.fidelity._context import _Analysis
from genrep.text.fidelity._kinds import KINDS
from genrep.text.fidelity._result import Finding
from genrep.text.fidelity._shapes import _generic_change
from genrep.text.fidelity._wording import _plural

_SEGMENT = re.compile(r"\n|[^\s]+")


def _segments(text: str) -> tuple[list[tuple[int, int, str, int]], list[tuple[int, int]]]:
    toks: list[tuple[int, int, str, int]] = []
    nls: list[tuple[int, int]] = []
    pos, line = 0, 0
    for m in _SEGMENT.finditer(text):
        g = m.group()
        if g == "\n":
            nls.append((pos, line))
            line += 1
        else:
            toks.append((pos, pos + len(g), g, line))
            pos += len(g)
    return toks, nls


def _structure(an: _Analysis, ia: list[int], ib: list[int]) -> None:
    """Analyse sent lines ``ia`` vs stored lines ``ib`` whose non-whitespace text is equal."""
    acc = an.acc
    ta, na = _segments("\n".join(an.a[i] for i in ia))
    tb, nb = _segments("\n".join(an.b[j] for j in ib))
    a_starts = [x[0] for x in ta]
    b_starts = [x[0] for x in tb]
    nb_offsets = sorted(o for o, _ in nb)

    def merged(tokens, starts_other, other_tokens, idx_self, idx_other):
        out = []
        for s0, e0, tok, line in tokens:
            lo = bisect.bisect_right(starts_other, s0)
            hi = bisect.bisect_left(starts_other, e0)
            if hi > lo:  # a boundary of the other side lies strictly inside this token
                first = max(lo - 1, 0)
                parts = other_tokens[first:hi]
                out.append({"joined": tok, "line": idx_self[line] + 1,
                            "parts": [p[2] for p in parts],
                            "part_lines": sorted({idx_other[p[3]] + 1 for p in parts})})
        return out

    merges_here = False
    for m in merged(tb, a_starts, ta, ib, ia):
        merges_here = True
        acc.merges.append({"stored": m["joined"], "stored_line": m["line"],
                           "sent": m["parts"], "sent_lines": m["part_lines"],
                           "across_lines": len(m["part_lines"]) > 1})
    for m in merged(ta, b_starts, tb, ia, ib):
        merges_here = True
        acc.splits.append({"sent": m["joined"], "sent_line": m["line"],
                           "stored": m["parts"], "stored_lines": m["part_lines"]})

    ca = Counter(o for o, _ in na)
    cb = Counter(o for o, _ in nb)
    lost, added = ca - cb, cb - ca
    na_offsets = sorted(o for o, _ in na)
    for o, n in sorted(lost.items()):
        lines = [ln for off, ln in na if off == o][-n:]
        stored_line = bisect.bisect_right(nb_offsets, o)  # 0-based local
        for ln in lines:
            acc.lb_lost.append({"sent_line": ia[ln] + 1,
                                "stored_line": ib[min(stored_line, len(ib) - 1)] + 1})
    for o, n in sorted(added.items()):
        lines = [ln for off, ln in nb if off == o][-n:]
        sent_line = bisect.bisect_right(na_offsets, o)
        for ln in lines:
            acc.lb_added.append({"stored_line": ib[ln] + 1,
                                 "sent_line": ia[min(sent_line, len(ia) - 1)] + 1})
    if not lost and not added and not merges_here and len(ia) == len(ib):
        for i, j in zip(ia, ib):
            if an.a[i] != an.b[j]:
                acc.ws_lines.append((i + 1, j + 1))


def _structure_by_count(an: _Analysis) -> list[Finding]:
    """Canonically equal once whitespace is removed, but a combining mark now joins a
    different character: only line counts are reliable here."""
    na, nb = an.s.count("\n"), an.t.count("\n")
    if na > nb:
        return [Finding("line_breaks_lost", KINDS["line_breaks_lost"],
                        f"Line breaks lost: the sent text has {_plural(len(an.a), 'line')}, "
                        f"the stored text {len(an.b)}; lines ran together.",
                        {"sent_lines": len(an.a), "stored_lines": len(an.b),
                         "lost": na - nb, "joined": []})]
    if nb > na:
        return [Finding("line_breaks_added", KINDS["line_breaks_added"],
                        f"Line breaks added: the sent text has {_plural(len(an.a), 'line')}, "
                        f"the stored text {len(an.b)}; lines were split.",
                        {"sent_lines": len(an.a), "stored_lines": len(an.b),
                         "added": nb - na, "split": []})]
    return [_generic_change(an)]
