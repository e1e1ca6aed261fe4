"""`genrep rehearse --replay-2024`, end to end (issue 15, part 2): the five replayed incidents fail
dozens of scenarios; the verdict names each incident as one defect candidate with its scenarios
under it, defects first in the summary, verdict.json, scorecard and traceability."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys

import pytest

from genrep.sim.defects import DEFECTS, REPLAY_2024


@pytest.mark.timeout(900)  # the whole feature suite with five defects: ~55 s quiet, about twice that under make test
def test_replay_2024_names_each_incident_as_one_defect(tmp_path):
    results = tmp_path / "allure-results"
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--replay-2024", "--no-html",
                           "--results", str(results)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
    defects = verdict["defects"]
    assert verdict["verdict"] == "NO-GO" and defects["counted"] == "defects"
    failing = defects["failing_scenarios"]
    assert failing >= 30 and defects["candidates"] == len(REPLAY_2024), (failing, [d["title"] for d in defects["list"]])
    line = next(x for x in proc.stdout.splitlines() if x.startswith("VERDICT: "))
    assert f"VERDICT: NO-GO ({len(REPLAY_2024)} defect candidates" in line and f"behind {failing} failing" in line

    # each scenario under exactly one defect; each incident's failing requirements under one defect
    filed = [s["name"] for d in defects["list"] for s in d["scenarios"]]
    assert len(filed) == len(set(filed)) == failing
    failed_reqs = {rid for rid, r in verdict["requirements"].items() if r["status"] == "failed"}
    homes = {}
    for name in REPLAY_2024:
        expected = set(DEFECTS[name].detected_by) & failed_reqs
        assert expected, name
        shown = [d for d in defects["list"]
                 if expected <= set(d["requirements"]) | {rid for s in d["also_seen_in"] for rid in s["requirements"]}]
        assert shown, (name, expected, [(d["id"], d["requirements"]) for d in defects["list"]])
        homes[name] = [d["id"] for d in shown]
    # five incidents, five defects: each incident can be given a defect of its own
    assert any(len(set(choice)) == len(REPLAY_2024) for choice in itertools.product(*homes.values())), homes

    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.index("## Defects:") < summary.index("## Failed requirements") < summary.index("## Requirements")
    assert "radiology: text truncation" in summary and "registration: patient identity" in summary
    assert "Defects: 5 defect candidates" in (tmp_path / "scorecard.html").read_text(encoding="utf-8")
    with open(tmp_path / "traceability.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert all(r["defect"] for r in rows if r["scenario_status"] in ("failed", "broken"))
