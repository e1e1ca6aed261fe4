"""steps/bdd_lookup.py: pytest-bdd's step lookup with the cheap question first. Its equivalence with
pytest-bdd's own lookup is checked on every step of the whole suite by the selftest matrix
(tests/e2e/test_selftest.py sets GENREP_CHECK_BDD_LOOKUP=1); here: the check itself goes red on a
difference, a name no definition of which parses the step is skipped without asking pytest, and an
unknown registry layout skips nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from steps import bdd_lookup


class Manager:
    """pytest >= 9.2's registry layout: name -> {node -> [fixturedefs]}."""

    def __init__(self, registry):
        self._arg2node2fixturedefs = registry
        self._arg2nodeid2fixturedefs = {}
        self.visibility_asked: list[str] = []

    def getfixturedefs(self, name, node):
        self.visibility_asked.append(name)
        return [fd for defs in self._arg2node2fixturedefs.get(name, {}).values() for fd in defs]


def _step_def(monkeypatch, name: str, step_type: str, text: str):
    func = lambda: None  # noqa: E731
    parser = SimpleNamespace(is_matching=lambda candidate, text=text: candidate == text)
    monkeypatch.setitem(bdd_lookup.step_function_context_registry, func,
                        SimpleNamespace(type=step_type, parser=parser))
    return SimpleNamespace(func=func, argname=name)


@pytest.fixture
def world(monkeypatch):
    given = _step_def(monkeypatch, "given_a", "given", "a patient")
    when = _step_def(monkeypatch, "when_b", "when", "the report is sent")
    plain = SimpleNamespace(func=lambda: None, argname="tmp_path")  # an ordinary fixture, no step
    manager = Manager({"given_a": {"root": [given]}, "when_b": {"root": [when]}, "tmp_path": {"root": [plain]}})
    monkeypatch.setattr(bdd_lookup.bdd_scenario, "get_fixture_names", lambda fixturemanager: list(
        fixturemanager._arg2node2fixturedefs))
    monkeypatch.setattr(bdd_lookup.bdd_scenario, "getfixturedefs",
                        lambda fixturemanager, name, node: fixturemanager.getfixturedefs(name, node))
    return manager, given, when


def test_only_names_that_can_parse_the_step_are_looked_up(world, monkeypatch):
    manager, given, _ = world
    monkeypatch.delenv(bdd_lookup.CHECK_ENV, raising=False)
    step = SimpleNamespace(type="given", name="a patient")
    assert bdd_lookup.find_fixturedefs_for_step(step, manager, node="item") == [given]
    assert manager.visibility_asked == ["given_a"]  # not when_b (other type), not tmp_path (no step)


def test_the_check_goes_red_when_the_answer_differs_from_pytest_bdds(world, monkeypatch):
    manager, given, when = world
    monkeypatch.setenv(bdd_lookup.CHECK_ENV, "1")
    step = SimpleNamespace(type="given", name="a patient")
    monkeypatch.setattr(bdd_lookup, "_original", lambda **kw: iter([given]))
    assert bdd_lookup.find_fixturedefs_for_step(step, manager, node="item") == [given]  # the same: passes
    monkeypatch.setattr(bdd_lookup, "_original", lambda **kw: iter([given, when]))
    with pytest.raises(AssertionError, match="pytest-bdd's own"):
        bdd_lookup.find_fixturedefs_for_step(step, manager, node="item")


def test_an_unknown_registry_layout_skips_nothing(world, monkeypatch):
    manager, given, _ = world
    monkeypatch.delenv(bdd_lookup.CHECK_ENV, raising=False)
    unknown = SimpleNamespace(getfixturedefs=manager.getfixturedefs, visibility_asked=manager.visibility_asked,
                              names=list(manager._arg2node2fixturedefs))
    monkeypatch.setattr(bdd_lookup.bdd_scenario, "get_fixture_names", lambda fixturemanager: fixturemanager.names)
    step = SimpleNamespace(type="given", name="a patient")
    assert bdd_lookup.find_fixturedefs_for_step(step, unknown, node="item") == [given]
    assert manager.visibility_asked == ["given_a", "when_b", "tmp_path"]  # every name asked, as pytest-bdd does


def test_the_older_registry_and_the_node_id_registry_are_read_too(world, monkeypatch):
    """pytest < 9.2 keeps ``name -> [fixturedefs]``; 9.2 also keeps definitions registered by node id
    (``_arg2nodeid2fixturedefs``): a step definition found only there is never skipped."""
    manager, given, when = world
    monkeypatch.delenv(bdd_lookup.CHECK_ENV, raising=False)
    step = SimpleNamespace(type="when", name="the report is sent")
    by_id = Manager({"given_a": {"root": [given]}})
    by_id._arg2nodeid2fixturedefs = {"when_b": {"": [when]}}
    by_id.getfixturedefs = lambda name, node: [given] if name == "given_a" else [when]
    monkeypatch.setattr(bdd_lookup.bdd_scenario, "get_fixture_names",
                        lambda fixturemanager: ["given_a", "when_b"])
    assert bdd_lookup.find_fixturedefs_for_step(step, by_id, node="item") == [when]
    older = SimpleNamespace(_arg2fixturedefs={"given_a": [given], "when_b": [when]}, asked=[])
    older.getfixturedefs = lambda name, node: (older.asked.append(name), older._arg2fixturedefs[name])[1]
    assert bdd_lookup.find_fixturedefs_for_step(step, older, node="item") == [when]
    assert older.asked == ["when_b"]  # given_a skipped: no definition of it parses a when-step
