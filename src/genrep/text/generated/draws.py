"""Cheap draws for the composite strategies: strategies built once, and several choices in one draw.

A report text takes a hundred-odd draws, and each costs Hypothesis tens of microseconds; building the
strategy for it inside the composite (``draw(st.sampled_from(items))``, ``draw(st.integers(0, n))``)
costs about twice that again. So the strategies here are built once per distinct bound
(:func:`between`, :func:`index_lists`, :func:`permutations`); a text's independent "one in k"
choices (which optional features it has, which line ending each line gets) are drawn together as
one fixed-size ``binary`` choice whose bytes are read as those choices (:func:`chances`); a choice
of a group followed by a choice within it (a negation word, then one of its phrases) is one pick
from a table where each item is repeated as often as its probability asks (:func:`table`); and
:func:`picks` draws several independent picks at once.

Distributions. :func:`pick` draws the index ``sampled_from`` would (``draw_integer(0, n - 1)``).
Hypothesis draws such an index uniformly up to 256, apart from a few percent extra for the first
item (its simplest value), but favours small indices beyond that (over 2,520 items, a third of the
draws land in the first tenth). A table must keep its items' proportions, so :func:`pick` takes an
index into more than :data:`UNIFORM_UP_TO` items, and :func:`picks` every index, from uniform random
bytes instead (modulo bias under 0.4 %). A byte ``% 4`` (or ``% 2``) is exactly uniform, ``% 3`` and
``% 5`` within half a percent. Shrinking still works: an index shrinks to the first item (a table
keeps the groups' order), a byte towards 0, the end an integer shrinks to, so "one in four" is
``b % 4 == 0`` as ``draw(st.integers(0, 3)) == 0`` was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from math import gcd, lcm
from typing import Any, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")
Draw = Callable[[st.SearchStrategy[Any]], Any]

BOOLEANS = st.booleans()
#: the most items :func:`pick` leaves to Hypothesis's own (near uniform) index
UNIFORM_UP_TO = 256
_INDEX_BYTES = 4  # for an index below 2**24: modulo bias at most 2**24 / 2**32


@lru_cache(maxsize=4096)
def between(low: int, high: int) -> st.SearchStrategy[int]:
    """``st.integers(low, high)``, built once."""
    return st.integers(low, high)


def integer(draw: Draw, low: int, high: int) -> int:
    return draw(between(low, high))


@lru_cache(maxsize=4096)
def _index(n: int) -> st.SearchStrategy[int]:
    return st.sampled_from(range(n))


def _uniform_index(draw: Draw, n: int) -> int:
    assert n <= 2**24, n
    return int.from_bytes(draw(_bytes(_INDEX_BYTES)), "big") % n


def pick(draw: Draw, items: Sequence[T]) -> T:
    """One of ``items``: as ``st.sampled_from(items)`` draws it (an index, shrinking to the first),
    or, past :data:`UNIFORM_UP_TO` items, uniformly."""
    n = len(items)
    return items[draw(_index(n)) if n <= UNIFORM_UP_TO else _uniform_index(draw, n)]


def picks(draw: Draw, items: Sequence[T], k: int) -> list[T]:
    """``k`` independent uniform picks of ``items`` in one draw (``len(items) ** k`` at most 2**24)."""
    n = len(items)
    code, out = _uniform_index(draw, n**k), []
    for _ in range(k):
        code, digit = divmod(code, n)
        out.append(items[digit])
    return out[::-1]


def table(groups: Sequence[Sequence[T]], weights: Sequence[int] | None = None) -> tuple[T, ...]:
    """The items of ``groups`` for one :func:`pick` that chooses as "a group (uniformly, or in
    proportion to the integer ``weights``), then an item of it uniformly" does: each item repeated
    in proportion to its probability, in the groups' order."""
    weights = [1] * len(groups) if weights is None else list(weights)
    if len(weights) != len(groups) or not all(groups) or min(weights) < 1:
        raise ValueError("a weighted table needs one positive weight per non-empty group")
    per_group = lcm(*(len(g) // gcd(len(g), w) for g, w in zip(groups, weights)))
    return tuple(item for g, w in zip(groups, weights) for item in g for _ in range(per_group * w // len(g)))


def coin(draw: Draw) -> bool:
    return draw(BOOLEANS)


@lru_cache(maxsize=256)
def _bytes(n: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=n, max_size=n)


def chances(draw: Draw, n: int) -> bytes:
    """``n`` independent uniform bytes in one draw (read ``b % k`` as a choice among ``k``)."""
    return draw(_bytes(n)) if n > 0 else b""


@lru_cache(maxsize=4096)
def index_lists(n: int, max_size: int) -> st.SearchStrategy[list[int]]:
    """``st.lists(st.sampled_from(range(n)), max_size=max_size)``, built once: indices into a sequence."""
    return st.lists(_index(n), max_size=max_size)


@lru_cache(maxsize=256)
def index_sets(low: int, high: int, min_size: int, max_size: int) -> st.SearchStrategy[frozenset[int]]:
    return st.frozensets(between(low, high), min_size=min_size, max_size=max_size)


@lru_cache(maxsize=256)
def permutations(n: int) -> st.SearchStrategy[list[int]]:
    return st.permutations(range(n))
