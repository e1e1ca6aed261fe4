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

#: Allure's categories, made from the failure-kind registry (``genrep.results.failure_kinds``).
CATEGORIES = allure_categories()


def write_metadata(results_dir: Path, *, profile_name: str, profile_kind: str, defects: tuple[str, ...],
                   contracts: dict[str, str]) -> None:
    results_dir = outputs.claim(results_dir, what="Allure results folder")
    (results_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2), encoding="utf-8")
    env = {"Environment profile": f"{profile_name} ({profile_kind})",
           "Defects switched on": ", ".join(defects) or "none (clean)",
           "genrep": __version__, "Python": platform.python_version()}
    env.update({f"Contract {name}": version for name, version in contracts.items()})
    lines = [f"{k.replace(' ', '.')}={v}" for k, v in env.items()]
    (results_dir / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build = os.environ.get("GITHUB_RUN_ID") or os.environ.get("CI_PIPELINE_ID") or ""
    executor = {"name": "genrep", "type": "genrep", "reportName": "genrep dress rehearsal",
                "buildName": f"rehearsal {build}".strip(),
                "buildUrl": os.environ.get("CI_PIPELINE_URL", "")}
    (results_dir / "executor.json").write_text(json.dumps(executor, indent=2), encoding="utf-8")


def write_meta_result(results_dir: Path, name: str, attachments: dict[str, tuple[str, str]]) -> None:
    """A passed Allure entry carrying genrep's own attachments (e.g. the traceability matrix).
    ``attachments``: title -> (text, mime type). The gate skips entries labelled genrep_meta; an
    earlier entry of the same name is replaced."""
    writer.write(results_dir, [writer.Result(
        key=f"meta-{name}", name=name, full_name=f"genrep:{name}", status="passed",
        labels=[("feature", "Readiness")],
        attachments=[writer.Attachment(title, text, mime) for title, (text, mime) in attachments.items()])],
        writer.Producer("genrep_meta", name))
