"""Like-for-like entry points (issue 19 part 4) without a socket: the ``entry_points:`` section of a
profile (genrep.config.profile), the parity contract's loader (genrep.config.parity), the comparison and
the per-entry-point rules of genrep.parity on synthetic fingerprints, the report's outcome and the Allure
results it writes (PAR-001..003). The same code over real sockets: tests/sim/test_parity.py."""

from __future__ import annotations

import copy
import json
import textwrap
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep import parity
from genrep.config.contracts import load_catalogue
from genrep.config.parity import FIELDS, INTEGRATIONS, load_parity
from genrep.config.profile import load_profile
from genrep.errors import ConfigError
from genrep.paths import CONTRACTS_DIR

CONTRACT = load_parity()

# -- the entry_points section of a profile --------------------------------------------------------

EXTERNAL = """\
name: ext
kind: external
production: false
endpoints:
  radiology_mllp: {protocol: mllp, host: ehr.test.example, port: 2575}
  ehr_fhir: {protocol: http, base_url: "https://fhir.test.example/r4"}
  ehr_api: {protocol: http, base_url: "https://api.test.example/ehr"}
entry_points:
  ehr:
    - name: node-a
      kind: node
      endpoints:
        ehr_fhir: {protocol: http, base_url: "https://app1.test.example/r4"}
    - name: pool-2
      kind: desktop_pool
      endpoints:
        radiology_mllp: {protocol: mllp, host: pool2.test.example, port: 2576}
        ehr_api: {protocol: http, base_url: "https://pool2.test.example/ehr"}
"""

VIRTUAL = """\
name: virt
kind: virtual
production: false
entry_points:
  ehr:
    - {name: node-a, kind: node}
    - {name: node-b, kind: node}
"""


def write(tmp_path, text: str, name: str = "profile.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refused(path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_profile(str(path), defects=())
    return info.value


def assert_names(err: ConfigError, path, key: str, line: int):
    text = str(err)
    assert err.file == str(path) and err.key == key and err.line == line, (err.file, err.key, err.line, text)
    assert f"{path}:{line}" in text and f"key '{key}'" in text


def test_entry_points_load_in_order_and_through_replaces_only_the_named_endpoints(tmp_path):
    p = load_profile(str(write(tmp_path, EXTERNAL)), defects=())
    eps = p.entry_points["ehr"]
    assert [(e.name, e.kind) for e in eps] == [("node-a", "node"), ("pool-2", "desktop_pool")]
    assert parity.entry_points(p) == eps
    a, b = p.through("ehr", "node-a"), p.through("ehr", "pool-2")
    assert a.endpoints["ehr_fhir"].base_url.startswith("https://app1.test.example")
    assert a.endpoints["ehr_api"] == p.endpoints["ehr_api"]            # not named: the profile's own
    assert b.endpoints["radiology_mllp"].host == "pool2.test.example" and b.endpoints["radiology_mllp"].port == 2576
    assert b.endpoints["ehr_fhir"] == p.endpoints["ehr_fhir"]
    assert {"app1.test.example", "pool2.test.example"} <= p.allowed_hosts  # an entry point's hosts get traffic
    with pytest.raises(ConfigError, match="no entry point 'node-c'.*node-a, pool-2"):
        p.through("ehr", "node-c")


def test_shipped_profiles_name_two_ehr_entry_points(monkeypatch):
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    for name in ("virtual", "virtual-tls"):
        assert [e.name for e in load_profile(name, defects=()).entry_points["ehr"]] == ["node-a", "node-b"]
    monkeypatch.setenv("GENREP_EHR_FHIR_TOKEN", "t")
    monkeypatch.setenv("GENREP_EHR_API_TOKEN", "t")
    monkeypatch.setenv("GENREP_NLL_TOKEN", "t")
    ext = load_profile("example-external", defects=())
    assert [(e.name, e.kind) for e in ext.entry_points["ehr"]] == [("node-a", "node"), ("vdi-pool-2", "desktop_pool")]


def test_a_profile_without_entry_points_is_a_config_error_for_parity(tmp_path):
    p = load_profile(str(write(tmp_path, EXTERNAL.split("entry_points:")[0])), defects=())
    with pytest.raises(ConfigError, match="names no entry points of 'ehr'") as info:
        parity.entry_points(p, "ehr")
    assert info.value.key == "entry_points" and info.value.file == str(tmp_path / "profile.yaml")


@pytest.mark.parametrize("old, new, key, line", [
    # a kind that is not node | desktop_pool | lb_member
    ("      kind: desktop_pool", "      kind: vdi", "entry_points.ehr[1].kind", 15),
    # an endpoint the profile does not name (an entry point replaces, never adds)
    ("        ehr_api: {protocol: http, base_url: \"https://pool2.test.example/ehr\"}",
     "        nll_fhir: {protocol: http, base_url: \"https://pool2.test.example/nll\"}",
     "entry_points.ehr[1].endpoints.nll_fhir", 18),
    # the same endpoint over another protocol
    ("        ehr_fhir: {protocol: http, base_url: \"https://app1.test.example/r4\"}",
     "        ehr_fhir:\n          protocol: mllp\n          host: app1.test.example\n          port: 2575",
     "entry_points.ehr[0].endpoints.ehr_fhir.protocol", 14),
    # a name given twice
    ("    - name: pool-2", "    - name: node-a", "entry_points.ehr[1].name", 14),
    # a name that is not lower case letters, digits, . _ -
    ("    - name: pool-2", "    - name: Pool 2", "entry_points.ehr[1].name", 14),
    # an unknown key in an entry point
    ("      kind: node", "      kind: node\n      weight: 2", "entry_points.ehr[0].weight", 12),
    # an external entry point that names no endpoints
    ("      kind: node\n      endpoints:\n        ehr_fhir: {protocol: http, base_url: \"https://app1.test.example/r4\"}\n",
     "      kind: node\n", "entry_points.ehr[0].endpoints", 10),
    # not a list
    ("  ehr:\n    - name: node-a", "  ehr: node-a\n  old:\n    - name: node-a", "entry_points.ehr", 9),
])
def test_bad_entry_points_name_file_key_and_line(tmp_path, old, new, key, line):
    assert old in EXTERNAL
    path = write(tmp_path, EXTERNAL.replace(old, new, 1))
    assert_names(refused(path), path, key, line)


def test_virtual_profile_with_more_than_two_entry_points_is_refused(tmp_path):
    path = write(tmp_path, VIRTUAL + "    - {name: node-c, kind: node}\n")
    err = refused(path)
    assert_names(err, path, "entry_points.ehr", 5)
    assert "at most two" in str(err)
    assert [e.name for e in load_profile(str(write(tmp_path, VIRTUAL, "ok.yaml")), defects=()).entry_points["ehr"]] \
        == ["node-a", "node-b"]


def test_virtual_profile_entry_point_with_endpoints_is_refused(tmp_path):
    path = write(tmp_path, VIRTUAL.replace("{name: node-b, kind: node}",
                                           "{name: node-b, kind: node, endpoints: {ehr_fhir: {protocol: http}}}"))
    assert_names(refused(path), path, "entry_points.ehr[1].endpoints", 7)


def test_virtual_profile_duplicate_entry_point_is_refused(tmp_path):
    path = write(tmp_path, VIRTUAL.replace("node-b", "node-a"))
    err = refused(path)
    assert_names(err, path, "entry_points.ehr[1].name", 7)
    assert "named twice" in str(err)


# -- the parity contract ----------------------------------------------------------------------------

CONTRACT_TEXT = (CONTRACTS_DIR / "parity.yaml").read_text(encoding="utf-8")


def _line(text: str, needle: str) -> int:
    """The line of the first key ``needle`` (``key:``), comments skipped."""
    return next(i for i, ln in enumerate(text.splitlines(), 1) if ln.lstrip().startswith(needle))


def test_shipped_contract_loads():
    assert CONTRACT.systems == ("ehr",)
    assert CONTRACT.fingerprint_path == "$fingerprint"
    assert CONTRACT.compare == FIELDS
    assert CONTRACT.integrations_reachable == INTEGRATIONS
    assert CONTRACT.schedule_templates_loaded and CONTRACT.booking_types_have_resources
    assert 0 < CONTRACT.within_seconds <= 120 and CONTRACT.report_text.strip()


@pytest.mark.parametrize("old, new, key", [
    ("parity: 1", "parity: 2", "parity"),
    ("parity: 1", "parity: 1\ncolour: red", "colour"),
    ("systems: [ehr]", "systems: []", "systems"),
    ("systems: [ehr]", "systems: [ehr, 3]", "systems"),
    ("systems: [ehr]", "systems: ehr", "systems"),
    ("  path: $fingerprint", "  path: http://elsewhere/$fingerprint", "fingerprint.path"),
    ("  path: $fingerprint", "  path: ../admin/$fingerprint", "fingerprint.path"),
    ("  path: $fingerprint", "  path: '  '", "fingerprint.path"),
    ("  compare: [software_version,", "  compare: [colour, software_version,", "fingerprint.compare"),
    ("  compare: [software_version,", "  comapre: [software_version,", "fingerprint.comapre"),
    ("    integrations_reachable: [nll, multum, referrals]", "    integrations_reachable: [nll, pacs]",
     "fingerprint.require.integrations_reachable"),
    ("    schedule_templates_loaded: true", "    schedule_templates_loaded: yes please",
     "fingerprint.require.schedule_templates_loaded"),
    ("  within_seconds: 10", "  within_seconds: 0", "smoke.within_seconds"),
    ("  within_seconds: 10", "  within_seconds: 121", "smoke.within_seconds"),
    ("  within_seconds: 10", "  within_seconds: soon", "smoke.within_seconds"),
    ('  report_text: "Parity smoke', '  report_text: "  "\n  old_text: "Parity smoke', "smoke.old_text"),
])
def test_bad_contract_names_file_key_and_line(tmp_path, old, new, key):
    assert old in CONTRACT_TEXT
    text = CONTRACT_TEXT.replace(old, new, 1)
    path = tmp_path / "parity.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_parity(path)
    err = info.value
    assert err.file == str(path) and err.key == key, (err.file, err.key, str(err))
    want = _line(text, key.rsplit(".", 1)[-1] + ":")
    assert err.line == want and f"{path}:{want}" in str(err), str(err)


def test_empty_report_text_and_a_contract_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "parity.yaml"
    text = CONTRACT_TEXT.replace('  report_text: "Parity smoke: Lungor utan anmärkning.\\nSlutsats: Ingen pneumoni."',
                                 '  report_text: "   "', 1)
    assert text != CONTRACT_TEXT
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="empty") as info:
        load_parity(path)
    assert info.value.key == "smoke.report_text" and info.value.line == _line(text, "report_text:")
    path.write_text("- parity\n- 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping") as info:
        load_parity(path)
    assert info.value.file == str(path) and info.value.line == 1


# -- fingerprints: comparison and own rules -----------------------------------------------------------

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
fingerprints = st.fixed_dictionaries({
    "node": _text,
    "software_version": _text,
    "integrations": st.fixed_dictionaries({k: st.fixed_dictionaries({"reachable": st.booleans(), "detail": _text})
                                           for k in INTEGRATIONS}),
    "schedule_templates": st.lists(_text, max_size=4, unique=True),
    "booking_types": st.dictionaries(_text, st.lists(_text, max_size=3, unique=True), max_size=4),
})


def clean_fingerprint(node: str = "node-a") -> dict:
    from genrep.sim.ehr_fingerprint import CONFIGURATION, SOFTWARE_VERSION
    return {"node": node, "software_version": SOFTWARE_VERSION,
            "integrations": {k: {"reachable": True, "detail": "HTTP 200"} for k in INTEGRATIONS},
            **copy.deepcopy(CONFIGURATION)}


def entry(name: str, fp: dict | None, **kw) -> parity.EntryReport:
    return parity.EntryReport(name, "node", fingerprint=fp, **kw)


@settings(max_examples=150, deadline=None)
@given(fingerprints, st.randoms(use_true_random=False), _text)
def test_two_identical_fingerprints_never_differ(fp, rnd, other_node):
    twin = copy.deepcopy(fp)
    twin["node"] = other_node                        # the node's own name is never compared
    rnd.shuffle(twin["schedule_templates"])          # order is not configuration
    for resources in twin["booking_types"].values():
        rnd.shuffle(resources)
    items = list(twin["integrations"].items())
    rnd.shuffle(items)
    twin["integrations"] = dict(items)
    assert parity.differences(fp, twin, CONTRACT, "node-a") == []
    entries = [entry("node-a", fp), entry("node-b", twin)]
    parity.compare_entries(entries, CONTRACT)
    assert all(e.differences == [] for e in entries)
    assert parity.differ_message(entries, "node-a") == ""


#: every way a compared field can change: (field, how)
CHANGES = (("software_version", "other"), ("integrations", "flipped"), ("integrations", "not listed"),
           ("schedule_templates", "one missing"), ("schedule_templates", "one extra"),
           ("booking_types", "one missing"), ("booking_types", "one extra"),
           ("booking_types", "a resource more"), ("booking_types", "a resource swapped"))
#: fingerprints with something in every list, so that every change in CHANGES applies
full_fingerprints = fingerprints.map(lambda fp: {
    **fp, "schedule_templates": fp["schedule_templates"] or ["Mall 1"],
    "booking_types": {k: v or ["Rum 1"] for k, v in (fp["booking_types"] or {"Besök": []}).items()}})


def _changed(fp: dict, change: tuple[str, str], data) -> tuple[dict, str]:
    """``fp`` with one compared field changed (``change``: CHANGES) so that its comparable form differs;
    and the words a report of that field must hold."""
    fld, how = change
    out = copy.deepcopy(fp)
    if fld == "software_version":
        out[fld] = fp[fld] + data.draw(_text)
        return out, "software_version"
    if fld == "integrations":
        name = data.draw(st.sampled_from(INTEGRATIONS))
        if how == "flipped":
            out[fld][name]["reachable"] = not out[fld][name]["reachable"]
        else:
            del out[fld][name]
        return out, f"integrations.{name}"
    if fld == "schedule_templates":
        if how == "one missing":
            out[fld].pop(data.draw(st.integers(0, len(out[fld]) - 1)))
        else:
            out[fld].append(data.draw(_text.filter(lambda t: t not in fp[fld])))
        return out, "schedule templates"
    kinds = out[fld]
    if how == "one extra":
        name = data.draw(_text.filter(lambda t: t not in fp[fld]))
        kinds[name] = data.draw(st.lists(_text, max_size=2))
        return out, f"booking type {name!r}"
    name = data.draw(st.sampled_from(sorted(kinds)))
    new = data.draw(_text.filter(lambda t: t not in fp[fld][name]))
    if how == "one missing":
        del kinds[name]
    elif how == "a resource more":
        kinds[name] = kinds[name] + [new]
    else:  # as many resources, not the same ones
        kinds[name][data.draw(st.integers(0, len(kinds[name]) - 1))] = new
    return out, f"booking type {name!r}"


@settings(max_examples=300, deadline=None)
@given(full_fingerprints, st.sampled_from(CHANGES), st.integers(1, 3), st.data())
def test_any_changed_compared_field_is_reported_naming_the_entry_point_and_field(fp, change, which, data):
    changed, words = _changed(fp, change, data)
    names = ["node-a", "node-b", "pool-2", "lb-4"]
    fps = [copy.deepcopy(fp) for _ in names]
    fps[which] = changed
    entries = [entry(n, f) for n, f in zip(names, fps)]
    parity.compare_entries(entries, CONTRACT)
    assert entries[which].differences, (change, changed)
    assert all(words in d for d in entries[which].differences), entries[which].differences
    assert all(e.differences == [] for i, e in enumerate(entries) if i != which)  # only the one that differs
    assert all("node-a" in d for d in entries[which].differences)  # compared with the reference, named
    message = parity.differ_message(entries, "node-a")
    assert message.startswith("parity_differs: 1 entry point(s) differ from node-a")
    assert all(f"  {names[which]}: " in ln and words in ln for ln in message.splitlines()[1:])
    report = parity.ParityReport("ehr", entries)
    assert report.exit_code == parity.EXIT_DIFFER
    assert f"  {names[which]} (node): DIFFERS" in report.lines()


@settings(max_examples=60, deadline=None)
@given(full_fingerprints, st.sampled_from(CHANGES), st.data())
def test_a_field_not_in_compare_is_not_compared(fp, change, data):
    changed, _ = _changed(fp, change, data)
    only_others = replace(CONTRACT, compare=tuple(f for f in FIELDS if f != change[0]))
    assert parity.differences(fp, changed, only_others, "node-a") == []


def test_difference_wording_names_what_differs_at_the_reference():
    ref = clean_fingerprint()
    b = clean_fingerprint("node-b")
    b["integrations"]["multum"] = {"reachable": False, "detail": "refused"}
    b["schedule_templates"] = b["schedule_templates"][:1]
    b["booking_types"]["Webbokning provtagning"] = []
    del b["booking_types"]["Lungröntgen"]
    b["booking_types"]["Extra"] = ["Rum 1"]
    b["software_version"] = "other"
    assert parity.differences(ref, b, CONTRACT, "node-a") == [
        f"software_version: 'other' here, {ref['software_version']!r} at node-a",
        "integrations.multum: reachable at node-a, not reachable here",
        "schedule templates missing ['Röntgen SÄS slinga v2'] (compared with node-a)",
        "booking type 'Extra' is extra (absent at node-a)",
        "booking type 'Lungröntgen' is missing (present at node-a)",
        "booking type 'Webbokning provtagning' has resources [] here, ['Provtagning rum 3'] at node-a",
    ]


def test_own_rules():
    assert parity.own_problems(clean_fingerprint(), CONTRACT) == []
    fp = clean_fingerprint()
    fp["integrations"]["multum"] = {"reachable": False, "detail": "ClientConnectorError: refused"}
    del fp["integrations"]["nll"]
    fp["schedule_templates"] = []
    fp["booking_types"]["Webbokning provtagning"] = []
    assert parity.own_problems(fp, CONTRACT) == [
        "nll is not reachable from this entry point (not listed in the fingerprint)",
        "multum is not reachable from this entry point (ClientConnectorError: refused)",
        "no schedule templates are loaded",
        "booking type 'Webbokning provtagning' has no resources (it cannot be booked)"]
    assert parity.own_problems({"software_version": "x"}, CONTRACT) == [
        *(f"{n} is not reachable from this entry point (not listed in the fingerprint)" for n in INTEGRATIONS),
        "no schedule templates are loaded", "no booking types are configured"]
    # not a mapping where one is expected: read as missing, never a crash
    assert "no booking types are configured" in parity.own_problems(
        {**clean_fingerprint(), "integrations": [], "booking_types": "x"}, CONTRACT)
    lenient = replace(CONTRACT, integrations_reachable=(), schedule_templates_loaded=False,
                      booking_types_have_resources=False)
    assert parity.own_problems({}, lenient) == []


@settings(max_examples=100, deadline=None)
@given(fingerprints)
def test_own_rules_on_any_fingerprint(fp):
    """A problem for exactly each rule the fingerprint breaks."""
    problems = parity.own_problems(fp, CONTRACT)
    for name, info in fp["integrations"].items():
        assert any(p.startswith(f"{name} is not reachable") for p in problems) is (not info["reachable"])
    assert ("no schedule templates are loaded" in problems) is (not fp["schedule_templates"])
    for name, resources in fp["booking_types"].items():
        assert (f"booking type {name!r} has no resources (it cannot be booked)" in problems) is (not resources)
    assert ("no booking types are configured" in problems) is (not fp["booking_types"])


def test_exit_code_an_outage_is_never_differs():
    clean = entry("node-a", clean_fingerprint())
    assert parity.ParityReport("ehr", [clean, entry("node-b", clean_fingerprint("node-b"))]).exit_code \
        == parity.EXIT_ALIKE
    differs = entry("node-b", clean_fingerprint(), differences=["x"])
    assert parity.ParityReport("ehr", [clean, differs]).exit_code == parity.EXIT_DIFFER
    misconfigured = entry("node-b", clean_fingerprint(), problems=["x"])
    assert parity.ParityReport("ehr", [clean, misconfigured]).exit_code == parity.EXIT_DIFFER
    smoke = entry("node-b", clean_fingerprint(), smoke=parity.SmokeResult([("step", False, "no")]))
    assert parity.ParityReport("ehr", [clean, smoke]).exit_code == parity.EXIT_DIFFER
    down = entry("node-c", None, unreachable="the fingerprint could not be read (refused)")
    report = parity.ParityReport("ehr", [clean, differs, down])
    assert report.exit_code == parity.EXIT_UNREACHABLE
    assert "  node-c (node): UNREACHABLE" in report.lines()
    assert not any("node-c" in ln and "DIFFERS" in ln for ln in report.lines())


# -- Allure results -----------------------------------------------------------------------------------

def _written(tmp_path, report, environment: str = "virtual (virtual)") -> dict[str, dict]:
    files = parity.write_results(report, tmp_path, load_catalogue(), environment)
    out = {}
    for f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        reqs = [lb["value"] for lb in data["labels"] if lb["name"] == "requirement"]
        assert len(reqs) == 1, data["labels"]
        out[reqs[0]] = data
    assert sorted(out) == ["PAR-001", "PAR-002", "PAR-003"]
    assert len(list(tmp_path.glob("*-result.json"))) == 3  # a rewrite replaces its own earlier results
    return out


def _report(**b) -> parity.ParityReport:
    return parity.ParityReport("ehr", [entry("node-a", clean_fingerprint(), smoke=parity.SmokeResult([("s", True, "")])),
                                       entry("node-b", clean_fingerprint("node-b"), **b)])


def test_allure_results_requirements_status_and_stable_history_ids(tmp_path):
    clean = _written(tmp_path, _report())
    assert {r: d["status"] for r, d in clean.items()} == {"PAR-001": "passed", "PAR-002": "passed", "PAR-003": "passed"}
    for rid, data in clean.items():
        assert data["historyId"] == f"genrep-parity-virtual (virtual)-ehr-{rid}"
        assert {"name": "genrep_parity", "value": "virtual (virtual)"} in data["labels"]
        assert {"name": "test_type", "value": "environment parity"} in data["labels"]
        assert {"name": rid, "type": "tms"}.items() <= data["links"][0].items()
        assert data["parameters"] == [{"name": "entry points", "value": "node-a, node-b"}]
    failing = _written(tmp_path, _report(differences=["integrations.multum: reachable at node-a, not reachable here"],
                                         problems=["multum is not reachable from this entry point (x)"],
                                         smoke=parity.SmokeResult([("interaction check", False, "not-performed")])))
    assert {r: d["historyId"] for r, d in failing.items()} == {r: d["historyId"] for r, d in clean.items()}
    assert {r: d["status"] for r, d in failing.items()} == {"PAR-001": "failed", "PAR-002": "failed", "PAR-003": "failed"}
    assert failing["PAR-001"]["statusDetails"]["message"].startswith("parity_differs:")
    assert "node-b: integrations.multum" in failing["PAR-001"]["statusDetails"]["message"]
    assert failing["PAR-002"]["statusDetails"]["message"].startswith("parity_smoke_failed:")
    assert failing["PAR-003"]["statusDetails"]["message"].startswith("parity_misconfigured:")
    only_templates = _written(tmp_path, _report(differences=["schedule templates missing ['a']"],
                                                problems=["no schedule templates are loaded"]))
    assert {r: d["status"] for r, d in only_templates.items()} == {"PAR-001": "failed", "PAR-002": "passed",
                                                                  "PAR-003": "failed"}
    down = _written(tmp_path, _report(unreachable="the fingerprint could not be read (refused)"))
    assert {r: d["status"] for r, d in down.items()} == {"PAR-001": "broken", "PAR-002": "broken", "PAR-003": "broken"}
    assert all(d["statusDetails"]["message"].startswith("environment_unavailable:") for d in down.values())
    other_env = parity.allure_results(_report(), load_catalogue(), "region-test (external)")
    assert {r.key for r in other_env}.isdisjoint({d["historyId"].removeprefix("genrep-") for d in clean.values()})


# -- the smoke journey: an outage is not a wrong answer ----------------------------------------------

@pytest.mark.parametrize("error, unreachable", [
    ("ConnectionRefused", True), ("ConnectTimeout", True), ("ReadTimeout", True),
    ("FHIRError", False), ("ProtocolError", False), ("ConnectionClosed", False),
])
def test_smoke_journey_an_outage_is_unreachable_a_wrong_answer_is_a_failed_step(monkeypatch, error, unreachable):
    """Refused, timed out: the entry point was not reached (an outage, nothing verified). An HTTP error
    status, a broken frame or a connection dropped after the request: it was reached and answered
    wrongly, a failed step of the journey (the product at that entry point), never an outage."""
    from genrep import errors
    from genrep.text.identities import Allowlist, IdentityGuard

    class Client:
        def __init__(self, *a, **k):
            pass

        def register(self, *a, **k):
            raise getattr(errors, error)("node-b answered badly" if not unreachable else "node-b: no answer")

        def close(self):
            pass

    monkeypatch.setattr(parity, "RadiologyClient", Client)
    monkeypatch.setattr(parity, "PrescribingClient", Client)
    allowlist = Allowlist.load()
    result = parity.smoke_journey(load_profile("virtual", defects=()), load_parity(),
                                  guard=IdentityGuard(allowlist), allowlist=allowlist, seed="s")
    assert not result.ok
    if unreachable:
        assert result.unreachable and not result.steps
    else:
        assert not result.unreachable and result.steps and result.steps[-1][1] is False
        assert error in result.steps[-1][2]
