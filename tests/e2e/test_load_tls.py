"""`genrep load` against the virtual environment with TLS, client certificates and a FHIR token
(virtual-tls): the Locust users build their clients from the same profile as the steps, every
operation succeeds (so the clients really spoke TLS, presented their certificate and sent the
token: that environment refuses anything else), and no output holds the token or key password."""

import json
import os
import subprocess
import sys


def test_load_over_mutual_tls_with_a_token_and_no_secret_in_any_output(tmp_path):
    secrets = {"GENREP_VIRTUAL_FHIR_TOKEN": "load-fake-token-7c2e91", "GENREP_VIRTUAL_TLS_KEY_PASSWORD": "load-fake-pw-44d0"}
    out, results = tmp_path / "load", tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "genrep.cli", "load", "steady_day", "--env", "virtual-tls",
                           "--users", "5", "--duration", "8s", "--out", str(out), "--results", str(results)],
                          capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, PYTHONIOENCODING="utf-8", **secrets))
    sla = json.loads((out / "sla.json").read_text(encoding="utf-8"))
    # timing "inconclusive" on a busy machine; nothing missed
    assert sla["verdict"] in ("MET", "INCONCLUSIVE"), proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == {"MET": 0, "MISSED": 1, "INCONCLUSIVE": 4}[sla["verdict"]]
    ops = sla["run"]["operations"]
    assert all(ops[name]["requests"] > 0 and ops[name]["failures"] == 0 for name in ops), ops
    profile = (out / "load-profile.yaml").read_text(encoding="utf-8")
    assert "https://" in profile and "client_cert" in profile and "GENREP_VIRTUAL_FHIR_TOKEN" in profile
    searched = [proc.stdout, proc.stderr] + [p.read_bytes().decode("utf-8", "replace")
                                             for p in (*out.rglob("*"), *results.rglob("*")) if p.is_file()]
    assert len(searched) > 10
    for value in secrets.values():
        assert not [i for i, text in enumerate(searched) if value in text], value
