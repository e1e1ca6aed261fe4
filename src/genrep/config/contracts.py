"""Integration contracts and the requirement catalogue, loaded from ``contracts/`` (data, not code).

Each loader validates what it reads and fails with the file, key and line of the first problem:
a tester who mistypes ``stored_within_second`` must learn it at load time, not from a green run
that silently used a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from genrep.paths import CONTRACTS_DIR
from genrep.errors import ConfigError
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

SEVERITIES = ("critical", "high", "medium", "low")
TEST_TYPES = ("interface test", "functional test of requirements", "end-to-end patient journey",
              "performance", "regression", "environment parity")
#: Test types of manual results (``genrep rehearse/gate --manual``, genrep.results.manual): a scope part
#: and the thresholds may name them; the requirement catalogue's own test types are TEST_TYPES.
MANUAL_TEST_TYPES = ("user acceptance test", "usability test", "peripherals test", "workstream verification")


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
        from genrep.text.fidelity import TextRules
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


# -- NLL ------------------------------------------------------------------------------------------

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
    path = Path(path) if path else CONTRACTS_DIR / "nll.yaml"
    d = load_yaml(path)
    if not isinstance(d, dict):
        raise ConfigError("expected a mapping at the top level", file=str(path))
    reject_unknown(d, {"contract", "version", "title", "release", "fhir_version", "profile", "headers",
                       "line_breaks", "line_break_elements", "modifier_extensions_understood", "elements"})
    if require(d, "contract", str) != "nll":
        raise ConfigError("not an NLL contract", file=str(path), key="contract", line=d.line_of("contract"))

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


@dataclass(frozen=True)
class MultumContract:
    file: str
    canary: tuple[str, str]
    max_failover_seconds: float
    max_failed_checks_during_failover: int
    max_false_no_interactions: int
    failback_after_healthy_probes: int
    probe_interval_seconds: float
    balance_tolerance: float
    check_latency_p95_ms: float
    peak_checks_per_second: float
    load_test_seconds: float


def load_multum(path: str | Path | None = None) -> MultumContract:
    path = Path(path) if path else CONTRACTS_DIR / "multum.yaml"
    d = load_yaml(path)
    reject_unknown(d, {"contract", "version", "title", "canary", "objectives"})
    if require(d, "contract", str) != "multum":
        raise ConfigError("not a Multum contract", file=str(path), key="contract", line=d.line_of("contract"))
    canary = require(d, "canary", list)
    if len(canary) != 2 or not all(isinstance(c, str) and c for c in canary):
        raise ConfigError("canary must be two drug names", file=str(path), key="canary", line=d.line_of("canary"))
    keys = {f for f in MultumContract.__dataclass_fields__} - {"file", "canary"}
    obj = _section(d, "objectives", keys)
    values = {}
    for key in sorted(keys):
        kind = int if key in ("max_failed_checks_during_failover", "max_false_no_interactions",
                              "failback_after_healthy_probes") else float
        value = require(obj, key, kind, where="objectives")
        if value < 0 or (kind is float and value == 0 and key != "balance_tolerance"):
            raise ConfigError(f"must be positive, got {value}", file=str(path), key=f"objectives.{key}",
                              line=obj.line_of(key))
        values[key] = value
    if not 0 <= values["balance_tolerance"] < 0.5:
        raise ConfigError("must be between 0 and 0.5", file=str(path), key="objectives.balance_tolerance",
                          line=obj.line_of("balance_tolerance"))
    return MultumContract(file=str(path), canary=(canary[0].lower(), canary[1].lower()), **values)


@dataclass(frozen=True)
class LoadProfileScope:
    """A load profile a GO needs, with the least it must have run to count."""
    name: str
    min_duration_s: float | None = None
    min_users: int | None = None
    line: int | None = None

    def describe(self) -> str:
        needs = [f"at least {self.min_duration_s:g} s" if self.min_duration_s else "",
                 f"at least {self.min_users} users" if self.min_users else ""]
        return self.name + (f" ({', '.join(n for n in needs if n)})" if any(needs) else "")


@dataclass(frozen=True)
class ScopePart:
    """One named part of what a GO needs (``functional``, ``performance``): the part a pre-merge
    pipeline may waive as a whole (``--accept-partial NAME``)."""
    name: str
    test_types: tuple[str, ...] = ()
    integrations: tuple[str, ...] = ()
    load_profiles: tuple[LoadProfileScope, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Scope:
    """What a GO needs (gate.yaml ``scope``): a run lacking any part never says GO."""
    parts: tuple[ScopePart, ...] = ()
    file: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts)

    def part_of_integration(self, integration: str) -> str | None:
        return next((p.name for p in self.parts if integration in p.integrations), None)

    @property
    def integrations(self) -> set[str]:
        return {i for p in self.parts for i in p.integrations}


#: What a gate's thresholds count: defect candidates (failures clustered, genrep.results.defects) or scenarios.
COUNTS = ("defects", "scenarios")


@dataclass(frozen=True)
class GateRules:
    file: str
    thresholds: dict  # test type ("*" = default) -> {severity: allowed}
    every_requirement_verified: bool
    negative_paths_per_integration: bool
    scope: Scope = Scope()
    count: str = "defects"  # what the thresholds count: defect candidates or failing scenarios


_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smh]?)\s*")


def parse_duration(value, *, file: str, key: str, line: int | None) -> float:
    """``60s``, ``5m``, ``1h`` or a number of seconds (more than 0); otherwise a ConfigError."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value)):
        seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    else:
        raise ConfigError(f"expected a duration such as 60s, 5m or 1h; got {value!r}", file=file, key=key, line=line)
    if not 0 < seconds <= 7 * 24 * 3600:
        raise ConfigError(f"must be more than 0 s and at most a week; got {value!r}", file=file, key=key, line=line)
    return seconds


def known_load_profiles() -> set[str]:
    """The load profiles ``contracts/load.yaml`` declares (``profiles:``), read as data: the config
    layer does not import ``genrep.load``."""
    data = load_yaml(CONTRACTS_DIR / "load.yaml")
    profiles = data.get("profiles") if isinstance(data, dict) else None
    return set(profiles) if isinstance(profiles, dict) else set()


def _names(sec: Located, key: str, where: str, known: set[str] | None, what: str) -> tuple[str, ...]:
    values = require(sec, key, list, where=where, default=[])
    line = sec.line_of(key)
    out: list[str] = []
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"each {what} must be a name; got {v!r}", file=sec.file, key=f"{where}.{key}", line=line)
        if known is not None and v not in known:
            raise ConfigError(f"unknown {what} {v!r} (known: {', '.join(sorted(known))})", file=sec.file,
                              key=f"{where}.{key}", line=line)
        if v in out:
            raise ConfigError(f"{what} {v!r} is listed twice", file=sec.file, key=f"{where}.{key}", line=line)
        out.append(v)
    return tuple(out)


def _load_scope(d: Located, path: Path, *, integrations: set[str], load_profiles: set[str]) -> Scope:
    sec = require(d, "scope", dict)
    reject_unknown(sec, {"parts"}, where="scope")
    parts_map = require(sec, "parts", dict, where="scope")
    if not parts_map:
        raise ConfigError("at least one part is needed: a gate that requires nothing would say GO on any run",
                          file=str(path), key="scope.parts", line=sec.line_of("parts"))
    parts: list[ScopePart] = []
    owner: dict[tuple[str, str], str] = {}  # (what, name) -> part
    for name, body in parts_map.items():
        where = f"scope.parts.{name}"
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
            raise ConfigError("a part name is lower case letters, digits, '-' or '_' (it is given to "
                              "--accept-partial)", file=str(path), key=where, line=parts_map.line_of(name))
        if not isinstance(body, dict):
            raise ConfigError("expected a mapping with test_types, integrations and/or load_profiles",
                              file=str(path), key=where, line=parts_map.line_of(name))
        reject_unknown(body, {"description", "test_types", "integrations", "load_profiles"}, where=where)
        test_types = _names(body, "test_types", where, set(TEST_TYPES) | set(MANUAL_TEST_TYPES), "test type")
        integ = _names(body, "integrations", where, integrations, "integration")
        profiles_map = require(body, "load_profiles", dict, where=where, default={})
        profiles: list[LoadProfileScope] = []
        for pname, limits in profiles_map.items():
            pwhere = f"{where}.load_profiles.{pname}"
            pline = profiles_map.line_of(pname)
            if pname not in load_profiles:
                known = ", ".join(sorted(load_profiles))
                raise ConfigError(f"unknown load profile (contracts/load.yaml profiles: {known})",
                                  file=str(path), key=pwhere, line=pline)
            if limits is None:  # "soak:" alone: it must have run, for any length
                profiles.append(LoadProfileScope(pname, None, None, pline))
                continue
            if not isinstance(limits, dict):
                raise ConfigError("expected a mapping: {min_duration: 60s, min_users: 6000} (or nothing)",
                                  file=str(path), key=pwhere, line=pline)
            reject_unknown(limits, {"min_duration", "min_users"}, where=pwhere)
            duration = None
            if "min_duration" in limits:
                duration = parse_duration(limits["min_duration"], file=str(path), key=f"{pwhere}.min_duration",
                                          line=limits.line_of("min_duration"))
            users = require(limits, "min_users", int, where=pwhere, default=None)
            if users is not None and users <= 0:
                raise ConfigError(f"must be a positive number of users; got {users}", file=str(path),
                                  key=f"{pwhere}.min_users", line=limits.line_of("min_users"))
            profiles.append(LoadProfileScope(pname, duration, users, pline))
        if not (test_types or integ or profiles):
            raise ConfigError("a part must name at least one test type, integration or load profile",
                              file=str(path), key=where, line=parts_map.line_of(name))
        for what, values in (("test type", test_types), ("integration", integ),
                             ("load profile", tuple(p.name for p in profiles))):
            for v in values:
                if (what, v) in owner:
                    raise ConfigError(f"{what} {v!r} is already in part {owner[(what, v)]!r}: each belongs to one "
                                      "part (what --accept-partial waives must be unambiguous)", file=str(path),
                                      key=where, line=parts_map.line_of(name))
                owner[(what, v)] = name
        parts.append(ScopePart(name, test_types, integ, tuple(profiles),
                               require(body, "description", str, where=where, default="")))
    return Scope(tuple(parts), str(path))


def load_gate(path: str | Path | None = None, *, catalogue: dict[str, Requirement] | None = None,
              load_profiles: set[str] | None = None) -> GateRules:
    """``contracts/gate.yaml``: thresholds, coverage and the scope a GO needs. Integrations named in
    the scope are checked against the catalogue, load profiles against ``contracts/load.yaml``."""
    path = Path(path) if path else CONTRACTS_DIR / "gate.yaml"
    d = load_yaml(path)
    if not isinstance(d, dict):
        raise ConfigError("expected a mapping at the top level", file=str(path))
    reject_unknown(d, {"gate", "thresholds", "coverage", "scope", "count", "report", "manual"})  # report, manual: genrep.results.settings
    count = require(d, "count", str, default="defects", choices=COUNTS)
    th = require(d, "thresholds", dict)
    thresholds: dict = {}
    for test_type, limits in th.items():
        if test_type != "default" and test_type not in TEST_TYPES + MANUAL_TEST_TYPES:
            raise ConfigError(f"unknown test type (known: default, {', '.join(TEST_TYPES + MANUAL_TEST_TYPES)})",
                              file=str(path),
                              key=f"thresholds.{test_type}", line=th.line_of(test_type))
        if not isinstance(limits, dict):
            raise ConfigError("expected a mapping of severity: allowed count", file=str(path),
                              key=f"thresholds.{test_type}", line=th.line_of(test_type))
        reject_unknown(limits, set(SEVERITIES), where=f"thresholds.{test_type}")
        values = {}
        for sev in SEVERITIES:
            value = require(limits, sev, int, where=f"thresholds.{test_type}")
            if value < 0:
                raise ConfigError("must be 0 or more", file=str(path), key=f"thresholds.{test_type}.{sev}",
                                  line=limits.line_of(sev))
            values[sev] = value
        thresholds["*" if test_type == "default" else test_type] = values
    if "*" not in thresholds:
        raise ConfigError("thresholds need a 'default' entry", file=str(path), key="thresholds")
    cov = require(d, "coverage", dict, default={})
    if cov:
        reject_unknown(cov, {"every_requirement_verified", "negative_paths_per_integration"}, where="coverage")
    catalogue = load_catalogue() if catalogue is None else catalogue
    scope = _load_scope(d, path, integrations={r.integration for r in catalogue.values()},
                        load_profiles=known_load_profiles() if load_profiles is None else set(load_profiles))
    return GateRules(str(path), thresholds,
                     require(cov, "every_requirement_verified", bool, where="coverage", default=True) if cov else True,
                     require(cov, "negative_paths_per_integration", bool, where="coverage", default=True) if cov else True,
                     scope, count)


# -- referrals (its own module; re-exported here with the other contracts) -------------------------
from genrep.config.referrals import ReferralContract, load_referrals  # noqa: E402,F401

# -- e-prescription signing (its own module; re-exported here with the other contracts) -------------
from genrep.config.erx import ErxContract, load_erx  # noqa: E402,F401
