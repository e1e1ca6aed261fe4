"""Read Allure result files back into scenario outcomes (for the summary, selftest and gate).

Only ``*-result.json`` files written by allure-pytest-bdd are read. A missing or empty folder, or a
folder of some other tool's files, is an error: "no results" must never read as "nothing failed".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from genrep.errors import ConfigError
from genrep.results import failure_kinds


@dataclass
class ScenarioResult:
    name: str
    full_name: str
    status: str  # passed | failed | broken | skipped | unknown
    message: str
    requirements: list[str]
    history_id: str
    tags: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    start: int = 0
    stop: int = 0
    labels: list[tuple[str, str]] = field(default_factory=list)  # every (name, value) label with a text value

    @property
    def load_profile(self) -> str | None:
        """The load profile whose run wrote this result (the ``genrep_load`` label), else None."""
        return next((v for n, v in self.labels if n == "genrep_load"), None)

    @property
    def executed(self) -> bool:
        """Ran to a verdict of its own: passed, failed or broken (not skipped, not unknown)."""
        return self.status in ("passed", "failed", "broken")

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "broken")

    @property
    def kinds(self) -> list[str]:
        """Classification of the failure: fidelity kinds ([truncated/high]) or a leading 'kind:'
        (``genrep.results.failure_kinds``); "error" for an exception that names no kind."""
        found = failure_kinds.kinds_in(self.message)
        if "AssertionError" not in self.message and not found and self.failed:
            found.append(failure_kinds.ERROR.name)
        return found

    @property
    def classification(self) -> list[failure_kinds.FailureKind]:
        """The registry's record of each kind (meaning, Allure category, severity); a kind that is
        not registered still appears, as "unregistered"."""
        return [failure_kinds.lookup(k) for k in self.kinds]


def read_results(folder: str | Path) -> list[ScenarioResult]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError("results folder does not exist", file=str(folder))
    files = sorted(folder.glob("*-result.json"))
    if not files:
        raise ConfigError("results folder holds no Allure result files (*-result.json)", file=str(folder))
    out: list[ScenarioResult] = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not a valid Allure result ({exc})", file=str(f)) from None
        if not isinstance(data, dict) or "status" not in data or "name" not in data:
            raise ConfigError("not an Allure test result (no name/status)", file=str(f))
        labels = data.get("labels", []) or []
        if isinstance(labels, list) and any(isinstance(lb, dict) and lb.get("name") == "genrep_meta"
                                            for lb in labels):
            continue  # genrep's own report entries (traceability matrix), not a scenario
        details = data.get("statusDetails") or {}
        params = data.get("parameters", []) or []
        if (not isinstance(data["name"], str) or not isinstance(data["status"], str)
                or not isinstance(labels, list) or not isinstance(details, dict) or not isinstance(params, list)
                or not all(isinstance(x, dict) for x in labels + params)
                or any(not isinstance(lb.get("value"), str) for lb in labels
                       if lb.get("name") in ("requirement", "tag"))):
            raise ConfigError("not an Allure test result (malformed name, status, labels, "
                              "statusDetails or parameters)", file=str(f))
        out.append(ScenarioResult(
            name=data["name"], full_name=data.get("fullName", data["name"]), status=data["status"],
            message=(details.get("message") or "") + ("\n" + details["trace"] if details.get("trace") else ""),
            requirements=[lb["value"] for lb in labels if lb.get("name") == "requirement"],
            history_id=data.get("historyId", ""),
            tags=[lb["value"] for lb in labels if lb.get("name") == "tag"],
            parameters={p.get("name"): p.get("value") for p in params},
            start=data.get("start", 0) or 0, stop=data.get("stop", 0) or 0,
            labels=[(lb["name"], lb["value"]) for lb in labels
                    if isinstance(lb.get("name"), str) and isinstance(lb.get("value"), str)],
        ))
    return out
