"""The requirement catalogue (``contracts/requirements.yaml``): every requirement a scenario can verify,
with its integration, test type and severity, and the test types and severities the gate counts by.

Its own module because the catalogue is read on its own (results, load, the CLI's verdict) and the
gate rules build on it; re-exported by ``genrep.config.contracts``. Errors name file, key and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from genrep.errors import ConfigError
from genrep.paths import CONTRACTS_DIR
from genrep.yamlfile import load_yaml, reject_unknown, require

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
