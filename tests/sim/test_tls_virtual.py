"""The virtual environment with TLS on (environments/virtual-tls.yaml), as real processes: the
throw-away PKI, mutual TLS on the EHR's MLLP and FHIR listeners and on the NLL simulator (which the
EHR itself reads over mutual TLS), and the EHR's bearer-token check on its FHIR API."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from genrep.config.profile import load_profile
from genrep.config.contracts import load_radiology
from genrep.errors import FHIRError, TLSError
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.integrations.medication_list import EHRMedicationClient
from genrep.integrations.nll import NLLAdmin, NLLClient
from genrep.integrations.radiology import RadiologyClient, new_accession
from genrep import hl7
from genrep.sim.process import start_virtual_environment
from genrep.text.testdata import patient_for
from genrep.transport.endpoints import http_transport_for, mllp_client_for

from .conftest import adt

TOKEN = "fake-virtual-fhir-token-81d2c7"
PASSWORD = "fake-virtual-key-password-0a6e"


@pytest.fixture(scope="module")
def venv():
    saved = {k: os.environ.get(k) for k in ("GENREP_VIRTUAL_FHIR_TOKEN", "GENREP_VIRTUAL_TLS_KEY_PASSWORD")}
    os.environ["GENREP_VIRTUAL_FHIR_TOKEN"] = TOKEN
    os.environ["GENREP_VIRTUAL_TLS_KEY_PASSWORD"] = PASSWORD
    env = start_virtual_environment(load_profile("virtual-tls", defects=()))
    try:
        yield env
    finally:
        env.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def guard():
    return IdentityGuard(Allowlist.load())


def test_simulators_announce_tls_and_the_profile_points_at_them(venv):
    ehr, nll = venv.endpoints_info["ehr"], venv.endpoints_info["nll"]
    assert ehr["tls"] and ehr["mutual_tls"] and ehr["token_required"]
    assert ehr["fhir_base"].startswith("https://") and nll["fhir_base"].startswith("https://")
    eps = venv.profile.endpoints
    for name in ("radiology_mllp", "ehr_fhir", "ehr_api", "ehr_admin", "nll_fhir", "nll_admin"):
        ep = eps[name]
        assert ep.tls and ep.tls_options.ca_file and ep.tls_options.client_cert, name
        assert ep.tls_options.client_key_password_env == "GENREP_VIRTUAL_TLS_KEY_PASSWORD"
        assert ep.protocol == "mllp" or ep.base_url.startswith("https://")
    assert eps["ehr_fhir"].credential_env == "GENREP_VIRTUAL_FHIR_TOKEN"
    assert not eps["multum_lb"].tls  # Multum stays plaintext in this profile


def test_throwaway_pki_is_private_and_the_client_key_encrypted(venv):
    d = Path(venv.tls_dir)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for f in d.rglob("*"):  # the e-prescription card store (erx-cards/) is a folder of the same private kind
        assert stat.S_IMODE(f.stat().st_mode) == (0o700 if f.is_dir() else 0o600), f
    key = Path(venv.profile.endpoints["radiology_mllp"].tls_options.client_key).read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in key
    assert PASSWORD.encode() not in key


def test_tls_folder_is_removed_on_stop():
    env = start_virtual_environment(load_profile("virtual-tls", defects=()))
    d = Path(env.tls_dir)
    assert (d / "ca.pem").is_file()
    env.stop()
    assert not d.exists()


def test_report_round_trip_over_mutual_tls(venv, guard):
    rad = RadiologyClient(venv.profile, load_radiology(), guard)
    try:
        patient = patient_for(Allowlist.load().pick(1))
        assert rad.register(patient).ack.code == "AA"
        text = "Slutsats:\nIngen fraktur.\nInga tecken på blödning."
        report = hl7.Report(accession=new_accession(), text=text)
        exchange = rad.send_message(rad.build_report(patient, report))
        assert exchange.ack.code == "AA"
        stored, _waited = rad.read_back(report.accession)
        assert len(stored) == 1 and rad.compare(text, stored[0].text).ok
        assert rad.mllp.tls and rad.fhir.transport.tls
    finally:
        rad.close()


def test_ehr_reads_nll_over_mutual_tls(venv, guard):
    allowlist = Allowlist.load()
    identity = allowlist.pick(2, kind="personnummer")
    rad = RadiologyClient(venv.profile, load_radiology(), guard)
    admin = NLLAdmin(venv.profile, guard)
    try:
        assert rad.register(patient_for(identity)).ack.code == "AA"
        patient_id = rad.find_patient(identity.number)["id"]
        admin.reset()
        admin.load(identity.number, [{"id": "rx-tls-1", "medication": "Alvedon 500 mg",
                                      "patient_instruction": "1 tablett\nvid behov"}])
        assert NLLClient(venv.profile, guard).ping()
        shown = EHRMedicationClient(venv.profile).medication_list(patient_id)
        assert shown.available, shown.message  # the EHR reached NLL over mutual TLS
        assert [p.patient_instruction for p in shown.prescriptions] == ["1 tablett\nvid behov"]
    finally:
        admin.reset()
        admin.close()
        rad.close()


def test_client_without_certificate_is_refused_and_nothing_is_stored(venv):
    profile = venv.profile
    ep = profile.endpoints["radiology_mllp"]
    bare = replace(ep, tls_options=replace(ep.tls_options, client_cert="", client_key="",
                                           client_key_password_env=""))
    before = _counters(venv)
    with pytest.raises(TLSError) as info:
        with mllp_client_for(profile, bare) as client:
            client.send(adt(patient_for(Allowlist.load().pick(0))))
    assert "radiology_mllp" in str(info.value)
    after = _counters(venv)
    assert after.get("messages", 0) == before.get("messages", 0)


def test_fhir_api_requires_the_token(venv):
    profile = venv.profile
    ep = profile.endpoints["ehr_fhir"]
    anonymous = http_transport_for(profile, ep, with_token=False)
    resp = anonymous.request("GET", "Patient", params={"identifier": "x"})
    assert resp.status_code == 401 and "missing Authorization" in resp.text
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert anonymous.request("GET", "metadata").status_code == 200  # capabilities stay public
    authed = http_transport_for(profile, ep)
    assert authed.request("GET", "Patient", params={"identifier": "x"}).status_code == 200


def test_wrong_token_is_refused_and_redacted_in_the_error(venv, tmp_path):
    from genrep.transport.fhir import FHIRClient
    wrong = "fake-wrong-token-from-file-77b1"
    token_file = tmp_path / "token"
    token_file.write_text(f"  {wrong}\n", encoding="utf-8")
    profile = venv.profile
    ep = replace(profile.endpoints["ehr_fhir"], credential_env="", credential_file=str(token_file))
    client = FHIRClient(http_transport_for(profile, ep))
    with pytest.raises(FHIRError) as info:
        client.search("Patient", {"identifier": "x"})
    assert info.value.status == 401
    assert "bearer token not accepted" in str(info.value)  # the server echoed it ...
    assert wrong not in str(info.value) and "[REDACTED]" in str(info.value)  # ... and it was removed


def _counters(venv) -> dict:
    transport = http_transport_for(venv.profile, "ehr_admin", with_token=False)
    try:
        return transport.request("GET", "health").json()["counters"]
    finally:
        transport.close()
