"""Alignment: which sent lines correspond to which stored lines, and, inside one line, which
characters. ``difflib`` wrapped so that it stays fast on large reports.

The speed rule of the package lives here: line-level ``SequenceMatcher`` on whole texts (with
popular lines treated as junk only when repeated lines would make it quadratic), character-level
matching only on single lines, with the common prefix and suffix trimmed first.
"""

from __future__ import annotations

import difflib
from collections import Counter

from genrep.text.fidelity._text import _common_prefix_len, _words


def _line_score(x: str, y: str) -> float:
    """Similarity of two lines in [0, 1]; cheap for long lines."""
    if x == y:
        return 1.0
    if not x or not y:
        return 0.0
    if len(x) + len(y) <= 1000:
        if _quick_score(x, y) < 0.5:
            return 0.0
        return difflib.SequenceMatcher(None, x, y, autojunk=False).ratio()
    wx, wy = _words(x), _words(y)
    total = sum(wx.values()) + sum(wy.values())
    return 2 * sum((wx & wy).values()) / total if total else 0.0


def _quick_score(x: str, y: str) -> float:
    """Upper bound of :func:`_line_score` computed from character counts only (linear)."""
    if not x or not y:
        return 1.0 if x == y else 0.0
    cx, cy = Counter(x), Counter(y)
    return 2 * sum((cx & cy).values()) / (len(x) + len(y))


def _char_opcodes(x: str, y: str, limit: int = 4000) -> list[tuple[str, int, int, int, int]]:
    """Character opcodes for two lines; the common prefix and suffix are trimmed first so that a
    long line with one local change stays cheap."""
    p = _common_prefix_len(x, y)
    q = _common_prefix_len(x[p:][::-1], y[p:][::-1])
    xe, ye = len(x) - q, len(y) - q
    ops: list[tuple[str, int, int, int, int]] = []
    if p:
        ops.append(("equal", 0, p, 0, p))
    if xe - p + ye - p <= limit:
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
                None, x[p:xe], y[p:ye], autojunk=False).get_opcodes():
            ops.append((tag, i1 + p, i2 + p, j1 + p, j2 + p))
    elif xe > p or ye > p:
        ops.append(("replace", p, xe, p, ye))
    if q:
        ops.append(("equal", xe, len(x), ye, len(y)))
    return ops


def _map_pos(opcodes: list[tuple[str, int, int, int, int]], pos: int, end: bool) -> int:
    for tag, i1, i2, j1, j2 in opcodes:
        if i1 <= pos < i2 or (end and pos == i2 and i1 < i2):
            if tag == "equal":
                return j1 + (pos - i1)
            return j2 if end else j1
    return opcodes[-1][4] if opcodes else 0


def _line_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Line-level opcodes. Exact (autojunk off) unless many repeated lines (blank lines,
    "Normal." ...) would make SequenceMatcher quadratic; then popular lines are treated as junk."""
    ca, cb = Counter(a), Counter(b)
    work = sum(n * cb[line] for line, n in ca.items() if n > 1 and line in cb)
    return difflib.SequenceMatcher(None, a, b, autojunk=work > 200_000).get_opcodes()
