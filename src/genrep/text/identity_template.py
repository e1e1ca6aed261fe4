"""A message template vetted once, and the messages filled in from it vetted per message by their
values alone: the identity guard's fast path for the load users (issue 18).

A load user sends thousands of 9.7 KB ORUs a second that differ only in a few ids (control id,
accession) filled into a per-second template. Scanning each whole message in every decoded view
cost most of a user's time; ``VettedTemplate`` scans the template once and each message's values,
and **proves** that this decides as the whole scan would. Anything outside the proof's
preconditions is scanned in full (``IdentityGuard.check``), which also names where a refused number
sat. Every message is still vetted; the run's refusal latch is consulted on every fill.

The rule, and why it is exact
-----------------------------
The template is pieces ``P0 .. Pn`` around ``n`` slots; ``T = P0 P1 .. Pn`` (every slot empty) and
a message is ``C = P0 v1 P1 .. vn Pn``. The guard decodes bytes as UTF-8 (Latin-1 when that fails)
and scans, in each view (``identity_scan.views``: as written, then each ``decode_once`` layer),
every ``SHAPE`` match found by ``find_shapes``. Preconditions (checked):

1. every piece is strict UTF-8 and every value is ASCII letters and digits (``bytes.isalnum``),
   so ``C`` decodes to the concatenation of the decoded pieces and values;
2. each slot is bounded, on both sides, by a character of ``HARD`` (``|``, ``^``, CR), in *every*
   decoding layer of ``T`` (tracked through ``decode_once``'s spans), i.e. the boundary characters
   are never consumed by an escape nor folded into something else (CR folds to a space when a
   layer folds: then this check fails and the template is not used);
3. every number in every layer of ``T`` (all ``MAX_LAYERS`` layers, not only those the guard would
   take) is on the allowlist (no HL7 timestamp exemption is relied on), and every number a value
   holds is (a value has no escape, so its only view is as written). A 10-digit number's century
   follows today's date, so (3) holds for the day the template was vetted on: a fill on another day
   is scanned whole.

Claim: then every layer ``k`` of ``C`` is ``T``'s layer ``k`` with each value between its two
boundary characters, and its ``SHAPE`` matches are ``T``'s plus each value's. By induction on ``k``:

* Layer 0 is the claim's form by (1). The boundary characters are not ``[0-9]``, not a separator of
  ``SHAPE`` (``-``, ``+``, space) and map to ``x`` in ``find_shapes``' run table, so no match or
  digit run crosses them and a match's lookbehind/lookahead sees a non-digit there both in ``T``
  (where the two boundaries touch) and in ``C``: the matches of ``C`` are ``T``'s plus the value's.
* Decoding (``decode_once``): an escape (``_ATOM``) starts only at ``\\``, ``%``, ``&`` or a
  zero-width character, never in a value (letters, digits) nor at a boundary. No alternative but
  the HL7 ``\\Z..\\`` escape can contain ``|``, ``^`` or CR, and ``\\Z`` excludes CR. An escape in
  ``T`` covering a boundary fails check (2). An escape starting before a slot that in ``T`` stops
  before the left boundary matches identically in ``C`` (the text up to there is the same); one
  that fails in ``T`` fails in ``C`` too: the non-``Z`` alternatives cannot pass a boundary, and a
  ``\\Z`` fails in ``T`` at CR, at the end or past 32 characters, and ``C`` only adds letters and
  digits before the first following backslash. ``_ATOM`` has no lookbehind, so escapes after a slot
  match alike. So the escapes of ``C`` are ``T``'s, the values and boundaries pass through unchanged,
  and folding (one character to one; applied when the joined text is not Latin-1 or holds NBSP,
  which ASCII values do not change) leaves ASCII letters and digits as they are. Whether a layer
  changed anything, the guard's stop, is the same for ``T`` and ``C``.
* So ``C`` has a layer ``k`` only where ``T`` has one (``needs_decoding`` may end ``C``'s views
  earlier, never later than ``decode_once`` does), and the guard's numbers for ``C`` are a subset of
  ``T``'s numbers over all layers plus the values' numbers: all allowlisted by (3), so the guard
  passes ``C``. When a precondition fails, the guard itself decides.

The composed message is registered as vetted (``identities._remember_vetted``) so the transport's
``guard_outbound`` does not scan the same bytes object again.
"""

from __future__ import annotations

from collections.abc import Sequence
import time
from datetime import date, datetime, timedelta

from genrep.text.identities import IdentityGuard, _remember_vetted, stop_if_refused
from genrep.text.identity_scan import MAX_LAYERS, decode_once, numbers_of

__all__ = ["HARD", "VettedTemplate"]

#: characters that bound a slot: never a digit or ``SHAPE`` separator, never inside an escape but
#: ``\\Z..\\`` (and CR not even there); CR folds to a space, which check (2) catches
HARD = frozenset("|^\r")
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_TEN = b"0" * 10  # the shortest SHAPE with no separator (values have none) holds ten digits in a row


class VettedTemplate:
    """A template (``pieces`` around ``len(pieces) - 1`` slots) for ``guard``; ``fill`` composes and
    vets one message. ``eligible`` says whether the fast rule applies (``why_not`` otherwise: then
    every ``fill`` is the guard's full check)."""

    def __init__(self, guard: IdentityGuard, pieces: Sequence[bytes]):
        self.guard = guard
        self.pieces = [bytes(p) for p in pieces]
        self._layout: list = [None] * (2 * len(self.pieces) - 1)  # pieces and slots in turn (fill)
        self._layout[::2] = self.pieces
        self.slots = len(self.pieces) - 1
        allowed = guard.allowlist._numbers
        self._allowed = frozenset(allowed)
        # a 10-digit number's century follows today's date (identity_scan.full_date): the vetting holds
        # for the day it was made on, and a fill on another day is scanned whole
        self._day = date.today()
        # the day's first instant and the next day's, as epochs: ``_day_starts <= time.time() <
        # _day_ends`` is "still the day it was vetted on" (also after the clock is set back) for one
        # clock read (``date.today()`` per fill cost a Locust user ~2 us, genrep bench load,
        # session 13)
        self._day_starts = datetime.combine(self._day, datetime.min.time()).timestamp()
        self._day_ends = datetime.combine(self._day + timedelta(days=1), datetime.min.time()).timestamp()
        self.why_not = self._vet()
        self.eligible = self.why_not == ""
        self.fast = 0  # fills decided by the template rule (diagnostics, tests)

    def _vet(self) -> str:
        """"" when the template meets preconditions (2) and (3) and its pieces are UTF-8; else why not."""
        if self.slots < 1:
            return "no slots"
        texts = []
        for piece in self.pieces:
            try:
                texts.append(piece.decode("utf-8"))
            except UnicodeDecodeError:
                return "a piece is not UTF-8"
        # the two boundary characters of each slot, as indices of T
        bounds, pos = [], 0
        for k, text in enumerate(texts[:-1]):
            pos += len(text)
            if not text or not texts[k + 1]:
                return f"slot {k + 1} has no character on one side"
            bounds.append((pos - 1, pos))
        current = "".join(texts)
        starts: list[int] | None = None
        ends: list[int] | None = None
        for layer in range(MAX_LAYERS + 1):
            for k, (left, right) in enumerate(bounds):
                if starts is None:
                    a, b = left, right
                else:
                    a = _index_of(starts, ends, left)
                    b = a + 1
                    if a < 0 or b >= len(starts) or starts[b] != right or ends[b] != right + 1:
                        return f"slot {k + 1}'s boundary is consumed in decoding layer {layer}"
                if current[a] not in HARD or current[b] not in HARD:
                    return f"slot {k + 1} is not bounded by | ^ or CR in layer {layer}"
            refused = numbers_of(current) - self._allowed
            if refused:
                return f"the template holds a number not on the allowlist (layer {layer})"
            if layer == MAX_LAYERS:
                break
            nxt = decode_once(current, starts, ends, track=True)
            if nxt is None:
                break
            current, starts, ends = nxt.text, nxt.starts, nxt.ends
        return ""

    def fill(self, values: Sequence[bytes], *, destination: str = "") -> bytes:
        """The message with ``values`` in the slots (in order), vetted: by the template rule when
        its preconditions hold, by ``IdentityGuard.check`` otherwise (which raises
        ``IdentityViolation`` naming where a refused number sat). The run's refusal latch is
        consulted first, always."""
        stop_if_refused()
        if len(values) != self.slots:
            raise ValueError(f"the template has {self.slots} slots, got {len(values)} values")
        out = self._layout.copy()  # the pieces at the even places, the values put in between
        out[1::2] = values         # taken once: what is checked below is what the message holds
        plain = self.eligible
        if plain:
            last = None  # a value in two slots in a row (the load ORU's accession) is looked at once
            for value in out[1::2]:
                if value is not last and not (
                        type(value) is bytes and value.isalnum()
                        and (_TEN not in value.translate(_DIGITS) or numbers_of(value.decode()) <= self._allowed)):
                    plain = False
                    break
                last = value
        payload = b"".join(out)
        allowed = self.guard.allowlist._numbers
        if plain and allowed == self._allowed and self._day_starts <= time.time() < self._day_ends:
            self.fast += 1
            self.guard.checked += 1  # vetted (by its values), as a scan would count it
            _remember_vetted(payload, allowed)
            return payload
        self.guard.check(payload, destination=destination)
        return payload


def _index_of(starts: list[int], ends: list[int], original: int) -> int:
    """The index of the layer character that is exactly the original character ``original``
    (not part of an escape's output), or -1."""
    from bisect import bisect_left
    i = bisect_left(starts, original)
    while i < len(starts) and starts[i] == original:
        if ends[i] == original + 1:
            return i
        i += 1
    return -1
