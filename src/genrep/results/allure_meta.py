"""Allure metadata written next to the results: categories, environment, executor, and genrep's own
traceability entry.

Categories group failures the way a test manager triages them (text truncation, line breaks, lost
negation, failover, contract drift, environment unreachable, AA not stored), keyed on the
classification every failure message starts with; they are made from the failure-kind registry
(``genrep.results.failure_kinds``), where each kind names its category. The environment block says
what was tested (profile, defects, versions) so a report cannot be mistaken for another run's.

These files overwrite their namesakes, so they are only written into a folder genrep owns
(``genrep.outputs.claim``): a folder of someone else's files is refused, never written over.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from genrep import __version__, outputs
from genrep.results import writer
from genrep.results.failure_kinds import allure_categories

#: The go-live verdict's own category, first: Allure's overview lists categories in this order, so a
#: NO-GO or INCOMPLETE verdict (``write_verdict_result``) is the first thing the Categories widget shows.
VERDICT_CATEGORY = {"name": "Go-live verdict: NO-GO or INCOMPLETE", "matchedStatuses": ["failed", "broken"],
                    "messageRegex": r"(?s)GO-LIVE VERDICT: .*"}
#: Allure's categories, made from the failure-kind registry (``genrep.results.failure_kinds``).
CATEGORIES = [VERDICT_CATEGORY, *allure_categories()]


def write_metadata(results_dir: Path, *, profile_name: str, profile_kind: str, defects: tuple[str, ...],
                   contracts: dict[str, str], deviations: tuple[str, ...] = ()) -> None:
    """``deviations``: what the profile's settings make genrep do outside the standards
    (``config.endpoints.recorded_deviations``: an endpoint's documented code pages), one
    ``Recorded deviation N`` entry each, so a report says so instead of passing silently."""
    results_dir = outputs.claim(results_dir, what="Allure results folder")
    (results_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2), encoding="utf-8")
    env = {"Environment profile": f"{profile_name} ({profile_kind})",
           "Defects switched on": ", ".join(defects) or "none (clean)",
           "genrep": __version__, "Python": platform.python_version()}
    env.update({f"Contract {name}": version for name, version in contracts.items()})
    env.update({f"Recorded deviation {i}": line for i, line in enumerate(deviations, start=1)})
    lines = [f"{k.replace(' ', '.')}={v}" for k, v in env.items()]
    (results_dir / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build = os.environ.get("GITHUB_RUN_ID") or os.environ.get("CI_PIPELINE_ID") or ""
    executor = {"name": "genrep", "type": "genrep", "reportName": "genrep dress rehearsal",
                "buildName": f"rehearsal {build}".strip(),
                "buildUrl": os.environ.get("CI_PIPELINE_URL", "")}
    (results_dir / "executor.json").write_text(json.dumps(executor, indent=2), encoding="utf-8")


def write_meta_result(results_dir: Path, name: str, attachments: dict[str, tuple[str, str]], *,
                      status: str = "passed", message: str = "") -> None:
    """An Allure entry carrying genrep's own attachments (e.g. the traceability matrix): passed, or
    failed on a NO-GO or INCOMPLETE verdict (``status``, ``message``) so the readiness item is never
    green when the verdict is not. ``attachments``: title -> (text, mime type). The gate skips
    entries labelled genrep_meta; an earlier entry of the same name is replaced."""
    writer.write(results_dir, [writer.Result(
        key=f"meta-{name}", name=name, full_name=f"genrep:{name}", status=status, message=message,
        labels=[("feature", "Readiness")],
        attachments=[writer.Attachment(title, text, mime) for title, (text, mime) in attachments.items()])],
        writer.Producer("genrep_meta", name))


#: The Allure status of each verdict's own result: failed on NO-GO and INCOMPLETE; broken (not green,
#: not red: a decision recorded) on GO WITH RECORDED DEVIATIONS; skipped on PARTIAL GO (parts waived);
#: passed on GO only.
VERDICT_STATUS = {"GO": "passed", "GO WITH RECORDED DEVIATIONS": "broken", "PARTIAL GO": "skipped",
                  "NO-GO": "failed", "INCOMPLETE": "failed"}


def write_verdict_result(results_dir: Path, verdict_status: str, verdict_line: str, lines: list[str],
                         attachments: dict[str, tuple[str, str]]) -> None:
    """The go-live verdict as an Allure result of its own ("Go-live verdict: NO-GO"), first in the
    overview: its own category (``VERDICT_CATEGORY``), the top suite ("0 Go-live verdict") and
    severity. Its message starts with the verdict line; ``lines`` (deviations, what blocks, what is
    missing, the trend) follow. The gate skips it (genrep_meta)."""
    status = VERDICT_STATUS[verdict_status]
    message = "GO-LIVE VERDICT: " + verdict_line.removeprefix("VERDICT: ") + ("\n" + "\n".join(lines) if lines else "")
    writer.write(results_dir, [writer.Result(
        key="meta-go-live-verdict", name=f"Go-live verdict: {verdict_status}", full_name="genrep:go-live-verdict",
        status=status, message=message if status != "passed" else "", description=message,
        labels=[("parentSuite", "0 Go-live verdict"), ("suite", "Go-live verdict"), ("feature", "Go-live verdict"),
                ("epic", "0 Go-live verdict"), ("severity", "critical"), ("tag", "go-live-verdict")],
        attachments=[writer.Attachment(title, text, mime) for title, (text, mime) in attachments.items()])],
        writer.Producer("genrep_meta", "go-live-verdict"))
