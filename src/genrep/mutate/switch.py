"""What the mutation proxies share: the runtime switch, the loopback-only listener check and the
read size.

``Switch`` is the runtime switch shared by both proxies (``mutate.mllp_proxy``,
``mutate.http_proxy``): ``set(operator)`` makes one operator active (or none) for every connection
from then on, so one running environment serves all operators; it counts the messages an operator
applied to and changed, and keeps the first change as an example. With ``record`` it keeps every
message seen while no operator is active (for pre-screening operators on a clean run's traffic).

Split from ``mutate.proxy`` (issue 13), which re-exports ``Switch`` and ``Counts``.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field

from genrep.errors import ConfigError
from genrep.mutate.message import Message, change_example

__all__ = ["Counts", "Switch"]

RECV_SIZE = 65536
MAX_RECORDED_BYTES = 64 * 1024 * 1024


def _loopback(host: str) -> None:
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"a mutation proxy listens on loopback only, not on {host!r}")


# -- the switch ----------------------------------------------------------------------------------

@dataclass
class Counts:
    seen: int = 0       # messages on the operator's channel
    applied: int = 0    # ... that it applied to and changed
    errors: int = 0     # ... where it raised (the message was passed on unchanged)
    example: str = ""   # the first change, as a diff (not masked: the caller masks)
    error: str = ""


@dataclass
class Switch:
    """Which operator is active, and what it did. Thread-safe; ``record`` keeps every message seen
    while no operator is active (for pre-screening operators on a clean run's traffic)."""

    operator: object = None
    counts: Counts = field(default_factory=Counts)
    record: bool = False
    recorded: list[Message] = field(default_factory=list)
    _recorded_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, operator, *, record: bool = False) -> None:
        with self._lock:
            self.operator = operator
            self.counts = Counts()
            self.record = record
            if record:
                self.recorded, self._recorded_bytes = [], 0

    def process(self, message: Message) -> Message:
        with self._lock:
            op, counts = self.operator, self.counts
            if op is None:
                if self.record and self._recorded_bytes + len(message.data) <= MAX_RECORDED_BYTES:
                    self.recorded.append(message)
                    self._recorded_bytes += len(message.data)
                return message
            if op.channel != message.channel:
                return message
            counts.seen += 1
        try:
            out = op.apply(message) if op.applies(message) else message
        except Exception as exc:  # noqa: BLE001 - a broken operator must never break the traffic
            with self._lock:
                counts.errors += 1
                counts.error = counts.error or f"{type(exc).__name__}: {exc}"
            return message
        if out.same_as(message):
            return message
        with self._lock:
            counts.applied += 1
            if not counts.example:
                counts.example = change_example(message, out)
        return out
