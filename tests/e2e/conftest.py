"""Runs that several e2e files assert on, made once per test session (once per xdist worker; the
files that use one are one group in ``tests/conftest.py``, so under ``--dist loadgroup`` it is made
once in all).

``tls_rehearsal``: ``genrep rehearse --env virtual-tls`` over a selection of radiology and NLL
scenarios, with known fake secrets in the environment (the FHIR bearer token, the client key's
password). ``test_tls_rehearse.py`` checks the scenarios passed over TLS; ``test_secrets_redaction.py``
searches every byte it wrote for the secrets (its passing run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from genrep.errors import GenrepError
from genrep.results.reader import read_results

TOKEN = "fake-e2e-fhir-token-7c1d9b44e2"          # the EHR requires it; the passing run sends it
KEY_PASSWORD = "fake-e2e-key-password-5d2e8c"     # the harness's client key is encrypted with it

# radiology (MLLP over TLS + FHIR read-back over HTTPS), framing (raw chunks, a probe client that
# gets no answer), NLL through the EHR (the EHR reads NLL over mutual TLS) and NLL faults (admin over TLS)
TLS_SELECTION = ("final_ct_report or split_across or never_ends or negation_words or multi_line_dosage "
                 "or multiline_dosage or unavailable")


def tls_env() -> dict:
    return dict(os.environ, GENREP_VIRTUAL_FHIR_TOKEN=TOKEN, GENREP_VIRTUAL_TLS_KEY_PASSWORD=KEY_PASSWORD)


@dataclass
class Rehearsal:
    proc: subprocess.CompletedProcess  # stdout and stderr as bytes
    root: Path                         # allure-results/ and the verdict files beside it
    verdict: dict                      # verdict.json as the rehearsal wrote it
    scenario_results: list             # its Allure results as it wrote them (a later `gate` adds one)

    @property
    def results(self) -> Path:
        return self.root / "allure-results"

    @property
    def text(self) -> tuple[str, str]:
        return (self.proc.stdout.decode("utf-8", "replace"), self.proc.stderr.decode("utf-8", "replace"))


@pytest.fixture(scope="session")
def tls_rehearsal(tmp_path_factory) -> Rehearsal:
    root = tmp_path_factory.mktemp("tls-rehearsal")
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--env", "virtual-tls",
                           "-k", TLS_SELECTION, "--no-html", "-v", "--results", str(root / "allure-results")],
                          capture_output=True, timeout=600, env=tls_env())
    verdict_file = root / "verdict.json"
    verdict = json.loads(verdict_file.read_text(encoding="utf-8")) if verdict_file.is_file() else {}
    try:
        scenario_results = read_results(root / "allure-results")
    except GenrepError:  # no results at all: the tests say so, with the rehearsal's output
        scenario_results = []
    return Rehearsal(proc, root, verdict, scenario_results)
