"""The Allure result of a ``genrep explore`` finding, written through ``genrep.results.writer``.

One failed result per finding, with its requirement (the catalogue's link), its classification and
the minimal example attached (text sent, OBX-5 value, expected text, what was read back, the diff,
the replay file and the regression scenario), identities masked. A run replaces the same
integration's earlier explore results only, so a clean rerun leaves no finding of the last one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from genrep.errors import ConfigError
from genrep.explore.scenario import regression_feature

if TYPE_CHECKING:
    from genrep.explore.findings import Finding


def allure_result(finding: Finding, catalogue: dict):
    """The Allure result of a finding (``genrep.results.writer``): failed, with its requirement,
    its classification and the minimal example attached, identities masked."""
    from genrep.results import writer
    from genrep.results.allure import safe_text
    ex = finding.example
    nbytes, nlines = ex.size
    requirement = catalogue.get(finding.requirement)
    if requirement is None:
        raise ConfigError(f"genrep explore: requirement {finding.requirement} is not in the requirement catalogue")
    attachments = [writer.Attachment("Minimal example: text sent", safe_text(ex.plain))]
    if ex.wire is not None:
        attachments.append(writer.Attachment(f"Minimal example: OBX-5 value ({ex.wire_type})", safe_text(ex.wire)))
    attachments.append(writer.Attachment("Minimal example: expected text", safe_text(ex.expected)))
    if finding.stored is not None:
        attachments.append(writer.Attachment("Text read back", safe_text(finding.stored)))
    if finding.diff:
        attachments.append(writer.Attachment("Diff expected -> read back", safe_text(finding.diff)))
    attachments.append(writer.Attachment("Finding (replay file)", safe_text(json.dumps(
        finding.to_dict(), indent=2, ensure_ascii=False)), "application/json"))
    attachments.append(writer.Attachment("Regression scenario (.feature)", safe_text(regression_feature(finding))))
    return writer.Result(
        key=f"explore-{finding.integration}-{finding.kind}",
        name=f"genrep explore, {finding.integration}: {finding.kind} (minimal example {nlines} line(s), {nbytes} bytes)",
        full_name=f"genrep.explore.{finding.integration}.{finding.kind}",
        status="failed", message=safe_text(finding.message),
        description=(f"Generated {finding.integration} texts sent through the live integration and read back; "
                     f"{finding.failing_examples} of {finding.examples_run} examples failed as {finding.kind}. "
                     f"The minimal failing example (shrinking {finding.shrinking}) is attached; "
                     f"`genrep explore --replay {finding.path or finding.name + '.json'}` runs it again."),
        requirements=[requirement],
        labels=[("feature", "property-based exploration"), ("classification", finding.kind), ("tag", "explore")],
        parameters=[("environment", finding.environment), ("defects", ", ".join(finding.defects) or "none"),
                    ("seed", finding.seed), ("generator", ex.generator), ("example", ex.describe()),
                    ("shrinking", finding.shrinking), ("examples run", finding.examples_run)],
        attachments=attachments)


def write_allure(findings: list[Finding], results_dir: Path, integration: str) -> list[Path]:
    """One result per finding; a run replaces this integration's earlier explore results."""
    from genrep.config.contracts import load_catalogue
    from genrep.results import writer
    catalogue = load_catalogue()
    return writer.write(results_dir, [allure_result(f, catalogue) for f in findings],
                        writer.Producer("genrep_explore", integration))
