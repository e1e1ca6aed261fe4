"""The one writer of Allure result files for what genrep judges itself: load SLAs (``genrep.load``),
certificates (``genrep.certs``) and genrep's own report entries (the traceability matrix). The
feature suite's results are written by allure-pytest-bdd; ``results.allure.label_scenario`` gives
those the same requirement labels and link as ``requirement_labels`` / ``requirement_links`` here.

A ``Result`` says what was checked; ``write`` turns each into an Allure ``*-result.json``:

* ``historyId`` ``genrep-<key>`` and ``testCaseId`` ``genrep-<case_key>`` (default: the key), so
  a rerun of the same check is the same test in Allure's history;
* per requirement a ``tms`` link (``requirement_url``) and the labels ``requirement``, ``test_type``,
  ``epic`` (the integration), ``story`` (id and title), then ``severity`` (Allure's level of the
  most severe requirement) and ``defect_severity`` (the programme's), as the suite has them;
* the producer's label (``genrep_load: <profile>``, ``genrep_certs: <environment>``, ...);
* parameters, the failure message, and attachments written as files beside the result.

Writing replaces the producer's earlier results in the folder (and the attachment files they
named): a rerun must not leave the old verdict next to the new one. Other producers' results, and
the suite's, are never touched. The folder is claimed through ``genrep.outputs.claim`` (genrep's
own, or refused with nothing written).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genrep import outputs
from genrep.config.contracts import Requirement

#: The programme's defect severities -> Allure's severity levels (the suite's, ``results.allure``; certs and
#: load write the same). Allure has five fixed levels (blocker, critical, normal, minor, trivial) and
#: shows any other word as "normal", so "high" cannot be written as such. The catalogue's "critical" is
#: shown as "critical" (never "blocker", which the catalogue does not have), one level down for the
#: others; the catalogue's own word is the ``defect_severity`` label on every result.
ALLURE_SEVERITY = {"critical": "critical", "high": "normal", "medium": "minor", "low": "trivial"}
SEVERITY_ORDER = ("critical", "high", "medium", "low")
_EXTENSIONS = {"text/plain": "txt", "text/csv": "csv", "text/html": "html", "application/json": "json",
               "image/png": "png", "image/svg+xml": "svg"}


def requirement_url(req_id: str) -> str:
    """The requirement's link, absolute (``genrep.results.settings.requirement_url_template``:
    ``GENREP_REQUIREMENT_URL``, gate.yaml ``report.requirement_url``, the CI repository, or file://),
    with ``{id}`` replaced."""
    from genrep.results.settings import requirement_url_template
    return requirement_url_template().replace("{id}", req_id)


def worst(requirements: Sequence[Requirement]) -> Requirement:
    return min(requirements, key=lambda r: SEVERITY_ORDER.index(r.severity))


def requirement_links(requirements: Sequence[Requirement]) -> list[dict]:
    return [{"name": req.id, "url": requirement_url(req.id), "type": "tms"} for req in requirements]


def requirement_labels(requirements: Sequence[Requirement]) -> list[tuple[str, str]]:
    """(name, value) labels of a check of ``requirements``, in the order the suite adds them."""
    if not requirements:
        return []
    labels: list[tuple[str, str]] = []
    for req in requirements:
        labels += [("requirement", req.id), ("test_type", req.test_type), ("epic", req.integration),
                   ("story", f"{req.id} {req.title}")]
    w = worst(requirements)
    return labels + [("severity", ALLURE_SEVERITY[w.severity]), ("defect_severity", w.severity)]


@dataclass(frozen=True)
class Attachment:
    """A file beside the results. One object given to several results is written once."""
    name: str
    content: str | bytes
    mime: str = "text/plain"


@dataclass(frozen=True)
class Producer:
    """Who wrote a result: the label ``name`` (``genrep_load``) with ``value`` (the profile).
    ``every_value``: a write replaces the results of every value (certificates: of any environment),
    not only of this one (load: this profile's; others of a rehearsal stay)."""
    name: str
    value: str
    every_value: bool = False

    def wrote(self, data: dict) -> bool:
        labels = data.get("labels") if isinstance(data, dict) else None
        return isinstance(labels, list) and any(
            isinstance(lb, dict) and lb.get("name") == self.name and (self.every_value or lb.get("value") == self.value)
            for lb in labels)


@dataclass
class Result:
    key: str                                    # historyId genrep-<key>
    name: str
    full_name: str
    status: str                                 # passed | failed | broken
    message: str = ""                           # statusDetails.message (a failure kind first)
    case_key: str | None = None                 # testCaseId genrep-<case_key>; default: the key
    description: str = ""
    requirements: Sequence[Requirement] = ()
    labels: Sequence[tuple[str, str]] = ()      # feature, tag, ...
    parameters: Sequence[tuple[str, object]] = ()
    attachments: Sequence[Attachment] = ()
    start_ms: int | None = None                 # default: now
    stop_ms: int | None = None                  # default: start
    severity: str | None = None                 # Allure severity label; default: from the requirements
    links: Sequence[tuple[str, str]] = ()       # (name, url) shown as links (a manual result's evidence)


def build(result: Result, producer: Producer, sources: dict[int, str] | None = None) -> dict:
    """The Allure result JSON of ``result`` (``sources``: attachment object id -> file name)."""
    start = int(time.time() * 1000) if result.start_ms is None else result.start_ms
    labels = requirement_labels(result.requirements)
    if result.severity is not None:
        labels = [lb for lb in labels if lb[0] != "severity"] + [("severity", result.severity)]
    labels += list(result.labels) + [(producer.name, producer.value)]
    data = {"uuid": str(uuid.uuid4()), "historyId": f"genrep-{result.key}",
            "testCaseId": f"genrep-{result.case_key or result.key}", "name": result.name,
            "fullName": result.full_name, "status": result.status, "stage": "finished",
            "start": start, "stop": start if result.stop_ms is None else result.stop_ms}
    if result.description:
        data["description"] = result.description
    if result.message:
        data["statusDetails"] = {"message": result.message}
    data["labels"] = [{"name": n, "value": v} for n, v in labels]
    links = requirement_links(result.requirements) + [{"name": n, "url": u, "type": "link"} for n, u in result.links]
    if links:
        data["links"] = links
    if result.parameters:
        data["parameters"] = [{"name": n, "value": str(v)} for n, v in result.parameters]
    if result.attachments:
        sources = sources or {}
        data["attachments"] = [{"name": a.name, "source": sources.get(id(a), ""), "type": a.mime}
                               for a in result.attachments]
    return data


def _attachment_file(folder: Path, attachment: Attachment) -> str:
    ext = _EXTENSIONS.get(attachment.mime, "txt")
    source = f"{uuid.uuid4()}-attachment.{ext}"
    if isinstance(attachment.content, bytes):
        (folder / source).write_bytes(attachment.content)
    else:
        (folder / source).write_text(attachment.content, encoding="utf-8")
    return source


def replace_earlier(folder: Path, producer: Producer) -> int:
    """Delete the producer's earlier results in ``folder`` and the attachment files they name;
    returns how many results. Unreadable or foreign files stay."""
    removed = 0
    for path in folder.glob("*-result.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError, OSError):
            continue
        if not producer.wrote(data):
            continue
        for att in data.get("attachments") or []:
            source = att.get("source") if isinstance(att, dict) else None
            # only a plain file name of an attachment beside the result (never a path out of the folder)
            if isinstance(source, str) and "-attachment" in source and Path(source).name == source:
                (folder / source).unlink(missing_ok=True)
        path.unlink()
        removed += 1
    return removed


def write(results_dir: str | os.PathLike, results: Sequence[Result], producer: Producer) -> list[Path]:
    """Write ``results`` into ``results_dir`` (claimed through ``genrep.outputs``), replacing the
    producer's earlier results there; returns the result files, in order."""
    folder = outputs.claim(results_dir, what="Allure results folder")
    replace_earlier(folder, producer)
    sources: dict[int, str] = {}
    written = []
    for result in results:
        for att in result.attachments:
            if id(att) not in sources:
                sources[id(att)] = _attachment_file(folder, att)
        data = build(result, producer, sources)
        path = folder / f"{data['uuid']}-result.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written
