"""Check feature files without running them.

Run by ``genrep lint [PATHS...]`` as ``python -m steps.lint [--display-root DIR] PATHS...`` (a
subprocess with the project root as working directory: it needs the step definitions, and the
library never imports ``steps``). Prints ``file:line: level: message``; exit 1 if any error, 2 if
a path does not exist or holds no feature files, 0 otherwise.

Errors (the rehearsal would break, or the gate could not count the scenario); ``genrep rehearse``
and ``genrep selftest`` run this first (``--errors-only``) and refuse to start on any of them:
  - a file that is not valid UTF-8 (named with the byte offset and line of the first bad byte:
    pytest-bdd cannot read it, and every scenario of the run fails without naming the file)
  - an empty feature file, or one without ``Feature:`` (pytest-bdd stops the whole suite on it)
  - Gherkin syntax errors (the ``gherkin`` parser pytest-bdd uses)
  - a step that no step definition of its type matches (``And``/``But``/``Och``/``Men`` take the
    type of the step before; matched like pytest-bdd does, after filling in Examples values)
  - a scenario without a requirement tag (a catalogue id, counting Feature, Rule and Examples tags)
  - a tag shaped like a requirement id that is not in ``contracts/requirements.yaml``
  - a tag that is neither a requirement id nor a registered tag (``--strict-markers`` refuses it)
  - two scenarios whose names give the same pytest test name (in all the files checked: only the
    last one would run, so a failing first one would vanish from the verdict)
  - a step whose definition takes a docstring, without one
Warnings: a step several definitions match, a docstring the step ignores, an Outline placeholder
with no Examples column, a ``@wip`` scenario without a requirement tag.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gherkin.errors import CompositeParserException, ParserError
from gherkin.parser import Parser
from gherkin.token_matcher import TokenMatcher
from gherkin.token_scanner import TokenScanner
from pytest_bdd.parser import render_string
from pytest_bdd.scenario import make_python_name

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


# ------------------------------------------------------------------------------ lint ---
class Linter:
    def __init__(self, contexts, catalogue: dict, registered_tags: dict, root: Path | None = None):
        self.root = root
        self.contexts = contexts  # [(module, StepFunctionContext)]
        self.catalogue = catalogue
        self.registered = registered_tags
        self.findings: list[Finding] = []
        self.names: dict[str, tuple[Path, int, str]] = {}
        self.files = 0
        self.scenarios = 0

    def add(self, path, line, level, message):
        self.findings.append(Finding(path, line, level, message))

    def matching(self, type_: str, text: str):
        return [(m, c) for m, c in self.contexts
                if (c.type is None or c.type == type_) and c.parser.is_matching(text)]

    def check_file(self, path: Path) -> None:
        self.files += 1
        gf = parse_feature(path, self.findings)
        if gf is None:
            return
        self.check_tags(gf)
        for bg in gf.backgrounds:
            for step in bg:
                self.check_step(path, step, {}, gf.language)
        for sc in gf.scenarios:
            self.scenarios += 1
            self.check_requirement(path, sc)
            self.check_name(path, sc)
            header = {h for ex in sc.examples for h in ex.header}
            for step in sc.steps:
                if sc.examples:
                    for name in sorted(set(PLACEHOLDER_RE.findall(step.text)) - header):
                        self.add(path, step.line, "warning",
                                 f"placeholder <{name}> has no column in the Examples table, so it stays "
                                 "as literal text")
                for ctx in _unique_renderings(step, _contexts(sc)):
                    if self.check_step(path, step, ctx, gf.language):
                        break  # one finding per step line is enough

    def check_tags(self, gf: GFeature) -> None:
        seen = set()
        for tag, line in gf.all_tags:
            if (tag, line) in seen:
                continue
            seen.add((tag, line))
            if tag in self.catalogue or tag in self.registered:
                continue
            if REQ_ID_RE.match(tag):
                close = difflib.get_close_matches(tag, list(self.catalogue), n=1)
                hint = f" (did you mean @{close[0]}?)" if close else ""
                self.add(gf.path, line, "error", f"unknown requirement id @{tag}: not in "
                         f"contracts/requirements.yaml{hint}")
            else:
                close = difflib.get_close_matches(tag, list(self.registered), n=1, cutoff=0.6)
                hint = f"did you mean @{close[0]}? " if close else ""
                self.add(gf.path, line, "error",
                         f"unregistered tag @{tag}: {hint}tags are requirement ids or one of "
                         + ", ".join(f"@{t}" for t in self.registered)
                         + " (pytest --strict-markers refuses others)")

    def check_requirement(self, path: Path, sc: GScenario) -> None:
        base = [t for t, _ in sc.inherited + sc.tags]
        if any(t in self.catalogue for t in base):
            return
        all_tags = base + [t for ex in sc.examples for t, _ in ex.tags]
        if any(REQ_ID_RE.match(t) and t not in self.catalogue for t in all_tags):
            return  # already reported as an unknown requirement id
        level = "warning" if "wip" in all_tags else "error"
        lacking = [ex for ex in sc.examples if not any(t in self.catalogue for t, _ in ex.tags)]
        if sc.examples and len(lacking) < len(sc.examples):
            for ex in lacking:
                self.add(path, ex.line, level, f"these Examples of scenario '{sc.name}' have no requirement "
                         "tag: tag the Examples (or the scenario) with a requirement id such as @RAD-R12")
            return
        self.add(path, sc.line, level, f"scenario '{sc.name}' has no requirement tag: tag it (or its "
                 "Feature) with the id from contracts/requirements.yaml it tests, such as @RAD-R12")

    def check_name(self, path: Path, sc: GScenario) -> None:
        key = make_python_name(sc.name)
        first = self.names.get(key)
        if first is None:
            self.names[key] = (path, sc.line, sc.name)
            return
        fpath, fline, fname = first
        same = "the same name" if fname == sc.name else f"a name that gives the same test name as '{fname}'"
        self.add(path, sc.line, "error",
                 f"duplicate scenario name '{sc.name}': {display_path(fpath, self.root)}:{fline} has {same} "
                 f"(pytest-bdd test names collide: test_{key}); rename one")

    def check_step(self, path: Path, step: GStep, ctx: dict, language: str) -> bool:
        """True if it reported a finding."""
        if step.type is None:
            return False  # reported as a syntax problem of the first step
        text = render_string(step.text, ctx)
        found = self.matching(step.type, text)
        if not found:
            self.add(path, step.line, "error", self._undefined_message(step, text, language))
            return True
        if len({id(c.step_func) for _, c in found}) > 1:
            names = ", ".join(f"{m}.{c.step_func.__name__}" for m, c in found)
            self.add(path, step.line, "warning", f"step '{text}' matches several definitions ({names}); "
                     "pytest-bdd picks one of them")
            return True
        params = inspect.signature(found[0][1].step_func).parameters
        if "docstring" in params and step.docstring is None:
            self.add(path, step.line, "error", f"step '{text}' needs a docstring: the text between two "
                     '""" lines right after the step')
            return True
        if "datatable" in params and not step.has_datatable:
            self.add(path, step.line, "error", f"step '{text}' needs a data table (| ... | rows) right after it")
            return True
        if step.docstring is not None and "docstring" not in params:
            self.add(path, step.line, "warning", f"the docstring after step '{text}' is ignored: its "
                     "definition does not take one")
            return True
        return False

    def _undefined_message(self, step: GStep, text: str, language: str) -> str:
        msg = f"undefined step: no {step.type}-step matches '{text}'"
        inherited = step.keyword_type not in TYPE_BY_KEYWORD_TYPE
        if inherited:
            msg += f" ('{step.keyword}' continues a {step.type}-step)"
        others = sorted({c.type for t in ("given", "when", "then") if t != step.type
                         for _, c in self.matching(t, text)} - {None})
        if others:
            return msg + f"; a {others[0]}-step does: use the {others[0].capitalize()} keyword"
        candidates = sorted({c.parser.name for _, c in self.contexts if c.type in (None, step.type)})
        close = difflib.get_close_matches(text, candidates, n=1, cutoff=0.6)
        if close:
            msg += f"; did you mean '{close[0]}'?"
        return msg + " (genrep steps lists every step)"


def _unique_renderings(step: GStep, contexts: list[dict]) -> list[dict]:
    seen, out = set(), []
    for ctx in contexts:
        text = render_string(step.text, ctx)
        if text not in seen:
            seen.add(text)
            out.append(ctx)
    return out


def collect_paths(paths: list[str]) -> tuple[list[Path], list[str]]:
    files, problems = [], []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(path.rglob("*.feature"))
            if not found:
                problems.append(f"{p}: no .feature files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{p}: no such file or folder")
    unique = list(dict.fromkeys(f.resolve() for f in files))
    return unique, problems


def lint(paths: list[Path], root: Path | None = None) -> Linter:
    from genrep.config.contracts import load_catalogue

    from .catalogue import all_step_contexts
    from .conftest import INTEGRATION_TAGS

    linter = Linter(all_step_contexts(), load_catalogue(), INTEGRATION_TAGS, root)
    for path in paths:
        linter.check_file(path)
    order = {p: i for i, p in enumerate(paths)}
    linter.findings.sort(key=lambda f: (order.get(f.path, len(order)), f.line))
    return linter


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m steps.lint", description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="*", help="feature files or folders (default: features/)")
    ap.add_argument("--display-root", default=None, help="show file names relative to this folder")
    ap.add_argument("--errors-only", action="store_true",
                    help="print errors only (what genrep rehearse refuses to start on)")
    args = ap.parse_args(argv)
    root = Path(args.display_root) if args.display_root else Path.cwd()
    files, problems = collect_paths(args.paths or [str(PROJECT_ROOT / "features")])
    if problems:
        for p in problems:
            print(f"genrep lint: {p}", file=sys.stderr)
        return 2
    linter = lint(files, root)
    for f in linter.findings:
        if f.level == "error" or not args.errors_only:
            print(f.render(root))
    errors = sum(f.level == "error" for f in linter.findings)
    warnings = len(linter.findings) - errors
    print(f"{errors} error(s), {warnings} warning(s) in {linter.files} feature file(s), "
          f"{linter.scenarios} scenario(s)", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    from steps._cli import guarded
    sys.exit(guarded(main))
