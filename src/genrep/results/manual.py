"""Manual test results (issue 15, part 4): user acceptance, usability, peripherals and workstream
verification, judged by the same verdict as the automated suite.

A manual result is a CSV row: requirement id, test type, result (passed, failed, blocked, not run),
tester, date, evidence link, and an optional comment. ``genrep rehearse --manual FILE`` and
``genrep gate --manual FILE`` read it (``FILE`` repeatable), refuse bad input before anything runs,
and write each row as an Allure result (``genrep.results.writer``, labelled ``genrep_manual`` with
its test type, ``owner`` with the tester, tag ``manual``) into the results folder the gate reads:
from there it is a result like any other, in the summary, the scorecard, the traceability matrix,
JUnit XML and Allure.

``FILE`` is either

* a CSV whose header names the columns as genrep does: ``requirement, test_type, result, tester,
  date, evidence[, comment]`` (``fixtures/manual/acceptance-en.csv``), or
* a YAML mapping for another tool's export, the same ``import:`` form as the defect register's
  tracker export (``genrep.results.csvmap``, the one home of CSV imports)::

      manual: 1
      import:
        file: acceptanstest.csv          # beside this file
        delimiter: ";"
        columns: {requirement: Krav-id, test_type: Testtyp, result: Resultat, tester: Testare,
                  date: Datum, evidence: Underlag, comment: Kommentar}
        test_type_values: {Användaracceptanstest: user acceptance test}
        result_values: {Godkänd: passed, Underkänd: failed, Blockerad: blocked, Ej körd: not run}

  (``fixtures/manual/acceptanstest-sv.yaml`` with its Swedish CSV).

Bad input fails with the file, the line and the column: a malformed row, an unknown requirement id
(refused: a result must verify a catalogued requirement), a test type or result outside the allowed
words, a date that is not ``YYYY-MM-DD`` or lies after today, a passed or failed result without
evidence.

How the gate judges them (``genrep.results.gate.decide``):

* counted in their own test type (``user acceptance test`` ...; gate.yaml thresholds may name it,
  else ``default``): a failed manual result of a critical requirement is a NO-GO, and its defect
  candidate names the tester, the date and the evidence link;
* blocked and not run verify nothing: each is a gap (INCOMPLETE, never GO), not a defect;
* a result older than gate.yaml ``manual.max_age_days`` (default 30) is **stale**: a stale pass
  verifies nothing (a gap: retest it), a stale failure still fails;
* a requirement passes only if every result of it passes, automated and manual: a manual pass never
  turns an automated failure of the same requirement into a pass;
* gate.yaml ``scope`` may name manual test types, so a run without them is INCOMPLETE.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from genrep.config.contracts import MANUAL_TEST_TYPES, Requirement
from genrep.errors import ConfigError
from genrep.results import failure_kinds
from genrep.results.csvmap import Row, load_mapping, read_rows
from genrep.results.writer import Producer, Result, write as write_results
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

RESULTS = ("passed", "failed", "blocked", "not run")
ROLES = ("requirement", "test_type", "result", "tester", "date", "evidence", "comment")
REQUIRED = ("requirement", "test_type", "result", "tester", "date")
#: A CSV given directly names its columns as genrep does.
DEFAULT_COLUMNS = {role: role for role in ROLES}
LABEL = "genrep_manual"  # its value: the manual test type (genrep.results.reader.ScenarioResult.manual_test_type)
PRODUCER = Producer("genrep_manual_import", "manual results", every_value=True)
ALLURE_STATUS = {"passed": "passed", "failed": "failed", "blocked": "skipped", "not run": "skipped"}


@dataclass(frozen=True)
class ManualResult:
    requirement: str
    test_type: str
    result: str  # passed | failed | blocked | not run
    tester: str
    date: dt.date
    evidence: str
    comment: str = ""
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _date(row: Row, today: dt.date) -> dt.date:
    text = row.get("date")
    try:
        day = dt.date.fromisoformat(text[:10]) if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T].*)?", text) else None
    except ValueError:
        day = None
    if day is None:
        raise row.error("date", f"expected a date YYYY-MM-DD; got {text!r}")
    if day > today:
        raise row.error("date", f"{day.isoformat()} is after today ({today.isoformat()}): a result is recorded "
                                "when the test ran")
    return day


def _requirement(row: Row, catalogue: dict[str, Requirement]) -> str:
    rid = row.get("requirement").strip()
    if rid not in catalogue:
        close = difflib.get_close_matches(rid.upper(), list(catalogue), n=1)
        raise row.error("requirement", f"refused: requirement {rid!r} is not in the catalogue "
                        "(contracts/requirements.yaml)" + (f"; did you mean {close[0]}?" if close else "")
                        + "; a manual result must verify a catalogued requirement")
    return rid


def load_manual(path: str | Path, catalogue: dict[str, Requirement], *,
                today: dt.date | None = None) -> list[ManualResult]:
    """The manual results of ``path`` (a CSV with genrep's column names, or a YAML ``manual: 1`` file
    with an ``import:`` mapping); every error names the file, the line and the column."""
    path = Path(path)
    today = today or dt.date.today()
    if path.suffix.lower() in (".yaml", ".yml"):
        file = str(path)
        d = load_yaml(path)
        if not isinstance(d, Located):
            raise ConfigError("expected a mapping at the top level (manual: 1, import: ...)", file=file)
        reject_unknown(d, {"manual", "import"})
        if require(d, "manual", int) != 1:
            raise ConfigError("unknown manual-results format (this genrep reads manual: 1)", file=file,
                              key="manual", line=d.line_of("manual"))
        spec = require(d, "import", dict)
        mapping = load_mapping(spec, file=file, where="import", roles=ROLES, required=REQUIRED,
                               allowed={"test_type": MANUAL_TEST_TYPES, "result": RESULTS}, extra_keys=("file",))
        csv_file = require(spec, "file", str, where="import")
        rows = read_rows(path.parent / csv_file.strip(), mapping, named_in=file, named_key="import.file",
                         named_line=spec.line_of("file"))
    else:
        mapping = load_mapping(None, file=str(path), where="manual", roles=ROLES, required=REQUIRED,
                               allowed={"test_type": MANUAL_TEST_TYPES, "result": RESULTS},
                               default_columns=DEFAULT_COLUMNS)
        rows = read_rows(path, mapping)
    out: list[ManualResult] = []
    for row in rows:
        rid = _requirement(row, catalogue)
        test_type = row.value("test_type")
        result = row.value("result")
        day = _date(row, today)
        evidence = row.get("evidence")
        if result in ("passed", "failed") and not evidence:
            raise row.error("evidence", f"empty: a {result} result needs its evidence (a link to the test record, "
                                        "screenshot or protocol)")
        out.append(ManualResult(rid, test_type, result, row.get("tester"), day, evidence, row.get("comment"),
                                row.file, row.line))
    if not out:
        raise ConfigError("no manual results: the file has a header but no rows", file=str(path))
    return out


def load_all(paths, catalogue: dict[str, Requirement], *, today: dt.date | None = None) -> list[ManualResult]:
    out: list[ManualResult] = []
    for p in paths or ():
        out += load_manual(p, catalogue, today=today)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def describe(m: ManualResult) -> str:
    """``recorded by Anna Berg on 2025-05-02; evidence https://...``"""
    return (f"recorded by {m.tester} on {m.date.isoformat()}" + (f"; evidence {m.evidence}" if m.evidence else "")
            + (f"; {m.comment}" if m.comment else ""))


def to_result(m: ManualResult, catalogue: dict[str, Requirement]) -> Result:
    req = catalogue[m.requirement]
    if m.result == "failed":
        message = failure_kinds.failure("manual_failed", f"{m.test_type} of {m.requirement} failed: {describe(m)}")
    elif m.result in ("blocked", "not run"):
        message = f"{m.result.capitalize()} ({m.test_type}): verifies nothing; {describe(m)}"
    else:
        message = ""
    start = int(dt.datetime.combine(m.date, dt.time(12)).timestamp() * 1000)
    links = (("evidence", m.evidence),) if re.match(r"[a-z][a-z0-9+.-]*://", m.evidence, re.I) else ()
    return Result(
        key=f"manual-{_slug(m.test_type)}-{m.requirement}-{_slug(m.tester)}",
        name=f"{m.requirement} {req.title} ({m.test_type}, {m.tester})",
        full_name=f"manual results/{m.test_type}/{m.requirement}/{m.tester}",
        status=ALLURE_STATUS[m.result], message=message,
        description=f"Manual {m.test_type} result, imported from {m.where}: {m.result}, {describe(m)}.",
        requirements=(req,),
        labels=((LABEL, m.test_type), ("owner", m.tester), ("tag", "manual"), ("parentSuite", "manual results"),
                ("suite", m.test_type)),
        parameters=(("tester", m.tester), ("date", m.date.isoformat()), ("evidence", m.evidence),
                    ("result", m.result), ("source", m.where)),
        links=links, start_ms=start, stop_ms=start)


def write(results_dir, manual: list[ManualResult], catalogue: dict[str, Requirement]) -> list[Path]:
    """Each manual result as an Allure result in ``results_dir``, replacing earlier imports there."""
    return write_results(results_dir, [to_result(m, catalogue) for m in manual], PRODUCER)


def is_stale(result, today: dt.date, max_age_days: int) -> bool:
    """A manual ``ScenarioResult`` dated more than ``max_age_days`` before ``today``."""
    try:
        day = dt.date.fromisoformat(result.param("date")[:10])
    except ValueError:
        return True  # an undated manual result proves nothing about now
    return (today - day).days > max_age_days
