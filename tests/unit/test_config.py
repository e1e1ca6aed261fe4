"""Environment profiles (genrep.config.profile) and the YAML loader under them (genrep.yamlfile)."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrep.config.profile import LOOPBACK, Endpoint, load_profile
from genrep.errors import ConfigError
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

EXTERNAL = """\
name: ext
kind: external
description: test env
production: false
endpoints:
  radiology_mllp:
    protocol: mllp
    host: ehr.test.example
    port: 2575
  ehr_fhir:
    protocol: http
    base_url: https://fhir.test.example/r4/
    credentials_env: GENREP_TEST_FHIR_TOKEN
timeouts:
  connect: 5
  read: 30
"""


def write(tmp_path, text: str, name: str = "profile.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(path, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_profile(str(path), **kwargs)
    return info.value


def assert_names(err: ConfigError, path, key: str, line: int | None):
    text = str(err)
    assert str(path) in text
    assert err.key == key and f"key '{key}'" in text
    if line is not None:
        assert err.line == line
        assert f"{path}:{line}" in text


# -- shipped profiles ---------------------------------------------------------------------------

def test_virtual_profile_loads(monkeypatch):
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    p = load_profile("virtual")
    assert p.name == "virtual" and p.kind == "virtual"
    assert p.endpoints == {} and p.defects == ()
    assert 0 < p.timeouts.connect <= 600 and 0 < p.timeouts.read <= 600
    assert set(LOOPBACK) <= p.allowed_hosts


def test_example_external_profile_loads(monkeypatch):
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    p = load_profile("example-external")
    assert p.kind == "external"
    mllp, fhir = p.endpoint("radiology_mllp"), p.endpoint("ehr_fhir")
    assert (mllp.protocol, mllp.host, mllp.port) == ("mllp", "ehr-int.test.region.example", 2575)
    assert fhir.base_url == "https://fhir.test.region.example/r4" and fhir.tls and fhir.port == 443
    assert fhir.credential_env == "GENREP_EHR_FHIR_TOKEN"
    assert (p.timeouts.connect, p.timeouts.read) == (5.0, 30.0)
    assert "127.0.0.1" not in p.allowed_hosts  # an external profile does not allow loopback


def test_unknown_profile_name_lists_known_ones():
    with pytest.raises(ConfigError, match="no environment profile 'nope'.*virtual"):
        load_profile("nope")


def test_genrep_env_selects_profile(monkeypatch):
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    monkeypatch.setenv("GENREP_ENV", "example-external")
    assert load_profile().name == "example-external"
    monkeypatch.delenv("GENREP_ENV")
    assert load_profile().name == "virtual"


def test_genrep_env_path(tmp_path, monkeypatch):
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    monkeypatch.setenv("GENREP_ENV", str(write(tmp_path, EXTERNAL)))
    assert load_profile().name == "ext"


def test_genrep_defects_honoured_for_virtual(monkeypatch):
    monkeypatch.setenv("GENREP_DEFECTS", " radiology-truncation:100, ,radiology-linebreaks ")
    assert load_profile("virtual").defects == ("radiology-truncation:100", "radiology-linebreaks")
    # an explicit argument wins over the variable
    assert load_profile("virtual", defects=()).defects == ()


def test_defects_refused_for_external(tmp_path, monkeypatch):
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    path = write(tmp_path, EXTERNAL)
    err = error_of(path, defects=("radiology-truncation",))
    assert "virtual" in str(err) and str(path) in str(err)
    monkeypatch.setenv("GENREP_DEFECTS", "radiology-linebreaks")
    error_of(path)


# -- refusals -----------------------------------------------------------------------------------

def test_production_profile_refused(tmp_path):
    path = write(tmp_path, EXTERNAL.replace("production: false", "production: true"))
    err = error_of(path, defects=())
    assert "production" in str(err)
    assert_names(err, path, "production", 4)


def test_production_yes_is_also_refused(tmp_path):
    path = write(tmp_path, EXTERNAL.replace("production: false", "production: yes"))
    assert_names(error_of(path, defects=()), path, "production", 4)


@pytest.mark.parametrize("old, new, key, line", [
    ("description: test env", "descripton: test env", "descripton", 3),
    ("    port: 2575", "    port: 2575\n    timeout: 3", "endpoints.radiology_mllp.timeout", 10),
    ("  read: 30", "  read: 30\n  write: 3", "timeouts.write", 17),
    ("    port: 2575", '    port: "2575"', "endpoints.radiology_mllp.port", 9),
    ("    port: 2575", "    port: 70000", "endpoints.radiology_mllp.port", 9),
    ("    port: 2575", "    port: 0", "endpoints.radiology_mllp.port", 9),
    ("    port: 2575", "    port: true", "endpoints.radiology_mllp.port", 9),
    ("    protocol: mllp", "    protocol: tcp", "endpoints.radiology_mllp.protocol", 7),
    ("kind: external", "kind: staging", "kind", 2),
    ("name: ext", "name: 42", "name", 1),
    ("    base_url: https://fhir.test.example/r4/", "    base_url: fhir.test.example/r4",
     "endpoints.ehr_fhir.base_url", 12),
    ("    base_url: https://fhir.test.example/r4/", "    base_url: ftp://fhir.test.example/",
     "endpoints.ehr_fhir.base_url", 12),
    ("    base_url: https://fhir.test.example/r4/", "    base_url: https://fhir.test.example:99999/",
     "endpoints.ehr_fhir.base_url", 12),
    ("    base_url: https://fhir.test.example/r4/", "    base_url: https://fhir.test.example:abc/",
     "endpoints.ehr_fhir.base_url", 12),
    ("  connect: 5", "  connect: 0", "timeouts.connect", 15),
    ("  connect: 5", "  connect: -1", "timeouts.connect", 15),
    ("  read: 30", "  read: 601", "timeouts.read", 16),
    ("  read: 30", "  read: .inf", "timeouts.read", 16),
    ("  read: 30", "  read: .nan", "timeouts.read", 16),
    ("  read: 30", "  read: soon", "timeouts.read", 16),
    ("    credentials_env: GENREP_TEST_FHIR_TOKEN", "    credentials_env: [a]",
     "endpoints.ehr_fhir.credentials_env", 13),
    ("timeouts:", "allowed_hosts: [[nested]]\ntimeouts:", "allowed_hosts", 14),
    ("  connect: 5", "  connect: !!int five", "connect", 15),
    ("kind: external", "kind: !custom external", "kind", 2),
])
def test_bad_profile_names_file_key_and_line(tmp_path, old, new, key, line):
    assert old in EXTERNAL
    path = write(tmp_path, EXTERNAL.replace(old, new, 1))
    assert_names(error_of(path, defects=()), path, key, line)


def test_endpoint_not_a_mapping(tmp_path):
    path = write(tmp_path, EXTERNAL.replace("  radiology_mllp:\n    protocol: mllp\n    host: ehr.test.example\n"
                                            "    port: 2575\n", "  radiology_mllp: ehr:2575\n"))
    assert_names(error_of(path, defects=()), path, "endpoints.radiology_mllp", 6)


def test_missing_required_key_named(tmp_path):
    path = write(tmp_path, EXTERNAL.replace("    host: ehr.test.example\n", ""))
    err = error_of(path, defects=())
    assert "endpoints.radiology_mllp.host" in str(err) and "missing" in str(err)


@pytest.mark.parametrize("endpoints", ["", "endpoints: {}\n"])
def test_external_without_endpoints_refused(tmp_path, endpoints):
    path = write(tmp_path, f"name: ext\nkind: external\n{endpoints}")
    err = error_of(path, defects=())
    assert_names(err, path, "endpoints", 3 if endpoints else 2)


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "name: ext\nkind: external\nendpoints:\n  a: [1, 2\n  b: 3\n")
    err = error_of(path)
    assert "invalid YAML" in str(err) and str(path) in str(err) and err.line is not None


def test_empty_file_refused(tmp_path):
    path = write(tmp_path, "# only a comment\n")
    err = error_of(path)
    assert "empty" in str(err) and str(path) in str(err)


def test_top_level_list_refused(tmp_path):
    path = write(tmp_path, "- name: ext\n")
    assert "mapping" in str(error_of(path))


def test_duplicate_key_names_line(tmp_path):
    path = write(tmp_path, EXTERNAL.replace("  read: 30", "  read: 30\n  connect: 9"))
    err = error_of(path, defects=())
    assert "duplicate" in str(err)
    assert_names(err, path, "connect", 17)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: v\u00e4st\nkind: virtual\n".encode("latin-1"))
    err = error_of(path)
    assert "UTF-8" in str(err) and str(path) in str(err)


def test_recursive_alias_refused(tmp_path):
    path = write(tmp_path, "name: x\nkind: virtual\nallowed_hosts: &a [*a]\n")
    assert "recursive" in str(error_of(path))


# -- hosts and credentials ------------------------------------------------------------------------

def test_check_host_refuses_unlisted_hosts(tmp_path):
    p = load_profile(str(write(tmp_path, EXTERNAL + "allowed_hosts: [toxiproxy.test.example]\n")), defects=())
    for ok in ("ehr.test.example", "fhir.test.example", "toxiproxy.test.example"):
        p.check_host(ok)
    for bad in ("127.0.0.1", "localhost", "ehr.prod.example", "", "EHR.TEST.EXAMPLE.evil"):
        with pytest.raises(ConfigError, match="not in environment profile 'ext'"):
            p.check_host(bad)


def test_virtual_allows_only_loopback(monkeypatch):
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    p = load_profile("virtual")
    for host in LOOPBACK:
        p.check_host(host)
    with pytest.raises(ConfigError):
        p.check_host("fhir.test.region.example")
    with pytest.raises(ConfigError, match="loopback"):
        p.with_endpoints({"x": Endpoint("x", "mllp", "10.0.0.1", 2575)})
    q = p.with_endpoints({"x": Endpoint("x", "mllp", "127.0.0.1", 2575)})
    assert q.endpoint("x").port == 2575 and p.endpoints == {}


def test_unknown_endpoint_named(tmp_path):
    p = load_profile(str(write(tmp_path, EXTERNAL)), defects=())
    with pytest.raises(ConfigError, match="no endpoint 'nll'.*ehr_fhir"):
        p.endpoint("nll")


def test_token_from_named_environment_variable(tmp_path, monkeypatch):
    p = load_profile(str(write(tmp_path, EXTERNAL)), defects=())
    monkeypatch.setenv("GENREP_TEST_FHIR_TOKEN", "s3cr3t-value")
    assert p.token(p.endpoint("ehr_fhir")) == "s3cr3t-value"
    assert p.token(p.endpoint("radiology_mllp")) is None  # no credentials configured


@pytest.mark.parametrize("value", [None, ""])
def test_missing_token_names_variable_not_value(tmp_path, monkeypatch, value):
    p = load_profile(str(write(tmp_path, EXTERNAL)), defects=())
    if value is None:
        monkeypatch.delenv("GENREP_TEST_FHIR_TOKEN", raising=False)
    else:
        monkeypatch.setenv("GENREP_TEST_FHIR_TOKEN", value)
    with pytest.raises(ConfigError) as info:
        p.token(p.endpoint("ehr_fhir"))
    assert "GENREP_TEST_FHIR_TOKEN" in str(info.value) and "not set" in str(info.value)


# -- yamlfile helpers -----------------------------------------------------------------------------

def test_located_lines(tmp_path):
    data = load_yaml(write(tmp_path, "a: 1\nb:\n  c: [x, y]\n  d: {e: 1}\n"))
    assert isinstance(data, Located) and data.line_of("a") == 1 and data.line_of("b") == 2
    assert data["b"].line_of("d") == 4 and data["b"]["d"].line_of("e") == 4
    assert data.line_of("zz") is None and data["b"].file == data.file


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_yaml("/nonexistent/dir/x.yaml")


def test_require_and_reject_unknown_on_plain_dicts():
    assert require({"a": 1}, "a", float) == 1.0
    assert require({}, "a", int, default=7) == 7
    with pytest.raises(ConfigError, match="expected int"):
        require({"a": True}, "a", int)
    with pytest.raises(ConfigError, match="must be one of"):
        require({"a": "z"}, "a", str, choices=("x", "y"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        require([1], "a", int, where="sec")
    with pytest.raises(ConfigError, match="key 'sec.b'"):
        reject_unknown({"a": 1, "b": 2}, {"a"}, where="sec")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_any_text_is_a_config_error_or_data(tmp_path_factory, text):
    """Whatever a tester types, loading ends in data or a ConfigError, never a crash."""
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_profile(str(path), defects=())
    except ConfigError as exc:
        assert str(path) in str(exc)


# -- credentials inside URLs ----------------------------------------------------------------------

URL_PASSWORD = "Pa55-in-url-3f9a"


@pytest.mark.parametrize("url, line", [
    (f"https://harness:{URL_PASSWORD}@fhir.test.example/r4/", 12),
    ("https://harness@fhir.test.example/r4/", 12),                        # a user alone is refused too
    (f"HTTPS://harness:{URL_PASSWORD}@fhir.test.example:99999/r4/", 12),  # before the port is judged
    (f"https://:{URL_PASSWORD}@fhir.test.example/r4/", 12),
])
def test_base_url_with_credentials_refused_naming_key_and_masking_them(tmp_path, url, line):
    path = write(tmp_path, EXTERNAL.replace("https://fhir.test.example/r4/", url))
    err = error_of(path, defects=())
    assert_names(err, path, "endpoints.ehr_fhir.base_url", line)
    text = str(err)
    assert "***@fhir.test.example" in text and URL_PASSWORD not in text and "harness" not in text
    assert "environment variable" in text and "credentials_env" in text and "credentials_file" in text


def test_toxiproxy_api_url_with_credentials_refused(tmp_path):
    path = write(tmp_path, EXTERNAL + "faults:\n  driver: toxiproxy\n"
                 f"  api: http://admin:{URL_PASSWORD}@toxiproxy.test.example:8474\n"
                 "  proxies: {multum-a: multum_a}\n")
    err = error_of(path, defects=())
    assert_names(err, path, "faults.api", 19)
    assert "http://***@toxiproxy.test.example:8474" in str(err) and URL_PASSWORD not in str(err)


def test_url_with_credentials_anywhere_in_the_profile_refused(tmp_path):
    path = write(tmp_path, EXTERNAL + "faults:\n  driver: command\n  commands:\n    multum-a:\n"
                 f"      stopped: curl -X POST https://ops:{URL_PASSWORD}@ops.test.example/stop\n"
                 "      clear: curl -X POST https://ops.test.example/start\n")
    err = error_of(path, defects=())
    assert_names(err, path, "faults.commands.multum-a.stopped", 21)
    assert URL_PASSWORD not in str(err) and "https://***@ops.test.example/stop" in str(err)
    path = write(tmp_path, EXTERNAL + f"allowed_hosts: [ok.test.example, 'https://u:{URL_PASSWORD}@x.example']\n")
    err = error_of(path, defects=())
    assert err.key == "allowed_hosts[1]" and err.line == 17 and URL_PASSWORD not in str(err)


@pytest.mark.parametrize("url", ["https://fhir.test.example/r4/path@version", "https://fhir.test.example/r4?by=a@b"])
def test_an_at_sign_outside_the_authority_is_not_userinfo(tmp_path, url):
    p = load_profile(str(write(tmp_path, EXTERNAL.replace("https://fhir.test.example/r4/", url))), defects=())
    assert p.endpoint("ehr_fhir").host == "fhir.test.example"


def test_ssh_user_at_host_in_fault_commands_is_not_a_url(tmp_path):
    path = write(tmp_path, EXTERNAL + "faults:\n  driver: command\n  commands:\n    multum-a:\n"
                 "      stopped: ssh ops@multum-a.test.example sudo systemctl stop multum\n")
    assert load_profile(str(path), defects=()).faults["driver"] == "command"


def test_only_the_masked_url_is_quoted_even_with_an_at_sign_in_the_password(tmp_path):
    path = write(tmp_path, EXTERNAL + "faults:\n  driver: command\n  commands:\n    multum-a:\n"
                 f"      stopped: \"curl -H 'X-Other: keep-out' https://ops:{URL_PASSWORD}@x@ops.test.example/stop\"\n")
    text = str(error_of(path, defects=()))
    assert "'https://***@ops.test.example/stop'" in text
    assert URL_PASSWORD not in text and "@x@" not in text and "keep-out" not in text
