"""The trend (issue 15, part 5): what broke, what got fixed and what still fails since the previous
*full* rehearsal, by defect key (``genrep.results.defects``: stable across runs) and by scenario.

Each verdict of a full run (nothing of gate.yaml's scope missing or waived) is recorded as one small
JSON file under ``reports/history/verdicts/`` (beside Allure's own history, which
``genrep.results.html_report`` keeps; that folder's ``verdicts/`` is carried over when Allure's
history is replaced). A subset run (``-m RAD-001``, a rehearsal without load, anything INCOMPLETE or
PARTIAL GO) is compared with the last full run, but never becomes the baseline: otherwise a run of
one scenario would make every other failure look "fixed" next time. Scenarios the baseline had
failing that did not run this time are listed as not run, never as fixed.

The 20 most recent full runs are kept (``KEEP``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from genrep import outputs

KEEP = 20
FOLDER = "verdicts"
FORMAT = 1


def record(verdict) -> dict:
    """What the next run compares with: the defects by key and every executed scenario's status."""
    defects = {d.key: {"id": d.id, "title": d.title, "severity": d.severity, "trackers": list(d.trackers),
                       "scenarios": sorted({sc.full_name for sc in d.scenarios})}
               for d in verdict.defect_candidates}
    scenarios = {r.full_name: {"name": r.name, "status": "failed" if r.failed else r.status}
                 for r in verdict.results if r.executed}
    return {"genrep_trend": FORMAT, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "verdict": verdict.status,
            "full": not verdict.missing and not verdict.waived, "defects": defects, "scenarios": scenarios}


@dataclass
class Trend:
    since: str  # the baseline's time
    since_verdict: str
    current_full: bool
    new_defects: list[dict] = field(default_factory=list)  # {key, title, severity}
    fixed_defects: list[dict] = field(default_factory=list)
    still_defects: list[dict] = field(default_factory=list)
    unrun_defects: list[dict] = field(default_factory=list)  # the baseline's, none of whose scenarios ran now
    new_failures: list[str] = field(default_factory=list)  # scenario names
    fixed: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)

    def sentence(self, lang: str = "en") -> str:
        """In ``lang`` (genrep.results.i18n; English for verdict.json and the CI line)."""
        from genrep.results.i18n import t
        return (t(lang, "since the full rehearsal of {since} ({verdict}): defects {new} new, {fixed} fixed, "
                        "{still} still open", since=self.since, verdict=t(lang, self.since_verdict),
                  new=len(self.new_defects), fixed=len(self.fixed_defects), still=len(self.still_defects))
                + (t(lang, ", {n} not run", n=len(self.unrun_defects)) if self.unrun_defects else "")
                + t(lang, "; scenarios {new} newly failing, {fixed} fixed, {still} still failing",
                    new=len(self.new_failures), fixed=len(self.fixed), still=len(self.still_failing))
                + (t(lang, ", {n} not run", n=len(self.not_run)) if self.not_run else "")
                + ("" if self.current_full else
                   t(lang, " (this run is not full: it is compared, but is not the next baseline)")))

    def to_dict(self) -> dict:
        return {"since": self.since, "since_verdict": self.since_verdict, "current_full": self.current_full,
                "defects": {"new": self.new_defects, "fixed": self.fixed_defects, "still_open": self.still_defects,
                            "not_run": self.unrun_defects},
                "scenarios": {"newly_failing": self.new_failures, "fixed": self.fixed,
                              "still_failing": self.still_failing, "not_run": self.not_run},
                "text": self.sentence()}

    def lines(self) -> list[str]:
        """Markdown-free lines: each group with its members."""
        out = [self.sentence()]
        for label, items in (("new defect", self.new_defects), ("fixed defect", self.fixed_defects),
                             ("still open", self.still_defects), ("defect not run", self.unrun_defects)):
            out += [f"{label}: {d['key']} ({d['severity']}) {d['title']}" for d in items]
        for label, names in (("newly failing", self.new_failures), ("fixed", self.fixed),
                             ("still failing", self.still_failing), ("not run", self.not_run)):
            out += [f"{label}: {n}" for n in names]
        return out


def compare(previous: dict, current: dict) -> Trend:
    pd, cd = previous.get("defects", {}), current.get("defects", {})
    ps, cs = previous.get("scenarios", {}), current.get("scenarios", {})
    trend = Trend(previous.get("time", "?"), previous.get("verdict", "?"), bool(current.get("full")))

    def brief(key: str, d: dict) -> dict:
        return {"key": key, "title": d.get("title", ""), "severity": d.get("severity", "")}

    for key, d in cd.items():
        (trend.still_defects if key in pd else trend.new_defects).append(brief(key, d))
    for key, d in pd.items():
        if key in cd:
            continue
        ran = [s for s in d.get("scenarios", []) if s in cs]
        (trend.fixed_defects if ran else trend.unrun_defects).append(brief(key, d))
    for full_name, s in cs.items():
        before = ps.get(full_name, {}).get("status")
        if s["status"] == "failed":
            (trend.still_failing if before == "failed" else trend.new_failures).append(s["name"])
        elif s["status"] == "passed" and before == "failed":
            trend.fixed.append(s["name"])
    trend.not_run = [s["name"] for full_name, s in ps.items() if s.get("status") == "failed" and full_name not in cs]
    return trend


def _records(folder: Path) -> list[tuple[Path, dict]]:
    out = []
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, OSError, UnicodeDecodeError):
            continue
        if isinstance(data, dict) and data.get("genrep_trend") == FORMAT and data.get("full"):
            out.append((f, data))
    return out


def baseline(history_dir: Path) -> dict | None:
    """The most recent full run recorded under ``history_dir/verdicts``."""
    records = _records(Path(history_dir) / FOLDER)
    return records[-1][1] if records else None


def update(verdict, history_dir: Path) -> Trend | None:
    """Compare ``verdict`` with the last full run (setting ``verdict.trend``), then record it if it
    is full itself. None when there is no earlier full run."""
    now = record(verdict)
    before = baseline(history_dir)
    trend = compare(before, now) if before is not None else None
    verdict.trend = trend
    if now["full"]:
        folder = Path(history_dir) / FOLDER
        outputs.claim(folder, what="verdict history folder")
        stamp = time.strftime("%Y%m%dT%H%M%S")
        n = len(list(folder.glob(f"{stamp}*.json")))
        (folder / f"{stamp}-{n:02d}.json").write_text(json.dumps(now, indent=1, ensure_ascii=False), encoding="utf-8")
        for old, _ in _records(folder)[:-KEEP]:
            old.unlink(missing_ok=True)
    return trend
