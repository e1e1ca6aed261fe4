"""The NLL contract (contracts/nll.yaml) and its loader (genrep.config.contracts.load_nll)."""

from __future__ import annotations

import pytest

from genrep.paths import CONTRACTS_DIR
from genrep.config.contracts import NLLContract, load_nll
from genrep.errors import ConfigError
from genrep.sim import nll_releases

SHIPPED = (CONTRACTS_DIR / "nll.yaml").read_text(encoding="utf-8")

MINIMAL = """\
contract: nll
release: "N"
profile: http://electronichealth.se/fhir/StructureDefinition/NLLMedicationRequest
headers: [x-request-id, x-user-agent]
line_breaks: ["\\n"]
elements:
  - path: MedicationRequest.dosageInstruction.patientInstruction
    min: 1
    max: "1"
    type: [string]
    maxLength: 512
    relied_on: true
"""


def write(tmp_path, text):
    p = tmp_path / "nll.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def assert_names(err: ConfigError, path, key_part: str, line: int):
    text = str(err)
    assert f"{path}:{line}" in text, text
    assert err.line == line
    assert key_part in (err.key or ""), err.key


def test_shipped_contract_loads():
    c = load_nll()
    assert isinstance(c, NLLContract)
    assert c.release == "N" and c.fhir_version == "4.0.1"
    assert c.profile == nll_releases.PROFILE_URL
    assert c.headers == ("x-request-id", "x-user-agent")
    assert c.line_breaks == ("\n",)
    pi = c.element("MedicationRequest.dosageInstruction.patientInstruction")
    assert pi is not None and pi.max_length == 512 and pi.relied_on and pi.min == 1 and pi.max == "1"
    assert pi.type == ("string",)
    admin = c.element("MedicationRequest.dosageInstruction.additionalInstruction.text")
    assert admin is not None and admin.max_length == 512 and admin.relied_on
    assert c.element("MedicationRequest.dosageInstruction.route.text").max_length == 256
    assert c.element("MedicationRequest").max_count == float("inf")
    assert c.element("nope") is None


def test_shipped_contract_pins_release_n_exactly():
    """Every element of release N's profile is in the contract with the same constraints."""
    c = load_nll()
    sd = nll_releases.structure_definition("N")
    provided = {e["id"]: e for e in sd["differential"]["element"]}
    assert set(provided) == {e.path for e in c.elements}
    for el in c.elements:
        p = provided[el.path]
        assert (p["min"], p["max"], p.get("maxLength")) == (el.min, el.max, el.max_length), el.path
        assert tuple(t["code"] for t in p.get("type", [])) == el.type, el.path


def test_minimal_contract_and_aliases(tmp_path):
    c = load_nll(write(tmp_path, MINIMAL.replace('["\\n"]', "[LF, CRLF]")))
    assert c.line_breaks == ("\n", "\r\n")
    assert c.line_break_elements == () and c.modifier_extensions_understood == ()
    assert c.elements[0].line == 7


@pytest.mark.parametrize("old,new,key,line", [
    ("contract: nll", "contract: radiology", "contract", 1),
    ('release: "N"', "release: \"N\"\nrelase: x", "relase", 3),
    ("    min: 1\n", "    min: -1\n", "elements[0].min", 8),
    ('    max: "1"', '    max: "many"', "elements[0].max", 9),
    ('    max: "1"', '    max: "0"', "elements[0].max", 9),
    ("    maxLength: 512", "    maxLength: 0", "elements[0].maxLength", 11),
    ("    maxLength: 512", "    maxLength: '512'", "elements[0].maxLength", 11),
    ("    relied_on: true", "    relied_on: yes please", "elements[0].relied_on", 12),
    ("    relied_on: true", "    relied_on: true\n    max_length: 3", "elements[0].max_length", 13),
    ("  - path: MedicationRequest.dosageInstruction.patientInstruction",
     "  - path: medicationRequest..x", "elements[0].path", 7),
    ('line_breaks: ["\\n"]', 'line_breaks: ["\\t"]', "line_breaks", 5),
    ('line_breaks: ["\\n"]', "line_breaks: []", "line_breaks", 5),
    ("headers: [x-request-id, x-user-agent]", "headers: [x request id]", "headers", 4),
    ("profile: http", "profile: ftp", "profile", 3),
])
def test_errors_name_file_key_and_line(tmp_path, old, new, key, line):
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError) as ei:
        load_nll(path)
    assert_names(ei.value, path, key, line)


def test_missing_required_keys(tmp_path):
    path = write(tmp_path, MINIMAL.replace("    relied_on: true\n", ""))
    with pytest.raises(ConfigError, match="elements\\[0\\].relied_on.*missing|missing"):
        load_nll(path)
    path = write(tmp_path, MINIMAL.split("elements:")[0])
    with pytest.raises(ConfigError) as ei:
        load_nll(path)
    assert ei.value.key == "elements"


def test_duplicate_element_names_both_places(tmp_path):
    item = MINIMAL.split("elements:\n")[1]
    path = write(tmp_path, MINIMAL + item)
    with pytest.raises(ConfigError) as ei:
        load_nll(path)
    assert_names(ei.value, path, "elements[1].path", 13)
    assert "elements[0]" in str(ei.value)


def test_element_not_a_mapping_and_file_problems(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_nll(write(tmp_path, MINIMAL.split("elements:")[0] + "elements:\n  - just a string\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_nll(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        load_nll(write(tmp_path, "- a\n- b\n"))
