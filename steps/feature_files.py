"""Feature files as the linter and the step catalogue read them: the gherkin parser pytest-bdd uses,
a small model (features, scenarios, steps, Examples), syntax errors in plain words, and every step
occurrence of the feature files (the catalogue's real examples). One home, so that the linter and
the catalogue do not import each other."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from gherkin.dialect import Dialect
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
    m = re.match(r"unexpected end of file, expected: (.*)$", msg, re.S)
    if m:
        wanted = [TOKEN_WORDS.get(t.strip(), t.strip()) for t in m.group(1).split(",")]
        return f"Gherkin syntax error: the file ends where {', '.join(wanted)} was expected"
    m = re.match(r"expected: (.*), got '(.*)'$", msg, re.S)
    if m:
        wanted = [TOKEN_WORDS.get(t.strip(), t.strip()) for t in m.group(1).split(",")]
        return (f"Gherkin syntax error: unexpected '{m.group(2).strip()}' here "
                f"(expected {', '.join(wanted)}); a step must start with a keyword such as "
                "Given/When/Then/And (Givet/När/Så/Och)")
    return f"Gherkin syntax error: {msg}"


# ----------------------------------------------------------------- keywords, docstrings ---
# What the gherkin parser would only report as "unexpected ..." (or not at all): a Swedish file
# without "# language: sv", English keywords in a Swedish file (a "Given" before the first step
# is silently taken as description text), "Då" for Swedish Then, and a docstring that is never
# closed (the parser complains at the end of the file). Found line by line before parsing; the
# parser then reads the file as if the keyword were right, so the rest of the file is still checked.
LANGUAGE_LINE_RE = re.compile(r"^\s*#\s*language\s*:\s*(\S*)\s*$")
KEYWORD_KINDS = ("feature", "background", "rule", "scenario_outline", "scenario", "examples",
                 "given", "when", "then", "and", "but")
STEP_KINDS = ("given", "when", "then", "and", "but")
CHILD_KINDS = ("background", "rule", "scenario_outline", "scenario", "examples")
# the keyword to write instead, per language and kind
KEYWORD_NAMES = {
    "en": {"feature": "Feature:", "background": "Background:", "rule": "Rule:",
           "scenario_outline": "Scenario Outline:", "scenario": "Scenario:", "examples": "Examples:",
           "given": "Given", "when": "When", "then": "Then", "and": "And", "but": "But"},
    "sv": {"feature": "Egenskap:", "background": "Bakgrund:", "rule": "Regel:",
           "scenario_outline": "Scenariomall:", "scenario": "Scenario:", "examples": "Exempel:",
           "given": "Givet", "when": "När", "then": "Så", "and": "Och", "but": "Men"},
}
SWEDISH_THEN_MISTAKE = re.compile(r"^Då(?=[ ,])")


def _dialect_keywords(language: str) -> list[tuple[str, str]]:
    """(keyword as it starts a line, kind), longest first: 'Given ', 'Scenario Outline:' ..."""
    d = Dialect.for_name(language)
    out = []
    for kind in KEYWORD_KINDS:
        for kw in getattr(d, f"{kind}_keywords"):
            if kw.strip() == "*":
                continue
            out.append((kw if kind in STEP_KINDS else kw + ":", kind))
    return sorted(out, key=lambda kk: -len(kk[0]))


_KEYWORDS = {lang: _dialect_keywords(lang) for lang in KEYWORD_NAMES}


def leading_keyword(stripped: str, language: str) -> tuple[str, str] | None:
    """The Gherkin keyword of ``language`` a (stripped) line starts with, and its kind."""
    for kw, kind in _KEYWORDS[language]:
        if stripped.startswith(kw):
            return kw.strip(), kind
    return None


@dataclass
class _Line:
    number: int
    indent: str
    text: str  # stripped
    in_children: bool  # after the first Background/Scenario/Rule/Examples line (not Feature description)


def _content_lines(lines: list[str]) -> tuple[list[_Line], int | None]:
    """Lines outside docstrings that are not comments, tags or table rows; and the line number of a
    docstring that is opened and never closed (None when all are closed)."""
    out: list[_Line] = []
    open_sep: str | None = None
    opened_at: int | None = None
    in_children = False
    for i, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if open_sep is not None:
            if stripped.startswith(open_sep):
                open_sep = opened_at = None
            continue
        sep = next((s for s in ('"""', "```") if stripped.startswith(s)), None)
        if sep:
            open_sep, opened_at = sep, i
            continue
        if not stripped or stripped[0] in "#@|":
            continue
        if any((leading_keyword(stripped, lang) or ("", ""))[1] in CHILD_KINDS for lang in KEYWORD_NAMES):
            in_children = True
        out.append(_Line(i, raw[: len(raw) - len(raw.lstrip())], stripped, in_children))
    return out, opened_at


def _header(lines: list[str]) -> tuple[int, str] | None:
    """(line number, language) of the '# language:' line, which must come before anything else."""
    for i, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            return None
        m = LANGUAGE_LINE_RE.match(stripped)
        if m:
            return i, m.group(1)
    return None


def _foreign(line: _Line, language: str, other: str) -> tuple[str, str] | None:
    """A keyword of ``other`` (not also one of ``language``) the line starts with. Step keywords count
    only after the Feature's description, where a sentence may start with any word."""
    if leading_keyword(line.text, language):
        return None
    found = leading_keyword(line.text, other)
    if found and (found[1] not in STEP_KINDS or line.in_children):
        return found
    return None


def prescan(path: Path, text: str, findings: list[Finding]) -> tuple[str, str, int | None]:
    """Report keyword and docstring mistakes in plain words; return the text to parse (keywords set
    right, line numbers unchanged), the language to parse it in, and the line of an unclosed docstring."""
    lines = text.split("\n")
    content, unclosed = _content_lines(lines)
    if unclosed is not None:
        findings.append(Finding(path, unclosed, "error",
                                f'the docstring opened here with {lines[unclosed - 1].strip()[:3]} is never closed: '
                                f'add a line with just {lines[unclosed - 1].strip()[:3]} (indented like this one) '
                                "after its text. As it is, every line to the end of the file is part of the "
                                "docstring"))
    header = _header(lines)
    language = header[1] if header else "en"
    fixed: dict[int, str] = {}
    unknown_language = header is not None and Dialect.for_name(language) is None
    if unknown_language:
        findings.append(Finding(path, header[0], "error",
                                f"unknown language '{language}' in the '# language:' line: write "
                                "'# language: sv' for a Swedish file, or leave the line out for an English one"))
        fixed[header[0]] = ""
        header, language = None, "en"
    if language not in KEYWORD_NAMES:  # another language gherkin knows: its keywords are not checked here
        return text, language, unclosed
    if language == "en":
        swedish = [ln for ln in content if _foreign(ln, "en", "sv")
                   or (ln.in_children and SWEDISH_THEN_MISTAKE.match(ln.text))]
        english_feature = any((leading_keyword(ln.text, "en") or ("", ""))[1] == "feature" for ln in content)
        if swedish and not english_feature:
            first = swedish[0]
            word = (leading_keyword(first.text, "sv") or ("Då", ""))[0]
            if header:
                fix, line_no = "change that line to '# language: sv'", header[0]
                fixed[header[0]] = lines[header[0] - 1].replace(header[1], "sv", 1)
                said = f"says '# language: {header[1]}'"
            else:
                fix, line_no = "add the line '# language: sv' at the very top of the file", 1
                said = "does not start with '# language: sv'"
            if not unknown_language:
                findings.append(Finding(path, line_no, "error",
                                        f"this file is written in Swedish ('{word}' on line {first.number}) but {said}: "
                                        f"{fix}. Without it Egenskap, Bakgrund, Givet, När, Så and Och are not "
                                        "keywords, and pytest-bdd cannot read the file"))
            language = "sv"
    other = "sv" if language == "en" else "en"
    for ln in content:
        if language == "sv" and ln.in_children and SWEDISH_THEN_MISTAKE.match(ln.text):
            findings.append(Finding(path, ln.number, "error",
                                    "'Då' is not a Gherkin keyword: in Swedish Gherkin Then is 'Så' "
                                    f"(write 'Så {ln.text[2:].lstrip(' ,')}')"))
            fixed[ln.number] = ln.indent + "Så " + ln.text[2:].lstrip(" ,")
            continue
        found = _foreign(ln, language, other)
        if not found:
            continue
        word, kind = found
        instead = KEYWORD_NAMES[language][kind]
        if language == "sv":
            msg = (f"'{word}' is an English keyword, but this file is Swedish (# language: sv): write "
                   f"'{instead}' instead")
        else:
            msg = (f"'{word}' is a Swedish keyword, but this file is English: write '{instead}' instead, or "
                   "make the whole file Swedish with '# language: sv' as its first line")
        if kind in STEP_KINDS:
            msg += " (as it is, the line is not a step: it is read as description text or is a syntax error)"
        findings.append(Finding(path, ln.number, "error", msg))
        fixed[ln.number] = ln.indent + instead + ln.text[len(word):]
    if fixed:
        lines = [fixed.get(i, raw) for i, raw in enumerate(lines, 1)]
        text = "\n".join(lines)
    return text, language, unclosed


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
    text, language, unclosed = prescan(path, text, findings)
    try:
        doc = Parser().parse(TokenScanner(text), TokenMatcher(language if language in KEYWORD_NAMES else "en"))
    except (CompositeParserException, ParserError) as exc:
        for err in getattr(exc, "errors", None) or [exc]:
            line = (getattr(err, "location", None) or {}).get("line") or 1
            if unclosed is None or line < unclosed:  # after an unclosed docstring: its consequences
                findings.append(Finding(path, line, "error", _syntax_message(str(err))))
        return None
    if unclosed is not None:
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
