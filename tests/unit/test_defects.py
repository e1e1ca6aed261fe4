"""Switchable defects of the virtual environment (genrep.sim.defects)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.config.contracts import load_catalogue
from genrep.errors import ConfigError
from genrep.sim.defects import DEFECTS, parse_defects, truncate_bytes


def test_table_is_consistent_with_catalogue():
    cat = load_catalogue()
    for name, d in DEFECTS.items():
        assert d.name == name and d.detected_by and d.expected_kinds
        for rid in d.detected_by:
            assert rid in cat, f"{name} names unknown requirement {rid}"
            # a defect is caught by its own integration's scenarios, and by journeys that pass through it
            assert cat[rid].integration in (d.integration, "journeys")
        assert any(cat[rid].integration == d.integration for rid in d.detected_by)


def test_empty_and_blank_specs():
    assert parse_defects([]) == {}
    assert parse_defects(["", "  "]) == {}


def test_default_and_explicit_parameters():
    assert parse_defects(["radiology-truncation"]) == {"radiology-truncation": 4000}
    assert parse_defects(["radiology-drop-lines"]) == {"radiology-drop-lines": 20}
    assert parse_defects([" radiology-truncation:1000 ", "radiology-linebreaks"]) == {
        "radiology-truncation": 1000, "radiology-linebreaks": None}
    assert parse_defects(("radiology-drop-lines:5",)) == {"radiology-drop-lines": 5}


def test_unknown_name_lists_known():
    with pytest.raises(ConfigError) as info:
        parse_defects(["radiology-truncaton:100"])
    msg = str(info.value)
    assert "unknown defect 'radiology-truncaton'" in msg and "radiology-truncation" in msg
    assert info.value.key == "defects"


@pytest.mark.parametrize("spec", [
    "radiology-truncation:0", "radiology-truncation:-5", "radiology-truncation:abc",
    "radiology-truncation:1.5", "radiology-truncation:²", "radiology-truncation:١٠",
    "radiology-truncation:", "radiology-drop-lines: ",
])
def test_bad_parameter(spec):
    with pytest.raises(ConfigError, match="positive integer") as info:
        parse_defects([spec])
    assert info.value.key == "defects"


def test_parameter_on_defect_without_one_refused():
    with pytest.raises(ConfigError, match="takes no parameter"):
        parse_defects(["radiology-linebreaks:3"])


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=30))
def test_any_spec_parses_or_is_a_config_error(spec):
    try:
        out = parse_defects([spec])
    except ConfigError:
        return
    assert set(out) <= set(DEFECTS)
    assert all(v is None or (isinstance(v, int) and v > 0) for v in out.values())


# -- truncate_bytes ----------------------------------------------------------------------------------

def test_truncate_plain_ascii():
    assert truncate_bytes("abcdef", 3) == "abc"
    assert truncate_bytes("abc", 10) == "abc"


def test_truncate_splits_multibyte_safely():
    text = "blödning"  # ö is 2 bytes in UTF-8: b,l = 2 bytes, then 0xC3 0xB6
    out = truncate_bytes(text, 3)
    assert out == "bl\ufffd"  # a split character becomes U+FFFD, it never raises
    assert truncate_bytes(text, 4) == "blö"
    assert truncate_bytes("€", 2) == "\ufffd"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.integers(min_value=1, max_value=300))
def test_truncate_property(text, limit):
    out = truncate_bytes(text, limit)
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        assert out == text
    else:
        # everything up to the cut is kept; at most one replacement character for the split one
        kept = raw[:limit].decode("utf-8", errors="ignore")
        assert out.startswith(kept) and text.startswith(kept)
        assert out[len(kept):] in ("", "\ufffd")
        assert len(kept.encode("utf-8")) <= limit


def test_replay_2024_names_known_defects_covering_each_incident():
    from genrep.sim.defects import DEFECTS, REPLAY_2024
    assert set(REPLAY_2024) <= set(DEFECTS)
    integrations = {DEFECTS[d].integration for d in REPLAY_2024}
    assert {"radiology", "nll", "multum", "registration"} <= integrations
