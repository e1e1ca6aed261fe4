"""The NLL contract (``contracts/nll.yaml``): what the EHR relies on from the national medication list
(NLL): the release and FHIR version it was written against, the profile, the headers, the accepted
line-break conventions and every element it pins (cardinality, type, length, relied on or not).

Its own module, one per contract like ``access``, ``erx`` and ``referrals``; re-exported by
``genrep.config.contracts``. Errors name file, key and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from genrep.config.contract_parts import load_contract
from genrep.errors import ConfigError
from genrep.yamlfile import Located, reject_unknown, require

LINE_BREAK_NAMES = {"\n": "LF", "\r\n": "CRLF", "\r": "CR"}
_LINE_BREAK_ALIASES = {"LF": "\n", "CRLF": "\r\n", "CR": "\r", "\\n": "\n", "\\r\\n": "\r\n", "\\r": "\r"}
_ELEMENT_PATH = re.compile(r"[A-Z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*(\[x\])?(:[A-Za-z0-9][A-Za-z0-9_-]*)?)*")


@dataclass(frozen=True)
class NLLElement:
    """One element the contract pins. ``path`` is the FHIR element id (``path:slice`` for a slice)."""

    path: str
    min: int
    max: str
    type: tuple[str, ...]
    max_length: int | None
    relied_on: bool
    line: int | None = None

    @property
    def max_count(self) -> float:
        return float("inf") if self.max == "*" else int(self.max)


@dataclass(frozen=True)
class NLLContract:
    file: str
    release: str
    fhir_version: str
    profile: str
    headers: tuple[str, ...]
    line_breaks: tuple[str, ...]          # accepted conventions, as the characters ("\n")
    line_break_elements: tuple[str, ...]  # element paths whose sample texts are checked
    modifier_extensions_understood: tuple[str, ...]
    elements: tuple[NLLElement, ...]

    def element(self, path: str) -> NLLElement | None:
        return next((e for e in self.elements if e.path == path), None)


def _nll_element(item, i: int, path: Path) -> NLLElement:
    where = f"elements[{i}]"
    if not isinstance(item, dict):
        raise ConfigError("each element must be a mapping", file=str(path), key=where)
    reject_unknown(item, {"path", "min", "max", "type", "maxLength", "relied_on"}, where=where)

    def bad(key: str, message: str):
        return ConfigError(message, file=str(path), key=f"{where}.{key}",
                           line=item.line_of(key) if isinstance(item, Located) else None)

    epath = require(item, "path", str, where=where)
    if not _ELEMENT_PATH.fullmatch(epath):
        raise bad("path", f"{epath!r} is not a FHIR element path (e.g. MedicationRequest.dosageInstruction.text)")
    mn = require(item, "min", int, where=where)
    if mn < 0:
        raise bad("min", f"must be 0 or more; got {mn}")
    mx = require(item, "max", (str, int), where=where)
    mx = str(mx)
    if not (mx == "*" or mx.isdigit()):
        raise bad("max", f'must be a number or "*"; got {mx!r}')
    if mx != "*" and int(mx) < mn:
        raise bad("max", f"max {mx} is less than min {mn}")
    types = require(item, "type", (list, str), where=where, default=[])
    types = [types] if isinstance(types, str) else types
    if not all(isinstance(t, str) and t for t in types):
        raise bad("type", "must be a list of FHIR type codes (e.g. [string])")
    max_length = require(item, "maxLength", int, where=where, default=None)
    if max_length is not None and max_length <= 0:
        raise bad("maxLength", f"must be a positive number of characters; got {max_length}")
    return NLLElement(path=epath, min=mn, max=mx, type=tuple(types), max_length=max_length,
                      relied_on=require(item, "relied_on", bool, where=where),
                      line=item.line_of("path") if isinstance(item, Located) else None)


def load_nll(path: str | Path | None = None) -> NLLContract:
    """Load ``contracts/nll.yaml`` (what the EHR relies on from NLL); errors name file, key, line."""
    path, d = load_contract(path, "nll.yaml", contract="nll",
                            keys={"contract", "version", "title", "release", "fhir_version", "profile", "headers",
                                  "line_breaks", "line_break_elements", "modifier_extensions_understood",
                                  "elements"},
                            not_a_mapping="expected a mapping at the top level",
                            not_this_contract="not an NLL contract")

    def bad(key: str, message: str):
        return ConfigError(message, file=str(path), key=key, line=d.line_of(key))

    release = require(d, "release", (str, int))
    release = str(release)
    if not release.strip():
        raise bad("release", "must name the NLL release the contract was written against")
    fhir_version = str(require(d, "fhir_version", (str, float, int), default="4.0.1"))
    if not fhir_version.startswith("4.0"):
        raise bad("fhir_version", f"NLL is FHIR R4 (4.0.x); got {fhir_version!r}")
    profile = require(d, "profile", str)
    if not profile.startswith(("http://", "https://")):
        raise bad("profile", f"must be the profile's canonical URL; got {profile!r}")
    headers = require(d, "headers", list)
    if not all(isinstance(h, str) and re.fullmatch(r"[A-Za-z0-9-]+", h) for h in headers):
        raise bad("headers", "must be a list of HTTP header names")
    breaks = require(d, "line_breaks", list)
    accepted: list[str] = []
    for b in breaks:
        b = _LINE_BREAK_ALIASES.get(b, b) if isinstance(b, str) else b
        if b not in LINE_BREAK_NAMES:
            raise bad("line_breaks", 'each must be "\\n", "\\r\\n" or "\\r" (or LF, CRLF, CR); got '
                      f"{b!r}")
        accepted.append(b)
    if not accepted:
        raise bad("line_breaks", "at least one accepted line-break convention is needed")
    checked = require(d, "line_break_elements", list, default=[])
    if not all(isinstance(p, str) and _ELEMENT_PATH.fullmatch(p) for p in checked):
        raise bad("line_break_elements", "must be a list of FHIR element paths")
    modifiers = require(d, "modifier_extensions_understood", list, default=[])
    if not all(isinstance(u, str) and u for u in modifiers):
        raise bad("modifier_extensions_understood", "must be a list of extension URLs")
    items = require(d, "elements", list)
    if not items:
        raise bad("elements", "the contract must pin at least one element")
    elements: list[NLLElement] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        el = _nll_element(item, i, path)
        if el.path in seen:
            raise ConfigError(f"element {el.path} appears twice (first as elements[{seen[el.path]}])",
                              file=str(path), key=f"elements[{i}].path", line=el.line)
        seen[el.path] = i
        elements.append(el)
    return NLLContract(file=str(path), release=release, fhir_version=fhir_version, profile=profile,
                       headers=tuple(h.lower() for h in headers), line_breaks=tuple(accepted),
                       line_break_elements=tuple(checked),
                       modifier_extensions_understood=tuple(modifiers), elements=tuple(elements))
