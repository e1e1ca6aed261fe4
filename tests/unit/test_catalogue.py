"""``genrep steps``: the step catalogue lists every step function, both languages, grouped by
integration, and docs/steps.md is exactly what ``genrep steps --write`` generates."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from genrep.paths import PROJECT_ROOT

STEPS_DIR = PROJECT_ROOT / "steps"
GROUP_TITLES = {
    "patient_steps": "Patients",
    "radiology_steps": "Radiology",
    "medication_steps": "Medication list (NLL)",
    "multum_steps": "Interaction checks (Multum)",
}
# functions with an English and a Swedish phrasing
BILINGUAL = {
    ("patient_steps", "given_registered_patient"),
    ("radiology_steps", "given_contract"),
    ("radiology_steps", "given_report"),
    ("radiology_steps", "when_send"),
    ("radiology_steps", "then_ack"),
    ("radiology_steps", "then_matches"),
    ("medication_steps", "given_release"),
    ("medication_steps", "given_rx_text"),
    ("medication_steps", "when_open_list"),
    ("medication_steps", "then_faithful"),
    ("multum_steps", "given_healthy"),
    ("multum_steps", "when_prescribe"),
    ("multum_steps", "then_interaction"),
}


def genrep(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genrep.cli", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def declared_steps() -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(module, function) -> {(type, pattern)}, read from the source of steps/*_steps.py."""
    out: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for path in sorted(STEPS_DIR.glob("*_steps.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if not (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name)
                        and dec.func.id in ("given", "when", "then")):
                    continue
                arg = dec.args[0]
                if isinstance(arg, ast.Call):  # parsers.parse("...")
                    arg = arg.args[0]
                out.setdefault((path.stem, node.name), set()).add((dec.func.id, arg.value))
    return out


@pytest.fixture(scope="module")
def catalogue() -> dict:
    proc = genrep("steps", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def listed(catalogue) -> dict[tuple[str, str], dict]:
    return {(s["module"], s["function"]): s for g in catalogue["groups"] for s in g["steps"]}


def test_every_step_function_is_listed_with_every_phrasing(catalogue):
    declared = declared_steps()
    steps = listed(catalogue)
    assert set(steps) == set(declared)
    assert catalogue["count"] == len(declared)
    for key, phrasings in declared.items():
        assert {(p["type"], p["pattern"]) for p in steps[key]["phrasings"]} == phrasings, key


def test_the_registered_step_functions_match_too(catalogue):
    """Cross-check with pytest-bdd's own registry (tests may import the step modules)."""
    import importlib

    from pytest_bdd.steps import step_function_context_registry

    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    registered = set()
    for path in sorted(STEPS_DIR.glob("*_steps.py")):
        module = importlib.import_module(f"steps.{path.stem}")
        for name, value in vars(module).items():
            if name.startswith("pytestbdd_stepdef_"):
                ctx = step_function_context_registry[value._get_wrapped_function()]
                if ctx.step_func.__module__ == module.__name__:
                    registered.add((path.stem, ctx.step_func.__name__))
    assert set(listed(catalogue)) == registered


def test_grouped_by_integration(catalogue):
    groups = {g["module"]: g for g in catalogue["groups"]}
    for module, title in GROUP_TITLES.items():
        assert groups[module]["title"] == title
        assert groups[module]["steps"]
        assert all(s["module"] == module for s in groups[module]["steps"])
    assert [g["module"] for g in catalogue["groups"]][:4] == list(GROUP_TITLES)


def test_both_languages_on_one_row(catalogue):
    steps = listed(catalogue)
    for key in BILINGUAL:
        langs = [p["language"] for p in steps[key]["phrasings"]]
        assert sorted(set(langs)) == ["en", "sv"], (key, steps[key]["phrasings"])
        assert langs[0] == "en"  # English first
    swedish = {p["pattern"] for s in steps.values() for p in s["phrasings"] if p["language"] == "sv"}
    assert "en registrerad testpatient" in swedish and "a registered test patient" not in swedish


def test_parameters_argument_and_examples(catalogue):
    steps = listed(catalogue)
    lines = steps[("radiology_steps", "given_generated_lines")]
    assert lines["parameters"] == [{"name": "count", "kind": "whole number", "spec": "d"}]
    assert lines["phrasings"][0]["display"] == "a generated report of {count} lines"
    assert steps[("radiology_steps", "given_report_text")]["argument"] == "docstring"
    assert steps[("radiology_steps", "given_report")]["phrasings"][0]["example"] == 'Given the report "dt_thorax"'
    for step in steps.values():
        for ph in step["phrasings"]:
            assert ph["example"], (step["function"], ph)
            if ph["example_source"]:  # a real line of a feature file
                file, line = ph["example_source"].rsplit(":", 1)
                text = (PROJECT_ROOT / file).read_text(encoding="utf-8").splitlines()[int(line) - 1]
                assert text.strip(), ph


def test_docs_page_is_generated_and_committed(tmp_path):
    page = tmp_path / "steps.md"
    proc = genrep("steps", "--write", str(page))
    assert proc.returncode == 0, proc.stderr
    committed = (PROJECT_ROOT / "docs" / "steps.md").read_text(encoding="utf-8")
    assert page.read_text(encoding="utf-8") == committed, (
        "docs/steps.md is out of date: run `genrep steps --write` and commit the page")
    assert "## Failure classifications" in committed and "lost_negation" in committed


def test_text_output_lists_both_languages():
    proc = genrep("steps")
    assert proc.returncode == 0, proc.stderr
    assert "Given a registered test patient" in proc.stdout
    assert "Givet en registrerad testpatient" in proc.stdout
