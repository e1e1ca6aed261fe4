"""The failure-kind registry (genrep.results.failure_kinds): every kind the steps and the library emit
is registered, messages read back to their kinds, Allure's categories come from the registry, and
the defect table names only registered classifications."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from genrep.load.stats import METRIC_LABELS
from genrep.paths import PROJECT_ROOT
from genrep.results import failure_kinds as fk
from genrep.results.allure_meta import CATEGORIES, VERDICT_CATEGORY
from genrep.results.reader import ScenarioResult
from genrep.sim.defects import DEFECTS
from genrep.text.fidelity import KINDS as FIDELITY_KINDS

# "word: " openings that are not failure messages
NOT_KINDS = {
    "genrep": "the CLI's own messages (genrep: ...)",
    "warning": "medication_steps: a warning line of the shown list, an attachment",
    "reduced": "nll_drift: the detail of a maxLength change inside a drift report",
}
_OPENING = re.compile(r"(?:[A-Za-z.]*Error: )?([a-z][a-z_]+): ")


def _sources() -> list[Path]:
    return sorted(PROJECT_ROOT.glob("steps/*_steps.py")) + sorted((PROJECT_ROOT / "src" / "genrep").rglob("*.py"))


def _leading_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return node.values[0].value
    return None


def _chosen(node: ast.AST) -> list[str]:
    """The strings an expression evaluates to: a constant, or either branch of a conditional."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _chosen(node.body) + _chosen(node.orelse)
    return []


def _failure_calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args
            and (n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", None)) == "failure"]


def emitted_kinds() -> dict[str, set[str]]:
    """kind -> files: every string opening with ``kind: ``, and every kind given to ``failure()``
    (a constant, a conditional of constants, or a variable assigned those in the same function)."""
    found: dict[str, set[str]] = {}
    for path in _sources():
        rel = str(path.relative_to(PROJECT_ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names: list[str] = []
        for node in ast.walk(tree):
            text = _leading_text(node)
            if text is not None and (m := _OPENING.match(text)):
                names.append(m.group(1))
        for func in [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for call in _failure_calls(func):
                arg = call.args[0]
                names += _chosen(arg)
                if isinstance(arg, ast.Name):
                    names += [s for a in ast.walk(func) if isinstance(a, ast.Assign)
                              and any(isinstance(t, ast.Name) and t.id == arg.id for t in a.targets)
                              for s in _chosen(a.value)]
        for name in names:
            found.setdefault(name, set()).add(rel)
    return found


def test_every_kind_the_steps_and_library_emit_is_registered():
    emitted = emitted_kinds()
    # the scan sees the steps, the library and the computed kinds (certificates, load)
    assert {"not_stored", "failover_failed", "nll_unavailable", "cert_expiring", "sla_missed",
            "load_run_failed"} <= set(emitted)
    unregistered = {k: sorted(files) for k, files in emitted.items() if k not in fk.KINDS and k not in NOT_KINDS}
    assert not unregistered, ("failure kinds emitted but not registered in genrep.results.failure_kinds "
                              f"(add each with its meaning, category and severity): {unregistered}")


def test_the_scan_catches_a_new_unregistered_kind(tmp_path, monkeypatch):
    step = tmp_path / "steps" / "new_steps.py"
    step.parent.mkdir()
    step.write_text('def then_it(x):\n    assert x, f"brand_new_kind: {x} was lost"\n', encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PROJECT_ROOT", tmp_path)
    assert set(emitted_kinds()) == {"brand_new_kind"} and "brand_new_kind" not in fk.KINDS


def test_registry_entries_are_complete():
    categories = {c.name for c in fk.CATEGORIES}
    for name, kind in fk.KINDS.items():
        assert kind.name == name and re.fullmatch(r"[a-z][a-z_]+", name)
        assert kind.meaning and "\n" not in kind.meaning, name
        assert kind.category in categories, name
        assert kind.severity in ("critical", "high", "medium", "low"), name
    for name, severity in FIDELITY_KINDS.items():  # fidelity's kinds, with fidelity's severities
        assert fk.KINDS[name].severity == severity and fk.KINDS[name].source == "fidelity"


def test_defect_table_names_registered_classifications():
    for defect in DEFECTS.values():
        for kind in defect.expected_kinds:
            if defect.integration == "performance-load":  # proven by the load profiles' SLA metric
                assert kind in METRIC_LABELS, (defect.name, kind)
            else:
                assert kind in fk.KINDS, f"{defect.name} expects unregistered kind {kind!r}"


@pytest.mark.parametrize("kind", sorted(k for k, v in fk.KINDS.items() if v.source != "derived"))
def test_round_trip_through_the_reader(kind):
    message = "AssertionError: " + fk.failure(kind, "what went wrong\nassert False")
    result = ScenarioResult(name="s", full_name="s", status="failed", message=message, requirements=[],
                            history_id="h")
    assert result.kinds == [kind]
    assert result.classification == [fk.KINDS[kind]]


def test_fidelity_tags_and_unknown_prefixes_parse():
    msg = "Report text differs\n- [truncated/high] cut\n- [lost_negation/critical] ingen\nbrand_new: x"
    assert fk.kinds_in(msg) == ["truncated", "lost_negation", "brand_new"]
    unknown = fk.lookup("brand_new")
    assert unknown.source == "unregistered" and unknown.category == fk.OTHER_PRODUCT
    with pytest.raises(KeyError, match="not registered"):
        fk.failure("brand_new", "x")


def test_categories_are_generated_from_the_registry():
    # first the go-live verdict's own category (genrep.results.allure_meta.write_verdict_result), then the registry's
    assert CATEGORIES[0] is VERDICT_CATEGORY and CATEGORIES[1:] == fk.allure_categories()
    by_name = {c["name"]: c for c in CATEGORIES[1:]}
    assert list(by_name) == [c.name for c in fk.CATEGORIES]
    # the catch-alls come last and match by status only
    assert [c["name"] for c in CATEGORIES[-2:]] == [fk.OTHER_PRODUCT, fk.TEST_DEFECTS]
    assert all("messageRegex" not in c for c in CATEGORIES[-2:])


def _first_category(message: str, status: str = "failed") -> str:
    return next(c["name"] for c in CATEGORIES
                if status in c["matchedStatuses"] and re.fullmatch(c.get("messageRegex", "(?s).*"), message))


@pytest.mark.parametrize("kind", sorted(k for k, v in fk.KINDS.items() if v.source != "derived"))
def test_each_kind_lands_in_its_category(kind):
    expected = fk.KINDS[kind].category
    status = "broken" if expected == fk.TEST_DEFECTS else "failed"
    as_prefix = "AssertionError: " + fk.failure(kind, "x\nassert False")
    assert _first_category(as_prefix, status) == expected
    as_tag = f"Report text differs\n- [{kind}/high] x"
    assert _first_category(as_tag, status) == expected


def test_a_kind_mentioned_mid_line_is_not_a_classification():
    assert _first_category("sla_missed: PERF-STORED operations.x.sla.max_not_stored") == fk.PERFORMANCE
    assert _first_category("unclassified: see not_stored later") == fk.OTHER_PRODUCT
    assert _first_category("cannot connect to h:1 (refused)", "broken") == fk.UNREACHABLE
