"""Requirement catalogue and radiology contract loading (genrep.config.contracts)."""

from __future__ import annotations

import re

import pytest

from genrep.paths import CONTRACTS_DIR
from genrep.config.contracts import SEVERITIES, TEST_TYPES, load_catalogue, load_radiology
from genrep.errors import ConfigError

RADIOLOGY = (CONTRACTS_DIR / "radiology.yaml").read_text(encoding="utf-8")

CATALOGUE = """\
requirements:
  - id: RAD-001
    title: Stored as sent
    integration: radiology
    test_type: interface test
    severity: critical
    negative: false
    criterion: equal text
  - id: RAD-R01
    title: Long report
    integration: radiology
    test_type: interface test
    severity: high
    negative: true
    criterion: complete or refused
    source: brief
"""


def write(tmp_path, text, name="x.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def assert_names(err: ConfigError, path, key_part: str, line: int):
    text = str(err)
    assert f"{path}:{line}" in text, text
    assert err.line == line
    assert key_part in (err.key or "") and key_part in text


# -- shipped files ------------------------------------------------------------------------------

def test_shipped_catalogue_loads():
    cat = load_catalogue()
    assert "RAD-001" in cat and len(cat) >= 2
    for rid, req in cat.items():
        assert req.id == rid
        assert re.fullmatch(r"[A-Z][A-Z0-9]*-[A-Z0-9][A-Z0-9-]*", rid)
        assert req.severity in SEVERITIES and req.test_type in TEST_TYPES
        assert req.title and req.criterion and req.integration
    assert any(r.negative for r in cat.values() if r.integration == "radiology")


def test_shipped_radiology_contract_loads():
    c = load_radiology()
    assert c.charset == "UNICODE UTF-8" and "8859/1" in c.charsets_supported
    assert c.default_convention in c.conventions and len(c.conventions) == 3
    assert c.accession_field == "OBR-3" and c.accession_max_length == 20
    assert c.stored_within_seconds == 5.0 and 0 < c.poll_interval_seconds <= c.stored_within_seconds
    assert "AA" in c.accepted_codes and "AR" in c.refused_codes
    rules = c.text_rules()
    assert rules.unicode_form == "NFC" and rules.line_endings is True


# -- catalogue errors ----------------------------------------------------------------------------

def test_small_catalogue_loads(tmp_path):
    cat = load_catalogue(write(tmp_path, CATALOGUE))
    assert list(cat) == ["RAD-001", "RAD-R01"]
    assert cat["RAD-R01"].negative and cat["RAD-R01"].source == "brief" and cat["RAD-001"].source == ""


@pytest.mark.parametrize("old, new, key_part, line, words", [
    ("id: RAD-R01", "id: rad-r01", "requirements[1].id", 9, "must look like"),
    ("id: RAD-R01", "id: RAD_R01", "requirements[1].id", 9, "must look like"),
    ("id: RAD-R01", "id: RAD-001", "requirements[1].id", 9, "duplicate"),
    ("severity: high", "severity: blocker", "requirements[1].severity", 13, "must be one of"),
    ("test_type: interface test\n    severity: high", "test_type: smoke\n    severity: high",
     "requirements[1].test_type", 12, "must be one of"),
    ("negative: true", "negative: sometimes", "requirements[1].negative", 14, "expected bool"),
    ("    source: brief", "    source: brief\n    owner: x", "requirements[1].owner", 17, "unknown key"),
    ("    criterion: equal text", "    criterion: equal text\n    severty: low", "requirements[0].severty", 9,
     "unknown key"),
])
def test_malformed_requirement_names_file_key_line(tmp_path, old, new, key_part, line, words):
    assert old in CATALOGUE
    path = write(tmp_path, CATALOGUE.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_catalogue(path)
    assert words in str(info.value)
    assert_names(info.value, path, key_part, line)


def test_missing_requirement_field(tmp_path):
    path = write(tmp_path, CATALOGUE.replace("    criterion: equal text\n", ""))
    with pytest.raises(ConfigError, match=r"requirements\[0\]\.criterion.*missing"):
        load_catalogue(path)


def test_catalogue_shape_errors(tmp_path):
    with pytest.raises(ConfigError, match="requirements"):
        load_catalogue(write(tmp_path, "requirement: []\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_catalogue(write(tmp_path, "requirements:\n  - RAD-001\n"))
    with pytest.raises(ConfigError, match="empty"):
        load_catalogue(write(tmp_path, ""))


# -- radiology contract errors --------------------------------------------------------------------

@pytest.mark.parametrize("old, new, key_part, words", [
    ("  stored_within_seconds: 5", "  stored_within_second: 5", "read_back.stored_within_second", "unknown key"),
    ("  stored_within_seconds: 5", "  stored_within_seconds: 0", "read_back.stored_within_seconds", "between"),
    ("  stored_within_seconds: 5", "  stored_within_seconds: 1000", "read_back.stored_within_seconds", "between"),
    ("  poll_interval_seconds: 0.1", "  poll_interval_seconds: 0", "read_back.poll_interval_seconds", "more than 0"),
    ("  poll_interval_seconds: 0.1", "  poll_interval_seconds: 9", "read_back.poll_interval_seconds", "at most"),
    ("  max_length: 20", "  max_length: 0", "accession.max_length", "positive"),
    ("  max_length: 20", "  max_length: twenty", "accession.max_length", "expected int"),
    ("  field: OBR-3 ", "  field: OBR-4 ", "accession.field", "must be one of"),
    ("  charset: UNICODE UTF-8 ", "  charset: EBCDIC ", "message.charset", "must be one of"),
    ("  default_convention: obx-per-line", "  default_convention: ft-bar", "text.default_convention",
     "must be one of"),
    ("    unicode_form: NFC", "    unicode_fom: NFC", "text.comparison.unicode_fom", "unknown text rule"),
    ("    unicode_form: NFC", "    unicode_form: NFX", "text.comparison.unicode_form", "unicode_form"),
    ("    line_endings: true", '    line_endings: "yes"', "text.comparison.line_endings", "true or false"),
])
def test_bad_radiology_contract_names_key_and_line(tmp_path, old, new, key_part, words):
    assert old in RADIOLOGY
    text = RADIOLOGY.replace(old, new, 1)
    line = text.splitlines().index(next(ln for ln in text.splitlines() if ln.startswith(new.split("\n")[0]))) + 1
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_radiology(path)
    assert words in str(info.value), str(info.value)
    assert_names(info.value, path, key_part, line)


def test_unknown_convention_named(tmp_path):
    path = write(tmp_path, RADIOLOGY.replace("[obx-per-line, repetitions, ft-br]", "[obx-per-line, fancy]"))
    with pytest.raises(ConfigError, match="unknown convention 'fancy'") as info:
        load_radiology(path)
    assert info.value.key == "text.conventions" and info.value.line


def test_not_a_radiology_contract(tmp_path):
    path = write(tmp_path, RADIOLOGY.replace("contract: radiology", "contract: lab"))
    with pytest.raises(ConfigError, match="not a radiology contract"):
        load_radiology(path)


def test_unknown_top_level_section(tmp_path):
    path = write(tmp_path, RADIOLOGY + "retries: 3\n")
    with pytest.raises(ConfigError, match="unknown key") as info:
        load_radiology(path)
    assert info.value.key == "retries" and info.value.line == len(RADIOLOGY.splitlines()) + 1
