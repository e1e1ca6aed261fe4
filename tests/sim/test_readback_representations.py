"""Complete read-back over a real virtual EHR: the DiagnosticReport serves its text as a Binary,
inline, as HTML, as a conclusion and as a linked Observation; the client reads and compares them
all, and each rendition defect (one representation broken, the Binary whole) is caught."""

from __future__ import annotations

import base64

import pytest

from genrep import hl7
from genrep.integrations.radiology import RadiologyClient, new_accession
from genrep.results.failure_kinds import kinds_in
from genrep.text import corpus
from genrep.text.identities import IdentityGuard
from genrep.transport.fhir import validate

from .conftest import fhir_get

DT = corpus.load_report("dt_thorax")
NO_CONCLUSION = "RTG handled.\nIngen fraktur.\n\nInga skelettförändringar."


@pytest.fixture
def client_for(contract, allowlist):
    made: list[RadiologyClient] = []

    def _make(profile) -> RadiologyClient:
        made.append(RadiologyClient(profile, contract, IdentityGuard(allowlist)))
        return made[-1]

    yield _make
    for c in made:
        c.close()


def send(client: RadiologyClient, patient, text: str, *, status: str = "F", accession: str | None = None,
         convention: str | None = None):
    """Register, send, read back: (accession, the one StoredReport)."""
    assert client.register(patient).ack.code == "AA"
    report = hl7.Report(accession=accession or new_accession(), text=text, status=status)
    ex = client.send_message(client.build_report(patient, report, convention=convention))
    assert ex.ack.code == "AA", ex.ack.text
    reports, _ = client.read_back(report.accession)
    assert len(reports) == 1
    return report.accession, reports[0]


def test_the_report_serves_every_representation_and_all_agree(ehr, rad, patient):
    _profile, info = ehr
    _accession, stored = send(rad, patient, DT)
    res = stored.resource
    forms = res["presentedForm"]
    assert [(f["contentType"], "url" in f, "data" in f) for f in forms] == [
        ("text/plain; charset=utf-8", True, False),  # unchanged: the Binary first
        ("text/plain; charset=utf-8", False, True),
        ("text/html; charset=utf-8", False, True)]
    assert base64.b64decode(forms[1]["data"]).decode("utf-8") == DT
    assert "<br>" in base64.b64decode(forms[2]["data"]).decode("utf-8")
    assert res["conclusion"].startswith("1. Ingen lungemboli.") and res["conclusion"].endswith("3. Lätt emfysem.")
    [link] = res["result"]
    obs = fhir_get(info, link["reference"]).json()
    validate(obs)
    assert obs["resourceType"] == "Observation" and obs["valueString"] == DT and obs["status"] == "final"
    assert [r.label for r in stored.representations] == [
        f"presentedForm[0] (text/plain, Binary/{stored.id}-text)", "presentedForm[1] (text/plain, inline)",
        "presentedForm[2] (text/html, inline)", "Observation.valueString (1 linked by result)"]
    assert all(r.text is not None and rad.compare(DT, r.text).ok for r in stored.representations)
    assert stored.text == DT
    check = rad.check(DT, stored)
    assert check.ok and not check.notes, check.message()
    assert len(check.readings) == 6  # 4 texts, the HTML as served, the conclusion


@pytest.mark.parametrize("convention", ["repetitions", "ft-br"])
def test_a_report_without_conclusion_has_none_and_still_agrees(rad, patient, convention):
    _accession, stored = send(rad, patient, NO_CONCLUSION, convention=convention)
    assert "conclusion" not in stored.resource and stored.conclusion is None
    assert rad.check(NO_CONCLUSION, stored).ok


def test_a_new_version_renders_every_representation_again(rad, patient):
    accession, first = send(rad, patient, NO_CONCLUSION, status="P")
    _, final = send(rad, patient, DT, status="F", accession=accession)
    assert first.conclusion is None and final.conclusion.startswith("1. Ingen")
    assert final.version == "2" and rad.check(DT, final).ok
    assert all(r.text.rstrip() == DT.rstrip() for r in final.representations)


def defective(start_ehr, client_for, patient, defect: str, text: str = DT):
    profile, _info, _sim = start_ehr("--defect", defect)
    client = client_for(profile)
    _accession, stored = send(client, patient, text)
    return client, stored


def test_html_drops_lines_is_caught_as_a_disagreement(start_ehr, client_for, patient):
    client, stored = defective(start_ehr, client_for, patient, "radiology-html-drops-lines:5")
    assert stored.text == DT  # the Binary is whole
    check = client.check(DT, stored)
    message = check.message()
    assert not check.ok
    assert "representations_disagree" in kinds_in(message) and "truncated" in kinds_in(message)
    disagree = next(f for f in check.failures if f.startswith("representations_disagree: "))
    assert disagree.startswith(f"representations_disagree: presentedForm[0] (text/plain, Binary/{stored.id}-text), "
                               "presentedForm[1] (text/plain, inline), Observation.valueString (1 linked by result) "
                               "and presentedForm[2] (text/html, inline) show different text")
    assert message.split("\n")[0].endswith("(in presentedForm[2] (text/html, inline))")


def test_inline_truncated_is_caught_while_the_binary_is_whole(start_ehr, client_for, patient):
    client, stored = defective(start_ehr, client_for, patient, "radiology-inline-truncated:300")
    inline = next(r for r in stored.representations if r.label == "presentedForm[1] (text/plain, inline)")
    assert stored.text == DT and DT.encode("utf-8").startswith(inline.text.encode("utf-8").rstrip(b"\xef\xbf\xbd"))
    message = client.check(DT, stored).message()
    assert {"representations_disagree", "truncated"} <= set(kinds_in(message))
    assert "(in presentedForm[1] (text/plain, inline))" in message.split("\n")[0]


def test_a_short_report_is_not_touched_by_the_inline_cut(start_ehr, client_for, patient):
    client, stored = defective(start_ehr, client_for, patient, "radiology-inline-truncated", text=NO_CONCLUSION)
    assert client.check(NO_CONCLUSION, stored).ok


def test_conclusion_without_its_negations_is_caught(start_ehr, client_for, patient):
    client, stored = defective(start_ehr, client_for, patient, "radiology-conclusion-negation-dropped")
    assert stored.conclusion.startswith("1. lungemboli.")
    check = client.check(DT, stored)
    assert len(check.failures) == 1 and check.failures[0].startswith("conclusion_not_in_report: ")
    assert "lost_negation" in kinds_in(check.message())


def test_the_existing_text_defects_stay_one_loss_in_every_representation(start_ehr, client_for, patient):
    client, stored = defective(start_ehr, client_for, patient, "radiology-drop-lines:5")
    check = client.check(DT, stored)
    assert len(check.failures) == 1, check.message()
    assert "(the same in all 4 representations)" in check.failures[0]
    assert "representations_disagree" not in kinds_in(check.message())
