"""The findings of ``genrep explore``: a minimal failing example with its classification and requirement, saved for replay.

Each :class:`Finding` is saved as JSON (``OUT/findings/<integration>-<kind>-<hash>.json``: the
plain text, wire value, expected text, seed, kind, what was read back; ``FORMAT`` names the file
format), which ``genrep explore --replay`` runs again exactly, and beside it a ready-to-paste
Gherkin regression scenario (``.feature``, ``genrep.explore.scenario``). A file that is not a
finding is a ConfigError naming it.

Requirement per classification (:data:`REQUIREMENTS`, after the fidelity scenarios' tags)::

    classification                                         radiology   nll
    lost_negation                                          RAD-R12     NLL-001
    truncated                                              RAD-R01     NLL-N02
    missing_lines, extra_lines, reordered_lines            RAD-R02     NLL-001
    line_breaks_lost, line_breaks_added, merged_words,     RAD-R03     NLL-N01
      split_words
    mojibake                                               RAD-R09     NLL-001
    combining_marks_lost, unicode_normalisation            RAD-R11     NLL-001
    lost_words                                             RAD-001     NLL-N03
    not_stored, no_ack                                     RAD-R21     (radiology only)
    any other: representations_disagree, refused,          RAD-001     NLL-001
      conclusion_not_in_report, duplicated, empty, ...
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from genrep.errors import ConfigError
from genrep.explore.examples import Example
from genrep.explore.scenario import regression_feature

FORMAT = "genrep-explore-finding/1"

_RAD_DEFAULT = "RAD-001"
_NLL_DEFAULT = "NLL-001"
REQUIREMENTS: dict[str, dict[str, str]] = {
    "radiology": {
        "lost_negation": "RAD-R12",
        "truncated": "RAD-R01",
        "missing_lines": "RAD-R02", "extra_lines": "RAD-R02", "reordered_lines": "RAD-R02",
        "line_breaks_lost": "RAD-R03", "line_breaks_added": "RAD-R03", "merged_words": "RAD-R03",
        "split_words": "RAD-R03",
        "mojibake": "RAD-R09",
        "combining_marks_lost": "RAD-R11", "unicode_normalisation": "RAD-R11",
        "not_stored": "RAD-R21", "no_ack": "RAD-R21",
    },
    "nll": {
        "truncated": "NLL-N02",
        "line_breaks_lost": "NLL-N01", "line_breaks_added": "NLL-N01", "merged_words": "NLL-N01",
        "split_words": "NLL-N01",
        "lost_words": "NLL-N03",
    },
}


def requirement_for(integration: str, kind: str) -> str:
    """The requirement a failure of classification ``kind`` on ``integration`` falls under."""
    table = REQUIREMENTS.get(integration, {})
    return table.get(kind, _NLL_DEFAULT if integration == "nll" else _RAD_DEFAULT)


@dataclass
class Finding:
    """A minimal failing example with its classification, requirement and how to replay it."""

    integration: str
    kind: str
    severity: str
    requirement: str
    message: str
    example: Example
    stored: str | None
    diff: str
    seed: int
    environment: str
    defects: tuple[str, ...]
    shrinking: str
    examples_run: int
    failing_examples: int
    path: str = ""

    @property
    def name(self) -> str:
        return f"{self.integration}-{self.kind}-{self.example.digest()}"

    def to_dict(self) -> dict:
        data = {"format": FORMAT}
        for f in fields(self):
            if f.name in ("example", "path"):
                continue
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else value
        data["example"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.example).items()}
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = "") -> "Finding":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"not a genrep explore finding (no \"format\": \"{FORMAT}\")", file=source or None)
        try:
            ex = data["example"]
            example = Example(**{f.name: (tuple(ex[f.name]) if f.name == "features" else ex[f.name])
                                 for f in fields(Example) if f.name in ex})
            if not isinstance(example.plain, str) or not isinstance(example.expected, str):
                raise TypeError("plain and expected must be text")
            return cls(**{f.name: (tuple(data[f.name]) if f.name == "defects" else data[f.name])
                          for f in fields(cls) if f.name not in ("example", "path")},
                       example=example, path=source)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"a finding file needs every field of a finding ({exc})", file=source or None) from None


def load_finding(path: str | Path) -> Finding:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("finding file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"not a readable JSON finding: {exc}", file=str(path)) from None
    return Finding.from_dict(data, str(path))


def save_finding(finding: Finding, folder: Path) -> tuple[Path, Path]:
    """``folder/<name>.json`` (the replay file) and ``folder/<name>.feature`` (the regression scenario)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{finding.name}.json"
    finding.path = str(path)
    path.write_text(json.dumps(finding.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    feature = path.with_suffix(".feature")
    feature.write_text(regression_feature(finding), encoding="utf-8")
    return path, feature
