"""Every step can be written in Swedish: each step function pytest-bdd registered (``steps/*_steps.py``)
has at least one Swedish phrasing, the language of every phrasing is clear from its own words, and no
phrasing is matched by another step function's pattern (lint would call it ambiguous)."""

from __future__ import annotations

import sys

import pytest

from genrep.paths import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from steps import catalogue  # noqa: E402
from steps.step_registry import all_step_contexts  # noqa: E402


@pytest.fixture(scope="module")
def steps():
    return catalogue.load_steps()  # the registry's step functions, languages decided as docs/steps.md shows


def test_the_registry_is_read(steps):
    functions = {(m, c.step_func.__name__) for m, c in all_step_contexts()}
    assert len(steps) == len(functions) > 50
    assert {(s.module, s.function) for s in steps} == functions


def test_every_step_has_a_swedish_phrasing(steps):
    missing = [f"{s.module}.{s.function} ({s.type}: {s.phrasings[0].pattern!r})"
               for s in steps if not s.by_language("sv")]
    assert not missing, (
        f"{len(missing)} step(s) without a Swedish phrasing: add a @given/@when/@then line with the "
        "Swedish text above the function (Then steps read after 'Så', e.g. 'kvitterar journalen med {code}'), "
        "then run `genrep steps --write`:\n  " + "\n  ".join(missing))


def test_every_step_has_an_english_phrasing_or_is_a_swedish_journey_step(steps):
    # journey steps may be Swedish only; every other integration's step has its English original
    lacking = [f"{s.module}.{s.function}" for s in steps if not s.by_language("en") and s.module != "journey_steps"]
    assert not lacking, lacking


def test_the_language_of_every_phrasing_is_clear(steps):
    """From its words, or (when they do not tell) from the features that use it: never a guess."""
    unclear = [p.pattern for s in steps for p in s.phrasings
               if catalogue.pattern_language(p.pattern) is None and not p.example_source]
    assert not unclear, (
        "the catalogue cannot tell the language of these phrasings from their words, and no feature uses "
        f"them yet: add a word of them to SWEDISH_WORDS or ENGLISH_WORDS in steps/catalogue.py: {unclear}")


def test_no_phrasing_is_matched_by_another_step(steps):
    contexts = all_step_contexts()
    clashes = []
    for s in steps:
        for ctx in s._contexts:
            example = catalogue.synthesize_example(ctx.parser, ctx.type or "step", "en").split(" ", 1)[1]
            others = {c.step_func.__qualname__ for _, c in contexts
                      if c.step_func is not ctx.step_func and (c.type is None or ctx.type is None or c.type == ctx.type)
                      and c.parser.is_matching(example)}
            if others:
                clashes.append(f"{s.function}: {example!r} is matched by {sorted(others)} too")
    assert not clashes, "\n".join(clashes)


def test_the_report_text_step_has_its_swedish_form(steps):
    by_name = {s.function: s for s in steps}
    sv = [p.pattern for p in by_name["given_report_text"].by_language("sv")]
    assert sv == ["ett svar med texten:"] and by_name["given_report_text"].argument == "docstring"


def _feature(language: str, steps) -> str:
    """One scenario per phrasing of ``language``, written as the catalogue's example for it."""
    header = "# language: sv\n@radiology @RAD-001\nEgenskap: Varje steg\n" if language == "sv" else \
        "@radiology @RAD-001\nFeature: Every step\n"
    out = [header]
    for i, s in enumerate(steps):
        for j, ph in enumerate(s.by_language(language)):
            out.append(f"  Scenario: {language} {i} {j} {s.function}\n    {ph.example}\n")
            if s.argument == "docstring":
                out.append('      """\n      Ingen fraktur.\n      """\n')
            elif s.argument == "datatable":
                out.append("      | a |\n      | 1 |\n")
    return "".join(out)


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_phrasing_as_the_catalogue_shows_it_passes_lint(tmp_path, language):
    """The catalogue's example of each phrasing (a real feature line, or made up with real values and
    report names) is a step lint accepts in a file of its language: keyword, type and fixture names."""
    import subprocess

    steps = catalogue.load_steps()  # with the features: the examples docs/steps.md shows
    path = tmp_path / f"every_step.{language}.feature"
    path.write_text(_feature(language, steps), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "lint", str(path)], cwd=tmp_path,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert proc.returncode == 0 and not proc.stdout, proc.stdout + proc.stderr
    assert f"{sum(len(s.by_language(language)) for s in steps)} scenario(s)" in proc.stderr
