"""``genrep explore``: property-based rehearsal against the live environment (virtual or a real profile).

The scenarios check texts a tester chose; exploration checks texts nobody chose. Each *example* is a
generated report text (``genrep.text.generated``: ``hl7_texts`` by default, ``clinical_texts``, or
``nll_texts`` for the medication list) that carries the exact text a correct receiver must show. It
goes through the real integration exactly as the steps send it, is read back, and compared; every
failing kind is shrunk by Hypothesis *against the live system* to a minimal example, within one
budget for the whole run. Transport, configuration and identity-guard errors stop the run at once,
never shrunk: exit 3 and 2 as everywhere in genrep.

One module per concern, each with its reasons in its docstring:

* ``examples``: :class:`Example` (what is sent, and what must come back) and ``example_strategy``
  (the generated texts per integration, padded towards RAD-R01's length limit);
* ``targets``: the integration adapters (:class:`RadiologyTarget`, :class:`NLLTarget`) that send one
  example and read it back into a classified :class:`Outcome`;
* ``shrink``: ``search``, the Hypothesis loop: seeded generation, each kind shrunk apart, repeats not
  re-sent, the budget;
* ``findings``: :class:`Finding`, its requirement (:data:`REQUIREMENTS`) and its JSON file for
  ``--replay``;
* ``scenario`` and ``allure``: the outputs of a finding, a ready-to-paste regression scenario and an
  Allure result (``genrep.results.writer``);
* ``run``: ``explore`` and ``replay``, what ``genrep.cli.explore`` calls;
* ``batch``: the generated texts a feature file asks for (``Given 50 generated report texts with
  tables and negations``): the words, the seed from the scenario's name, the batch through the
  scenario's client and patient, the first and the smallest failing example (``steps/generated_steps.py``);
* ``rehearsal_budget``: ``rehearsal_pass``, a small deterministic budget of exploration inside a
  dress rehearsal, its Allure results written into the rehearsal's results folder.

The names below are the package's interface (the CLI and the tests import them from here).
"""

from __future__ import annotations

import importlib

#: each public name and its module: imported on first use (PEP 562), so that ``genrep explore --help``
#: and every other command, which build the argument parser from ``genrep.explore.names``, do not
#: import Hypothesis, the generators and the targets (~0.2 s of every CLI process)
_HOMES = {
    **dict.fromkeys(["allure_result", "write_allure"], "allure"),
    **dict.fromkeys(["BatchResult", "Request", "run_batch", "seed_for"], "batch"),
    **dict.fromkeys(["Example", "PADDING_MAX", "check_generator", "example_strategy", "padding_text"], "examples"),
    **dict.fromkeys(["DEFAULT_BUDGET", "DEFAULT_EXAMPLES", "GENERATORS", "INTEGRATIONS"], "names"),
    **dict.fromkeys(["FORMAT", "Finding", "REQUIREMENTS", "load_finding", "requirement_for", "save_finding"],
                    "findings"),
    **dict.fromkeys(["IntegrationPass", "PASS_BUDGET", "PASS_EXAMPLES", "PassSummary", "rehearsal_pass"],
                    "rehearsal_budget"),
    **dict.fromkeys(["DEFAULT_OUT", "Replay", "Report", "describe_environment", "environment", "explore",
                     "replay"], "run"),
    **dict.fromkeys(["regression_feature"], "scenario"),
    **dict.fromkeys(["ExploreFailure", "Search", "failure_type", "search"], "shrink"),
    **dict.fromkeys(["NLLTarget", "Outcome", "RadiologyTarget", "require_virtual_nll"], "targets"),
}


def __getattr__(name: str):
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'genrep.explore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"genrep.explore.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "DEFAULT_BUDGET", "DEFAULT_EXAMPLES", "DEFAULT_OUT", "FORMAT", "GENERATORS", "INTEGRATIONS",
    "PADDING_MAX", "PASS_BUDGET", "PASS_EXAMPLES", "REQUIREMENTS", "BatchResult", "Example",
    "ExploreFailure", "Finding", "IntegrationPass", "NLLTarget", "Outcome", "PassSummary",
    "RadiologyTarget", "Replay", "Report", "Request", "Search", "allure_result", "check_generator",
    "describe_environment", "environment", "example_strategy", "explore", "failure_type", "load_finding",
    "padding_text", "regression_feature", "rehearsal_pass", "replay", "require_virtual_nll",
    "requirement_for", "run_batch", "save_finding", "search", "seed_for", "write_allure",
]
