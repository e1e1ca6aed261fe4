"""Small text primitives every detector shares: words, whitespace-free text, line counts, common
prefixes, combining marks, the token around a position, multiset arithmetic on word counts.

Pure functions on ``str`` with no notion of "sent" or "stored", so the detectors agree on what a
word or a line is.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[\w\u0300-\u036f]+")
_C1 = re.compile("[\u0080-\u009f]")  # C1 control characters: invisible, and a sign of mojibake


def _count_lines(text: str) -> int:
    return 0 if text == "" else text.count("\n") + 1


def _nows(text: str) -> str:
    return _WS.sub("", text)


def _words(text: str) -> Counter[str]:
    return Counter(_WORD.findall(text))


def _common_prefix_len(x: str, y: str) -> int:
    lo, hi = 0, min(len(x), len(y))
    if x[:hi] == y[:hi]:
        return hi
    while lo < hi:  # invariant: x[:lo] == y[:lo], x[:hi+1] != y[:hi+1] somewhere
        mid = (lo + hi + 1) // 2
        if x[:mid] == y[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _base_and_marks(word: str) -> tuple[str, int]:
    d = unicodedata.normalize("NFD", word)
    base = "".join(c for c in d if not unicodedata.combining(c))
    return base, len(d) - len(base)


def _count_marks(text: str) -> int:
    return sum(1 for c in unicodedata.normalize("NFD", text) if "\u0300" <= c <= "\u036f")


def _token_at(text: str, pos: int) -> str:
    start = pos
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def _remove(counter: Counter[str], items: Counter[str]) -> None:
    """In-place multiset difference, never below zero."""
    for key, n in items.items():
        if counter.get(key, 0) > 0:
            left = counter[key] - n
            if left > 0:
                counter[key] = left
            else:
                del counter[key]
