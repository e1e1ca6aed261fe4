"""A profile's MLLP endpoint settings for real peers (issue 16): ``ack_mode`` (original: MSH-15/16 empty;
enhanced: both AL, a commit ACK then the application ACK) and ``code_pages`` (the peer's documented
deviation from HL7 table 0211: an MSH-18 value read and written with a Windows code page). Parsing and
its errors (file, key, line, the allowed values; refused on http endpoints), the builders, the codec
choice when encoding and decoding, the ACK reading, the load users' payloads and the Allure record of
the deviation. The wire behaviour is ``tests/sim/test_enhanced_ack_mode.py``."""

from __future__ import annotations

import dataclasses

import pytest

from genrep import hl7
from genrep.config.endpoints import MLLP_ACK_MODES, recorded_deviations
from genrep.config.profile import Endpoint, load_profile
from genrep.errors import ConfigError, HL7Error
from genrep.hl7.ack import ack_request
from genrep.hl7.charsets import WINDOWS_CODE_PAGES, codec_for, reading_codec
from genrep.sim.ehr_mllp import MLLPInbound
from genrep.transport.endpoints import mllp_client_for
from test_mllp_connection_policy import _profile as profile_with

PATIENT = hl7.Patient("191212121212", "Ström", "Åsa", "19121212", "F")
CP1252 = {"8859/1": "cp1252"}
TEXT = "Fraktur 3–4 cm; kostnad 100 € (“ej akut”)"


def _profile(tmp_path, endpoint: str = ""):
    return profile_with(tmp_path, endpoint)


def _http(tmp_path, setting: str):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nkind: external\nendpoints:\n  ehr_fhir:\n    protocol: http\n"
                    f"    base_url: https://ehr-test.example/fhir\n    {setting}\n", encoding="utf-8")
    return load_profile(str(path))


# ---------------------------------------------------------------- ack_mode: the profile setting
def test_ack_mode_defaults_to_original_and_is_not_written_back(tmp_path):
    ep = _profile(tmp_path).endpoint("radiology_mllp")
    assert ep.ack_mode == "original" and ep.code_pages == () and ep.deviations == ()
    assert "ack_mode" not in ep.as_profile_data() and "code_pages" not in ep.as_profile_data()


def test_ack_mode_enhanced_is_read_and_carried(tmp_path):
    profile = _profile(tmp_path, "ack_mode: enhanced\n")
    ep = profile.endpoint("radiology_mllp")
    assert ep.ack_mode == "enhanced"
    assert ep.as_profile_data() == {"protocol": "mllp", "host": "ris-test.example", "port": 2575,
                                    "ack_mode": "enhanced"}
    assert mllp_client_for(profile, "radiology_mllp").name == "radiology_mllp"
    assert MLLP_ACK_MODES == tuple(hl7.ACK_MODES)


def test_ack_mode_written_back_is_read_again(tmp_path):
    ep = _profile(tmp_path, "ack_mode: enhanced\ncode_pages: {\"8859/1\": cp1252}\n").endpoint("radiology_mllp")
    import yaml
    data = {"name": "again", "kind": "external", "endpoints": {"radiology_mllp": ep.as_profile_data()}}
    path = tmp_path / "again.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    again = load_profile(str(path)).endpoint("radiology_mllp")
    assert (again.ack_mode, again.code_pages) == ("enhanced", (("8859/1", "cp1252"),))


def test_a_bad_ack_mode_names_file_key_line_and_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"peer\.yaml:8, key 'endpoints\.radiology_mllp\.ack_mode': must be "
                                          r"one of original, enhanced; got 'immediate'"):
        _profile(tmp_path, "ack_mode: immediate\n")


def test_ack_mode_on_an_http_endpoint_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"p\.yaml:7, key 'endpoints\.ehr_fhir\.ack_mode': ack_mode is an MLLP "
                                          r"setting .*does not apply to http endpoints"):
        _http(tmp_path, "ack_mode: enhanced")


# ---------------------------------------------------------------- ack_mode: what genrep builds
def test_enhanced_messages_carry_msh15_and_msh16_al_original_ones_nothing():
    for build in (lambda **kw: hl7.build_adt("A04", PATIENT, control_id="C1", timestamp="20250101", **kw),
                  lambda **kw: hl7.build_orm(PATIENT, hl7.Order("P1"), control_id="C1", timestamp="20250101", **kw),
                  lambda **kw: hl7.build_oru(PATIENT, hl7.Report("A1", "text"), control_id="C1",
                                             timestamp="20250101", **kw)):
        default, original, enhanced = build(), build(ack_mode="original"), build(ack_mode="enhanced")
        assert default == original                      # original mode: byte for byte as before
        assert hl7.parse(original).msh.fields[15:17] == ["", ""]
        msh = hl7.parse(enhanced).msh
        assert msh.fields[15:19] == ["AL", "AL", "", "UNICODE UTF-8"]
        assert ack_request(hl7.encode(enhanced)) == ("C1", "AL", "AL")
        assert ack_request(hl7.encode(original)) == ("C1", "", "")
        if "ORM^O01" not in enhanced:  # hl7apy's ORM_O01 wants groups genrep's referral never had
            hl7.validate_structure(enhanced)
    with pytest.raises(HL7Error, match="unknown ack_mode 'immediate'"):
        hl7.build_adt("A04", PATIENT, control_id="C1", ack_mode="immediate")


def test_the_radiology_client_builds_for_its_endpoint(tmp_path, allowlist):
    from genrep.config.contracts import load_radiology
    from genrep.integrations.radiology import RadiologyClient
    from genrep.text.identities import IdentityGuard
    profile = _profile(tmp_path, "ack_mode: enhanced\ncode_pages: {\"8859/1\": cp1252}\n")
    fhir = Endpoint("ehr_fhir", "http", "ehr-test.example", 443, base_url="https://ehr-test.example/fhir", tls=True)
    profile = dataclasses.replace(profile, endpoints={**profile.endpoints, "ehr_fhir": fhir})
    client = RadiologyClient(profile, load_radiology(), IdentityGuard(allowlist))
    try:
        assert (client.ack_mode, client.code_pages) == ("enhanced", CP1252)
        report = hl7.parse(client.build_report(PATIENT, hl7.Report("A1", "x")))
        assert report.msh.fields[15:17] == ["AL", "AL"]
    finally:
        client.close()


@pytest.fixture(scope="module")
def allowlist():
    from genrep.text.identities import Allowlist
    return Allowlist.load()


def test_the_virtual_ehr_answers_original_mode_with_the_one_ack_unchanged():
    original = hl7.encode(hl7.build_adt("A04", PATIENT, control_id="C1"))
    header = hl7.parse(hl7.decode(original))
    ack = b"MSH|...the ACK"
    assert MLLPInbound._enhanced(original, header, "AA", ack, "utf-8") == (ack,)
    assert MLLPInbound._enhanced(original, None, "AR", ack, "utf-8") == (ack,)


@pytest.mark.parametrize("msh15, msh16, code, expected", [
    ("AL", "AL", "AA", ["CA", "AA"]), ("AL", "AL", "AE", ["CA", "AE"]),
    ("AL", "ER", "AA", ["CA"]), ("AL", "ER", "AE", ["CA", "AE"]),
    ("AL", "SU", "AA", ["CA", "AA"]), ("AL", "SU", "AE", ["CA"]),
    ("AL", "NE", "AA", ["CA"]), ("AL", "", "AA", ["CA"]),
    ("SU", "AL", "AA", ["CA", "AA"]), ("NE", "AL", "AA", ["AA"]), ("ER", "AL", "AE", ["AE"]),
    ("NE", "NE", "AA", []), ("", "AL", "AA", ["AA"]),
])
def test_the_virtual_ehr_answers_what_msh15_and_msh16_ask_for(msh15, msh16, code, expected):
    fields = hl7.build_adt("A04", PATIENT, control_id="C1").split("\r")
    msh = fields[0].split("|")
    msh[14], msh[15] = msh15, msh16
    payload = hl7.encode("\r".join(["|".join(msh), *fields[1:]]))
    header = hl7.parse(hl7.decode(payload))
    app = hl7.build_ack(header, code, "" if code == "AA" else "nope").encode("utf-8")
    answers = MLLPInbound._enhanced(payload, header, code, app, "utf-8")
    got = [hl7.parse_ack(a) for a in answers]
    assert [a.code for a in got] == expected
    assert all(a.control_id == "C1" for a in got)


# ---------------------------------------------------------------- code_pages: the profile setting
def test_code_pages_are_read_normalised_and_recorded_as_a_deviation(tmp_path):
    profile = _profile(tmp_path, 'code_pages: {"8859/1": CP1252, "iso ir101": cp1250}\n')
    ep = profile.endpoint("radiology_mllp")
    assert ep.code_pages == (("8859/1", "cp1252"), ("ISO IR101", "cp1250"))
    assert ep.code_page_map == {"8859/1": "cp1252", "ISO IR101": "cp1250"}
    assert ep.deviations[0] == ("endpoints.radiology_mllp: MSH-18 '8859/1' is read and written as cp1252 "
                                "(code_pages: the peer's documented deviation from HL7 table 0211)")
    assert recorded_deviations(profile) == ep.deviations
    assert ep.as_profile_data()["code_pages"] == {"8859/1": "cp1252", "ISO IR101": "cp1250"}


@pytest.mark.parametrize("setting, match", [
    ('code_pages: {"8859/1": utf-8}', r"key 'endpoints\.radiology_mllp\.code_pages\.8859/1': must be one of "
                                      r"cp1250, cp1251, cp1252, .*cp1258, cp850; got 'utf-8'"),
    ('code_pages: {"8859/1": latin-1}', r"must be one of cp1250.*got 'latin-1'"),
    ('code_pages: {"8859/1": 1252}', r"must be one of cp1250.*got 1252"),
    ('code_pages: {"UNICODE UTF-8": cp1252}', r"code_pages\.UNICODE UTF-8': 'UNICODE UTF-8' is not an MSH-18 value "
                                              r"a code page can stand for .*8859/1"),
    ('code_pages: {"CP1252": cp1252}', r"'CP1252' is not an MSH-18 value"),
    ("code_pages: cp1252", r"key 'endpoints\.radiology_mllp\.code_pages': expected a mapping"),
    ("code_pages: {}", r"expected a mapping"),
    ('code_pages: {"8859/1": cp1252, "8859/1 ": cp1250}', r"named twice"),
])
def test_a_bad_code_page_setting_names_file_key_line_and_the_allowed_set(tmp_path, setting, match):
    with pytest.raises(ConfigError, match=r"peer\.yaml:8, " + (match if match.startswith("key") else ".*" + match)):
        _profile(tmp_path, setting + "\n")


def test_code_pages_on_an_http_endpoint_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'endpoints\.ehr_fhir\.code_pages': code_pages is an MLLP setting"):
        _http(tmp_path, 'code_pages: {"8859/1": cp1252}')


# ---------------------------------------------------------------- code_pages: the codec genrep uses
def test_the_codec_choice_follows_the_endpoint_only_for_the_values_it_names():
    assert codec_for("8859/1") == "latin-1" and codec_for("8859/1", CP1252) == "cp1252"
    assert codec_for(" 8859/1 ", CP1252) == "cp1252"
    assert codec_for("UNICODE UTF-8", CP1252) == "utf-8"
    assert reading_codec("8859/1", CP1252) == "cp1252" and reading_codec("8859/1") == "latin-1"
    assert reading_codec("8859/15", CP1252) == "iso8859-15"
    assert set(WINDOWS_CODE_PAGES) == {f"cp{n}" for n in range(1250, 1259)} | {"cp850"}


def _oru(text: str = TEXT, charset: str = "8859/1") -> str:
    return hl7.build_oru(PATIENT, hl7.Report("A1", text), control_id="C1", charset=charset, timestamp="20250101")


def test_with_the_setting_en_dash_and_euro_are_written_as_cp1252_and_msh18_stays_8859_1():
    message = _oru()
    data = hl7.encode(message, CP1252)
    assert b"3\x964 cm" in data and b"100 \x80" in data and b"\x93ej akut\x94" in data
    assert "Str\xf6m".encode("cp1252") in data        # Latin-1 letters are the same bytes
    assert hl7.detect_charset(data) == "8859/1"        # the label is not rewritten
    assert hl7.decode(data, CP1252) == message         # and read back exactly with the setting
    assert hl7.report_text(hl7.parse(hl7.decode(data, CP1252))) == TEXT


def test_without_the_setting_the_same_text_is_refused_and_its_bytes_flagged_as_today():
    with pytest.raises(HL7Error, match=r"character '–' \(U\+2013\) at offset \d+ cannot be encoded in the "
                                       r"message charset '8859/1'$"):
        hl7.encode(_oru())
    data = hl7.encode(_oru(), CP1252)
    with pytest.raises(hl7.CharsetMismatch, match=r"declared 8859/1 but byte 0x96 .* C1 control character.*"
                                                  r"'–' in Windows-1252.*likely Windows-1252 labelled 8859/1"):
        hl7.decode(data)


def test_a_character_the_code_page_lacks_is_refused_naming_it():
    with pytest.raises(HL7Error, match=r"character 'Ω'.*'8859/1' \(written as cp1252: the endpoint's code_pages\)"):
        hl7.encode(_oru("Ω"), CP1252)


def test_utf8_bytes_and_undefined_bytes_under_the_code_page_are_still_refused():
    utf8 = _oru().encode("utf-8")
    with pytest.raises(hl7.CharsetMismatch, match=r"'8859/1' \(read as cp1252: the endpoint's code_pages\) but "
                                                  r"the content is UTF-8"):
        hl7.decode(utf8, CP1252)
    undefined = hl7.encode(_oru("x"), CP1252).replace(b"|x|", b"|\x81|")
    with pytest.raises(hl7.CharsetMismatch, match=r"byte 0x81 at offset \d+ is not defined in cp1252"):
        hl7.decode(undefined, CP1252)
    # UNICODE UTF-8 is not touched by the mapping
    assert hl7.decode(hl7.encode(_oru(charset="UNICODE UTF-8")), CP1252) == _oru(charset="UNICODE UTF-8")


def test_an_answer_in_the_code_page_is_read_exactly_with_the_setting():
    request = hl7.parse(hl7.decode(hl7.encode(_oru("x"))))
    ack = hl7.build_ack(request, "AE").replace("MSA|AE|C1", "MSA|AE|C1|Fel – avvisad 5 €")
    raw = ack.encode("cp1252")
    read = hl7.parse_ack(raw, CP1252)
    assert (read.code, read.control_id, read.text, read.charset_problem) == ("AE", "C1", "Fel – avvisad 5 €", "")
    tolerant = hl7.parse_ack(raw)                       # as today: read, the problem noted
    assert tolerant.code == "AE" and "likely Windows-1252" in tolerant.charset_problem


# ---------------------------------------------------------------- the load users and the reports
def test_the_load_users_payloads_follow_the_ack_mode(allowlist):
    from genrep.load.workload import LoadEndpoints, Payloads
    enhanced = Payloads(allowlist, ack_mode="enhanced")
    oru, control_id = enhanced.oru("127.0.0.1:1")
    assert ack_request(oru) == (control_id, "AL", "AL")
    adt, control_id = enhanced.adt("127.0.0.1:1")
    assert ack_request(adt) == (control_id, "AL", "AL")
    oru, control_id = Payloads(allowlist).oru("127.0.0.1:1")
    assert ack_request(oru) == (control_id, "", "")
    assert LoadEndpoints().ack_mode() == "original"


def test_load_endpoints_read_the_ack_mode_from_the_profile(tmp_path):
    from genrep.load.workload import LoadEndpoints
    _profile(tmp_path, "ack_mode: enhanced\n")
    assert LoadEndpoints(str(tmp_path / "peer.yaml")).ack_mode("radiology_mllp") == "enhanced"


def test_the_deviation_is_recorded_in_the_allure_environment(tmp_path):
    from genrep.results.allure_meta import write_metadata
    profile = _profile(tmp_path, 'code_pages: {"8859/1": cp1252}\n')
    out = tmp_path / "results"
    write_metadata(out, profile_name="peer", profile_kind="external", defects=(), contracts={},
                   deviations=recorded_deviations(profile))
    props = (out / "environment.properties").read_text(encoding="utf-8")
    assert ("Recorded.deviation.1=endpoints.radiology_mllp: MSH-18 '8859/1' is read and written as cp1252 "
            "(code_pages: the peer's documented deviation from HL7 table 0211)") in props
    write_metadata(tmp_path / "clean", profile_name="peer", profile_kind="external", defects=(), contracts={})
    assert "deviation" not in (tmp_path / "clean" / "environment.properties").read_text(encoding="utf-8")
