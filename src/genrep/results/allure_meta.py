"""Allure metadata written next to the results: categories, environment, executor, and genrep's own
traceability entry.

Categories group failures the way a test manager triages them (text truncation, line breaks, lost
negation, failover, contract drift, environment unreachable, AA not stored), keyed on the
classification every failure message starts with. The environment block says what was tested
(profile, defects, versions) so a report cannot be mistaken for another run's.

These files overwrite their namesakes, so they are only written into a folder genrep owns
(``genrep.outputs.claim``): a folder of someone else's files is refused, never written over.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from pathlib import Path

from genrep import __version__, outputs

CATEGORIES = [
    {"name": "Lost negation (critical: a finding may read as its opposite)",
     "matchedStatuses": ["failed"], "messageRegex": r"(?s).*lost_negation.*"},
    {"name": "Text truncation", "matchedStatuses": ["failed"], "messageRegex": r"(?s).*\[(truncated|empty)/.*"},
    {"name": "Line breaks and merged words", "matchedStatuses": ["failed"],
     "messageRegex": r"(?s).*(line_breaks_lost|line_breaks_added|merged_words|split_words|missing_lines).*"},
    {"name": "AA is not stored", "matchedStatuses": ["failed"], "messageRegex": r"(?s).*not_stored.*"},
    {"name": "Failover, failback and fail-safe", "matchedStatuses": ["failed"],
     "messageRegex": r"(?s).*(failover_failed|no_failback|early_failback|flapping|unbalanced|false_no_interactions|"
                     r"check_not_performed|latency_slo_missed).*"},
    {"name": "Contract drift", "matchedStatuses": ["failed"],
     "messageRegex": r"(?s).*(contract_drift|drift_not_detected|missing_field|wrong_version).*"},
    {"name": "NLL unavailable shown wrongly", "matchedStatuses": ["failed"],
     "messageRegex": r"(?s).*(empty_list_on_failure|nll_unavailable).*"},
    {"name": "Patient identity", "matchedStatuses": ["failed"],
     "messageRegex": r"(?s).*(wrong_birth_date|wrong_sex|registration_refused).*"},
    {"name": "Environment unreachable", "matchedStatuses": ["failed", "broken"],
     "messageRegex": r"(?s).*(refused the connection|no MLLP answer|connection refused|no answer within|"
                     r"did not complete within|environment_not_ready|cannot connect).*"},
    {"name": "Other product defects", "matchedStatuses": ["failed"]},
    {"name": "Test defects (harness or data)", "matchedStatuses": ["broken"]},
]


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
    ``attachments``: title -> (text, mime type). The gate skips entries labelled genrep_meta."""
    results_dir = outputs.claim(results_dir, what="Allure results folder")
    entries = []
    for title, (text, mime) in attachments.items():
        ext = {"text/csv": "csv", "text/html": "html"}.get(mime, "txt")
        source = f"{uuid.uuid4()}-attachment.{ext}"
        (results_dir / source).write_text(text, encoding="utf-8")
        entries.append({"name": title, "source": source, "type": mime})
    rid = str(uuid.uuid4())
    result = {"uuid": rid, "historyId": f"genrep-meta-{name}", "testCaseId": f"genrep-meta-{name}",
              "name": name, "fullName": f"genrep:{name}", "status": "passed", "stage": "finished",
              "labels": [{"name": "genrep_meta", "value": "true"}, {"name": "feature", "value": "Readiness"}],
              "attachments": entries}
    (results_dir / f"{rid}-result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
