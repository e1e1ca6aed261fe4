"""The regression scenario of a ``genrep explore`` finding: a ready-to-paste Gherkin feature.

The finding becomes a fixed scenario built only from existing steps (radiology: the report text, or
its escaped OBX-5 value; nll: the planted instruction), tagged with its requirement id, with
comments saying where to paste it and how to replay the exact example. Whatever a step or a
Gherkin docstring cannot hold exactly (another OBX-2 type or character set, CR line endings, a
text the parser reads back differently) is said in a ``# NOTE:`` line: the replay file holds it
exactly. Written by ``save_finding`` and attached to the Allure result.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genrep.explore.findings import Finding


def _docstring(text: str, indent: str = "      ") -> list[str]:
    body = text.replace('"""', '\\"\\"\\"')
    return [f'{indent}"""'] + [(indent + ln) if ln else "" for ln in body.split("\n")] + [f'{indent}"""']


def _steps(finding: Finding) -> tuple[list[str], list[str], list[str]]:
    """(step lines, the texts its docstrings must hold, notes on what the scenario cannot hold exactly)."""
    ex, notes = finding.example, []
    if finding.integration == "nll":
        if ex.plain != ex.expected:
            notes.append("the instruction NLL held differs from the expected text")
        text = ex.expected.replace("\r\n", "\n").replace("\r", "\n")
        lines = [f"    Given the patient has a prescription in NLL whose instruction, with {ex.convention} "
                 "line breaks, is:", *_docstring(text),
                 "    When the clinician opens the medication list in the EHR",
                 "    Then the EHR shows every prescription as NLL holds it"]
        return lines, [text], notes
    if ex.wire is not None:
        if ex.wire_type != "FT":
            notes.append(f"the example's OBX-2 was {ex.wire_type}; this step sends the value as FT")
        if ex.charset != "UNICODE UTF-8":
            notes.append(f"the example's MSH-18 was {ex.charset}; this step sends UTF-8")
        if ex.wire != ex.wire.strip():
            notes.append("the step strips the value's leading and trailing whitespace")
        lines = ["    When the RIS sends a report whose OBX-5 holds the escaped value:", *_docstring(ex.wire),
                 "    Then the EHR acknowledges with AA", "    And the report read back reads:",
                 *_docstring(ex.expected)]
        return lines, [ex.wire, ex.expected], notes
    if ex.plain != ex.expected:
        notes.append("the typed CR LF / CR line endings are LF here (a docstring holds LF only; the "
                     "comparison treats them as the same line break)")
    send = "    When the RIS sends the report"
    if ex.charset != "UNICODE UTF-8":
        send = f'    When the RIS sends the report in the "{ex.charset}" character set'
        if ex.convention != "obx-per-line":
            notes.append(f"the example used the {ex.convention} convention too; no step sets both")
    elif ex.convention != "obx-per-line":
        send = f'    When the RIS sends the report using the "{ex.convention}" convention'
    lines = ["    Given the report text:", *_docstring(ex.expected), send,
             "    Then the EHR acknowledges with AA",
             "    And the report read back from the EHR matches the sent text"]
    return lines, [ex.expected], notes


def regression_feature(finding: Finding) -> str:
    """A feature file with the finding as a fixed regression scenario (existing steps, tagged with
    the requirement id): paste the scenario into the integration's feature file."""
    steps, texts, notes = _steps(finding)
    ex = finding.example
    nbytes, nlines = ex.size
    if finding.integration == "nll":
        header = ["@nll", f"Feature: Regression from genrep explore ({finding.kind})", "", "  Background:",
                  "    Given a registered test patient", '    And NLL serves release "N"']
        target = "features/medication_list/medication_list.feature"
    else:
        header = ["@radiology", f"Feature: Regression from genrep explore ({finding.kind})", "", "  Background:",
                  "    Given the radiology contract", "    And a registered test patient"]
        target = "features/radiology/report_fidelity.feature"
    scenario = [f"  @{finding.requirement} @negative",
                f"  Scenario: genrep explore {finding.kind}: {nlines} line(s), {nbytes} bytes (seed {finding.seed}, "
                f"{ex.digest()})", *steps]
    if not _docstrings_hold(header + [""] + scenario, texts):
        notes.append("a Gherkin docstring cannot hold this text exactly; the replay file holds it exactly")
    comments = [f"# Regression scenario from a genrep explore finding ({Path(finding.path).name or finding.name}):",
                f"# {finding.kind} ({finding.severity}), requirement {finding.requirement}, found with seed "
                f"{finding.seed} on {finding.environment}.",
                f"# Paste the scenario (from its tags to its last step) into {target}; its Background",
                "# registers the test patient. Replay the exact example: genrep explore --replay "
                + (finding.path or f"{finding.name}.json")]
    comments += [f"# NOTE: {n}." for n in notes]
    return "\n".join(comments + header + [""] + scenario) + "\n"


def _docstrings_hold(lines: list[str], texts: list[str]) -> bool:
    """Whether the Gherkin parser (pytest-bdd's) reads the scenario's docstrings back as ``texts``."""
    try:
        from gherkin.parser import Parser
        doc = Parser().parse("\n".join(lines) + "\n")
        scenario = next(c["scenario"] for c in doc["feature"]["children"] if "scenario" in c)
        return [s["docString"]["content"] for s in scenario["steps"] if "docString" in s] == texts
    except Exception:  # noqa: BLE001 - a scenario the parser refuses is simply not exact
        return False
