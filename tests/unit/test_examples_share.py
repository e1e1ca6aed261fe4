"""``GENREP_EXAMPLES_SHARE`` (``make test-fast``): each property test runs its share of the examples
its settings ask for, at least 10 (or its own number when that is smaller); unset, every example
runs (``make test``, what CI runs). The hook (``support.fewer_examples``) is applied to a real
``@given`` test here and the examples it runs are counted."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import EXAMPLES_SHARE_ENV, fewer_examples


def counted(max_examples: int):
    calls = []

    @settings(max_examples=max_examples, database=None, deadline=None)
    @given(st.integers())
    def prop(n):
        calls.append(n)

    return prop, calls


@pytest.mark.parametrize(("asked", "share", "runs"), [(40, None, 40), (40, "0.5", 20), (40, "1", 40),
                                                      (40, "0.1", 10), (6, "0.5", 6), (300, "0.5", 150)])
def test_a_property_runs_its_share_of_the_examples(asked, share, runs):
    prop, calls = counted(asked)
    env = {} if share is None else {EXAMPLES_SHARE_ENV: share}
    # two items of one test (parametrized): its settings are changed once, not halved twice
    fewer_examples([SimpleNamespace(obj=prop), SimpleNamespace(obj=prop), SimpleNamespace(obj=lambda: None)], env)
    prop()
    assert len(calls) == runs


@pytest.mark.parametrize("share", ["0", "1.5", "half", "-1"])
def test_a_share_outside_0_to_1_is_refused(share):
    prop, _ = counted(40)
    with pytest.raises(ValueError, match=EXAMPLES_SHARE_ENV):
        fewer_examples([SimpleNamespace(obj=prop)], {EXAMPLES_SHARE_ENV: share})


def test_a_property_method_of_a_test_class_runs_its_share_too():
    calls = []

    class TestSomething:
        @settings(max_examples=40, database=None, deadline=None)
        @given(st.integers())
        def test_prop(self, n):
            calls.append(n)

    method = TestSomething().test_prop  # what pytest's item.obj is for a method: a bound method
    fewer_examples([SimpleNamespace(obj=method)], {EXAMPLES_SHARE_ENV: "0.5"})
    method()
    assert len(calls) == 20
