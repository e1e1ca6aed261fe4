"""Detectors for whole-text shapes, decided before any line is aligned: an empty stored text, a
truncated one (the stored text is a prefix of the sent text), a text that differs only in its
Unicode form, and the generic "first difference at line N" when nothing more specific applies.

Truncation is the commonest 2024 loss and often sits at a field limit, so it names the limit and
warns when characters and UTF-8 bytes were confused.
"""

from __future__ import annotations

import unicodedata

from genrep.text.fidelity._context import _Analysis
from genrep.text.fidelity._kinds import KINDS
from genrep.text.fidelity._result import Finding
from genrep.text.fidelity._text import _common_prefix_len, _token_at
from genrep.text.fidelity._wording import _end, _plural, _q, _q_tail

_KNOWN_LIMITS = (200, 255, 256, 1000, 1024, 2000, 2048, 4000, 4096, 8000, 8192, 16383, 16384,
                 32767, 32768, 65535, 65536, 99999, 100000)


def _empty(an: _Analysis) -> Finding:
    n = len(an.s)
    msg = (f"Stored text is empty: the sent text had {n} characters "
           f"({_plural(len(an.a), 'line')}) and nothing of it was stored")
    return Finding("empty", KINDS["empty"], _end(msg),
                   {"sent_length": n, "sent_lines": len(an.a), "stored_length": 0})


def _truncation(an: _Analysis) -> Finding | None:
    s, t = an.s, an.t
    if not t or len(t) > len(s):
        return None
    k = _common_prefix_len(s, t)
    if k < len(t):
        # A cut inside a character plus combining marks (e.g. "a" + ring, or Hangul jamo)
        # changes the composed last character: compare decomposed forms.
        if len(t) - k > 4:
            return None
        ds = unicodedata.normalize("NFD", s[k - 8 if k > 8 else 0:])
        dt = unicodedata.normalize("NFD", t[k - 8 if k > 8 else 0:])
        p = _common_prefix_len(ds, dt)
        if len(dt) >= len(ds) or any(unicodedata.combining(c) == 0 for c in dt[p:]):
            return None
    elif len(t) == len(s):
        return None
    at, total = len(t), len(s)
    lost = total - at
    n_t = len(an.b)
    partial = n_t - 1 < len(an.a) and an.b[-1] != an.a[n_t - 1]
    lost_lines = len(an.a) - n_t + (1 if partial else 0)
    mid_word = 0 < at < total and (s[at - 1].isalnum() and s[at].isalnum())
    msg = (f"Text truncated at character {at} of {total}: the last {lost} characters "
           f"({_plural(lost_lines, 'line')}) are missing; the stored text ends with "
           f"{_q_tail(t)}")
    if mid_word:
        word = _token_at(s, at - 1)
        msg += f" (cut in the middle of {_q(word)})"
    nbytes = len(t.encode("utf-8"))
    limit = next((lim for lim in _KNOWN_LIMITS
                  if lim - 3 <= nbytes <= lim or at == lim), None)
    if limit is not None:
        msg += (f"; {at} characters / {nbytes} UTF-8 bytes is at a typical field limit "
                f"({limit}), count characters, not bytes")
    details = {"at": at, "sent_length": total, "lost_characters": lost,
               "lost_lines": lost_lines, "mid_word": mid_word, "stored_utf8_bytes": nbytes,
               "sent_lines": len(an.a), "stored_lines": n_t, "suspected_limit": limit}
    return Finding("truncated", KINDS["truncated"], _end(msg), details)


def _unicode_form_finding(an: _Analysis, also: bool = False) -> Finding:
    def form(x: str) -> str:
        for f in ("NFC", "NFD"):
            if unicodedata.is_normalized(f, x):
                return f
        return "mixed"

    sent_form, stored_form = form(an.sent_raw), form(an.stored_raw)
    msg = (f"Same letters in a different Unicode form (sent {sent_form}, stored "
           f"{stored_form}; e.g. \"å\" as one character or as \"a\" plus a combining ring): "
           f"it reads the same, but exact comparison and search can fail")
    return Finding("unicode_normalisation", KINDS["unicode_normalisation"], _end(msg),
                   {"sent_form": sent_form, "stored_form": stored_form})


def _generic_change(an: _Analysis) -> Finding:
    for tag, i1, i2, j1, j2 in an.opcodes():
        if tag != "equal":
            sent_line = an.a[i1] if i1 < i2 else ""
            stored_line = an.b[j1] if j1 < j2 else ""
            msg = (f"The stored text differs from the sent text: first difference at sent line "
                   f"{i1 + 1}: {_q(sent_line)} -> {_q(stored_line)}")
            return Finding("changed_text", KINDS["changed_text"], _end(msg),
                           {"sent_lines": list(range(i1 + 1, i2 + 1)),
                            "stored_lines": list(range(j1 + 1, j2 + 1))})
    return Finding("changed_text", KINDS["changed_text"],
                   "The stored text differs from the sent text.", {})
