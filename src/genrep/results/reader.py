"""Read Allure result files back into scenario outcomes (for the summary, selftest and gate).

Only ``*-result.json`` files written by allure-pytest-bdd are read. A missing or empty folder, or a
folder of some other tool's files, is an error: "no results" must never read as "nothing failed".
"""

from __future__ import annotations

import json
import re
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
    trace: str = ""  # the full traceback (statusDetails.trace): classified with the message, never shown as it

    @property
    def load_profile(self) -> str | None:
        """The load profile whose run wrote this result (the ``genrep_load`` label), else None."""
        return next((v for n, v in self.labels if n == "genrep_load"), None)

    @property
    def manual_test_type(self) -> str | None:
        """The test type of a manual result (``genrep.results.manual``: the ``genrep_manual`` label), else None."""
        return next((v for n, v in self.labels if n == "genrep_manual"), None)

    def param(self, name: str) -> str:
        """A parameter as text (allure-python stores reprs: "'2025-05-02'" -> 2025-05-02); "" if absent."""
        value = self.parameters.get(name)
        return "" if value is None else str(value).strip().strip("'\"")

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
        text = self.message + ("\n" + self.trace if self.trace else "")
        found = failure_kinds.kinds_in(text)
        if "AssertionError" not in text and not found and self.failed:
            found.append(failure_kinds.ERROR.name)
        return found

    @property
    def classification(self) -> list[failure_kinds.FailureKind]:
        """The registry's record of each kind (meaning, Allure category, severity); a kind that is
        not registered still appears, as "unregistered"."""
        return [failure_kinds.lookup(k) for k in self.kinds]


_STEP_FRAME = re.compile(r"^(?:\S*/)?(steps/[\w/.-]+\.py):(\d+)", re.M)
_INTERNALS = re.compile(r"^\s*(?:fixturefunc|kwargs|request|_pytest_bdd_example|step_func_args) = ")


def failure_text(details: dict, steps=None) -> str:
    """A failure as a tester reads it: the domain message (what the step or the library said, without
    pytest's traceback, ``fixturefunc = <function ...>`` or ``kwargs = {...}``), then where: the
    Gherkin step that failed and the file:line of its step definition. The full traceback stays in
    the Allure result (``statusDetails.trace``)."""
    message = "\n".join(line for line in (details.get("message") or "").splitlines()
                        if not _INTERNALS.match(line)).rstrip()
    where = []
    step = _failed_step(steps)
    if step:
        where.append(f"step '{step}'")
    frames = _STEP_FRAME.findall(details.get("trace") or "")
    if frames:  # the innermost step-definition frame: the step that raised
        where.append(f"{frames[-1][0]}:{frames[-1][1]}")
    if where:
        message += ("\n" if message else "") + "at " + ", ".join(where)
    return message


def _failed_step(steps) -> str:
    """The name of the innermost failed or broken step of an Allure result, "" if none."""
    found = ""
    for st in steps or ():
        if isinstance(st, dict) and st.get("status") in ("failed", "broken"):
            found = str(st.get("name") or "")
            inner = _failed_step(st.get("steps"))
            found = found if not inner else inner
    return found


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
            message=failure_text(details, data.get("steps")), trace=details.get("trace") or "",
            requirements=[lb["value"] for lb in labels if lb.get("name") == "requirement"],
            history_id=data.get("historyId", ""),
            tags=[lb["value"] for lb in labels if lb.get("name") == "tag"],
            parameters={p.get("name"): p.get("value") for p in params},
            start=data.get("start", 0) or 0, stop=data.get("stop", 0) or 0,
            labels=[(lb["name"], lb["value"]) for lb in labels
                    if isinstance(lb.get("name"), str) and isinstance(lb.get("value"), str)],
        ))
    return out
