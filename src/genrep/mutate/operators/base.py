"""The one small interface every corruption operator has (Toxiproxy style: a named toxic on a
direction of a link, here on a channel of the proxies).

An operator says what it changes in words (``changes``), which channel it works on (``channel``:
``mllp-inbound`` HL7 from the RIS/registration to the EHR, or ``http-response`` what the EHR's FHIR
API answers), which messages (``targets``: HL7 message types, or FHIR resource kinds), and which
integration it corrupts (``integration``: the mutation score is per integration). ``effect`` is
``silent`` (the message stays parseable and the receiver stores the corrupted content: the point is
silent loss) or ``refusal`` (the receiver is expected to refuse it: counted separately).

``applies(message)`` is cheap and true only where ``apply`` can change something; ``apply`` returns
a new message (the same object when nothing changed). Both are deterministic: a choice an operator
makes (which line, which repetition) comes from ``rng(message)``, seeded by the operator's seed, its
name and the message's bytes, so the same message always gets the same corruption (a resent
message stays a duplicate).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import ClassVar

from genrep.mutate.hl7view import HL7View, edit_text
from genrep.mutate.message import HTTP_RESPONSE, MLLP_INBOUND, Message


class Operator:
    name: ClassVar[str] = ""
    changes: ClassVar[str] = ""
    channel: ClassVar[str] = MLLP_INBOUND
    targets: ClassVar[tuple[str, ...]] = ("ORU",)
    integration: ClassVar[str] = "radiology"
    effect: ClassVar[str] = "silent"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, seed={self.seed})"

    def rng(self, message: Message) -> random.Random:
        digest = hashlib.sha256(message.data).hexdigest()
        return random.Random(f"{self.seed}|{self.name}|{digest}")

    def applies(self, message: Message) -> bool:
        raise NotImplementedError

    def apply(self, message: Message) -> Message:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "changes": self.changes, "channel": self.channel,
                "targets": list(self.targets), "integration": self.integration, "effect": self.effect}


def hl7_type(message: Message) -> str:
    """MSH-9.1 of an inbound HL7 message ("" when it is not one)."""
    data = message.data
    if not data.startswith(b"MSH"):
        return ""
    end = min((i for i in (data.find(b"\r"), data.find(b"\n")) if i >= 0), default=len(data))
    fields = data[:end].split(data[3:4])
    return fields[8].split(b"^", 1)[0].decode("latin-1") if len(fields) > 8 else ""


class TextOperator(Operator):
    """An operator on the report text of an inbound HL7 message, line by line.

    Subclasses implement ``change(lines, rng) -> lines`` (return the list unchanged when there is
    nothing to do); ``applies`` is true when the change would change something."""

    channel = MLLP_INBOUND
    targets = ("ORU",)

    def change(self, lines: list[str], rng: random.Random) -> list[str]:
        raise NotImplementedError

    def _new(self, message: Message) -> bytes | None:
        if message.channel != self.channel or hl7_type(message) not in self.targets:
            return None
        rng = self.rng(message)
        return edit_text(message.data, lambda lines: self.change(lines, rng), types=self.targets)

    def applies(self, message: Message) -> bool:
        return self._new(message) is not None

    def apply(self, message: Message) -> Message:
        new = self._new(message)
        return message if new is None else message.with_data(new)


class SegmentOperator(Operator):
    """An operator on the segments of an inbound HL7 message (``edit(view, rng) -> bool``)."""

    channel = MLLP_INBOUND
    targets = ("ORU",)

    def edit(self, view: HL7View, rng: random.Random) -> bool:
        raise NotImplementedError

    def _new(self, message: Message) -> bytes | None:
        if message.channel != self.channel or hl7_type(message) not in self.targets:
            return None
        view = HL7View.open(message.data)
        if view is None or view.message_type not in self.targets:
            return None
        if not self.edit(view, self.rng(message)):
            return None
        new = view.encode()
        return None if new == message.data else new

    def applies(self, message: Message) -> bool:
        return self._new(message) is not None

    def apply(self, message: Message) -> Message:
        new = self._new(message)
        return message if new is None else message.with_data(new)


# -- HTTP responses -------------------------------------------------------------------------------

_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]+")


def fhir_kind(message: Message) -> str:
    """What an HTTP response holds, from its path: "Binary", "DiagnosticReport", "Patient", ...
    (``.../Type`` or ``.../Type/id``)."""
    parts = [p for p in message.path.split("?", 1)[0].split("/") if p]
    for part in parts[-2:]:
        if _RESOURCE_TYPE.fullmatch(part):
            return part
    return ""


class JsonOperator(Operator):
    """An operator on a FHIR JSON response body: ``edit(obj, rng) -> bool`` changes it in place."""

    channel = HTTP_RESPONSE
    targets = ("DiagnosticReport",)

    def edit(self, obj, rng: random.Random) -> bool:
        raise NotImplementedError

    def _new(self, message: Message) -> bytes | None:
        if (message.channel != self.channel or not message.is_json or fhir_kind(message) not in self.targets
                or message.status >= 400):
            return None
        try:
            obj = json.loads(message.data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        if not self.edit(obj, self.rng(message)):
            return None
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def applies(self, message: Message) -> bool:
        return self._new(message) is not None

    def apply(self, message: Message) -> Message:
        new = self._new(message)
        return message if new is None else message.with_data(new)


class BinaryTextOperator(Operator):
    """An operator on a Binary served as text (what the harness reads a report back from):
    ``change(text, rng) -> text``."""

    channel = HTTP_RESPONSE
    targets = ("Binary",)

    def change(self, text: str, rng: random.Random) -> str:
        raise NotImplementedError

    def _new(self, message: Message) -> bytes | None:
        if (message.channel != self.channel or not message.is_text or fhir_kind(message) not in self.targets
                or message.status >= 400):
            return None
        try:
            text = message.data.decode(message.charset)
        except (UnicodeDecodeError, LookupError):
            return None
        new = self.change(text, self.rng(message))
        if new == text:
            return None
        try:
            return new.encode(message.charset)
        except UnicodeEncodeError:
            return None

    def applies(self, message: Message) -> bool:
        return self._new(message) is not None

    def apply(self, message: Message) -> Message:
        new = self._new(message)
        return message if new is None else message.with_data(new)


def walk(obj):
    """Every dict inside a JSON value (depth first, the value itself first)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def resources(obj, kind: str):
    """The FHIR resources of ``kind`` in a response (the resource itself or a Bundle's entries)."""
    return [d for d in walk(obj) if d.get("resourceType") == kind]


NEGATION = re.compile(r"\b(ingen|inga|inget|ej|inte|icke)\b\s*", re.IGNORECASE)


def drop_first_negation(text: str) -> str:
    """``text`` without its first Swedish negation word ("Ingen fraktur." -> "Fraktur.")."""
    m = NEGATION.search(text)
    if m is None:
        return text
    rest = text[m.end():]
    if m.group(1)[:1].isupper() and rest[:1].islower():
        rest = rest[:1].upper() + rest[1:]
    return text[:m.start()] + rest
