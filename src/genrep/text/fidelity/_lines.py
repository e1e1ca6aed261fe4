"""Detector for line-level changes when the words themselves changed: lines missing, extra or
moved, and which sent line became which stored line (``pairs``, for the word detector).

Walks the non-equal blocks of the line alignment: a moved line is matched first (moved, not lost);
a block whose whitespace-free text is unchanged goes to ``_structure``; otherwise lines are paired
by similarity, with a cap so a rewritten 1,000-line block stays linear. Records in ``_Acc``.
"""

from __future__ import annotations

from genrep.text.fidelity._align import _line_score, _quick_score
from genrep.text.fidelity._context import _Analysis
from genrep.text.fidelity._structure import _structure
from genrep.text.fidelity._text import _nows


def _lines(an: _Analysis) -> None:
    acc, a, b = an.acc, an.a, an.b
    blocks = [op for op in an.opcodes() if op[0] != "equal"]
    # Lines present on both sides but in another place: moved, not lost.
    stored_pool: dict[str, list[int]] = {}
    for _, _, _, j1, j2 in blocks:
        for j in range(j1, j2):
            if b[j].strip():
                stored_pool.setdefault(b[j], []).append(j)
    moved_a: set[int] = set()
    moved_b: set[int] = set()
    for _, i1, i2, _, _ in blocks:
        for i in range(i1, i2):
            pool = stored_pool.get(a[i])
            if pool:
                j = pool.pop(0)
                moved_a.add(i)
                moved_b.add(j)
                acc.moved.append((i + 1, j + 1))
    for _, i1, i2, j1, j2 in blocks:
        sa = [i for i in range(i1, i2) if i not in moved_a]
        sb = [j for j in range(j1, j2) if j not in moved_b]
        if not sb:
            acc.missing += [i + 1 for i in sa]
        elif not sa:
            acc.extra += [j + 1 for j in sb]
        elif _nows("".join(a[i] for i in sa)) == _nows("".join(b[j] for j in sb)):
            _structure(an, sa, sb)
        else:
            _pair(an, sa, sb)


def _pair(an: _Analysis, sa: list[int], sb: list[int]) -> None:
    acc, a, b = an.acc, an.a, an.b
    if len(sa) == 1 and len(sb) == 1:
        acc.pairs.append((sa[0], sb[0]))
        return
    if len(sa) * len(sb) > 40_000:  # huge rewrite: pair by position, rest missing/extra
        n = min(len(sa), len(sb))
        acc.pairs += list(zip(sa[:n], sb[:n]))
        acc.missing += [i + 1 for i in sa[n:]]
        acc.extra += [j + 1 for j in sb[n:]]
        return
    if len(sa) == len(sb) and all(
            _quick_score(a[i], b[j]) >= 0.5 for i, j in zip(sa, sb)):
        for i, j in zip(sa, sb):
            if _nows(a[i]) == _nows(b[j]):
                _structure(an, [i], [j])
            else:
                acc.pairs.append((i, j))
        return
    p, q = 0, 0
    while p < len(sa) and q < len(sb):
        # Lines run together / split within the block?
        group = _group_at(an, sa, sb, p, q)
        if group:
            ga, gb = group
            _structure(an, sa[p:p + ga], sb[q:q + gb])
            p, q = p + ga, q + gb
            continue
        found = None
        for k in range(q, min(len(sb), q + 50)):
            if _line_score(a[sa[p]], b[sb[k]]) >= 0.5:
                found = k
                break
        if found is None:
            acc.missing.append(sa[p] + 1)
            p += 1
            continue
        acc.extra += [sb[k] + 1 for k in range(q, found)]
        i, j = sa[p], sb[found]
        if _nows(a[i]) == _nows(b[j]):
            _structure(an, [i], [j])
        else:
            acc.pairs.append((i, j))
        p, q = p + 1, found + 1
    acc.missing += [i + 1 for i in sa[p:]]
    acc.extra += [j + 1 for j in sb[q:]]


def _group_at(an: _Analysis, sa: list[int], sb: list[int], p: int,
              q: int) -> tuple[int, int] | None:
    a, b = an.a, an.b
    x, y = _nows(a[sa[p]]), _nows(b[sb[q]])
    if x == y:
        return (1, 1)
    if y.startswith(x) and x:
        acc_x = x
        for r in range(p + 1, min(len(sa), p + 10)):
            acc_x += _nows(a[sa[r]])
            if acc_x == y:
                return (r - p + 1, 1)
            if not y.startswith(acc_x):
                break
    if x.startswith(y) and y:
        acc_y = y
        for r in range(q + 1, min(len(sb), q + 10)):
            acc_y += _nows(b[sb[r]])
            if acc_y == x:
                return (1, r - q + 1)
            if not x.startswith(acc_y):
                break
    return None
