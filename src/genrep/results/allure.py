"""Allure reporting: requirement labels and links, and attachments with identities masked.

Steps call these helpers instead of ``allure`` directly, so every attachment passes through
``identities.mask`` and ``secrets.redact`` (no personnummer, no token in a report), and every
scenario gets the same requirement link, severity and labels from the catalogue.
"""

from __future__ import annotations

import allure

from genrep.config.contracts import Requirement
from genrep.results.writer import ALLURE_SEVERITY as _SEVERITY_LEVELS
from genrep.results.writer import SEVERITY_ORDER, requirement_labels, requirement_links, requirement_url
from genrep.secrets import redact
from genrep.text.identities import mask

__all__ = ["ALLURE_SEVERITY", "SEVERITY_ORDER", "requirement_url", "label_scenario", "safe_text", "attach_text",
           "hl7_for_display", "mask_folder"]

# The programme's defect severities -> Allure's severity levels (the rule is genrep.results.writer's).
ALLURE_SEVERITY = {sev: allure.severity_level(level) for sev, level in _SEVERITY_LEVELS.items()}


def label_scenario(requirements: list[Requirement]) -> None:
    """Attach requirement links, labels and the severity of the most severe requirement: the same
    as ``genrep.results.writer`` gives the results genrep writes itself."""
    if not requirements:
        return
    for link in requirement_links(requirements):
        allure.dynamic.link(link["url"], link_type=link["type"], name=link["name"])
    for name, value in requirement_labels(requirements):
        if name == "severity":
            allure.dynamic.severity(allure.severity_level(value))
        else:
            allure.dynamic.label(name, value)


def safe_text(text: str) -> str:
    return redact(mask(text))


def attach_text(name: str, text: str, *, kind: str = "text") -> None:
    """Attach text, identities masked and secrets redacted. ``kind``: text | hl7 | diff | json."""
    types = {"text": allure.attachment_type.TEXT, "hl7": allure.attachment_type.TEXT,
             "diff": allure.attachment_type.TEXT, "json": allure.attachment_type.JSON}
    ext = {"hl7": "hl7", "diff": "diff", "json": "json"}.get(kind, "txt")
    allure.attach(safe_text(text), name=name, attachment_type=types[kind], extension=ext)


def hl7_for_display(message: str) -> str:
    """Segments on their own lines (HL7 uses CR, which most viewers hide), identities masked."""
    return safe_text(message.replace("\r\n", "\n").replace("\r", "\n"))


# what a results or report folder holds as text: everything else (PNG plots) is left as it is
_TEXT_SUFFIXES = {".json", ".txt", ".hl7", ".diff", ".csv", ".md", ".properties", ".xml", ".log", ".yaml"}


def mask_folder(folder) -> int:
    """Mask identities and redact secrets in every text file under ``folder``, in place; returns
    how many files changed.

    Why after the fact: allure-pytest-bdd writes test names, step names and parameters and the
    feature's docstrings itself, from the feature text, and never through ``attach_text``. A
    personnummer a tester wrote into a scenario (refused or not) would otherwise sit unmasked in
    the results and in everything made from them (summary, verdict, traceability, HTML)."""
    from pathlib import Path
    changed = 0
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.suffix.lower() not in _TEXT_SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        safe = safe_text(text)
        if safe != text:
            path.write_text(safe, encoding="utf-8")
            changed += 1
    return changed
