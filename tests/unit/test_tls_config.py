"""TLS and credential keys of environment profiles: what they mean, and errors that name the file,
the key and the line."""

from __future__ import annotations

import textwrap

import pytest

from genrep.config.profile import DEFAULT_MIN_DAYS_VALID, load_profile
from genrep.errors import ConfigError
from genrep.secrets import forget_secrets, registered_secrets

BASE = """\
name: tls-ext
kind: external
description: TLS test profile
production: false
endpoints:
  radiology_mllp:
    protocol: mllp
    host: ehr.test.example
    port: 2575
    tls:
      ca_file: ca.pem
      client_cert: client.pem
      client_key: client.key
      client_key_password_env: GENREP_TEST_KEY_PW
      server_name: ehr-int.test.example
      min_version: TLSv1.3
  ehr_fhir:
    protocol: http
    base_url: https://fhir.test.example/r4
    credentials_file: token.txt
  nll_fhir:
    protocol: http
    base_url: https://nll.test.example/fhir
    tls: true
    credentials_env: GENREP_TEST_NLL_TOKEN
certificates:
  min_days_valid: 45
"""


@pytest.fixture
def folder(tmp_path):
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    (tmp_path / "token.txt").write_text("  fake-file-token-5e1f77\n\n", encoding="utf-8")
    yield tmp_path
    forget_secrets()


def write(folder, text: str):
    path = folder / "profile.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_profile(str(path), defects=())
    return info.value


def assert_names(err: ConfigError, path, key: str, line: int | None = None):
    assert str(path) in str(err) and err.key == key, str(err)
    if line is not None:
        assert err.line == line and f"{path}:{line}" in str(err), str(err)


def test_tls_mapping_and_implied_tls(folder):
    p = load_profile(str(write(folder, BASE)), defects=())
    mllp, fhir, nll = p.endpoints["radiology_mllp"], p.endpoints["ehr_fhir"], p.endpoints["nll_fhir"]
    assert mllp.tls and mllp.tls_options.ca_file == str(folder / "ca.pem")  # relative to the profile
    assert mllp.tls_options.client_cert == str(folder / "client.pem") and mllp.tls_options.mutual
    assert mllp.tls_options.client_key_password_env == "GENREP_TEST_KEY_PW"
    assert mllp.server_name == "ehr-int.test.example" and mllp.tls_options.min_version == "TLSv1.3"
    assert fhir.tls and fhir.tls_options.ca_file == "" and fhir.server_name == "fhir.test.example"  # https
    assert nll.tls and nll.credential_env == "GENREP_TEST_NLL_TOKEN"
    assert p.min_days_valid == 45


def test_plain_mllp_stays_plain_and_default_threshold(folder):
    text = BASE.split("    tls:\n      ca_file")[0] + "  ehr_fhir:\n    protocol: http\n    base_url: http://f.test.example/\n"
    p = load_profile(str(write(folder, text)), defects=())
    assert not p.endpoints["radiology_mllp"].tls and not p.endpoints["ehr_fhir"].tls
    assert p.min_days_valid == DEFAULT_MIN_DAYS_VALID


@pytest.mark.parametrize("old, new, key, line", [
    ("      ca_file: ca.pem", "      ca_file: missing.pem", "endpoints.radiology_mllp.tls.ca_file", 11),
    ("      client_cert: client.pem", "      client_cert: nope/client.pem",
     "endpoints.radiology_mllp.tls.client_cert", 12),
    ("      min_version: TLSv1.3", "      min_version: TLSv1.1", "endpoints.radiology_mllp.tls.min_version", 16),
    ("      min_version: TLSv1.3", "      min_versoin: TLSv1.3", "endpoints.radiology_mllp.tls.min_versoin", 16),
    ("      server_name: ehr-int.test.example", '      server_name: ""', "endpoints.radiology_mllp.tls.server_name", 15),
    ("      client_key_password_env: GENREP_TEST_KEY_PW", "      client_key_password_env: s3cr3t-pa$$word!",
     "endpoints.radiology_mllp.tls.client_key_password_env", 14),
    ("    credentials_env: GENREP_TEST_NLL_TOKEN", "    credentials_env: eyJhbGciOi.JIUzI1NiJ9",
     "endpoints.nll_fhir.credentials_env", 25),
    ("    credentials_file: token.txt", "    credentials_file: gone.txt", "endpoints.ehr_fhir.credentials_file", 20),
    ("    tls: true", "    tls: yes please", "endpoints.nll_fhir.tls", 24),
    ("  min_days_valid: 45", "  min_days_valid: -1", "certificates.min_days_valid", 27),
    ("  min_days_valid: 45", "  warn_days: 45", "certificates.warn_days", 27),
])
def test_errors_name_file_key_and_line(folder, old, new, key, line):
    assert old in BASE
    path = write(folder, BASE.replace(old, new))
    assert_names(error_of(path), path, key, line)


def test_pasted_secret_is_not_echoed_in_the_error(folder):
    path = write(folder, BASE.replace("GENREP_TEST_NLL_TOKEN", "fake.pasted.token.value"))
    err = error_of(path)
    assert "NAME of an environment variable" in str(err) and "fake.pasted.token.value" not in str(err)


def test_tls_on_plain_http_url_is_refused(folder):
    path = write(folder, BASE.replace("https://nll.test.example/fhir", "http://nll.test.example/fhir"))
    err = error_of(path)
    assert_names(err, path, "endpoints.nll_fhir.base_url", 23)
    assert "use https://" in str(err)


def test_client_key_without_certificate_and_both_password_sources(folder):
    path = write(folder, BASE.replace("      client_cert: client.pem\n", ""))
    assert_names(error_of(path), path, "endpoints.radiology_mllp.tls.client_key", 12)
    (folder / "pw.txt").write_text("x", encoding="utf-8")
    path = write(folder, BASE.replace("      server_name:", "      client_key_password_file: pw.txt\n      server_name:"))
    assert_names(error_of(path), path, "endpoints.radiology_mllp.tls.client_key_password_file", 15)


def test_credentials_on_mllp_and_both_sources_are_refused(folder):
    path = write(folder, BASE.replace("    port: 2575\n", "    port: 2575\n    credentials_env: X_TOKEN\n"))
    assert_names(error_of(path), path, "endpoints.radiology_mllp.credentials_env", 10)
    path = write(folder, BASE.replace("    credentials_file: token.txt",
                                      "    credentials_file: token.txt\n    credentials_env: X_TOKEN"))
    assert_names(error_of(path), path, "endpoints.ehr_fhir.credentials_file", 20)


def test_token_from_file_is_read_at_use_stripped_and_registered(folder):
    p = load_profile(str(write(folder, BASE)), defects=())
    ep = p.endpoints["ehr_fhir"]
    assert p.token(ep) == "fake-file-token-5e1f77"
    assert "fake-file-token-5e1f77" in registered_secrets()
    (folder / "token.txt").write_text("fake-rotated-token-90aa\n", encoding="utf-8")
    assert p.token(ep) == "fake-rotated-token-90aa"  # read at use: a rotated token is picked up
    (folder / "token.txt").write_text("  \n", encoding="utf-8")
    err = pytest.raises(ConfigError, p.token, ep).value
    assert err.key == "endpoints.ehr_fhir.credentials_file" and "is empty" in str(err)
    (folder / "token.txt").unlink()
    err = pytest.raises(ConfigError, p.token, ep).value
    assert err.key == "endpoints.ehr_fhir.credentials_file" and "does not exist" in str(err)


def test_unreadable_token_file_names_the_key(folder):
    p = load_profile(str(write(folder, BASE)), defects=())
    (folder / "token.txt").unlink()
    (folder / "token.txt").mkdir()  # exists, but cannot be read as a file
    err = pytest.raises(ConfigError, p.token, p.endpoints["ehr_fhir"]).value
    assert err.key == "endpoints.ehr_fhir.credentials_file" and "cannot read" in str(err)


def test_token_from_env_missing_names_variable_not_value(folder, monkeypatch):
    p = load_profile(str(write(folder, BASE)), defects=())
    monkeypatch.delenv("GENREP_TEST_NLL_TOKEN", raising=False)
    err = pytest.raises(ConfigError, p.token, p.endpoints["nll_fhir"]).value
    assert err.key == "endpoints.nll_fhir.credentials_env" and "GENREP_TEST_NLL_TOKEN" in str(err)
    monkeypatch.setenv("GENREP_TEST_NLL_TOKEN", "  fake-env-token-c0ffee  ")
    assert p.token(p.endpoints["nll_fhir"]) == "fake-env-token-c0ffee"


VIRTUAL = """\
name: vt
kind: virtual
virtual:
  tls: true
  mutual_tls: true
  client_key_password_env: VT_KEY_PW
  require_token_env: VT_TOKEN
"""


def test_virtual_section(folder):
    p = load_profile(str(write(folder, VIRTUAL)), defects=())
    v = p.virtual
    assert v.tls and v.mutual_tls and v.client_key_password_env == "VT_KEY_PW"
    assert v.require_token_env == "VT_TOKEN" and v.credentials_env == "VT_TOKEN"  # sends what it requires
    shipped = load_profile("virtual-tls", defects=())
    assert shipped.virtual.tls and shipped.virtual.mutual_tls and shipped.virtual.require_token_env
    assert load_profile("virtual", defects=()).virtual.tls is False


@pytest.mark.parametrize("text, key, line", [
    (VIRTUAL.replace("  tls: true\n", ""), "virtual.mutual_tls", 4),
    (VIRTUAL.replace("  mutual_tls: true\n", ""), "virtual.client_key_password_env", 5),
    (VIRTUAL + "  colour: blue\n", "virtual.colour", 8),
    (VIRTUAL + "  credentials_env: A_B\n  credentials_file: token.txt\n", "virtual.credentials_file", 9),
])
def test_virtual_section_errors(folder, text, key, line):
    path = write(folder, text)
    assert_names(error_of(path), path, key, line)


def test_virtual_section_only_for_virtual_profiles(folder):
    path = write(folder, BASE + "virtual:\n  tls: true\n")
    assert_names(error_of(path), path, "virtual", 28)


def test_example_external_uses_tls_everywhere():
    p = load_profile("example-external", defects=())
    assert all(ep.tls for ep in p.endpoints.values())
    assert p.min_days_valid == 30
