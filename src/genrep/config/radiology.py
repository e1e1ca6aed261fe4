"""The radiology contract (``contracts/radiology.yaml``): the HL7 v2 report over MLLP (message size,
version, character sets), the report-text conventions and how texts are compared, the accession
number, the read-back through the EHR's FHIR API and the acknowledgement codes.

Its own module, one per contract like ``access``, ``erx`` and ``referrals``; re-exported by
``genrep.config.contracts``. Errors name file, key and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genrep.config.contract_parts import load_contract, section
from genrep.errors import ConfigError
from genrep.yamlfile import require


#: ``read_back.examination``: the examination shown is OBR-4.2 as sent, or the EHR names it from its
#: own catalogue (``genrep.integrations.shown_fields``)
EXAMINATION_RULES = ("as_sent", "not_compared")


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
    read_back_examination: str  # as_sent | not_compared (genrep.integrations.shown_fields)
    stored_within_seconds: float
    poll_interval_seconds: float
    accepted_codes: tuple[str, ...]
    refused_codes: tuple[str, ...]

    def text_rules(self):
        from genrep.text.fidelity import TextRules
        try:
            return TextRules.from_mapping(dict(self.comparison))
        except ValueError as exc:
            raise ConfigError(str(exc), file=self.file, key="text.comparison") from None


def load_radiology(path: str | Path | None = None) -> RadiologyContract:
    path, d = load_contract(path, "radiology.yaml", contract="radiology", keys={"contract", "version", "title", "transport", "message", "text", "accession",
                       "read_back", "acknowledgement"},
                            not_a_mapping="a radiology contract is a YAML mapping (contract: radiology, ...)",
                            not_this_contract="not a radiology contract")
    transport = section(d, "transport", {"protocol", "max_message_bytes"})
    message = section(d, "message", {"hl7_version", "charset", "charsets_supported"})
    text = section(d, "text", {"conventions", "default_convention", "comparison"})
    acc = section(d, "accession", {"field", "max_length"})
    rb = section(d, "read_back", {"api", "search", "content_type", "stored_within_seconds",
                                  "poll_interval_seconds", "examination"})
    ack = section(d, "acknowledgement", {"accepted", "refused"})
    from genrep.hl7 import CHARSETS, CONVENTIONS
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
        read_back_examination=require(rb, "examination", str, where="read_back", default="as_sent",
                                      choices=EXAMINATION_RULES),
        stored_within_seconds=within,
        poll_interval_seconds=poll,
        accepted_codes=tuple(require(ack, "accepted", list, where="acknowledgement")),
        refused_codes=tuple(require(ack, "refused", list, where="acknowledgement")),
    )
    # validate the comparison keys now, naming the offending key and its line
    comparison = contract.comparison
    try:
        from genrep.text.fidelity import TextRules
        TextRules.from_mapping(dict(comparison))
    except ValueError as exc:
        bad = next((k for k in comparison if f"'{k}'" in str(exc)), None)
        raise ConfigError(str(exc), file=str(path), key=f"text.comparison.{bad}" if bad else "text.comparison",
                          line=(comparison.line_of(bad) if bad else text.line_of("comparison"))) from None
    return contract
