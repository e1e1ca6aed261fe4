"""``genrep rehearse --env virtual-tls``: the same features, unchanged, against the virtual
environment with MLLP over TLS, FHIR over HTTPS, client certificates (mutual TLS, encrypted client
key) and a bearer token on the EHR's FHIR API. A selection of radiology and NLL scenarios must all
pass; the verdict's only objections are the requirements the selection did not run."""

from __future__ import annotations

import json
import subprocess
import sys

from genrep.results.reader import read_results

# radiology (MLLP over TLS + FHIR read-back over HTTPS), framing (raw chunks, a probe client that
# gets no answer), NLL through the EHR (the EHR reads NLL over mutual TLS) and NLL faults (admin over TLS)
SELECTION = ("final_ct_report or split_across or never_ends or negation_words or multi_line_dosage "
             "or multiline_dosage or unavailable")


def rehearse(tmp_path, *extra, env=None):
    results = tmp_path / "allure-results"
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "rehearse", "--env", "virtual-tls", "-k", SELECTION,
                           "--no-html", "--results", str(results), *extra],
                          capture_output=True, text=True, timeout=600, env=env)
    return proc, results


def test_selected_scenarios_pass_over_tls(tmp_path):
    proc, results = rehearse(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), out[-3000:]
    assert "environment 'virtual-tls' (virtual)" in proc.stdout
    scenarios = [r for r in read_results(results) if r.requirements]
    assert len(scenarios) >= 7, [r.name for r in scenarios]
    failed = [f"{r.name}: {r.message[:300]}" for r in scenarios if r.status != "passed"]
    assert not failed, "\n".join(failed)
    reqs = {rid for r in scenarios for rid in r.requirements}
    assert {"RAD-001", "RAD-R12", "RAD-R20", "NLL-001", "NLL-N09"} <= reqs
    verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["scenarios"]["failed"] == 0
    blocking = [r for r in verdict["reasons"] if "untested" not in r]
    assert not blocking, blocking  # a selection leaves requirements untested; nothing else objects
