"""Feature files as the linter and the step catalogue read them: the gherkin parser pytest-bdd uses,
a small model (features, scenarios, steps, Examples), syntax errors in plain words, and every step
occurrence of the feature files (the catalogue's real examples). One home, so that the linter and
the catalogue do not import each other."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from gherkin.errors import CompositeParserException, ParserError
from gherkin.parser import Parser
from gherkin.token_matcher import TokenMatcher
from gherkin.token_scanner import TokenScanner
from pytest_bdd.parser import render_string

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REQ_ID_RE = re.compile(r"^[A-Z][A-Z0-9]*-[A-Z0-9][A-Z0-9-]*$")
TYPE_BY_KEYWORD_TYPE = {"Context": "given", "Action": "when", "Outcome": "then"}
PLACEHOLDER_RE = re.compile(r"<([^<>]+)>")
TOKEN_WORDS = {
    "#EOF": "end of file", "#TableRow": "a table row", "#DocStringSeparator": 'a """ docstring',
    "#StepLine": "a step", "#TagLine": "a tag", "#ExamplesLine": "Examples:",
    "#ScenarioLine": "Scenario:", "#RuleLine": "Rule:", "#Comment": "a comment", "#Empty": "an empty line",
    "#FeatureLine": "Feature:", "#BackgroundLine": "Background:", "#Other": "description text",
    "#Language": "# language:",
}


# ------------------------------------------------------------------------------ model ---
@dataclass
class Finding:
    path: Path
    line: int
    level: str  # error | warning
    message: str

    def render(self, root: Path | None = None) -> str:
        return f"{display_path(self.path, root)}:{self.line}: {self.level}: {self.message}"


@dataclass
class GStep:
    line: int
    keyword: str  # as written, e.g. "Och"
    keyword_type: str  # Context | Action | Outcome | Conjunction | Unknown
    text: str
    type: str | None = None  # given | when | then, resolved (None: no typed step before it)
    docstring: str | None = None
    has_datatable: bool = False


@dataclass
class GExamples:
    line: int
    tags: list[tuple[str, int]]
    header: list[str]
    rows: list[dict[str, str]]


@dataclass
class GScenario:
    name: str
    line: int
    tags: list[tuple[str, int]]  # the scenario's own tags
    inherited: list[tuple[str, int]]  # Feature and Rule tags
    steps: list[GStep]
    examples: list[GExamples]


@dataclass
class GFeature:
    path: Path
    language: str
    tags: list[tuple[str, int]]
    backgrounds: list[list[GStep]] = field(default_factory=list)
    scenarios: list[GScenario] = field(default_factory=list)
    all_tags: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class StepOccurrence:
    path: Path
    relpath: str
    line: int
    keyword: str
    type: str
    text: str  # filled in with the first Examples row for Scenario Outlines
    language: str


def display_path(path: Path, root: Path | None = None) -> str:
    root = root or Path.cwd()
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


# ---------------------------------------------------------------------------- parsing ---
def _tags(items) -> list[tuple[str, int]]:
    return [(t["name"].lstrip("@"), t["location"]["line"]) for t in items or []]


def _steps(items, findings: list[Finding], path: Path) -> list[GStep]:
    out: list[GStep] = []
    current: str | None = None
    for i, s in enumerate(items or []):
        kt = s.get("keywordType", "Unknown")
        if kt in TYPE_BY_KEYWORD_TYPE:
            current = TYPE_BY_KEYWORD_TYPE[kt]
        elif i == 0:
            findings.append(Finding(path, s["location"]["line"], "error",
                                    f"the first step of a scenario or background must start with a "
                                    f"Given, When or Then keyword, not '{s['keyword'].strip()}' "
                                    "(pytest-bdd refuses the whole file)"))
        out.append(GStep(line=s["location"]["line"], keyword=s["keyword"].strip(), keyword_type=kt,
                         text=s["text"], type=current,
                         docstring=s["docString"]["content"] if s.get("docString") else None,
                         has_datatable=bool(s.get("dataTable"))))
    return out


def _syntax_message(raw: str) -> str:
    msg = re.sub(r"^\(\d+:\d+\):\s*", "", raw.strip())
    m = re.match(r"expected: (.*), got '(.*)'$", msg, re.S)
    if m:
        wanted = [TOKEN_WORDS.get(t.strip(), t.strip()) for t in m.group(1).split(",")]
        return (f"Gherkin syntax error: unexpected '{m.group(2).strip()}' here "
                f"(expected {', '.join(wanted)}); a step must start with a keyword such as "
                "Given/When/Then/And (Givet/När/Så/Och)")
    return f"Gherkin syntax error: {msg}"


def parse_feature(path: Path, findings: list[Finding]) -> GFeature | None:
    """Parse one file; syntax errors become findings and give None."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        before = path.read_bytes()[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        findings.append(Finding(path, line, "error",
                                f"not valid UTF-8: byte 0x{exc.object[exc.start]:02x} at byte offset {exc.start} "
                                f"(line {line}, column {column}) is {exc.reason}; pytest-bdd cannot read the "
                                "file and every scenario of the run would fail: save the file as UTF-8"))
        return None
    try:
        doc = Parser().parse(TokenScanner(text), TokenMatcher("en"))
    except CompositeParserException as exc:
        for err in exc.errors:
            loc = getattr(err, "location", None) or {}
            findings.append(Finding(path, loc.get("line") or 1, "error", _syntax_message(str(err))))
        return None
    except ParserError as exc:
        loc = getattr(exc, "location", None) or {}
        findings.append(Finding(path, loc.get("line") or 1, "error", _syntax_message(str(exc))))
        return None
    feat = doc.get("feature")
    if not feat:
        what = "empty feature file" if not text.strip() else "no 'Feature:' in this file"
        findings.append(Finding(path, 1, "error",
                                f"{what}: pytest-bdd cannot load it and stops the whole suite; add a "
                                "'Feature:' with its scenarios, or delete the file"))
        return None
    gf = GFeature(path=path, language=feat.get("language", "en"), tags=_tags(feat.get("tags")))
    gf.all_tags.extend(gf.tags)

    def walk(children, inherited):
        for child in children or []:
            if "background" in child:
                gf.backgrounds.append(_steps(child["background"].get("steps"), findings, path))
            elif "rule" in child:
                rule = child["rule"]
                rule_tags = _tags(rule.get("tags"))
                gf.all_tags.extend(rule_tags)
                walk(rule.get("children"), inherited + rule_tags)
            elif "scenario" in child:
                sc = child["scenario"]
                examples = []
                for ex in sc.get("examples") or []:
                    ex_tags = _tags(ex.get("tags"))
                    gf.all_tags.extend(ex_tags)
                    header = [c["value"] for c in (ex.get("tableHeader") or {}).get("cells", [])]
                    rows = [dict(zip(header, [c["value"] for c in r["cells"]])) for r in ex.get("tableBody") or []]
                    examples.append(GExamples(ex["location"]["line"], ex_tags, header, rows))
                tags = _tags(sc.get("tags"))
                gf.all_tags.extend(tags)
                gf.scenarios.append(GScenario(
                    name=sc["name"], line=sc["location"]["line"], tags=tags, inherited=list(inherited),
                    steps=_steps(sc.get("steps"), findings, path), examples=examples))

    walk(feat.get("children"), gf.tags)
    return gf


def _contexts(sc: GScenario) -> list[dict[str, str]]:
    """Examples rows to fill the steps with (one empty context for a plain scenario)."""
    rows = [row for ex in sc.examples for row in ex.rows]
    return rows or [{}]


def feature_step_occurrences(paths) -> list[StepOccurrence]:
    """Every step of the (parseable) feature files, in file and line order; Outline steps are
    filled in with their first Examples row. Used by the step catalogue for its examples."""
    out: list[StepOccurrence] = []
    for path in paths:
        path = Path(path)
        gf = parse_feature(path, [])
        if gf is None:
            continue
        rel = display_path(path, PROJECT_ROOT)
        items: list[tuple[GStep, dict]] = [(s, {}) for bg in gf.backgrounds for s in bg]
        for sc in gf.scenarios:
            ctx = _contexts(sc)[0]
            items.extend((s, ctx) for s in sc.steps)
        for s, ctx in sorted(items, key=lambda it: it[0].line):
            if s.type is None:
                continue
            out.append(StepOccurrence(path, rel, s.line, s.keyword, s.type, render_string(s.text, ctx),
                                      gf.language))
    return out
