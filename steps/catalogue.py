"""The step catalogue: every step definition of ``steps/*_steps.py``, read by introspection.

Run by ``genrep steps`` as ``python -m steps.catalogue [--write PATH] [--format text|markdown|json]``
(a subprocess with the project root as working directory, so the library never imports ``steps``).

For each step function: its type (given/when/then), every phrasing (English and Swedish on one
row), the parameters of its pattern, whether it takes a docstring or a data table, and an example
per phrasing - the first step in ``features/**/*.feature`` that the phrasing matches (so examples
are real), or one made up from the pattern when no feature uses it yet.

The language of a phrasing is decided deterministically from its own words: more Swedish words
(or words with å ä ö) than English ones makes it Swedish, and the other way round; only a pattern
with as many of each (say, nothing but parameters and names) takes the language of the feature
files that use it (``# language: sv``), else English. Every step function has a Swedish phrasing
(``tests/unit/test_steps_swedish.py``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pytest_bdd import parsers as bdd_parsers

from steps.feature_files import feature_step_occurrences

from steps.step_registry import STEPS_DIR, all_step_contexts, fixture_parameters, group_title, step_module_names
PROJECT_ROOT = STEPS_DIR.parent
FEATURES_DIR = PROJECT_ROOT / "features"
DOCS_PAGE = PROJECT_ROOT / "docs" / "steps.md"

# module -> section title, in the order the page shows them; other *_steps modules follow
GROUP_NOTES = {
    "patient_steps": "Shared by every integration: one registered test patient per scenario.",
    "radiology_steps": "RIS -> EHR, HL7 v2 ORU^R01 over MLLP, read back over FHIR R4.",
    "medication_steps": "National medication list NLL -> the EHR's medication list, FHIR R4.",
    "multum_steps": "EHR -> Multum drug-interaction checks through a load balancer (failover, fail-safe).",
    "referral_steps": "Referrals sent through the EHR to another unit, and the feedback the sender gets.",
    "erx_steps": "E-prescriptions signed with the prescriber's SITHS card, sent through the EHR, and what arrived at the receiver.",
    "parity_steps": "Every entry point of a system (nodes, desktop pools, members) alike: smoke journey and fingerprint.",
    "journey_steps": "Care episodes that cross integrations: admission, referral, transfer, discharge.",
}
TYPES = ("given", "when", "then", "step")
KEYWORDS = {
    "en": {"given": "Given", "when": "When", "then": "Then", "step": "*"},
    "sv": {"given": "Givet", "when": "När", "then": "Så", "step": "*"},
}
SWEDISH_LETTERS = re.compile(r"[åäöÅÄÖ]")
SWEDISH_WORDS = frozenset("""
    en ett och att som med till från för av är inte den det de har visar läses skickar
    svaret svar journalen läkaren patienten förskrivning läkemedelslistan kvitterar levererar
    testpatient registrerad båda servrarna friska grad graden mellan tillbaka identiskt skickade
    radiologikontraktet
    på i om utan efter mot när så men ingen inget inga varje samma eller där sin sitt sina igen
    kvar även bara först medan ur det den denna detta vid
    rader tecken texten svarstexten stycke genererat delar kontrollen kontrollerna servern
    kontrolleras kontraktet kontraktets kommer kvittens lagrat lagras tar emot meddelandet
    genererade genererad svarstexter texter text varje skickas alla exakt
""".split())
ENGLISH_WORDS = frozenset("""
    the a an and or of to in on at with without is are was be been by its it not no every each only
    after before while both one two from for as that whose which this than then within gets keep
    keeps shows says sends send opens has have answers answered fails fail runs is are reads read
    report reports message patient clinician clinicians prescribe prescribes server servers
    received stored shown checked labelled flagged healthy down unavailable contract check checks
    serves updates resends sends registered admitted transferred discharged guesses encounter
""".split())
FIELD_RE = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)?(?::([^{}]*))?\}(?!\})")
TYPE_WORDS = {"": "text", "d": "whole number", "n": "whole number", "f": "decimal number",
              "w": "one word", "W": "non-letters", "D": "a digit", "S": "no spaces"}
STEP_LINE_ARGS = ("docstring", "datatable")


@dataclass
class Parameter:
    name: str
    kind: str  # text | whole number | ...
    spec: str = ""


@dataclass
class Phrasing:
    type: str  # given | when | then | step (one function may be given- and when-step)
    pattern: str
    parser: str  # string | parse | cfparse | re
    language: str  # en | sv
    display: str  # the pattern as a tester reads it: {name}, without format specs
    example: str = ""
    example_source: str = ""  # features/...:LINE, empty when the example is made up


@dataclass
class StepDef:
    module: str
    function: str
    type: str  # of its first phrasing, as written
    line: int
    phrasings: list[Phrasing]
    parameters: list[Parameter]
    argument: str | None  # docstring | datatable | None
    target_fixture: str | None = None
    _contexts: list = field(default_factory=list, repr=False, compare=False)

    @property
    def types(self) -> list[str]:
        return [t for t in TYPES if any(p.type == t for p in self.phrasings)]

    def by_language(self, lang: str, type_: str | None = None) -> list[Phrasing]:
        return [p for p in self.phrasings if p.language == lang and type_ in (None, p.type)]

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("_contexts")
        d["types"] = self.types
        d["languages"] = sorted({p.language for p in self.phrasings})
        return d


def pattern_fields(parser) -> list[tuple[str, str]]:
    """(name, format spec) of each parameter of a step parser, in pattern order."""
    if isinstance(parser, bdd_parsers.re):
        return [(n, "re") for n, _ in sorted(parser.regex.groupindex.items(), key=lambda kv: kv[1])]
    if isinstance(parser, bdd_parsers.parse):  # parse and cfparse
        return [(m.group(1) or "", m.group(2) or "") for m in FIELD_RE.finditer(parser.name)]
    return []


def display_pattern(parser) -> str:
    if isinstance(parser, bdd_parsers.parse):
        return FIELD_RE.sub(lambda m: "{" + (m.group(1) or "") + "}", parser.name)
    return parser.name


def _kind(spec: str) -> str:
    if spec == "re":
        return "text (regular expression)"
    if not spec:
        return "text"
    return TYPE_WORDS.get(spec[-1], f"format {spec}")


def pattern_language(pattern: str) -> str | None:
    """"sv" or "en" by the words of the pattern (parameters left out), None when it cannot tell."""
    words = re.findall(r"[^\W\d_]+", FIELD_RE.sub(" ", pattern).lower())
    swedish = sum(1 for w in words if w in SWEDISH_WORDS or SWEDISH_LETTERS.search(w))
    english = sum(1 for w in words if w in ENGLISH_WORDS)
    return "sv" if swedish > english else "en" if english > swedish else None


def _fixture_kind(kind) -> str:
    return f"{kind.what} name: a file in {kind.where}, without {kind.suffix}"


def heuristic_language(pattern: str) -> str:
    return pattern_language(pattern) or "en"


def synthesize_example(parser, type_: str, lang: str, values: dict | None = None) -> str:
    """A step made up from its pattern: ``values`` (e.g. taken from a real example of another phrasing
    of the same step) where given, else a placeholder per parameter."""
    values = values or {}
    if isinstance(parser, bdd_parsers.parse):
        def fill(m: re.Match) -> str:
            spec = m.group(2) or ""
            if m.group(1) in values:
                return str(values[m.group(1)])
            return "3" if spec[-1:] in ("d", "n") else "2.5" if spec[-1:] == "f" else (m.group(1) or "value")
        text = FIELD_RE.sub(fill, parser.name).replace("{{", "{").replace("}}", "}")
    elif isinstance(parser, bdd_parsers.re):
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"\1", parser.name)
    else:
        text = parser.name
    return f"{KEYWORDS[lang][type_]} {text}"


def load_steps(features_dir: Path | None = FEATURES_DIR) -> list[StepDef]:
    """Every step function of the step modules, one StepDef per function, with examples."""
    defs: dict[tuple[str, str], StepDef] = {}
    for mod_name, ctx in all_step_contexts():
        func = ctx.step_func
        key = (mod_name, func.__qualname__)
        sd = defs.get(key)
        if sd is None:
            sig = inspect.signature(func)
            argument = next((a for a in STEP_LINE_ARGS if a in sig.parameters), None)
            sd = defs[key] = StepDef(module=mod_name, function=func.__name__, type=ctx.type or "step",
                                     line=func.__code__.co_firstlineno, phrasings=[], parameters=[],
                                     argument=argument, target_fixture=ctx.target_fixture)
        sd._contexts.append(ctx)
        sd.phrasings.append(Phrasing(type=ctx.type or "step", pattern=ctx.parser.name, parser=type(ctx.parser).__name__,
                                     language="", display=display_pattern(ctx.parser)))
    steps = list(defs.values())
    for sd in steps:
        # decorators apply bottom-up: reverse to get the order they are written in
        sd._contexts.reverse()
        sd.phrasings.reverse()
        sd.type = sd.phrasings[0].type
        seen: dict[str, str] = {}
        for ctx in sd._contexts:
            for name, spec in pattern_fields(ctx.parser):
                seen.setdefault(name, spec)
        fixtures = {}
        for ctx in sd._contexts:
            fixtures.update(fixture_parameters(ctx.step_func))
        sd.parameters = [Parameter(n, _fixture_kind(fixtures[n]) if n in fixtures else _kind(s), "" if s == "re" else s)
                         for n, s in seen.items()]
    _attach_examples(steps, features_dir)
    for sd in steps:
        sd.phrasings.sort(key=lambda p: 0 if p.language == "en" else 1)  # stable: keeps source order
    order = {m: i for i, m in enumerate(step_module_names())}
    steps.sort(key=lambda s: (order[s.module], TYPES.index(s.type), s.line))
    return steps


def _attach_examples(steps: list[StepDef], features_dir: Path | None) -> None:

    occurrences = feature_step_occurrences(sorted(features_dir.rglob("*.feature"))) \
        if features_dir and features_dir.is_dir() else []
    for sd in steps:
        for ctx, ph in zip(sd._contexts, sd.phrasings):
            used_in: set[str] = set()
            for occ in occurrences:
                if ctx.type is not None and ctx.type != occ.type:
                    continue
                if not ctx.parser.is_matching(occ.text):
                    continue
                used_in.add(occ.language)
                if not ph.example:  # the step's own keyword, not the And/Och it may follow
                    ph.example = f"{KEYWORDS.get(occ.language, KEYWORDS['en'])[occ.type]} {occ.text}"
                    ph.example_source = f"{occ.relpath}:{occ.line}"
            ph.language = (pattern_language(ph.pattern)
                           or ("sv" if used_in == {"sv"} else "en" if used_in == {"en"} else "en"))
        # a phrasing no feature uses yet: made up, with the values of a real example of the same step
        # (so a made-up Swedish example names a report that exists), else a real report name
        known = _example_values(sd)
        for ctx, ph in zip(sd._contexts, sd.phrasings):
            if not ph.example:
                text = synthesize_example(ctx.parser, ph.type, ph.language, known)
                if known and not ctx.parser.is_matching(text.split(" ", 1)[1]):
                    text = synthesize_example(ctx.parser, ph.type, ph.language, _fixture_values(sd))
                ph.example = text


def _fixture_values(sd: StepDef) -> dict:
    out = {}
    for ctx in sd._contexts:
        for name, kind in fixture_parameters(ctx.step_func).items():
            names = kind.names()
            if names:
                out.setdefault(name, names[0])
    return out


def _example_values(sd: StepDef) -> dict:
    """Parameter values of the first real example of the step (any phrasing), over real fixture names."""
    values = _fixture_values(sd)
    for ctx, ph in zip(sd._contexts, sd.phrasings):
        if ph.example_source and isinstance(ctx.parser, bdd_parsers.parse):
            try:
                values.update(ctx.parser.parse_arguments(ph.example.split(" ", 1)[1]) or {})
            except (ValueError, TypeError):
                continue
            break
    return values


# ----------------------------------------------------------------------------- rendering ---
def grouped(steps: list[StepDef]) -> list[tuple[str, str, list[StepDef]]]:
    out = []
    for mod in step_module_names():
        items = [s for s in steps if s.module == mod]
        if items:
            out.append((mod, group_title(mod), items))
    return out


def render_json(steps: list[StepDef]) -> str:
    data = {"groups": [{"module": mod, "title": title, "steps": [s.to_dict() for s in items]}
                       for mod, title, items in grouped(steps)],
            "count": len(steps)}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _arg_note(sd: StepDef) -> str:
    return {"docstring": " + docstring", "datatable": " + data table"}.get(sd.argument or "", "")


def render_text(steps: list[StepDef]) -> str:
    lines = []
    for mod, title, items in grouped(steps):
        lines.append(f"== {title} ({mod}.py) ==")
        for sd in items:
            lines.append("")
            for ph in sd.phrasings:
                kw = KEYWORDS[ph.language][ph.type]
                lines.append(f"  [{ph.language}] {kw} {ph.display}{_arg_note(sd)}")
            if sd.parameters:
                lines.append("       parameters: " + ", ".join(f"{p.name} ({p.kind})" for p in sd.parameters))
            for ph in sd.phrasings:
                where = f"   ({ph.example_source})" if ph.example_source else "   (made up: no feature uses it yet)"
                lines.append(f"       e.g. {ph.example}{where}")
        lines.append("")
    lines.append(f"{len(steps)} step functions. Parameters in {{braces}}; 'genrep steps --format json' "
                 "for the machine-readable list.")
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _md_code(text: str) -> str:
    text = _md_cell(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def render_markdown(steps: list[StepDef], intro: str, tail: str) -> str:
    out = [intro.rstrip("\n"), ""]
    for mod, title, items in grouped(steps):
        out.append(f"## {title}")
        if mod in GROUP_NOTES:
            out.append(GROUP_NOTES[mod])
        out.append("")
        for type_ in TYPES:
            rows = sorted((s for s in items if type_ in s.types), key=lambda s: s.line)
            if not rows:
                continue
            out.append(f"### {KEYWORDS['en'][type_] if type_ != 'step' else 'Any keyword'}")
            out.append("| English | Swedish | parameters | example |")
            out.append("|---|---|---|---|")
            for sd in rows:
                cols = []
                for lang in ("en", "sv"):
                    phs = sd.by_language(lang, type_)
                    cols.append("<br>".join(_md_code(p.display) + _arg_note(sd) for p in phs))
                params = ", ".join(f"`{p.name}`: {p.kind}" for p in sd.parameters)
                examples = []
                for ph in sd.phrasings:
                    if ph.type != type_:
                        continue
                    examples.append(_md_code(ph.example) + ("" if ph.example_source else " (made up)"))
                cols += [params, "<br>".join(examples)]
                out.append("| " + " | ".join(c if c else " " for c in cols) + " |")
            out.append("")
    out.append(tail.strip("\n"))
    return "\n".join(out) + "\n"


INTRO = """\
# Step catalogue

Steps for feature files, grouped by integration. English and Swedish phrasings of one step run the
same code and make the same checks. `{name}` etc. are parameters; "+ docstring" means the step
takes a text block between triple quotes on the lines after it. Each example is the first use of
the step in `features/`, or "(made up)" when no feature uses that phrasing yet.

This page is generated: do not edit it by hand. After changing steps or features run
`genrep steps --write` (the unit tests fail when this page and the steps disagree), and
`genrep steps` prints the same catalogue in the terminal.
"""

TAIL_HEADING = "## Failure classifications"


def page_tail(page: Path = DOCS_PAGE) -> str:
    """The hand-written "Failure classifications" section at the end of the current page."""
    if page.exists():
        text = page.read_text(encoding="utf-8")
        i = text.find(TAIL_HEADING)
        if i >= 0:
            return text[i:]
    return TAIL_HEADING + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m steps.catalogue", description=__doc__.split("\n")[0])
    ap.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    ap.add_argument("--write", metavar="PATH", default=None,
                    help="also write the Markdown page to PATH (keeps its 'Failure classifications' section)")
    args = ap.parse_args(argv)
    steps = load_steps()
    if args.write:
        target = Path(args.write)
        page = render_markdown(steps, INTRO, page_tail(target if target.exists() else DOCS_PAGE))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    if args.format == "json":
        out = render_json(steps)
    elif args.format == "markdown":
        out = render_markdown(steps, INTRO, page_tail())
    else:
        out = render_text(steps)
    sys.stdout.write(out)
    if args.write:
        print(f"wrote {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from steps._cli import guarded
    sys.exit(guarded(main))
