"""The load contract: user classes (share, think time), operations (task weight, SLA), the profiles
(their users, default size, ramp: the SLAs are judged on the steady phase after it), the faults a
load profile injects mid-run (target, fault, when, for how long, parameters; run through
``genrep.faults``) and what each target's faults are judged by (``fault_objectives``), the
journeys (a clinician's whole task timed end to end, with its SLA), and when a window's figures
measure the generator or a saturated machine (``generator``).

Data, not code: ``contracts/load.yaml``. Errors name the file, the key and the line, like every
other contract loader (``genrep.config.contracts``).

This module reads and checks the file (``load_load_contract``, ``check_requirements``); the records
it reads it into live in ``contract_model`` (split from here, issue 13). Every name is importable
from here as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from genrep.paths import CONTRACTS_DIR
from genrep.errors import ConfigError, GenrepError
from genrep.faults.base import FAULTS, TARGETS, check_params
from genrep.load.contract_model import (DEFAULT_AFFECTED, FAULT_GROUPS, JOURNEYS, METRICS, OPERATION_USER, OPERATIONS,
                                        REPORT_TO_PRESCRIPTION, SLA, USER_CLASSES, FaultObjectives, GeneratorCheck,
                                        Journey, LoadContract, Operation, PlannedFault, ProfileSettings, SoakCheck,
                                        StoredCheck, UserClass)
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

__all__ = ["DEFAULT_AFFECTED", "FAULT_GROUPS", "JOURNEYS", "MAX_FAULT_AT_S", "METRICS", "OPERATION_USER", "OPERATIONS",
           "REPORT_TO_PRESCRIPTION", "SLA", "USER_CLASSES", "FaultObjectives", "GeneratorCheck", "Journey",
           "LoadContract", "Operation", "PlannedFault", "ProfileSettings", "SoakCheck", "StoredCheck", "UserClass",
           "check_requirements", "load_load_contract"]


MAX_FAULT_AT_S = 24 * 3600  # a fault planned at a second beyond any run's duration is a mistake
_REQ_ID = re.compile(r"[A-Z][A-Z0-9]*-[A-Z0-9][A-Z0-9-]*")


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
                       "soak", "fault_objectives", "journeys"})
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
        reject_unknown(pd, {"description", "default_users", "users", "faults", "like", "ramp", "ramp_max_s"},
                       where=where)
        like = require(pd, "like", str, where=where, default="")
        base = profiles.get(like)
        if like and base is None:
            raise _bad(pd, "like", f"no profile {like!r} above this one to start from (known: "
                                   f"{', '.join(profiles) or 'none'})", where)
        default_users = require(pd, "default_users", int, where=where,
                                default=base.default_users if base is not None else 10)
        if not 1 <= default_users <= 100_000:
            raise _bad(pd, "default_users", f"must be 1 to 100000; got {default_users}", where)
        overrides = require(pd, "users", dict, where=where, default={})
        faults = _planned_faults(pd, path, where, requirements) if "faults" in pd else ()
        ramp_at, ramp_share = _ramp(pd, where) if "ramp" in pd else (
            (base.ramp_at_s, base.ramp_share) if base is not None else (None, None))
        ramp_max = (_number(pd, "ramp_max_s", where, low=0.0, high=MAX_FAULT_AT_S) if "ramp_max_s" in pd
                    else base.ramp_max_s if base is not None else None)
        profiles[name] = ProfileSettings(name, require(pd, "description", str, where=where, default=""),
                                         default_users,
                                         _user_classes(overrides, path, f"{where}.users",
                                                       base=base.users if base is not None else users),
                                         faults, ramp_at_s=ramp_at, ramp_share=ramp_share, ramp_max_s=ramp_max,
                                         like=like)
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
    generator = GeneratorCheck()
    if "generator" in d:
        gd = require(d, "generator", dict)
        reject_unknown(gd, {"max_cpu_percent", "window_s", "host_max_cpu_percent", "max_bound_share",
                            "host_max_foreign_cpu_percent"}, where="generator")
        generator = GeneratorCheck(
            max_cpu_percent=_number(gd, "max_cpu_percent", "generator", low=0.0, high=100.0),
            window_s=_number(gd, "window_s", "generator", low=0.0, high=3600.0) if "window_s" in gd else 5.0,
            host_max_cpu_percent=(_number(gd, "host_max_cpu_percent", "generator", low=0.0, high=100.0)
                                  if "host_max_cpu_percent" in gd else 95.0),
            max_bound_share=(_number(gd, "max_bound_share", "generator", low=0.0, high=1.0, low_open=False)
                             if "max_bound_share" in gd else 0.5),
            host_max_foreign_cpu_percent=(_number(gd, "host_max_foreign_cpu_percent", "generator", low=0.0,
                                                  high=100.0) if "host_max_foreign_cpu_percent" in gd else 25.0))
    max_cpu = generator.max_cpu_percent
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
    taken = set(requirements) | fault_rids | ({stored.requirement} if stored else set()) \
        | ({soak.requirement} if soak else set())
    objectives = _fault_objectives(d, path, taken) if "fault_objectives" in d else {}
    for settings in profiles.values():
        for plan in settings.faults:
            if plan.group in objectives:
                continue
            if plan.requirement:  # multum without an entry: contracts/multum.yaml's objectives
                if plan.group == "multum":
                    continue
                raise ConfigError(f"{plan.describe()} is judged under {plan.requirement}, but fault_objectives "
                                  f"has no {plan.group!r} entry to judge it by", file=str(path),
                                  key=f"{plan.key}.requirement", line=plan.line)
    journeys = _journeys(d, path, taken | {o.empty_list_requirement for o in objectives.values()}, profiles) \
        if "journeys" in d else {}
    return LoadContract(file=str(path), version=version, users=users, operations=operations,
                        profiles=profiles, stored=stored, generator_max_cpu_percent=max_cpu, soak=soak,
                        fault_objectives=objectives, generator=generator, journeys=journeys)


def _sla(data: Located, where: str) -> SLA:
    reject_unknown(data, set(METRICS), where=where)
    p95 = _number(data, "p95_ms", where, low=0.0, high=600_000.0)
    p99 = _number(data, "p99_ms", where, low=0.0, high=600_000.0)
    if p99 < p95:
        raise _bad(data, "p99_ms", f"must be at least p95_ms ({p95:g}); got {p99:g}", where)
    return SLA(p95, p99, _number(data, "max_failure_ratio", where, low=0.0, high=1.0, low_open=False))


def _seconds_or_share(item: Located, key: str, where: str, what: str, example: str) -> tuple[float | None, float | None]:
    """A fault's ``at`` or ``for``: seconds (0 < s <= MAX_FAULT_AT_S) or a share of the run ("40%", both
    ends exclusive). Returns (seconds, None) or (None, share)."""
    value = require(item, key, (int, float, str), where=where)
    if isinstance(value, str):
        m = _PERCENT.fullmatch(value.strip())
        if not m or not 0 < float(m.group(1)) < 100:
            raise _bad(item, key, f"must be {what} from 0% to 100% (e.g. {example}), both exclusive; got {value!r}",
                       where)
        return None, float(m.group(1)) / 100
    if isinstance(value, bool) or not 0 < value <= MAX_FAULT_AT_S:
        raise _bad(item, key, f"must be more than 0 and at most {MAX_FAULT_AT_S} seconds; got {value!r}", where)
    return float(value), None


def _journeys(d: Located, path: Path, taken: set, profiles: dict[str, ProfileSettings]) -> dict[str, Journey]:
    """``journeys``: NAME -> {requirement, description, weight, think_time_seconds, sla, profiles}."""
    data = require(d, "journeys", dict)
    out: dict[str, Journey] = {}
    for name, jd in data.items():
        where = f"journeys.{name}"
        if name not in JOURNEYS:
            raise ConfigError(f"unknown journey (known: {', '.join(JOURNEYS)})", file=str(path), key=where,
                              line=data.line_of(name))
        if not isinstance(jd, dict):
            raise ConfigError("expected a mapping", file=str(path), key=where, line=data.line_of(name))
        reject_unknown(jd, {"requirement", "description", "weight", "think_time_seconds", "sla", "profiles"},
                       where=where)
        rid = require(jd, "requirement", str, where=where)
        if not _REQ_ID.fullmatch(rid) or rid in taken:
            raise _bad(jd, "requirement", f"requirement id {rid!r} must look like PERF-JOURNEY-... and be its own",
                       where)
        taken = taken | {rid}
        weight = require(jd, "weight", int, where=where)
        if weight <= 0:
            raise _bad(jd, "weight", f"must be a positive integer; got {weight}", where)
        think = require(jd, "think_time_seconds", dict, where=where)
        tw = f"{where}.think_time_seconds"
        reject_unknown(think, {"min", "max"}, where=tw)
        tmin = _number(think, "min", tw, low=0.0, high=3600.0, low_open=False)
        tmax = _number(think, "max", tw, low=0.0, high=3600.0, low_open=False)
        if tmax < tmin:
            raise _bad(think, "max", f"must be at least min ({tmin}); got {tmax}", tw)
        runs = require(jd, "profiles", list, where=where)
        unknown = [p for p in runs if p not in profiles]
        if not runs or unknown:
            raise _bad(jd, "profiles", f"must name profiles of this contract; unknown: {unknown or 'none given'}",
                       where)
        out[name] = Journey(name, rid, require(jd, "description", str, where=where, default=""), weight, tmin, tmax,
                            _sla(require(jd, "sla", dict, where=where), f"{where}.sla"), tuple(runs))
    return out


def _ramp(pd: Located, where: str) -> tuple[float | None, float | None]:
    """``ramp``: seconds (a number) or a share of the run (``75%``)."""
    value = require(pd, "ramp", (int, float, str), where=where)
    if isinstance(value, str):
        m = _PERCENT.fullmatch(value.strip())
        if not m or not 0 <= float(m.group(1)) < 100:
            raise _bad(pd, "ramp", f"must be seconds (a number) or a share of the run from 0% to below 100% "
                                   f"(e.g. 75%); got {value!r}", where)
        return None, float(m.group(1)) / 100
    if isinstance(value, bool) or not 0 <= value <= MAX_FAULT_AT_S:
        raise _bad(pd, "ramp", f"must be 0 to {MAX_FAULT_AT_S} seconds; got {value!r}", where)
    return float(value), None


def _fault_objectives(d: Located, path: Path, taken: set[str]) -> dict[str, FaultObjectives]:
    """``fault_objectives``: per target group, the operations a fault affects and its thresholds."""
    data = require(d, "fault_objectives", dict)
    allowed = {"multum": {"operations"},
               "nll": {"operations", "max_recovery_s", "max_empty_lists", "empty_list_requirement"},
               "radiology-listener": {"operations", "max_recovery_s"}}
    out: dict[str, FaultObjectives] = {}
    for group, od in data.items():
        where = f"fault_objectives.{group}"
        if group not in allowed:
            raise ConfigError(f"unknown fault target group (known: {', '.join(allowed)})", file=str(path),
                              key=where, line=data.line_of(group))
        if not isinstance(od, dict):
            raise ConfigError("expected a mapping", file=str(path), key=where, line=data.line_of(group))
        reject_unknown(od, allowed[group], where=where)
        ops = require(od, "operations", list, where=where, default=list(DEFAULT_AFFECTED[group]))
        if not ops or not all(isinstance(o, str) and o in OPERATIONS for o in ops):
            raise _bad(od, "operations", f"must be a non-empty list of operations ({', '.join(OPERATIONS)}); "
                                         f"got {ops!r}", where)
        recovery = _number(od, "max_recovery_s", where, low=0.0, high=3600.0) if "max_recovery_s" in od else None
        if group != "multum" and recovery is None:
            raise ConfigError("required key is missing", file=str(path), key=f"{where}.max_recovery_s",
                              line=data.line_of(group))
        empty = empty_rid = None
        if group == "nll":
            empty = require(od, "max_empty_lists", int, where=where, default=0)
            if empty < 0:
                raise _bad(od, "max_empty_lists", f"must be 0 or more; got {empty}", where)
            empty_rid = require(od, "empty_list_requirement", str, where=where, default=None)
            if empty_rid is not None and (not _REQ_ID.fullmatch(empty_rid) or empty_rid in taken):
                raise _bad(od, "empty_list_requirement", f"requirement id {empty_rid!r} must look like "
                                                         "PERF-NLL-NEVER-EMPTY and be its own", where)
        out[group] = FaultObjectives(group, tuple(ops), recovery, empty, empty_rid)
    return out


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
        reject_unknown(item, {"target", "fault", "at", "params", "requirement", "for"}, where=fw)
        for required in ("target", "fault", "at"):
            if required not in item:  # named with the line of its entry
                raise ConfigError("required key is missing", file=str(path), key=f"{fw}.{required}", line=line)
        target = require(item, "target", str, where=fw, choices=tuple(TARGETS))
        fault = require(item, "fault", str, where=fw, choices=FAULTS)
        at_s, at_share = _seconds_or_share(item, "at", fw, "a second of the run (a number) or a share of it", "40%")
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
        for_s = for_share = None
        if "for" in item:
            for_s, for_share = _seconds_or_share(item, "for", fw, "seconds (a number) or a share of the run", "20%")
        out.append(PlannedFault(target, fault, at_s, at_share, params, rid, file=str(path), key=fw, line=line,
                                for_s=for_s, for_share=for_share))
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
    pairs += [(j.requirement, f"journeys.{j.name}.requirement") for j in contract.journeys.values()]
    for group, objectives in contract.fault_objectives.items():
        if objectives.empty_list_requirement:
            pairs.append((objectives.empty_list_requirement, f"fault_objectives.{group}.empty_list_requirement"))
    for rid, key in pairs:
        req = catalogue.get(rid)
        if req is None:
            raise ConfigError(f"requirement {rid} is not in contracts/requirements.yaml",
                              file=contract.file, key=key)
        if req.test_type != "performance":
            raise ConfigError(f"requirement {rid} has test_type {req.test_type!r}, not performance",
                              file=contract.file, key=key)
