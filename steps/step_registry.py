"""The step definitions of ``steps/*_steps.py`` as pytest-bdd registered them, module by module in
page order: read by the step catalogue and by the linter (which matches feature steps against
them). One home, so that the linter and the catalogue do not import each other."""

from __future__ import annotations

import importlib
from pathlib import Path

from pytest_bdd.steps import StepFunctionContext, StepNamePrefix, step_function_context_registry

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
