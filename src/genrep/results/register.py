"""The defect register and recorded deviations (issue 15, part 3): ``contracts/defects.yaml``.

The register is what a programme's tracker knows about its defects: each entry a tracker id, a
title, an assessed severity, a status and which failures it matches. It is written by hand, or
imported from a tracker's CSV export with a column mapping (``import:``), or both. The gate matches
it against this run's defect candidates (``genrep.results.defects``):

* a matched candidate shows its tracker id (or ids); an unmatched one is **new**;
* a candidate matched by one entry takes that entry's assessed severity, if it has one (the
  programme assesses severity; the outputs say when it is below what the requirements say);
* a failing scenario matched by two entries is flagged (the register is ambiguous there);
* an entry marked fixed or closed that still matches a failure is flagged.

A **deviation** is a decision to go live with a known open defect: who decided, their role, the
date, the reason, the expiry, and a signature. A deviation naming a tracker id the register does not
have is refused (bad input). A deviation counts only when it is **valid**: signed, dated today or
earlier, not expired, its entry open and matching a defect of this run unambiguously. Anything else
counts for nothing, and the outputs say why.

What "signed" means here, honestly: ``signed_by`` names the person, and ``signature`` is
``sha256:`` plus the SHA-256 of the entry's own fields (defect, decided_by, role, date, reason,
expires, signed_by) in a fixed form (``entry_hash``). It binds the wording: a deviation edited after
it was signed (a later expiry, another defect) no longer matches its signature and counts for
nothing. It does not prove who wrote it: anyone can compute the hash. Who signed is established the
way the register itself is: the commit that adds it, the repository's review (e.g. a CODEOWNERS rule
for ``contracts/defects.yaml``), or the tracker's own approval record. An unsigned deviation's
message gives the hash to sign with, so signing is a deliberate second step, never implied.

Nothing here turns a failure into a pass: scenarios stay failed, defect counts stay as they are. A
valid deviation only changes how the verdict is worded (``GO WITH RECORDED DEVIATIONS``) and what
it lists.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from genrep.config.contracts import SEVERITIES
from genrep.errors import ConfigError
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

STATUSES = ("open", "fixed", "closed")
MATCH_FIELDS = ("defect", "kind", "requirement", "scenario")
DEVIATION_FIELDS = ("defect", "decided_by", "role", "date", "reason", "expires")
SIGNED_FIELDS = DEVIATION_FIELDS + ("signed_by",)


@dataclass(frozen=True)
class Match:
    """Which failures an entry matches: every field given must match (and), any value of a field
    (or). ``defect``: a candidate key or fnmatch pattern (``radiology:text-truncation``,
    ``nll:*``); ``kind``: a failure kind the scenario names; ``requirement``: a requirement id it
    verifies; ``scenario``: an fnmatch pattern on its name (case-insensitive)."""
    defect: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    requirement: tuple[str, ...] = ()
    scenario: tuple[str, ...] = ()

    def matches(self, scenario, key: str) -> bool:
        if self.defect and not any(fnmatch.fnmatchcase(key, p) for p in self.defect):
            return False
        if self.kind and not set(self.kind) & set(scenario.kinds):
            return False
        if self.requirement and not set(self.requirement) & set(scenario.requirements):
            return False
        if self.scenario and not any(fnmatch.fnmatch(scenario.name.lower(), p.lower()) for p in self.scenario):
            return False
        return True

    def describe(self) -> str:
        return "; ".join(f"{f} {', '.join(getattr(self, f))}" for f in MATCH_FIELDS if getattr(self, f))


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    severity: str | None  # assessed; None keeps the highest of the requirements
    status: str
    match: Match
    file: str = ""
    line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Deviation:
    defect: str  # the register entry's tracker id
    decided_by: str
    role: str
    date: dt.date
    reason: str
    expires: dt.date
    signed_by: str = ""
    signature: str = ""
    file: str = ""
    line: int | None = None

    def fields(self) -> dict[str, str]:
        return {"defect": self.defect, "decided_by": self.decided_by, "role": self.role,
                "date": self.date.isoformat(), "reason": self.reason, "expires": self.expires.isoformat(),
                "signed_by": self.signed_by}

    def describe(self) -> str:
        return (f"deviation for {self.defect}: decided by {self.decided_by} ({self.role}) on {self.date.isoformat()}, "
                f"expires {self.expires.isoformat()}: {self.reason}")


def entry_hash(fields: dict[str, str]) -> str:
    """``sha256:<hex>`` of a deviation's signed fields, in a fixed form (sorted keys, UTF-8 JSON, each
    text stripped): what ``signature`` must say."""
    canonical = json.dumps({k: str(fields.get(k, "")).strip() for k in SIGNED_FIELDS}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class Register:
    entries: list[Entry] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)
    file: str = ""

    def entry(self, tracker_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == tracker_id), None)


# -- loading --------------------------------------------------------------------------------------

def _text(data: Located, key: str, where: str, *, default=...) -> str:
    value = require(data, key, str, where=where, default=default)
    if value is not default and not (value or "").strip():
        raise ConfigError("must not be empty", file=data.file or None, key=f"{where}.{key}", line=data.line_of(key))
    return value.strip() if isinstance(value, str) else value


def _date(data: Located, key: str, where: str) -> dt.date:
    value = require(data, key, (str, dt.date), where=where)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"expected a date YYYY-MM-DD, got {value!r}", file=data.file or None,
                          key=f"{where}.{key}", line=data.line_of(key)) from None


def _severity(value: str | None, *, file: str, key: str, line: int | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in SEVERITIES:
        raise ConfigError(f"must be one of {', '.join(SEVERITIES)}; got {value!r}", file=file, key=key, line=line)
    return value


def _status(value: str, *, file: str, key: str, line: int | None) -> str:
    if value not in STATUSES:
        raise ConfigError(f"must be one of {', '.join(STATUSES)}; got {value!r}", file=file, key=key, line=line)
    return value


def _match_from_mapping(m, *, file: str, where: str, line: int | None) -> Match:
    if not isinstance(m, dict):
        raise ConfigError("expected a mapping of defect/kind/requirement/scenario", file=file, key=where, line=line)
    reject_unknown(m, set(MATCH_FIELDS), where=where)
    values = {}
    for f in MATCH_FIELDS:
        v = m.get(f, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise ConfigError("expected a text or a list of texts", file=file, key=f"{where}.{f}",
                              line=m.line_of(f) if isinstance(m, Located) else line)
        values[f] = tuple(x.strip() for x in v)
    if not any(values.values()):
        raise ConfigError(f"matches nothing: give at least one of {', '.join(MATCH_FIELDS)}", file=file,
                          key=where, line=line)
    return Match(**values)


def _match_from_text(text: str, *, file: str, key: str, line: int) -> Match:
    """A CSV cell: ``defect=radiology:text-truncation; requirement=RAD-001,RAD-R02``."""
    values: dict[str, list[str]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, eq, rest = part.partition("=")
        name = name.strip()
        if not eq or name not in MATCH_FIELDS:
            raise ConfigError(f"expected field=value[,value] separated by ';' with fields "
                              f"{', '.join(MATCH_FIELDS)}; got {part!r}", file=file, key=key, line=line)
        values.setdefault(name, []).extend(v.strip() for v in rest.split(",") if v.strip())
    if not any(values.values()):
        raise ConfigError(f"matches nothing: give at least one of {', '.join(MATCH_FIELDS)}", file=file,
                          key=key, line=line)
    return Match(**{k: tuple(v) for k, v in values.items()})


def _import_csv(spec: Located, base: Path, file: str) -> list[Entry]:
    """Entries from a tracker's CSV export: ``import: {file, columns, severity_values, status_values,
    delimiter}``, read through ``genrep.results.csvmap`` (the one home of CSV imports: the manual
    results use it too); every error names the CSV file, its line and column."""
    from genrep.results.csvmap import load_mapping, read_rows
    mapping = load_mapping(spec, file=file, where="import", roles=("id", "title", "severity", "status", "match"),
                           required=("id", "title", "status", "match"),
                           allowed={"severity": SEVERITIES, "status": STATUSES}, extra_keys=("file",))
    csv_path = base / _text(spec, "file", "import")
    out = []
    for row in read_rows(csv_path, mapping, named_in=file, named_key="import.file", named_line=spec.line_of("file")):
        out.append(Entry(row.get("id"), row.get("title"), row.value("severity") or None, row.value("status"),
                         _match_from_text(row.get("match"), file=row.file, key=mapping.columns["match"],
                                          line=row.line),
                         file=row.file, line=row.line))
    return out


def load_register(path: str | Path) -> Register:
    """The register and its deviations; every error names the file, the line and the key."""
    path = Path(path)
    file = str(path)
    d = load_yaml(path)
    if not isinstance(d, Located):
        raise ConfigError("expected a mapping at the top level", file=file)
    reject_unknown(d, {"register", "defects", "import", "deviations"})
    if require(d, "register", int) != 1:
        raise ConfigError("unknown register format (this genrep reads register: 1)", file=file, key="register",
                          line=d.line_of("register"))
    entries: list[Entry] = []
    items = require(d, "defects", list, default=[])
    for i, item in enumerate(items):
        where = f"defects[{i}]"
        if not isinstance(item, Located):
            raise ConfigError("expected a mapping (id, title, severity, status, match)", file=file, key=where,
                              line=d.line_of("defects"))
        reject_unknown(item, {"id", "title", "severity", "status", "match"}, where=where)
        entries.append(Entry(
            id=str(require(item, "id", (str, int), where=where)).strip(), title=_text(item, "title", where),
            severity=_severity(require(item, "severity", str, where=where, default=None), file=file,
                               key=f"{where}.severity", line=item.line_of("severity")),
            status=_status(_text(item, "status", where), file=file, key=f"{where}.status", line=item.line_of("status")),
            match=_match_from_mapping(require(item, "match", dict, where=where), file=file, where=f"{where}.match",
                                      line=item.line_of("match")),
            file=file, line=item.line_of("id")))
    if "import" in d:
        spec = require(d, "import", dict)
        entries += _import_csv(spec, path.parent, file)
    seen: dict[str, Entry] = {}
    for e in entries:
        if not e.id:
            raise ConfigError("empty tracker id", file=e.file, key="id", line=e.line)
        if e.id in seen:
            raise ConfigError(f"tracker id {e.id} is in the register twice (also at {seen[e.id].where})",
                              file=e.file, key="id", line=e.line)
        seen[e.id] = e
    deviations: list[Deviation] = []
    for i, item in enumerate(require(d, "deviations", list, default=[])):
        where = f"deviations[{i}]"
        if not isinstance(item, Located):
            raise ConfigError("expected a mapping (" + ", ".join(SIGNED_FIELDS + ("signature",)) + ")", file=file,
                              key=where, line=d.line_of("deviations"))
        reject_unknown(item, set(SIGNED_FIELDS) | {"signature"}, where=where)
        defect = str(require(item, "defect", (str, int), where=where)).strip()
        if defect not in seen:
            raise ConfigError(f"refused: names {defect!r}, which is not in the register (tracker ids: "
                              f"{', '.join(seen) or 'none'}); a deviation is a decision about a known defect",
                              file=file, key=f"{where}.defect", line=item.line_of("defect"))
        dev = Deviation(defect=defect, decided_by=_text(item, "decided_by", where), role=_text(item, "role", where),
                        date=_date(item, "date", where), reason=_text(item, "reason", where),
                        expires=_date(item, "expires", where),
                        signed_by=(require(item, "signed_by", str, where=where, default="") or "").strip(),
                        signature=(require(item, "signature", str, where=where, default="") or "").strip(),
                        file=file, line=item.line_of("defect"))
        if dev.expires < dev.date:
            raise ConfigError(f"expires {dev.expires} is before the decision's date {dev.date}", file=file,
                              key=f"{where}.expires", line=item.line_of("expires"))
        deviations.append(dev)
    return Register(entries, deviations, file)


# -- against a run --------------------------------------------------------------------------------

@dataclass
class DeviationStatus:
    deviation: Deviation
    valid: bool
    why: str  # why it counts for nothing, or what it covers
    covers: list[str] = field(default_factory=list)  # defect candidate ids (D1, ...)

    def describe(self) -> str:
        dev = self.deviation
        head = (f"{dev.defect}: decided by {dev.decided_by} ({dev.role}) on {dev.date.isoformat()}, "
                f"expires {dev.expires.isoformat()}, signed by {dev.signed_by or 'nobody'}; reason: {dev.reason}")
        return head + (f" [covers {', '.join(self.covers)}]" if self.valid else f" [COUNTS FOR NOTHING: {self.why}]")

    def to_dict(self) -> dict:
        return {**self.deviation.fields(), "signature": self.deviation.signature, "valid": self.valid,
                "why": self.why, "covers": self.covers, "text": self.describe()}


@dataclass
class RegisterView:
    """The register applied to one run's defect candidates."""
    file: str
    trackers: dict[str, list[str]] = field(default_factory=dict)  # candidate id -> tracker ids
    new: list[str] = field(default_factory=list)  # candidate ids no entry matches
    flags: list[str] = field(default_factory=list)  # ambiguities and contradictions, in words
    deviations: list[DeviationStatus] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)  # candidate ids a valid deviation covers
    assessed: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (assessed, requirements')

    @property
    def valid(self) -> list[DeviationStatus]:
        return [s for s in self.deviations if s.valid]

    @property
    def void(self) -> list[DeviationStatus]:
        return [s for s in self.deviations if not s.valid]

    def to_dict(self) -> dict:
        return {"file": self.file, "trackers": self.trackers, "new": self.new, "flags": self.flags,
                "assessed": {k: {"assessed": a, "requirements": r} for k, (a, r) in self.assessed.items()},
                "deviations": [s.to_dict() for s in self.deviations]}


def apply(register: Register, candidates: list, *, today: dt.date | None = None) -> RegisterView:
    """Match ``register`` to ``candidates`` (``genrep.results.defects.Defect``): set each matched
    candidate's tracker ids and assessed severity, and judge each deviation."""
    today = today or dt.date.today()
    view = RegisterView(register.file)
    matched_by: dict[str, set[str]] = {}  # entry id -> candidate ids
    ambiguous: set[str] = set()  # candidate ids with a scenario matched by two entries
    for d in candidates:
        ids: list[str] = []
        for sc in d.scenarios:
            hits = [e for e in register.entries if e.match.matches(sc, d.key)]
            if len(hits) > 1:
                ambiguous.add(d.id)
                view.flags.append(f"{d.id}: scenario {sc.name!r} is matched by {len(hits)} register entries "
                                  f"({', '.join(f'{e.id} at {e.where}' for e in hits)}): the register is ambiguous; "
                                  "no deviation covers it until one entry matches it")
            for e in hits:
                if e.id not in ids:
                    ids.append(e.id)
                matched_by.setdefault(e.id, set()).add(d.id)
        d.trackers = ids
        if not ids:
            view.new.append(d.id)
            continue
        view.trackers[d.id] = ids
        entries = [register.entry(i) for i in ids]
        for e in entries:
            if e.status != "open":
                view.flags.append(f"{d.id}: register entry {e.id} is {e.status}, but the failure is back "
                                  f"({e.where}): reopen it or correct its match")
        severities = {e.severity for e in entries if e.severity}
        if len(severities) == 1 and d.id not in ambiguous:
            own = d.severity
            d.assessed = severities.pop()
            if d.assessed != own:
                view.assessed[d.id] = (d.assessed, own)
    for dev in register.deviations:
        entry = register.entry(dev.defect)
        covers = sorted(matched_by.get(dev.defect, set()), key=lambda x: int(x[1:]) if x[1:].isdigit() else 0)
        why = ""
        if not dev.signed_by or not dev.signature:
            why = (f"unsigned (signed_by and signature are needed; the signature of this entry as written is "
                   f"{entry_hash(dev.fields())})")
        elif dev.signature != entry_hash(dev.fields()):
            why = "the signature does not match the entry: it was changed after it was signed (or signed wrongly)"
        elif dev.date > today:
            why = f"dated {dev.date.isoformat()}, after today ({today.isoformat()})"
        elif dev.expires < today:
            why = f"expired on {dev.expires.isoformat()}"
        elif entry.status != "open":
            why = f"its register entry is {entry.status}: a deviation covers an open defect only"
        elif not covers:
            why = "matches no defect of this run (fixed, or the register entry's match is wrong)"
        elif ambiguous & set(covers):
            why = f"the register is ambiguous for {', '.join(sorted(ambiguous & set(covers)))}"
        view.deviations.append(DeviationStatus(dev, not why, why or "valid", covers if not why else []))
    # a candidate is covered when every one of its scenarios is matched by an entry with a valid deviation
    valid_entries = {s.deviation.defect for s in view.deviations if s.valid}
    for d in candidates:
        if d.id in ambiguous or not d.trackers:
            continue
        if all(any(e.id in valid_entries and e.match.matches(sc, d.key) for e in register.entries)
               for sc in d.scenarios):
            view.covered.add(d.id)
    for s in view.deviations:
        if s.valid:
            s.covers = [c for c in s.covers if c in view.covered] or s.covers
    return view


def load_if_present(path: str | Path | None) -> Register | None:
    """The register at ``path``; for ``None`` the shipped ``contracts/defects.yaml`` if it exists."""
    if path is None:
        from genrep.paths import CONTRACTS_DIR
        path = CONTRACTS_DIR / "defects.yaml"
        if not Path(path).is_file():
            return None
    return load_register(path)
