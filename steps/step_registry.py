"""The step definitions of ``steps/*_steps.py`` as pytest-bdd registered them, module by module in
page order: read by the step catalogue and by the linter (which matches feature steps against
them). One home, so that the linter and the catalogue do not import each other."""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path

from pytest_bdd.steps import StepFunctionContext, StepNamePrefix, step_function_context_registry

from genrep.paths import PROJECT_ROOT, REPORT_TEXTS_DIR

STEPS_DIR = Path(__file__).resolve().parent

GROUPS = {
    "patient_steps": "Patients",
    "radiology_steps": "Radiology",
    "medication_steps": "Medication list (NLL)",
    "multum_steps": "Interaction checks (Multum)",
    "journey_steps": "Patient journeys (across integrations)",
}


def step_module_names() -> list[str]:
    """``steps.*_steps`` modules: the known ones in page order, then any others by name."""
    found = sorted(p.stem for p in STEPS_DIR.glob("*_steps.py"))
    return [m for m in GROUPS if m in found] + [m for m in found if m not in GROUPS]


def group_title(module: str) -> str:
    return GROUPS.get(module) or module.removesuffix("_steps").replace("_", " ").capitalize()


def _context_of(value) -> StepFunctionContext | None:
    func = value._get_wrapped_function() if hasattr(value, "_get_wrapped_function") else value
    try:
        return step_function_context_registry.get(func)
    except TypeError:
        return None


def module_step_contexts(module) -> list[StepFunctionContext]:
    """Step contexts a module defines, in the order pytest-bdd registered them."""
    prefix = StepNamePrefix.step_def.value + "_"
    out = []
    for name, value in list(vars(module).items()):
        if not name.startswith(prefix):
            continue
        ctx = _context_of(value)
        if ctx is not None and getattr(ctx.step_func, "__module__", None) == module.__name__:
            out.append(ctx)
    return out


def all_step_contexts() -> list[tuple[str, StepFunctionContext]]:
    out = []
    for mod_name in step_module_names():
        module = importlib.import_module(f"steps.{mod_name}")
        out.extend((mod_name, ctx) for ctx in module_step_contexts(module))
    return out


# ------------------------------------------------------------------------ named fixtures ---
@dataclass(frozen=True)
class FixtureKind:
    """Files a step parameter names: ``Given the report "dt_thorax"`` reads fixtures/reports/dt_thorax.txt."""

    what: str  # "report"
    folder: Path
    suffix: str  # ".txt"

    @property
    def where(self) -> str:
        try:
            return self.folder.relative_to(PROJECT_ROOT).as_posix() + "/"
        except ValueError:
            return str(self.folder) + "/"

    def names(self) -> list[str]:
        return sorted(p.name[: -len(self.suffix)] for p in self.folder.glob(f"*{self.suffix}") if p.is_file())

    def problem(self, value: str) -> str | None:
        """Why ``value`` names no fixture (None when it does): the fix, in plain words."""
        known = self.names()
        listing = f"the {self.what}s in {self.where} are: {', '.join(known) or 'none yet'}"
        if value.endswith(self.suffix) and value[: -len(self.suffix)] in known:
            return f'{self.what} "{value}": write the name without "{self.suffix}": "{value[: -len(self.suffix)]}"'
        if not value.replace("_", "").replace("-", "").isalnum():  # what corpus.load_report accepts
            return (f'{self.what} name "{value}" must be letters, digits, \'_\' or \'-\' (a file name in '
                    f"{self.where} without {self.suffix}); {listing}")
        if value in known:
            return None
        close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        return (f'unknown {self.what} "{value}": there is no {self.where}{value}{self.suffix}{hint} ({listing}; '
                f"a new {self.what} text goes in {self.where}NAME{self.suffix}, saved as UTF-8)")


# the function a step passes a parameter to -> the files that parameter names
FIXTURE_LOADERS = {"load_report": FixtureKind("report", REPORT_TEXTS_DIR, ".txt")}


@functools.cache
def fixture_parameters(step_func) -> dict[str, FixtureKind]:
    """Parameters of a step function that name a fixture file: those it passes straight to a loader of
    ``FIXTURE_LOADERS`` (``corpus.load_report(name)``). Read from the function's source, so a new step
    that loads a report is checked by the linter and documented by the catalogue without a list."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(step_func)))
    except (OSError, TypeError, SyntaxError):
        return {}
    params = set(inspect.signature(step_func).parameters)
    out: dict[str, FixtureKind] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name)):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if called in FIXTURE_LOADERS and node.args[0].id in params:
            out[node.args[0].id] = FIXTURE_LOADERS[called]
    return out
