"""Defect candidates: failing scenarios clustered into the problems behind them.

One product defect fails many scenarios: the replayed 2024 incidents fail 38 scenarios, behind
which are five problems. A test manager, and the programme's acceptance rule, count defects. Each
failing scenario is put under one defect candidate, keyed by

* its **integration**: the integration of the requirements it verifies. A patient journey crosses
  integrations, so a journey's failure joins the candidate of another integration with the same
  failure family (the one sharing most symptoms, then the largest); alone, it stays the journey's;
* its **failure family**: the primary kind of its failure (``genrep.results.failure_kinds``), and
  that kind's Allure category (text truncation, line breaks, failover, patient identity, ...) as the
  family. A truncation explains the words, lines and negations lost after it, so ``truncated`` (or
  ``empty``) is primary whenever it is present, unless words were lost too (the comparison never
  counts the words after a cut as lost: those were lost elsewhere, and the cut is one of their
  symptoms); otherwise the most severe kind, the first named
  on a tie. Kinds of the catch-all categories, and the fail-safe violations (a failure shown as a
  normal answer), are families of their own;
* for a failure with no kind at all, its **signature**: the first line of its message with the
  numbers and quoted texts taken out, and its requirements (nothing says that two unclassified
  failures of different requirements are one problem).

A scenario showing two problems is filed under its primary kind's candidate, and listed ("also
seen in") under another candidate of its integration whose family one of its other kinds belongs
to. Within a candidate the symptoms are kept as signatures (each kind's message with numbers and quotes
taken out, counted), and a detail where one can be read (``cut at about 4,000 bytes``). A
candidate's severity is the highest of its requirements (a defect register may assess it otherwise,
issue 15 part 3). These are candidates: the clustering is by what the failures say, not by their
root cause, which only a person can confirm.

A failed **manual** result (``genrep.results.manual``) is a candidate of its own per integration,
manual test type and requirement: its family is ``manual <test type>``, and its title names the
tester, the date and the evidence link of each failing result.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from genrep.config.contracts import SEVERITIES, Requirement
from genrep.results import failure_kinds
from genrep.results.reader import ScenarioResult

#: Kinds that explain the losses after them: primary whenever present, unless ...
CAUSES = ("empty", "truncated")
#: ... a loss no cut explains is there too: the fidelity comparison never reports the words after a
#: cut as lost (they are the cut), so words lost as well were lost elsewhere, and that is the problem
#: (a display that drops the word at each wrap also drops a text's last word: it reads as a cut)
NOT_EXPLAINED_BY_A_CUT = ("lost_words",)
#: Fail-safe violations: a failure shown as a normal answer. Never folded into a wider family.
OWN_FAMILY = frozenset({"false_no_interactions", "empty_list_on_failure"})
#: A requirement of this test type crosses integrations: its failure joins another integration's.
CROSS_INTEGRATION = "end-to-end patient journey"
UNCLASSIFIED = "unclassified"
MANUAL_FAMILY = "manual "  # + the manual test type

_CATCH_ALL = frozenset(c.name for c in failure_kinds.CATEGORIES if c.catch_all)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'|“[^”]*”")
_TRUNCATED_AT = re.compile(r"truncated at character (\d+) of (\d+)")
_FIELD_LIMIT = re.compile(r"at a typical field limit \((\d+)\)")
_PYTEST_E = re.compile(r"^E\s+")


def primary_kind(kinds: list[str]) -> str | None:
    """The kind a scenario's failure is filed under: a cause (nothing stored, a truncation) if present
    (for a truncation: unless words were lost too, which no cut explains), else the most severe, the
    first named on a tie; None when the message names no kind."""
    if not kinds:
        return None
    for cause in CAUSES:
        if cause in kinds:
            if cause == "truncated":
                unexplained = [k for k in NOT_EXPLAINED_BY_A_CUT if k in kinds]
                if unexplained:
                    return unexplained[0]
            return cause
    return min(kinds, key=lambda k: (SEVERITIES.index(failure_kinds.lookup(k).severity), kinds.index(k)))


def family_of(kind: str | None) -> str:
    """A kind's family: its Allure category, or the kind itself for the catch-all categories, the
    unregistered kinds and the fail-safe violations."""
    if kind is None:
        return UNCLASSIFIED
    registered = failure_kinds.lookup(kind)
    if kind in OWN_FAMILY or registered.category in _CATCH_ALL or registered.source == "unregistered":
        return kind
    return registered.category


def normalise(text: str, limit: int = 140) -> str:
    """A message line with what varies from run to run taken out: quoted texts and numbers."""
    text = _QUOTED.sub("…", text.strip())
    text = _NUMBER.sub("N", text)
    text = re.sub(r"\s+", " ", text)
    return text[:limit]


def symptoms(result: ScenarioResult) -> list[str]:
    """The failure's signatures: each line naming a kind, normalised (``[truncated/high] Text
    truncated at character N of N: ...``); the first line when no line names one."""
    out = []
    for line in result.message.splitlines():
        line = _PYTEST_E.sub("", line)  # pytest repeats the message in its trace as "E   ..."
        if failure_kinds.TAG_RE.search(line) or failure_kinds.PREFIX_RE.match(line):
            body = line.strip().lstrip("-").strip()
            body = re.sub(r"^(?:[A-Za-z.]*Error: )", "", body)
            out.append(normalise(body))
    if not out:
        first = next((line for line in result.message.splitlines() if line.strip()), result.status)
        out.append(normalise(re.sub(r"^(?:[A-Za-z.]*Error: )", "", first.strip())))
    out = list(dict.fromkeys(out))
    # a line pytest repeated cut short is the same symptom
    return [sig for sig in out if not any(other != sig and other.startswith(sig) for other in out)]


@dataclass
class Defect:
    """A defect candidate: the failing scenarios one problem is likely behind."""
    integration: str
    family: str
    signature: str = ""  # only for an unclassified failure: its normalised first line
    scenarios: list[ScenarioResult] = field(default_factory=list)
    requirements: dict[str, Requirement] = field(default_factory=dict)
    kinds: Counter = field(default_factory=Counter)  # every kind its scenarios name
    signatures: Counter = field(default_factory=Counter)  # normalised symptom -> scenarios showing it
    number: int = 0  # D1, D2, ... in the order of the verdict (severity, then size)
    also: list[ScenarioResult] = field(default_factory=list)  # filed under another defect, showing this one too
    trackers: list[str] = field(default_factory=list)  # the defect register's tracker ids matching it (none: new)
    registered: bool = False  # a register was applied (so no tracker id means new)
    assessed: str | None = None  # the register's assessed severity, when one entry matches it and assesses it

    @property
    def key(self) -> str:
        """Stable across runs (the trend and a defect register refer to it)."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.family.lower()).strip("-")
        key = f"{self.integration}:{slug}"
        if self.signature:
            key += "-" + hashlib.sha1(self.signature.encode()).hexdigest()[:8]
        return key

    @property
    def id(self) -> str:
        return f"D{self.number}"

    @property
    def severity(self) -> str:
        """The register's assessed severity if it has one, else the highest of its requirements."""
        return self.assessed or self.requirement_severity

    @property
    def requirement_severity(self) -> str:
        """The highest severity of its requirements."""
        if not self.requirements:
            return "high"  # a failure verifying no catalogued requirement: the gate already refuses it
        return min((r.severity for r in self.requirements.values()), key=SEVERITIES.index)

    @property
    def test_types(self) -> list[str]:
        return sorted({r.test_type for r in self.requirements.values()})

    @property
    def primary_kind(self) -> str | None:
        return self.kinds.most_common(1)[0][0] if self.kinds else None

    @property
    def what(self) -> str:
        """In words: the family, and the meaning of a kind-family."""
        if self.family == UNCLASSIFIED:
            return f"unclassified failure ({self.signature})"
        if self.family.startswith(MANUAL_FAMILY):
            return f"{self.family.removeprefix(MANUAL_FAMILY)} failed for {self.signature}"
        kind = failure_kinds.KINDS.get(self.family)
        return kind.meaning if kind is not None else self.family.lower()

    @property
    def detail(self) -> str:
        """What the messages agree on, where it can be read: a truncation's cut; for a manual
        failure, who recorded it, when, and its evidence."""
        manual = [s for s in self.scenarios if s.manual_test_type]
        if manual:
            return "; ".join(f"recorded by {s.param('tester')} on {s.param('date')}, evidence "
                             f"{s.param('evidence') or 'none'}" for s in manual)
        limits = {int(m.group(1)) for s in self.scenarios for m in _FIELD_LIMIT.finditer(s.message)}
        if len(limits) == 1:
            return f"cut at about {next(iter(limits)):,} bytes (a typical field limit)"
        cuts = [int(m.group(1)) for s in self.scenarios for m in _TRUNCATED_AT.finditer(s.message)]
        if cuts:
            low, high = min(cuts), max(cuts)
            if high <= low * 1.1:
                return f"cut at about {round((low + high) / 2, -1):,.0f} characters"
            return f"cut at {low:,} to {high:,} characters"
        return ""

    @property
    def title(self) -> str:
        detail = self.detail
        return f"{self.integration}: {self.what}" + (f", {detail}" if detail else "")

    def requirement_ids(self) -> list[str]:
        return sorted(self.requirements, key=lambda rid: (SEVERITIES.index(self.requirements[rid].severity), rid))

    def describe(self) -> str:
        """``D1 critical, radiology: the stored text stops early ..., cut at about 753 characters: 17
        scenarios, RAD-001, RAD-R02, JRN-001``"""
        n = len(self.scenarios)
        return (f"{self.id} {self.severity}{self.tracker_note}, {self.title}: {n} scenario{'s' if n != 1 else ''}, "
                f"{', '.join(self.requirement_ids())}")

    @property
    def tracker_note(self) -> str:
        """`` [EHR-101]``, `` [new]`` when a register was applied and matched nothing; the assessed
        severity's origin when it differs from the requirements'."""
        note = ""
        if self.assessed and self.assessed != self.requirement_severity:
            note += f" (assessed; requirements say {self.requirement_severity})"
        if self.trackers:
            note += f" [{', '.join(self.trackers)}]"
        elif self.registered:
            note += " [new]"
        return note


    def to_dict(self) -> dict:
        return {"id": self.id, "key": self.key, "title": self.title, "severity": self.severity,
                "requirement_severity": self.requirement_severity, "trackers": self.trackers,
                "new": self.registered and not self.trackers,
                "integration": self.integration, "family": self.family, "test_types": self.test_types,
                "kinds": dict(self.kinds.most_common()), "requirements": self.requirement_ids(),
                "signatures": dict(self.signatures.most_common()),
                "scenarios": [{"name": s.name, "status": s.status, "requirements": s.requirements,
                               "classification": s.kinds} for s in self.scenarios],
                "also_seen_in": [{"name": s.name, "requirements": s.requirements, "classification": s.kinds}
                                 for s in self.also]}


def _home(result: ScenarioResult, catalogue: dict[str, Requirement]) -> tuple[str, bool]:
    """(integration, crossing): the integration of the scenario's most severe requirement that is
    not a journey's; a journey's own integration (crossing) when it verifies journeys only."""
    reqs = sorted((catalogue[rid] for rid in result.requirements if rid in catalogue),
                  key=lambda r: SEVERITIES.index(r.severity))
    own = [r for r in reqs if r.test_type != CROSS_INTEGRATION]
    if own:
        return own[0].integration, False
    if reqs:
        return reqs[0].integration, True
    return "no requirement", False


def cluster(results: list[ScenarioResult], catalogue: dict[str, Requirement]) -> list[Defect]:
    """The defect candidates behind the failing results, most severe first (then the largest);
    every failing result is under exactly one."""
    defects: dict[tuple[str, str, str], Defect] = {}
    crossing: list[tuple[ScenarioResult, str, str, list[str]]] = []

    def add(key: tuple[str, str, str], r: ScenarioResult, signs: list[str]) -> None:
        d = defects.setdefault(key, Defect(key[0], key[1], key[2]))
        d.scenarios.append(r)
        d.requirements.update({rid: catalogue[rid] for rid in r.requirements if rid in catalogue})
        d.kinds.update(r.kinds)
        d.signatures.update(signs)

    for r in results:
        if not r.failed:
            continue
        kind = primary_kind(r.kinds)
        family = family_of(kind)
        signs = symptoms(r)
        # nothing says two unclassified failures of different requirements are one problem
        signature = f"{signs[0]} ({', '.join(sorted(r.requirements))})" if family == UNCLASSIFIED else ""
        integration, crosses = _home(r, catalogue)
        if r.manual_test_type:  # a tester's failure: its own candidate per test type and requirement
            add((integration, MANUAL_FAMILY + r.manual_test_type, ", ".join(sorted(r.requirements))), r, signs)
            continue
        if crosses:
            crossing.append((r, family, signature, signs))
        else:
            add((integration, family, signature), r, signs)
    for r, family, signature, signs in crossing:
        homes = [d for (_, fam, sig), d in defects.items()
                 if fam == family and sig == signature and d.scenarios
                 and _home(d.scenarios[0], catalogue)[1] is False]
        if homes:
            best = max(homes, key=lambda d: (sum(d.signatures[s] > 0 for s in signs), len(d.scenarios)))
            add((best.integration, family, signature), r, signs)
        else:
            add((_home(r, catalogue)[0], family, signature), r, signs)
    # a scenario can show two problems (both 2024 NLL defects in one text): it is filed under its
    # primary kind's defect, and listed under another defect of its integration whose family a
    # secondary kind of it belongs to (not after a truncation, which explains what it lost)
    for d in list(defects.values()):
        for r in d.scenarios:
            if primary_kind(r.kinds) in CAUSES:
                continue
            for kind in r.kinds:
                other = defects.get((d.integration, family_of(kind), ""))
                if other is not None and other is not d and r not in other.also:
                    other.also.append(r)
    ordered = sorted(defects.values(), key=lambda d: (SEVERITIES.index(d.severity), -len(d.scenarios), d.key))
    for i, d in enumerate(ordered, 1):
        d.number = i
    return ordered
