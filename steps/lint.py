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
  - Gherkin syntax errors (the ``gherkin`` parser pytest-bdd uses), the common ones in plain words on
    the line to change (``steps.feature_files.prescan``), after which the file is still checked:
    a Swedish file without ``# language: sv`` (one finding, at line 1, instead of one per line), an
    English keyword in a Swedish file (``Given`` before the first step is otherwise silently taken as
    description text) or a Swedish one in an English file, ``Då`` for Swedish Then (``Så``), an
    unknown ``# language:``, and a docstring that is never closed (at its opening line)
  - a step that no step definition of its type matches (``And``/``But``/``Och``/``Men`` take the
    type of the step before; matched like pytest-bdd does, after filling in Examples values)
  - a scenario without a requirement tag (a catalogue id, counting Feature, Rule and Examples tags)
  - a tag shaped like a requirement id that is not in ``contracts/requirements.yaml``
  - a tag that is neither a requirement id nor a registered tag (``--strict-markers`` refuses it)
  - two scenarios whose names give the same pytest test name (in all the files checked: only the
    last one would run, so a failing first one would vanish from the verdict)
  - a step whose definition takes a docstring, without one
  - a report name that is not a file in ``fixtures/reports/`` (a step parameter the step function
    passes to ``corpus.load_report``: ``steps.step_registry.fixture_parameters``), with the valid names;
    at run time it would be a traceback counted as a product defect
Warnings: a step several definitions match, a docstring the step ignores, an Outline placeholder
with no Examples column, a ``@wip`` scenario without a requirement tag.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import sys
from pathlib import Path

from pytest_bdd.parser import render_string
from pytest_bdd.scenario import make_python_name

from steps.step_registry import fixture_parameters
from steps.feature_files import (PLACEHOLDER_RE, PROJECT_ROOT, REQ_ID_RE, TYPE_BY_KEYWORD_TYPE, Finding, GFeature, GScenario,
                                  GStep, _contexts, display_path, parse_feature)


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
        fixture_problem = self._fixture_problem(found[0][1], text)
        if fixture_problem:
            self.add(path, step.line, "error", fixture_problem)
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

    @staticmethod
    def _fixture_problem(ctx, text: str) -> str | None:
        """A parameter naming a fixture file (``the report "{name}"``) that names none: at run time it
        would be a traceback counted as a product defect."""
        kinds = fixture_parameters(ctx.step_func)
        if not kinds:
            return None
        try:
            values = ctx.parser.parse_arguments(text) or {}
        except Exception:  # noqa: BLE001 - a parser that matched but cannot parse: not this check's business
            return None
        for param, kind in kinds.items():
            value = values.get(param)
            if isinstance(value, str) and not PLACEHOLDER_RE.search(value):  # <placeholder>: warned above
                problem = kind.problem(value)
                if problem:
                    return problem
        return None

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

    from steps.step_registry import all_step_contexts
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
