"""The one small interface every corruption operator has (Toxiproxy style: a named toxic on a
direction of a link, here on a channel of the proxies).

An operator says what it changes in words (``changes``), which channel it works on (``channel``:
``mllp-inbound`` HL7 from the RIS/registration to the EHR, ``http-response`` what the EHR's FHIR
API answers, or one of the EHR's own outbound paths: ``nll-response`` what NLL answers the EHR,
``multum-response`` / ``multum-request`` the EHR's interaction checks), which messages (``targets``:
HL7 message types, FHIR resource kinds, or the Multum API's resource), and which
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
from genrep.mutate.message import HTTP_RESPONSE, MLLP_INBOUND, MULTUM_RESPONSE, NLL_RESPONSE, Message


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


def api_kind(message: Message) -> str:
    """The last segment of a non-FHIR API path ("/interactions" -> "interactions")."""
    parts = [p for p in message.path.split("?", 1)[0].split("/") if p]
    return parts[-1] if parts else ""


class JsonOperator(Operator):
    """An operator on a FHIR JSON response body: ``edit(obj, rng) -> bool`` changes it in place."""

    channel = HTTP_RESPONSE
    targets = ("DiagnosticReport",)

    def edit(self, obj, rng: random.Random) -> bool:
        raise NotImplementedError

    def kind(self, message: Message) -> str:
        """What the message holds, to match ``targets`` (the FHIR resource kind of its path)."""
        return fhir_kind(message)

    def _new(self, message: Message) -> bytes | None:
        if (message.channel != self.channel or not message.is_json or self.kind(message) not in self.targets
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


# -- the EHR's outbound paths ----------------------------------------------------------------------

class NLLOperator(JsonOperator):
    """An operator on what NLL answers the EHR (``nll-response``): the patient's MedicationRequest
    searchset; ``edit(obj, rng)`` changes it in place (the harness reads NLL itself, unproxied)."""

    channel = NLL_RESPONSE
    targets = ("MedicationRequest",)
    integration = "medication_list"


class NLLTextOperator(NLLOperator):
    """An operator on each text of NLL's MedicationRequests (``medication_texts``): ``change(text,
    rng) -> text``; ``keys`` limits it to some of them (e.g. ``("patientInstruction",)``)."""

    keys: ClassVar[tuple[str, ...]] = ()

    def change(self, text: str, rng: random.Random) -> str:
        raise NotImplementedError

    def edit(self, obj, rng) -> bool:
        changed = False
        for res in resources(obj, "MedicationRequest"):
            for holder, key in medication_texts(res):
                if self.keys and key not in self.keys:
                    continue
                new = self.change(holder[key], rng)
                if new != holder[key]:
                    holder[key] = new
                    changed = True
        return changed


class MultumOperator(JsonOperator):
    """An operator on the interaction check the Multum load balancer answers the EHR
    (``multum-response``, ``POST /interactions``): ``{"server", "content_version", "checks":
    {"drug-drug": {"status", "interactions": [...]}, "duplication": {...}}}``."""

    channel = MULTUM_RESPONSE
    targets = ("interactions",)
    integration = "multum"

    def kind(self, message: Message) -> str:
        return api_kind(message)


def multum_checks(obj) -> dict:
    """The ``checks`` of a Multum answer ({} when there are none)."""
    checks = obj.get("checks") if isinstance(obj, dict) else None
    return checks if isinstance(checks, dict) else {}


def multum_interactions(obj) -> list[dict]:
    """The interactions of a Multum answer's drug-drug check (each a dict; [] when there are none)."""
    check = multum_checks(obj).get("drug-drug")
    hits = check.get("interactions") if isinstance(check, dict) else None
    return [h for h in hits if isinstance(h, dict)] if isinstance(hits, list) else []


class FailureOperator(Operator):
    """An operator that answers a failed call as a success (``replace(message) -> (body, content
    type)`` when the upstream answered ``>= 400`` or a body that is not the JSON it should be)."""

    def failed(self, message: Message) -> bool:
        if message.status >= 400:
            return True
        try:
            json.loads(message.data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return True
        return not message.is_json

    def kind(self, message: Message) -> str:
        return fhir_kind(message)

    def replace(self, message: Message) -> tuple[dict, str]:
        raise NotImplementedError

    def applies(self, message: Message) -> bool:
        return message.channel == self.channel and self.kind(message) in self.targets and self.failed(message)

    def apply(self, message: Message) -> Message:
        if not self.applies(message):
            return message
        body, content_type = self.replace(message)
        return message.with_data(json.dumps(body, ensure_ascii=False).encode("utf-8"), status=200,
                                 content_type=content_type)


class CutOperator(Operator):
    """The body of a successful JSON answer cut in half (a connection that drops mid-answer, a
    buffer flushed too early): the receiver must notice it cannot read it."""

    effect = "refusal"

    def kind(self, message: Message) -> str:
        return fhir_kind(message)

    def applies(self, message: Message) -> bool:
        return (message.channel == self.channel and message.is_json and message.status < 400
                and self.kind(message) in self.targets and len(message.data) >= 2)

    def apply(self, message: Message) -> Message:
        if not self.applies(message):
            return message
        return message.with_data(message.data[:len(message.data) // 2])


ADMIN_EXTENSION = "http://electronichealth.se/fhir/StructureDefinition/NLLAdministrationInstruction"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def medication_texts(res: dict) -> list[tuple[dict, str]]:
    """(holder, key) of each text a clinician reads in a MedicationRequest as NLL serves it (both
    releases): the patient instruction and dosage text of each Dosage, its administration
    instruction (``additionalInstruction[].text`` in release N, an extension's ``valueString`` in
    N+1) and each note."""
    out: list[tuple[dict, str]] = []
    for dosage in res.get("dosageInstruction") or []:
        if not isinstance(dosage, dict):
            continue
        out += [(dosage, key) for key in ("patientInstruction", "text") if isinstance(dosage.get(key), str)]
        out += [(a, "text") for a in dosage.get("additionalInstruction") or []
                if isinstance(a, dict) and isinstance(a.get("text"), str)]
        out += [(e, "valueString") for e in dosage.get("extension") or []
                if isinstance(e, dict) and e.get("url") == ADMIN_EXTENSION and isinstance(e.get("valueString"), str)]
    out += [(n, "text") for n in res.get("note") or [] if isinstance(n, dict) and isinstance(n.get("text"), str)]
    return out


LINE_BREAK = re.compile(r"\r\n|\r|\n")


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


def cut_strings(holders, limit: int) -> bool:
    """Each ``(holder, key)`` whose value is a string longer than ``limit`` cut to ``limit`` characters
    (a holder that is not a dict is skipped); True when one was cut."""
    changed = False
    for holder, key in holders:
        if isinstance(holder, dict) and isinstance(holder.get(key), str) and len(holder[key]) > limit:
            holder[key] = holder[key][:limit]
            changed = True
    return changed


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
