"""The load contract: user classes (share, think time), operations (task weight, SLA), and the faults a
load profile injects mid-run (target, fault, when, parameters; run through ``genrep.faults``).

Data, not code: ``contracts/load.yaml``. Errors name the file, the key and the line, like every
other contract loader (``genrep.config.contracts``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from genrep.paths import CONTRACTS_DIR
from genrep.errors import ConfigError, GenrepError
from genrep.faults.base import FAULTS, TARGETS, check_params
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

USER_CLASSES = ("clinician", "ris", "registration", "prescriber")
OPERATIONS = ("read_report", "read_medications", "send_oru", "register_adt", "prescribe")
# which user class may carry which operation (the Locust users in load/users.py implement these)
OPERATION_USER = {"read_report": "clinician", "read_medications": "clinician", "send_oru": "ris",
                  "register_adt": "registration", "prescribe": "prescriber"}
METRICS = ("p95_ms", "p99_ms", "max_failure_ratio")
MAX_FAULT_AT_S = 24 * 3600  # a fault planned at a second beyond any run's duration is a mistake
_REQ_ID = re.compile(r"[A-Z][A-Z0-9]*-[A-Z0-9][A-Z0-9-]*")


@dataclass(frozen=True)
class UserClass:
    name: str
    weight: int
    think_min: float
    think_max: float


@dataclass(frozen=True)
class SLA:
    p95_ms: float
    p99_ms: float
    max_failure_ratio: float


@dataclass(frozen=True)
class Operation:
    name: str
    requirement: str
    user: str
    task_weight: int
    description: str
    sla: SLA


@dataclass(frozen=True)
class PlannedFault:
    """A fault a load profile injects while the load runs, through the same drivers as the steps
    (``genrep.faults``: the virtual simulators, or an external profile's command / Toxiproxy driver)."""
    target: str
    fault: str
    at_s: float | None          # this many seconds after the load starts ...
    at_share: float | None      # ... or at this share of the run's duration ("at: 40%")
    params: dict
    requirement: str | None     # judged against the failover objectives of contracts/multum.yaml
    file: str = ""
    key: str = ""               # profiles.NAME.faults[i], for errors found at run time
    line: int | None = None

    def describe(self) -> str:
        return " ".join([self.target, self.fault, *(f"{k}={v}" for k, v in self.params.items())])

    def at(self, duration_s: float) -> float:
        """When to inject, in seconds after the load starts; a ConfigError when the run would
        end first (a fault never injected must not pass for a failover survived)."""
        at = self.at_s if self.at_s is not None else duration_s * (self.at_share or 0.0)
        if at >= duration_s:
            raise ConfigError(f"the fault {self.describe()} is planned at second {at:g}, but the run lasts "
                              f"{duration_s:g} s: run longer or plan it earlier", file=self.file or None,
                              key=f"{self.key}.at", line=self.line)
        return at


@dataclass(frozen=True)
class ProfileSettings:
    """What a load profile changes: who its virtual users are (weights, think times), how many it
    runs when ``--users`` is not given, and the faults it injects mid-run."""
    name: str
    description: str
    default_users: int
    users: dict[str, UserClass]  # effective: the contract's users with this profile's overrides
    faults: tuple[PlannedFault, ...] = ()


@dataclass(frozen=True)
class StoredCheck:
    """"AA is stored" under load: every ORU answered AA is counted, a sample is read back."""
    requirement: str
    sample: int


@dataclass(frozen=True)
class SoakCheck:
    """Drift over a soak: p95 at the end of the held load against p95 at its start."""
    requirement: str
    profile: str
    max_p95_growth: float   # the end may be this many times the start ...
    p95_noise_ms: float     # ... or this much slower, whichever is more (tiny latencies are noisy)

    def threshold_ms(self, start_p95_ms: float) -> float:
        return max(start_p95_ms * self.max_p95_growth, start_p95_ms + self.p95_noise_ms)


@dataclass(frozen=True)
class LoadContract:
    file: str
    version: str
    users: dict[str, UserClass]
    operations: dict[str, Operation]
    profiles: dict[str, ProfileSettings] = field(default_factory=dict)
    stored: StoredCheck | None = None
    generator_max_cpu_percent: float = 90.0
    soak: SoakCheck | None = None

    def operations_of(self, user: str) -> list[Operation]:
        return [op for op in self.operations.values() if op.user == user]

    def users_for(self, profile: str | None) -> dict[str, UserClass]:
        """The user classes as the profile runs them (the contract's own when it has no entry)."""
        settings = self.profiles.get(profile or "")
        return settings.users if settings is not None else self.users

    def default_users(self, profile: str | None, fallback: int = 10) -> int:
        settings = self.profiles.get(profile or "")
        return settings.default_users if settings is not None else fallback

    def faults_for(self, profile: str | None) -> tuple[PlannedFault, ...]:
        """The faults the profile injects mid-run (none when it has no entry)."""
        settings = self.profiles.get(profile or "")
        return settings.faults if settings is not None else ()

    def fault_requirements(self, profile: str | None = None) -> list[str]:
        """Requirements judged by a planned fault: of ``profile``, or of every profile (None)."""
        plans = (self.faults_for(profile) if profile is not None
                 else [f for p in self.profiles.values() for f in p.faults])
        return list(dict.fromkeys(f.requirement for f in plans if f.requirement))

    @property
    def min_users(self) -> int:
        """Users needed so that every user class with an operation gets one (Locust: by weight)."""
        return len({op.user for op in self.operations.values()})


def _bad(data: Located, key: str, message: str, where: str) -> ConfigError:
    return ConfigError(message, file=getattr(data, "file", None) or None, key=f"{where}.{key}",
                       line=data.line_of(key) if isinstance(data, Located) else None)


def _number(data: Located, key: str, where: str, *, low: float, high: float, low_open: bool = True) -> float:
    value = require(data, key, float, where=where)
    if (value <= low if low_open else value < low) or value > high:
        bound = f"more than {low}" if low_open else f"at least {low}"
        raise _bad(data, key, f"must be {bound} and at most {high}; got {value}", where)
    return value


def load_load_contract(path: str | Path | None = None) -> LoadContract:
    path = Path(path) if path else CONTRACTS_DIR / "load.yaml"
    d = load_yaml(path)
    if not isinstance(d, dict):
        raise ConfigError("the load contract must be a mapping", file=str(path))
    reject_unknown(d, {"contract", "version", "title", "users", "operations", "profiles", "stored", "generator",
                       "soak"})
    if require(d, "contract", str) != "load":
        raise ConfigError("not a load contract", file=str(path), key="contract", line=d.line_of("contract"))
    version = str(require(d, "version", (int, str)))

    users_data = require(d, "users", dict)
    users = _user_classes(users_data, path, "users", base=None)

    ops_data = require(d, "operations", dict)
    operations: dict[str, Operation] = {}
    requirements: dict[str, str] = {}
    for name, o in ops_data.items():
        where = f"operations.{name}"
        if name not in OPERATIONS:
            raise ConfigError(f"unknown operation (known: {', '.join(OPERATIONS)})", file=str(path),
                              key=where, line=ops_data.line_of(name))
        if not isinstance(o, dict):
            raise ConfigError("expected a mapping", file=str(path), key=where, line=ops_data.line_of(name))
        reject_unknown(o, {"requirement", "user", "task_weight", "description", "sla"}, where=where)
        rid = require(o, "requirement", str, where=where)
        if not _REQ_ID.fullmatch(rid):
            raise _bad(o, "requirement", f"requirement id {rid!r} must look like PERF-READ-REPORT", where)
        if rid in requirements:
            raise _bad(o, "requirement", f"{rid} is already the requirement of {requirements[rid]}", where)
        requirements[rid] = name
        user = require(o, "user", str, where=where, choices=(OPERATION_USER[name],))
        if user not in users:
            raise _bad(o, "user", f"user class {user!r} is not defined under users", where)
        tw = require(o, "task_weight", int, where=where, default=1)
        if tw <= 0:
            raise _bad(o, "task_weight", f"must be a positive integer; got {tw}", where)
        sla_data = require(o, "sla", dict, where=where)
        sw = f"{where}.sla"
        reject_unknown(sla_data, set(METRICS), where=sw)
        p95 = _number(sla_data, "p95_ms", sw, low=0.0, high=600_000.0)
        p99 = _number(sla_data, "p99_ms", sw, low=0.0, high=600_000.0)
        if p99 < p95:
            raise _bad(sla_data, "p99_ms", f"must be at least p95_ms ({p95:g}); got {p99:g}", sw)
        ratio = _number(sla_data, "max_failure_ratio", sw, low=0.0, high=1.0, low_open=False)
        operations[name] = Operation(name, rid, user, tw, require(o, "description", str, where=where, default=""),
                                     SLA(p95, p99, ratio))
    missing = [op for op in OPERATIONS if op not in operations]
    if missing:
        raise ConfigError(f"operations missing: {', '.join(missing)} (every operation has an SLA)",
                          file=str(path), key="operations", line=d.line_of("operations"))
    unused = [u for u in users if not any(op.user == u for op in operations.values())]
    if unused:
        raise ConfigError(f"user class {unused[0]} carries no operation", file=str(path),
                          key=f"users.{unused[0]}", line=users_data.line_of(unused[0]))
    profiles: dict[str, ProfileSettings] = {}
    prof_data = require(d, "profiles", dict, default={})
    for name, pd in prof_data.items():
        where = f"profiles.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not isinstance(pd, dict):
            raise ConfigError("expected a profile name (a load/NAME.py file) with a mapping", file=str(path),
                              key=where, line=prof_data.line_of(name))
        reject_unknown(pd, {"description", "default_users", "users", "faults"}, where=where)
        default_users = require(pd, "default_users", int, where=where, default=10)
        if not 1 <= default_users <= 100_000:
            raise _bad(pd, "default_users", f"must be 1 to 100000; got {default_users}", where)
        overrides = require(pd, "users", dict, where=where, default={})
        faults = _planned_faults(pd, path, where, requirements) if "faults" in pd else ()
        profiles[name] = ProfileSettings(name, require(pd, "description", str, where=where, default=""),
                                         default_users, _user_classes(overrides, path, f"{where}.users", base=users),
                                         faults)
    fault_rids = {f.requirement for p in profiles.values() for f in p.faults if f.requirement}
    stored = None
    if "stored" in d:
        sd = require(d, "stored", dict)
        reject_unknown(sd, {"requirement", "sample"}, where="stored")
        rid = require(sd, "requirement", str, where="stored")
        if not _REQ_ID.fullmatch(rid) or rid in requirements or rid in fault_rids:
            raise _bad(sd, "requirement", f"requirement id {rid!r} must look like PERF-STORED and be its own", "stored")
        sample = require(sd, "sample", int, where="stored", default=50)
        if not 1 <= sample <= 10_000:
            raise _bad(sd, "sample", f"must be 1 to 10000; got {sample}", "stored")
        stored = StoredCheck(rid, sample)
    max_cpu = 90.0
    if "generator" in d:
        gd = require(d, "generator", dict)
        reject_unknown(gd, {"max_cpu_percent"}, where="generator")
        max_cpu = _number(gd, "max_cpu_percent", "generator", low=0.0, high=100.0)
    soak = None
    if "soak" in d:
        sk = require(d, "soak", dict)
        reject_unknown(sk, {"requirement", "profile", "max_p95_growth", "p95_noise_ms"}, where="soak")
        rid = require(sk, "requirement", str, where="soak")
        if not _REQ_ID.fullmatch(rid) or rid in requirements or rid in fault_rids \
                or (stored and rid == stored.requirement):
            raise _bad(sk, "requirement", f"requirement id {rid!r} must look like PERF-SOAK and be its own", "soak")
        soak = SoakCheck(rid, require(sk, "profile", str, where="soak", default="soak"),
                         _number(sk, "max_p95_growth", "soak", low=1.0, high=100.0, low_open=False),
                         _number(sk, "p95_noise_ms", "soak", low=0.0, high=600_000.0, low_open=False))
    return LoadContract(file=str(path), version=version, users=users, operations=operations,
                        profiles=profiles, stored=stored, generator_max_cpu_percent=max_cpu, soak=soak)


_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*%")


def _planned_faults(pd: Located, path: Path, where: str, op_requirements: dict[str, str]) -> tuple[PlannedFault, ...]:
    """``profiles.NAME.faults``: a list of ``{target, fault, at, params, requirement}``; ``at`` is a
    second after the load starts (a number) or a share of the run (``40%``)."""
    items = pd["faults"]
    if not isinstance(items, list) or not items:
        raise _bad(pd, "faults", "expected a non-empty list of faults ({target, fault, at})", where)
    out = []
    for i, item in enumerate(items):
        fw = f"{where}.faults[{i}]"
        if not isinstance(item, Located):
            raise ConfigError("expected a mapping {target, fault, at}", file=str(path), key=fw,
                              line=pd.line_of("faults"))
        line = min(item.lines.values(), default=pd.line_of("faults"))
        reject_unknown(item, {"target", "fault", "at", "params", "requirement"}, where=fw)
        for required in ("target", "fault", "at"):
            if required not in item:  # named with the line of its entry
                raise ConfigError("required key is missing", file=str(path), key=f"{fw}.{required}", line=line)
        target = require(item, "target", str, where=fw, choices=tuple(TARGETS))
        fault = require(item, "fault", str, where=fw, choices=FAULTS)
        at = require(item, "at", (int, float, str), where=fw)
        at_s = at_share = None
        if isinstance(at, str):
            m = _PERCENT.fullmatch(at.strip())
            if not m or not 0 < float(m.group(1)) < 100:
                raise _bad(item, "at", f"must be a second of the run (a number) or a share of it from "
                                       f"0% to 100% (e.g. 40%), both exclusive; got {at!r}", fw)
            at_share = float(m.group(1)) / 100
        elif isinstance(at, bool) or not 0 < at <= MAX_FAULT_AT_S:
            raise _bad(item, "at", f"must be more than 0 and at most {MAX_FAULT_AT_S} seconds; got {at!r}", fw)
        else:
            at_s = float(at)
        params = require(item, "params", dict, where=fw, default={})
        try:
            params = check_params(fault, params)
        except GenrepError as exc:
            raise ConfigError(str(exc), file=str(path), key=f"{fw}.params",
                              line=item.line_of("params")) from None
        rid = require(item, "requirement", str, where=fw, default=None)
        if rid is not None and (not _REQ_ID.fullmatch(rid) or rid in op_requirements):
            raise _bad(item, "requirement", f"requirement id {rid!r} must look like PERF-FAILOVER and not be an "
                                            "operation's", fw)
        out.append(PlannedFault(target, fault, at_s, at_share, params, rid, file=str(path), key=fw, line=line))
    return tuple(out)


def _user_classes(data: Located, path: Path, where_root: str,
                  base: dict[str, UserClass] | None) -> dict[str, UserClass]:
    """User classes from ``data``; with ``base``, a profile's overrides merged into the contract's
    (each key optional; a class not named keeps the contract's settings)."""
    users: dict[str, UserClass] = dict(base or {})
    for name, u in data.items():
        where = f"{where_root}.{name}"
        if name not in USER_CLASSES or (base is not None and name not in base):
            raise ConfigError(f"unknown user class (known: {', '.join(base or USER_CLASSES)})", file=str(path),
                              key=where, line=data.line_of(name))
        if not isinstance(u, dict):
            raise ConfigError("expected a mapping", file=str(path), key=where, line=data.line_of(name))
        reject_unknown(u, {"weight", "think_time_seconds"}, where=where)
        old = base.get(name) if base else None
        weight = require(u, "weight", int, where=where, **({"default": old.weight} if old else {}))
        if weight <= 0:
            raise _bad(u, "weight", f"must be a positive integer; got {weight}", where)
        if old is not None and "think_time_seconds" not in u:
            users[name] = UserClass(name, weight, old.think_min, old.think_max)
            continue
        think = require(u, "think_time_seconds", dict, where=where)
        tw = f"{where}.think_time_seconds"
        reject_unknown(think, {"min", "max"}, where=tw)
        tmin = _number(think, "min", tw, low=0.0, high=3600.0, low_open=False)
        tmax = _number(think, "max", tw, low=0.0, high=3600.0, low_open=False)
        if tmax < tmin:
            raise _bad(think, "max", f"must be at least min ({tmin}); got {tmax}", tw)
        users[name] = UserClass(name, weight, tmin, tmax)
    return users


def check_requirements(contract: LoadContract, catalogue: dict) -> None:
    """Every operation's requirement must be in the catalogue as a performance requirement."""
    pairs = [(op.requirement, f"operations.{op.name}.requirement") for op in contract.operations.values()]
    if contract.stored is not None:
        pairs.append((contract.stored.requirement, "stored.requirement"))
    if contract.soak is not None:
        pairs.append((contract.soak.requirement, "soak.requirement"))
    for settings in contract.profiles.values():
        pairs += [(f.requirement, f"{f.key}.requirement") for f in settings.faults if f.requirement]
    for rid, key in pairs:
        req = catalogue.get(rid)
        if req is None:
            raise ConfigError(f"requirement {rid} is not in contracts/requirements.yaml",
                              file=contract.file, key=key)
        if req.test_type != "performance":
            raise ConfigError(f"requirement {rid} has test_type {req.test_type!r}, not performance",
                              file=contract.file, key=key)
