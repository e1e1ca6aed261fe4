"""Detector: lost negation words ("Ingen fraktur." stored as "fraktur.").

The worst loss, so it has its own detector that runs before and independently of every other one:
negation tokens are counted on both sides and any shortfall is reported as ``critical``, whatever
else went wrong, quoting the words around the first lost negation and what was stored there.
"""

from __future__ import annotations

import re
from collections import Counter

from genrep.text.fidelity._align import _char_opcodes, _line_score, _map_pos
from genrep.text.fidelity._context import _Analysis
from genrep.text.fidelity._kinds import KINDS
from genrep.text.fidelity._result import Finding
from genrep.text.fidelity._wording import _end, _plural, _q

_NEG_TOKEN = re.compile(r"\w+")
# invisible characters a word may carry (soft hyphen, zero-width space/joiners, word joiner, BOM):
# "in\u00adgen" is "ingen" to a reader, and a lost one must still read as a lost negation
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def _neg_counts(an: _Analysis, text: str) -> Counter[str]:
    negs = set(an.rules.negation_words)
    return Counter(tok for tok in _NEG_TOKEN.findall(text.translate(_INVISIBLE).casefold()) if tok in negs)


def _negation(an: _Analysis) -> Finding | None:
    cs, ct = _neg_counts(an, an.s), _neg_counts(an, an.t)
    lost = {w: (cs[w], ct.get(w, 0)) for w in cs if ct.get(w, 0) < cs[w]}
    if not lost:
        return None
    ctx = _negation_context(an, set(lost))
    order = [w for w in an.rules.negation_words if w in lost]
    if ctx and ctx["word"] in order:
        order.remove(ctx["word"])
        order.insert(0, ctx["word"])
    parts = [f'"{w}" appears {_plural(lost[w][0], "time")} in the sent text, '
             f'{_plural(lost[w][1], "time")} in the stored text' for w in order]
    msg = "Negation lost: " + "; ".join(parts) + ": a finding may now read as its opposite"
    if ctx:
        if ctx["stored"] is not None:
            msg += f' ({_q(ctx["sent"])} -> {_q(ctx["stored"]) if ctx["stored"] else "(nothing)"}'
            msg += f', sent line {ctx["sent_line"]})'
        else:
            msg += f' ({_q(ctx["sent"])}, sent line {ctx["sent_line"]}, is not in the stored text)'
    details = {
        "words": {w: {"sent": lost[w][0], "stored": lost[w][1]} for w in order},
        "lost": {w: lost[w][0] - lost[w][1] for w in order},
        "total_lost": sum(lost[w][0] - lost[w][1] for w in order),
        "sent_line": ctx["sent_line"] if ctx else None,
        "stored_line": ctx["stored_line"] if ctx else None,
    }
    return Finding("lost_negation", KINDS["lost_negation"], _end(msg), details)


def _negation_context(an: _Analysis, lost: set[str]) -> dict | None:
    for tag, i1, i2, j1, j2 in an.opcodes():
        if tag == "equal":
            continue
        cs = _neg_counts(an, "\n".join(an.a[i1:i2]))
        ct = _neg_counts(an, "\n".join(an.b[j1:j2]))
        dropped = [w for w in lost if cs[w] > ct[w]]
        if not dropped:
            continue
        for i in range(i1, i2):
            line = an.a[i]
            hits = [m for m in _NEG_TOKEN.finditer(line) if m.group().casefold() in dropped]
            if not hits:
                continue
            best_j, best = None, 0.3
            for j in range(j1, min(j2, j1 + 200)):
                score = _line_score(line, an.b[j])
                if score > best:
                    best_j, best = j, score
            return _negation_snippet(an, line, hits, best_j, i)
    return None


def _negation_snippet(an: _Analysis, line: str, hits: list[re.Match], j: int | None,
                      i: int) -> dict:
    stored_line = an.b[j] if j is not None else None
    char_ops = _char_opcodes(line, stored_line) if stored_line is not None else None
    hit = hits[0]
    if char_ops:
        for m in hits:  # prefer an occurrence inside a changed region
            if any(tag != "equal" and i1 < m.end() and m.start() < i2
                   for tag, i1, i2, _, _ in char_ops):
                hit = m
                break
    words = list(_NEG_TOKEN.finditer(line))
    k = next(n for n, m in enumerate(words) if m.start() == hit.start())
    start = words[max(0, k - 2)].start()
    end = words[min(len(words) - 1, k + 2)].end()
    if k + 2 >= len(words) - 1:
        end = len(line)
    if k - 2 <= 0:
        start = 0
    sent_snip = ("..." if start > 0 else "") + line[start:end] + ("..." if end < len(line) else "")
    stored_snip: str | None = None
    if stored_line is not None:
        if char_ops is not None:
            js, je = _map_pos(char_ops, start, False), _map_pos(char_ops, end, True)
            while js > 0 and not stored_line[js - 1].isspace():
                js -= 1
            while je < len(stored_line) and not stored_line[je].isspace():
                je += 1
            body = stored_line[js:je]
            stored_snip = (("..." if js > 0 else "") + body
                           + ("..." if je < len(stored_line) else "")) if body else ""
        else:
            stored_snip = stored_line
    return {"word": hit.group().casefold(), "sent": sent_snip, "stored": stored_snip,
            "sent_line": i + 1, "stored_line": (j + 1) if j is not None else None}
