"""pytest-bdd's step lookup with the cheap question asked first: the same answer for a fraction of the CPU.

For every step of every scenario, pytest-bdd 9 (``pytest_bdd.scenario.find_fixturedefs_for_step``)
asks pytest which definitions of *every* registered fixture name are visible to the scenario, and
only then whether one of them parses the step. pytest answers each of those questions by walking up
the node tree and computing every parent's node id. Measured on the whole feature suite (179
scenarios, 1,730 steps, about 160 fixture names): 280,500 visibility lookups and 1.4 million node-id
computations, about a third of the suite's own CPU (cProfile: 9.0 s of 26 s under the profiler).

The wrapper below first looks at all definitions of a name, visible or not (a dictionary read in
pytest's registry), and skips a name none of whose definitions is a step definition of the step's
type that parses the step. Only the few names left go through pytest-bdd's own lookup, unchanged, so
visibility, overriding and order stay pytest's and pytest-bdd's. The answer is the same definitions
in the same order: with ``GENREP_CHECK_BDD_LOOKUP=1`` every lookup is also made the original way and
a difference fails the scenario (tests/e2e/test_selftest.py runs every selftest suite so: every
step of every scenario; tests/unit/test_bdd_lookup.py covers the registry layouts).

Why not upstream or a plugin: this is pytest-bdd's own hot path and no option changes it; the patch
is installed by ``steps/conftest.py``; it skips names only where pytest's registry has a layout
known here (pytest < 9.2: ``_arg2fixturedefs``; 9.2 and later: ``_arg2node2fixturedefs`` and
``_arg2nodeid2fixturedefs``), checked on every lookup; with any other layout it asks about every
name, as pytest-bdd does.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator

from pytest_bdd.steps import step_function_context_registry

# the module, not the ``pytest_bdd.scenario`` function that the package exports under the same name
bdd_scenario = importlib.import_module("pytest_bdd.scenario")

CHECK_ENV = "GENREP_CHECK_BDD_LOOKUP"

_original = bdd_scenario.find_fixturedefs_for_step


def _all_definitions(fixturemanager, name: str) -> Iterator | None:
    """Every definition registered under ``name``, visible to any node or none; None if the registry's
    layout is unknown (then nothing may be skipped)."""
    by_node = getattr(fixturemanager, "_arg2node2fixturedefs", None)
    by_nodeid = getattr(fixturemanager, "_arg2nodeid2fixturedefs", None)
    if isinstance(by_node, dict) and isinstance(by_nodeid, dict):  # pytest >= 9.2
        return (fd for registry in (by_node, by_nodeid) for defs in registry.get(name, {}).values() for fd in defs)
    flat = getattr(fixturemanager, "_arg2fixturedefs", None)
    if isinstance(flat, dict):  # pytest < 9.2
        return iter(flat.get(name, ()))
    return None


def _parses(fixturedef, step) -> bool:
    context = step_function_context_registry.get(fixturedef.func)
    return (context is not None and (context.type is None or context.type == step.type)
            and bool(context.parser.is_matching(step.name)))


def find_fixturedefs_for_step(step, fixturemanager, node) -> Iterable:
    """pytest-bdd's ``find_fixturedefs_for_step``, skipping the names that cannot parse ``step``."""
    found = list(_filtered(step, fixturemanager, node))
    if os.environ.get(CHECK_ENV) == "1":
        expected = list(_original(step=step, fixturemanager=fixturemanager, node=node))
        if found != expected:
            raise AssertionError(f"steps/bdd_lookup.py: the step lookup for {step.type} {step.name!r} found "
                                 f"{found!r}, pytest-bdd's own {expected!r}")
    return found


def _filtered(step, fixturemanager, node) -> Iterator:
    for name in bdd_scenario.get_fixture_names(fixturemanager=fixturemanager):
        every = _all_definitions(fixturemanager, name)
        if every is not None and not any(_parses(fd, step) for fd in every):
            continue  # no definition of this name, visible or not, parses the step
        for fixturedef in bdd_scenario.getfixturedefs(fixturemanager, name, node) or []:
            if _parses(fixturedef, step):
                yield fixturedef


def install() -> bool:
    """Put the wrapper in place of pytest-bdd's lookup; False (and nothing changed) where pytest-bdd
    no longer has the function this replaces."""
    if not callable(getattr(bdd_scenario, "find_fixturedefs_for_step", None)):
        return False
    bdd_scenario.find_fixturedefs_for_step = find_fixturedefs_for_step
    return True
