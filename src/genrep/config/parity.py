"""The like-for-like contract (``contracts/parity.yaml``): which systems' entry points are compared,
where a node publishes its configuration fingerprint ([A]), which fields must be equal, what every
entry point must meet on its own, and the smoke journey. Errors name file, key and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genrep.config.contract_parts import section
from genrep.errors import ConfigError
from genrep.paths import CONTRACTS_DIR
from genrep.yamlfile import load_yaml, reject_unknown, require

#: the fields of a fingerprint that can be compared (genrep.parity reads them)
FIELDS = ("software_version", "integrations", "schedule_templates", "booking_types")
INTEGRATIONS = ("nll", "multum", "referrals")


@dataclass(frozen=True)
class ParityContract:
    systems: tuple[str, ...]
    fingerprint_path: str
    compare: tuple[str, ...]
    integrations_reachable: tuple[str, ...]
    schedule_templates_loaded: bool
    booking_types_have_resources: bool
    report_text: str
    within_seconds: float
    file: str = ""


def load_parity(path: str | Path | None = None) -> ParityContract:
    path = Path(path) if path is not None else CONTRACTS_DIR / "parity.yaml"
    data = load_yaml(path)
    file = str(path)
    if not isinstance(data, dict):
        raise ConfigError("the parity contract must be a mapping", file=file, line=1)
    reject_unknown(data, {"parity", "systems", "fingerprint", "smoke"})
    if require(data, "parity", int) != 1:
        raise ConfigError("unknown parity contract version (this genrep reads 1)", file=file, key="parity",
                          line=data.line_of("parity"))
    systems = require(data, "systems", list)
    if not systems or not all(isinstance(s, str) and s for s in systems):
        raise ConfigError("expected a list of system names (the profile's entry_points keys)", file=file,
                          key="systems", line=data.line_of("systems"))
    fp = section(data, "fingerprint", {"path", "compare", "require"})
    fp_path = require(fp, "path", str, where="fingerprint").strip().lstrip("/")
    if not fp_path or "://" in fp_path or ".." in fp_path:
        raise ConfigError("expected a path relative to the entry point's FHIR base (e.g. $fingerprint)",
                          file=file, key="fingerprint.path", line=fp.line_of("path"))
    compare = require(fp, "compare", list, where="fingerprint")
    for name in compare:
        if name not in FIELDS:
            raise ConfigError(f"unknown fingerprint field {name!r} (known: {', '.join(FIELDS)})", file=file,
                              key="fingerprint.compare", line=fp.line_of("compare"))
    rules = require(fp, "require", dict, where="fingerprint", default={})
    reject_unknown(rules, {"integrations_reachable", "schedule_templates_loaded", "booking_types_have_resources"},
                   where="fingerprint.require")
    reachable = require(rules, "integrations_reachable", list, where="fingerprint.require", default=[])
    for name in reachable:
        if name not in INTEGRATIONS:
            raise ConfigError(f"unknown integration {name!r} (known: {', '.join(INTEGRATIONS)})", file=file,
                              key="fingerprint.require.integrations_reachable",
                              line=rules.line_of("integrations_reachable"))
    smoke = section(data, "smoke", {"report_text", "within_seconds"})
    within = require(smoke, "within_seconds", float, where="smoke")
    if not 0 < within <= 120:
        raise ConfigError(f"must be more than 0 and at most 120 seconds, got {within}", file=file,
                          key="smoke.within_seconds", line=smoke.line_of("within_seconds"))
    text = require(smoke, "report_text", str, where="smoke")
    if not text.strip():
        raise ConfigError("the smoke report text is empty", file=file, key="smoke.report_text",
                          line=smoke.line_of("report_text"))
    return ParityContract(
        systems=tuple(systems), fingerprint_path=fp_path, compare=tuple(compare),
        integrations_reachable=tuple(reachable),
        schedule_templates_loaded=require(rules, "schedule_templates_loaded", bool, where="fingerprint.require",
                                          default=False),
        booking_types_have_resources=require(rules, "booking_types_have_resources", bool,
                                             where="fingerprint.require", default=False),
        report_text=text, within_seconds=within, file=file)
