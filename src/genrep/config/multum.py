"""The Multum contract (``contracts/multum.yaml``): the canary drug pair whose interaction every check
must find, and the objectives of the interaction-check service (failover time, failed and false
"no interactions" answers allowed, failback, balance, latency, the peak load).

Its own module, one per contract like ``access``, ``erx`` and ``referrals``; re-exported by
``genrep.config.contracts`` (where the load runner and the simulators look it up). Errors name file,
key and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genrep.config.contract_parts import load_contract, section
from genrep.errors import ConfigError
from genrep.yamlfile import require


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
    path, d = load_contract(path, "multum.yaml", contract="multum", keys={"contract", "version", "title", "canary", "objectives"},
                            not_a_mapping="a Multum contract is a YAML mapping (contract: multum, ...)",
                            not_this_contract="not a Multum contract")
    canary = require(d, "canary", list)
    if len(canary) != 2 or not all(isinstance(c, str) and c for c in canary):
        raise ConfigError("canary must be two drug names", file=str(path), key="canary", line=d.line_of("canary"))
    keys = {f for f in MultumContract.__dataclass_fields__} - {"file", "canary"}
    obj = section(d, "objectives", keys)
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
