"""The gate rules (``contracts/gate.yaml``): the thresholds of failures allowed per test type and
severity, the coverage a GO needs, what the thresholds count, and the scope (the named parts a run
must have: test types, integrations, load profiles with their least duration and users).

Its own module because the rules are the go/no-go decision's input, not an integration contract; they
are checked against the requirement catalogue (``genrep.config.catalogue``) and the load profiles of
``contracts/load.yaml``. Re-exported by ``genrep.config.contracts``. Errors name file, key and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from genrep.config.catalogue import MANUAL_TEST_TYPES, SEVERITIES, TEST_TYPES, Requirement, load_catalogue
from genrep.config.contract_parts import section
from genrep.errors import ConfigError
from genrep.paths import CONTRACTS_DIR
from genrep.yamlfile import Located, load_yaml, reject_unknown, require


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
    sec = section(d, "scope", {"parts"})
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
