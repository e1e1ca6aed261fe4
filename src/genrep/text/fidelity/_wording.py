"""How findings read: quoting text for a tester (shortened, invisible whitespace made visible),
plurals, line-number ranges, the closing full stop.

Every message a detector writes goes through these, so all findings quote text the same way; the
exact wording is part of the interface (tests and the selftest read the messages).
"""

from __future__ import annotations

from genrep.text.fidelity._text import _C1

_QUOTE_WIDTH = 80


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _visible(text: str) -> str:
    """Make invisible whitespace visible for a tester."""
    text = text.replace("\t", "<TAB>").replace("\u00a0", "<NBSP>").replace("\u00ad", "<SHY>")
    return _C1.sub(lambda m: "<U+%04X>" % ord(m.group()), text)


def _q(text: str, width: int = _QUOTE_WIDTH) -> str:
    """Quote ``text`` for a message, shortened to about ``width`` characters."""
    if text == "":
        return "(blank line)"
    text = _visible(text).replace("\n", " / ")
    if len(text) > width:
        text = text[: width - 3] + "..."
    return f'"{text}"'


def _q_tail(text: str, width: int = 60) -> str:
    text = _visible(text).replace("\n", " / ")
    if len(text) > width:
        text = "..." + text[-(width - 3):]
    return f'"{text}"'


def _end(msg: str) -> str:
    return msg if msg.endswith((".", "...")) else msg + "."


def _line_list(numbers: list[int], limit: int = 10) -> str:
    """'3, 5-7, 9' for a sorted list of line numbers."""
    ranges: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:] + [None]:  # type: ignore[list-item]
        if n is not None and n == prev + 1:
            prev = n
            continue
        ranges.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    text = ", ".join(ranges[:limit])
    return text + (", ..." if len(ranges) > limit else "")
