"""No secret in any output: known fake secrets in the environment (the FHIR bearer token, the
client key's password) and a wrong token in a credentials file, through a passing TLS rehearsal,
a failing one (every FHIR call answered 401 by a server that echoes the token it was sent), a
certificate check and the gate. Every byte of stdout, stderr and every file under the results and
report folders (Allure results, attachments, parameters, summary, verdict, scorecard, traceability,
the HTML report) is searched for each secret, raw, URL-encoded and base64-encoded (the server echoes
the token in all three): zero hits.

The search is shown to work first: a canary file holding the token is found.

The passing rehearsal is ``tls_rehearsal`` (tests/e2e/conftest.py), the run ``test_tls_rehearse.py``
checks (a superset of the scenarios this file once ran for itself, with the same secrets in the
environment); the failing rehearsal, the certificate check and the gate run here, side by side."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from genrep.paths import ENVIRONMENTS_DIR

pytestmark = pytest.mark.timeout(900)

from .conftest import KEY_PASSWORD, TOKEN, tls_env  # the EHR requires TOKEN, the passing run sends it

WRONG = "fake-e2e-wrong/token+41f0aa93="         # the failing run sends it (from a credentials file); "/+=" differ URL-encoded
SELECTION = "final_ct_report or split_across or negation_words or multi_line_dosage or multiline_dosage"


def forms(secret: str) -> dict[str, bytes]:
    """The shapes a secret could leak in: raw, URL-encoded, and base64 at each of the three byte
    alignments it can have inside a longer base64 text ('Bearer <it>', 'user:<it>'), as the
    characters that depend on the secret alone."""
    raw = secret.encode()
    out = {"raw": raw, "url-encoded": quote(secret, safe="").encode(),
           "url-encoded (+ for space)": quote_plus(secret).encode()}
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + raw)
        out[f"base64 (offset {k})"] = encoded[-(-8 * k // 6):(8 * k + 8 * len(raw)) // 6]
    out["base64 of 'Bearer <it>'"] = base64.b64encode(f"Bearer {secret}".encode()).rstrip(b"=")
    return out


SECRETS = {"FHIR token": TOKEN, "wrong token (credentials file)": WRONG, "client key password": KEY_PASSWORD}


def search(blobs: dict[str, bytes]) -> tuple[dict[str, list[str]], int]:
    """{secret label: [where found]} and the bytes searched."""
    hits: dict[str, list[str]] = {label: [] for label in SECRETS}
    for where, data in blobs.items():
        for label, secret in SECRETS.items():
            for form, needle in forms(secret).items():
                if needle in data:
                    hits[label].append(f"{where} ({form})")
    return hits, sum(len(b) for b in blobs.values())


def files_under(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genrep.cli", *args], capture_output=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, tls_rehearsal):
    tmp = tmp_path_factory.mktemp("secrets")
    env = tls_env()
    # the failing case: the EHR wants TOKEN, the harness reads WRONG from a credentials file
    (tmp / "wrong-token.txt").write_text(f"\n  {WRONG}  \n", encoding="utf-8")
    wrong_profile = tmp / "virtual-tls-wrong-token.yaml"
    wrong_profile.write_text((ENVIRONMENTS_DIR / "virtual-tls.yaml").read_text(encoding="utf-8").replace(
        "  credentials_env: GENREP_VIRTUAL_FHIR_TOKEN", "  credentials_file: wrong-token.txt"), encoding="utf-8")
    assert "credentials_file: wrong-token.txt" in wrong_profile.read_text(encoding="utf-8")
    good, bad, certs = tls_rehearsal.root, tmp / "bad", tmp / "certs"
    commands = {  # independent of each other: run side by side
        "rehearse (401, wrong token)": ["rehearse", "--env", str(wrong_profile), "-k", SELECTION, "-v",
                                        "--results", str(bad / "allure-results")],
        "certs check": ["certs", "check", "--env", "virtual-tls", "--json", "--results", str(certs)],
        "gate": ["gate", "--results", str(good / "allure-results")],
    }
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        futures = {name: pool.submit(run, args, env) for name, args in commands.items()}
    procs = {"rehearse (passing)": tls_rehearsal.proc, **{name: f.result() for name, f in futures.items()}}
    blobs = {}
    for name, proc in procs.items():
        blobs[f"{name}: stdout"] = proc.stdout
        blobs[f"{name}: stderr"] = proc.stderr
    files = files_under(good, bad, certs)
    blobs.update(files)
    return procs, blobs, files, tmp


def test_the_search_finds_a_planted_secret(tmp_path):
    (tmp_path / "canary.txt").write_text(f"x {TOKEN} y", encoding="utf-8")
    (tmp_path / "canary.b64").write_bytes(base64.b64encode(f"Bearer {KEY_PASSWORD}".encode()))
    (tmp_path / "canary.url").write_text(f"x {quote(WRONG + '/+', safe='')} y", encoding="utf-8")
    hits, _ = search(files_under(tmp_path))
    assert hits["FHIR token"] and hits["client key password"] and hits["wrong token (credentials file)"]
    (tmp_path / "canary.basic").write_bytes(base64.b64encode(f"user:{TOKEN}".encode()))
    (tmp_path / "canary.txt").unlink()
    hits, _ = search(files_under(tmp_path))
    assert [h for h in hits["FHIR token"] if "offset" in h], hits  # found inside Basic's base64


def test_runs_did_what_the_search_relies_on(outputs, tls_rehearsal):
    procs, blobs, files, tmp = outputs
    good = procs["rehearse (passing)"]
    assert good.returncode == 4, good.stdout[-2000:] + good.stderr[-2000:]  # a selection: INCOMPLETE, nothing failed
    verdict = json.loads((tls_rehearsal.root / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["scenarios"]["failed"] == 0 and verdict["scenarios"]["passed"] >= 4, verdict["scenarios"]
    bad = procs["rehearse (401, wrong token)"]
    assert bad.returncode == 1 and b"VERDICT: NO-GO" in bad.stdout
    # the server echoed the wrong token in its 401 and the harness removed it: proof the token
    # really went into an error path
    echoed = [k for k, v in blobs.items()
              if b"bearer token not accepted (received '[REDACTED]'; url-encoded [REDACTED]; header as base64 " in v]
    assert echoed, "no 401 with the echoed (redacted) token found in any output"
    assert any(k.endswith("-result.json") for k in echoed)
    assert procs["certs check"].returncode == 0, procs["certs check"].stdout[-2000:]
    assert any(name.endswith("-attachment.txt") for name in files)  # Allure attachments were searched
    assert any(name.endswith(".html") for name in files)  # and the HTML report of the failing run


def test_no_secret_in_any_output(outputs, capsys):
    _procs, blobs, files, tmp = outputs
    hits, searched = search(blobs)
    with capsys.disabled():
        print(f"\nsecrets searched: {len(files)} files + {len(blobs) - len(files)} stdout/stderr streams, "
              f"{searched} bytes")
        for label in SECRETS:
            print(f"  {label:32s} {len(hits[label])} hit(s) in {len(forms(SECRETS[label]))} forms "
                  "(raw, URL-encoded, base64 at 3 alignments, base64('Bearer ...'))")
    leaks = {label: where for label, where in hits.items() if where}
    assert not leaks, leaks
    assert len(files) >= 20 and searched > 100_000
