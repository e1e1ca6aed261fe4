"""Detector for garbled characters (mojibake): UTF-8 read as Latin-1/Windows-1252 ("Ã¥" for "å"),
a DOS or Windows code page read as Latin-1 (C1 control characters), Latin-1 read as UTF-8 (U+FFFD).

It also repairs what it recognised, so that the word detector does not report every garbled word
a second time as lost and added. Sequences that were sent literally are never counted.
"""

from __future__ import annotations

import re
from collections import Counter

from genrep.text.fidelity._context import _Analysis
from genrep.text.fidelity._kinds import KINDS
from genrep.text.fidelity._result import Finding
from genrep.text.fidelity._text import _C1, _remove, _token_at, _words
from genrep.text.fidelity._wording import _end, _q, _visible

# UTF-8 bytes decoded as Latin-1 / Windows-1252: a lead byte C2..F4 (shown as Â..ô) followed by
# continuation bytes 80..BF (shown as C1 controls, Latin-1 80..BF or their cp1252 glyphs).
_CP1252_HIGH = (
    "\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d"
    "\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
)
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf" + _CP1252_HIGH + "]{1,3}")


def _mojibake_repair(seq: str) -> tuple[str, str] | None:
    """``(garbled, original)`` for the leading garbled sequence in ``seq``, or None."""
    raw = bytearray()
    for c in seq:
        try:
            raw += c.encode("cp1252")
        except UnicodeEncodeError:
            if ord(c) > 0xFF:
                return None
            raw.append(ord(c))
    lead = raw[0]
    need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    if len(raw) < need:
        return None
    try:
        original = bytes(raw[:need]).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return seq[:need], original


def _mojibake(an: _Analysis) -> tuple[Finding, str] | None:
    s, t = an.s, an.t
    sent_seqs = Counter(m.group() for m in _MOJIBAKE.finditer(s))
    seen: Counter[str] = Counter()
    verdict: dict[str, bool] = {}
    occurrences: list[dict] = []  # pos, stored, sent, label
    covered: set[int] = set()
    for m in _MOJIBAKE.finditer(t):
        rep = _mojibake_repair(m.group())
        if not rep:
            continue
        garbled, original = rep
        seen[garbled] += 1
        if seen[garbled] <= sent_seqs.get(garbled, 0):
            continue
        if garbled not in verdict:  # garbled form sent literally, original never sent
            verdict[garbled] = not (garbled in s and original not in s)
        if not verdict[garbled]:
            continue
        occurrences.append({"pos": m.start(), "stored": garbled, "sent": original,
                            "label": "UTF-8 text read as Latin-1/Windows-1252"})
        covered.update(range(m.start(), m.start() + len(garbled)))
    c1_sent = Counter(_C1.findall(s))
    c1_seen: Counter[str] = Counter()
    sent_tokens: set[str] | None = None
    for m in _C1.finditer(t):
        if m.start() in covered:
            continue
        c = m.group()
        c1_seen[c] += 1
        if c1_seen[c] <= c1_sent[c]:
            continue
        if sent_tokens is None:
            sent_tokens = set(s.split())
        token = _token_at(t, m.start())
        original, label = "?", "a control character that was not sent"
        for codec, name in (("cp1252", "Windows-1252"), ("cp850", "DOS code page 850"),
                            ("cp437", "DOS code page 437")):
            try:
                cand = bytes([ord(c)]).decode(codec)
            except UnicodeDecodeError:
                continue
            if token.replace(c, cand) in sent_tokens:
                original, label = cand, f"{name} text read as Latin-1"
                break
        else:
            match = _match_wild(an, token, c)
            if match:
                original = match
        occurrences.append({"pos": m.start(), "stored": c, "sent": original, "label": label,
                            "repair": original if len(original) == 1 and original != "?"
                            else None})
    fffd_extra = t.count("\ufffd") - s.count("\ufffd")
    if fffd_extra > 0:
        occurrences.append({"pos": t.find("\ufffd"), "stored": "\ufffd", "sent": "?",
                            "label": "Latin-1 text read as UTF-8"})
    if not occurrences:
        return None
    occurrences.sort(key=lambda o: o["pos"])
    pieces: list[str] = []
    last = 0
    for o in occurrences:
        repl = o.get("repair", o["sent"]) if o["stored"] != "\ufffd" else None
        if repl:
            pieces += [t[last:o["pos"]], repl]
            last = o["pos"] + len(o["stored"])
    pieces.append(t[last:])
    repaired = "".join(pieces)

    first = min(occurrences, key=lambda o: (o["stored"] == "\ufffd", o["pos"]))
    line = t.count("\n", 0, first["pos"]) + 1
    word = _token_at(t, first["pos"])
    if first["stored"] == "\ufffd":
        sent_word = _match_wild(an, word, "\ufffd")
        msg = (f"Characters garbled (mojibake): \"\ufffd\" (replacement character) in the "
               f"stored text (line {line}, {_q(word, 40)}"
               + (f" where {_q(sent_word, 40)} was sent" if sent_word else "")
               + f"), typical of {first['label']}")
    else:
        shown = _visible(first["stored"])
        if first["sent"] == "?" or len(first["sent"]) > 1:
            sent_word = first["sent"] if first["sent"] != "?" else None
            msg = (f"Characters garbled (mojibake): \"{shown}\" in the stored text (line "
                   f"{line}, {_q(word, 40)}"
                   + (f" where {_q(sent_word, 40)} was sent" if sent_word else "") + ")")
        else:
            fixed = word.replace(first["stored"], first["sent"])
            msg = (f"Characters garbled (mojibake): \"{shown}\" where \"{first['sent']}\" was "
                   f"sent (line {line}: {_q(word, 40)} instead of {_q(fixed, 40)}); "
                   f"typical of {first['label']}")
    total = len(occurrences) + max(fffd_extra - 1, 0)
    if total > 1:
        msg += f"; {total} garbled characters in total"
    examples = [{"stored": o["stored"], "sent": o["sent"],
                 "line": t.count("\n", 0, o["pos"]) + 1,
                 "stored_word": _token_at(t, o["pos"]), "cause": o["label"]}
                for o in occurrences[:20]]
    details = {"count": total, "examples": examples,
               "sequences": dict(Counter(o["stored"] for o in occurrences))}
    return Finding("mojibake", KINDS["mojibake"], _end(msg), details), repaired


def _match_wild(an: _Analysis, word: str, wild: str) -> str | None:
    """The sent whitespace-token that ``word`` becomes when ``wild`` stands for 1-2 chars."""
    if not word or len(word) > 100:
        return None
    pattern = re.compile(r"(?<!\S)" + re.escape(word).replace(re.escape(wild), r"[^\s]{0,2}")
                         + r"(?!\S)")
    m = pattern.search(an.s)
    return m.group() if m else None


def _explain_replacement_char(an: _Analysis, lost: Counter[str], added: Counter[str]) -> None:
    cache: dict[str, str | None] = {}
    for n, m in enumerate(re.finditer(r"\S*\ufffd\S*", an.t)):
        if n >= 200:
            break
        token = m.group()
        if token not in cache:
            cache[token] = _match_wild(an, token, "\ufffd")
        sent_word = cache[token]
        if sent_word:
            ws, wt = _words(sent_word), _words(token)
            _remove(lost, ws - wt)
            _remove(added, wt - ws)
