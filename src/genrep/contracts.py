"""Integration contracts and the requirement catalogue, loaded from ``contracts/`` (data, not code).

Each loader validates what it reads and fails with the file, key and line of the first problem:
a tester who mistypes ``stored_within_second`` must learn it at load time, not from a green run
that silently used a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .config import PROJECT_ROOT
from .errors import ConfigError
from .yamlfile import Located, load_yaml, reject_unknown, require

CONTRACTS_DIR = PROJECT_ROOT / "contracts"
SEVERITIES = ("critical", "high", "medium", "low")
TEST_TYPES = ("interface test", "functional test of requirements", "end-to-end patient journey",
              "performance", "regression")


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    integration: str
    test_type: str
    severity: str
    negative: bool
    criterion: str
    source: str


def load_catalogue(path: str | Path | None = None) -> dict[str, Requirement]:
    path = Path(path) if path else CONTRACTS_DIR / "requirements.yaml"
    data = load_yaml(path)
    reqs = require(data, "requirements", list)
    out: dict[str, Requirement] = {}
    for i, item in enumerate(reqs):
        where = f"requirements[{i}]"
        if not isinstance(item, dict):
            raise ConfigError("each requirement must be a mapping", file=str(path), key=where)
        reject_unknown(item, {f for f in Requirement.__dataclass_fields__}, where=where)
        rid = require(item, "id", str, where=where)
        if rid in out:
            raise ConfigError(f"duplicate requirement id {rid}", file=str(path), key=f"{where}.id",
                              line=item.line_of("id"))

        if not re.fullmatch(r"[A-Z][A-Z0-9]*-[A-Z0-9][A-Z0-9-]*", rid):
            raise ConfigError(f"requirement id {rid!r} must look like RAD-R01 (capitals, digits, '-')",
                              file=str(path), key=f"{where}.id", line=item.line_of("id"))
        out[rid] = Requirement(
            id=rid,
            title=require(item, "title", str, where=where),
            integration=require(item, "integration", str, where=where),
            test_type=require(item, "test_type", str, where=where, choices=TEST_TYPES),
            severity=require(item, "severity", str, where=where, choices=SEVERITIES),
            negative=require(item, "negative", bool, where=where, default=False),
            criterion=require(item, "criterion", str, where=where),
            source=require(item, "source", str, where=where, default=""),
        )
    return out


@dataclass(frozen=True)
class RadiologyContract:
    file: str
    max_message_bytes: int
    hl7_version: str
    charset: str
    charsets_supported: tuple[str, ...]
    conventions: tuple[str, ...]
    default_convention: str
    comparison: dict
    accession_field: str
    accession_max_length: int
    read_back_content_type: str
    stored_within_seconds: float
    poll_interval_seconds: float
    accepted_codes: tuple[str, ...]
    refused_codes: tuple[str, ...]

    def text_rules(self):
        from .fidelity import TextRules
        try:
            return TextRules.from_mapping(dict(self.comparison))
        except ValueError as exc:
            raise ConfigError(str(exc), file=self.file, key="text.comparison") from None


def _section(data: Located, key: str, allowed: set[str]) -> Located:
    sec = require(data, key, dict)
    reject_unknown(sec, allowed, where=key)
    return sec


def load_radiology(path: str | Path | None = None) -> RadiologyContract:
    path = Path(path) if path else CONTRACTS_DIR / "radiology.yaml"
    d = load_yaml(path)
    reject_unknown(d, {"contract", "version", "title", "transport", "message", "text", "accession",
                       "read_back", "acknowledgement"})
    if require(d, "contract", str) != "radiology":
        raise ConfigError("not a radiology contract", file=str(path), key="contract", line=d.line_of("contract"))
    transport = _section(d, "transport", {"protocol", "max_message_bytes"})
    message = _section(d, "message", {"hl7_version", "charset", "charsets_supported"})
    text = _section(d, "text", {"conventions", "default_convention", "comparison"})
    acc = _section(d, "accession", {"field", "max_length"})
    rb = _section(d, "read_back", {"api", "search", "content_type", "stored_within_seconds",
                                   "poll_interval_seconds"})
    ack = _section(d, "acknowledgement", {"accepted", "refused"})
    from .hl7 import CHARSETS, CONVENTIONS
    charset = require(message, "charset", str, where="message", choices=tuple(CHARSETS))
    conventions = tuple(require(text, "conventions", list, where="text"))
    for c in conventions:
        if c not in CONVENTIONS:
            raise ConfigError(f"unknown convention {c!r} (known: {', '.join(CONVENTIONS)})",
                              file=str(path), key="text.conventions", line=text.line_of("conventions"))
    within = require(rb, "stored_within_seconds", float, where="read_back")
    if not 0 < within <= 600:
        raise ConfigError("must be between 0 and 600 seconds", file=str(path),
                          key="read_back.stored_within_seconds", line=rb.line_of("stored_within_seconds"))
    poll = require(rb, "poll_interval_seconds", float, where="read_back", default=0.1)
    if not 0 < poll <= within:
        raise ConfigError(f"must be more than 0 and at most stored_within_seconds ({within}); got {poll}",
                          file=str(path), key="read_back.poll_interval_seconds",
                          line=rb.line_of("poll_interval_seconds"))
    for sec, sec_name, key in ((transport, "transport", "max_message_bytes"), (acc, "accession", "max_length")):
        if require(sec, key, int, where=sec_name) <= 0:
            raise ConfigError("must be a positive integer", file=str(path), key=f"{sec_name}.{key}",
                              line=sec.line_of(key))
    contract = RadiologyContract(
        file=str(path),
        max_message_bytes=require(transport, "max_message_bytes", int, where="transport"),
        hl7_version=str(require(message, "hl7_version", str, where="message")),
        charset=charset,
        charsets_supported=tuple(require(message, "charsets_supported", list, where="message")),
        conventions=conventions,
        default_convention=require(text, "default_convention", str, where="text", choices=conventions),
        comparison=require(text, "comparison", dict, where="text"),
        accession_field=require(acc, "field", str, where="accession", choices=("OBR-3", "OBR-18", "both")),
        accession_max_length=require(acc, "max_length", int, where="accession"),
        read_back_content_type=require(rb, "content_type", str, where="read_back"),
        stored_within_seconds=within,
        poll_interval_seconds=poll,
        accepted_codes=tuple(require(ack, "accepted", list, where="acknowledgement")),
        refused_codes=tuple(require(ack, "refused", list, where="acknowledgement")),
    )
    # validate the comparison keys now, naming the offending key and its line
    comparison = contract.comparison
    try:
        from .fidelity import TextRules
        TextRules.from_mapping(dict(comparison))
    except ValueError as exc:
        bad = next((k for k in comparison if f"'{k}'" in str(exc)), None)
        raise ConfigError(str(exc), file=str(path), key=f"text.comparison.{bad}" if bad else "text.comparison",
                          line=(comparison.line_of(bad) if bad else text.line_of("comparison"))) from None
    return contract
