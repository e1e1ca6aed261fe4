"""Issue 12: a refused personnummer stops the whole rehearsal, and no output holds it unmasked.

A temporary copy of the project holds one feature with three scenarios: a clean report, a report
whose text holds a personnummer that is not on the allowlist (written with a non-breaking hyphen,
a spelling the first guard let through), and another clean report. The rehearsal must stop at the
refusal (exit 2, no verdict), the third scenario must never run, and neither the console nor any
file written (Allure results, attachments, summary, verdict, traceability) may hold the number in
any spelling, although the scenario's own name carries it too.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from genrep.text.identity_scan import numbers_in
from support import copy_project

pytestmark = pytest.mark.timeout(300)

FOREIGN = "196408233234"  # checksum-valid, not on the allowlist
FEATURE = """# language: en
@radiology
Feature: Identity refusal stops the run

  Background:
    Given the radiology contract
    And a registered test patient

  @RAD-R06 @negative
  Scenario: Clean report before
    Given the report text:
      \"\"\"
      Slutsats: ingen fraktur.
      \"\"\"
    When the RIS sends the report
    Then the EHR acknowledges with AA

  @RAD-R06 @negative
  Scenario: Report naming 19640823-3234 in the text
    Given the report text:
      \"\"\"
      Jämför med undersökning av 640823\u20113234 (fel patient).
      \"\"\"
    When the RIS sends the report
    Then the EHR acknowledges with AA

  @RAD-R06 @negative
  Scenario: Clean report after
    Given the report text:
      \"\"\"
      Slutsats: oförändrat.
      \"\"\"
    When the RIS sends the report
    Then the EHR acknowledges with AA
"""


def test_a_refused_identity_stops_the_rehearsal_and_leaves_no_trace(tmp_path):
    root, env = copy_project(tmp_path / "project")
    (root / "features" / "radiology").mkdir(parents=True)
    (root / "features" / "radiology" / "refusal.feature").write_text(FEATURE, encoding="utf-8")
    results = tmp_path / "out" / "allure-results"
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--no-html", "-v", "--results", str(results)],
                          cwd=root, capture_output=True, text=True, encoding="utf-8", timeout=240,
                          env=dict(env, PYTHONIOENCODING="utf-8"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert "IDENTITY REFUSED" in proc.stderr and "VERDICT: none" in proc.stdout
    assert "VERDICT: GO" not in out and "VERDICT: NO-GO" not in out
    assert "19640823****" in proc.stderr  # where and what, masked
    # the first scenario ran and passed, the third never started
    names = [p.read_text(encoding="utf-8") for p in results.glob("*-result.json")]
    assert any("Clean report before" in n and '"passed"' in n for n in names), names
    assert not any("Clean report after" in n for n in names), names
    # no spelling of the number anywhere: console, results, attachments, verdict outputs
    blobs = {"console": out}
    blobs.update({str(p): p.read_text(encoding="utf-8", errors="replace")
                  for p in (tmp_path / "out").rglob("*") if p.is_file()})
    assert len(blobs) > 5
    leaks = [where for where, text in blobs.items() if FOREIGN in numbers_in(text) or "3234" in text.replace("****", "")]
    assert not leaks, leaks
