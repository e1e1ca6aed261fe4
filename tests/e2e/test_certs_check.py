"""``genrep certs check`` end to end: against the virtual TLS environment (started and stopped by
the command), and against an external profile whose endpoints are local TLS listeners presenting
good, nearly expired and expired certificates."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from sim.test_tls_support import RecordingServer, good_server_context, make_certs


def certs_check(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "genrep.cli", "certs", "check", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_virtual_tls_certificates_are_ok_and_gate_go(tmp_path):
    results = tmp_path / "allure-results"
    proc = certs_check("--env", "virtual-tls", "--results", str(results))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CERTIFICATES: OK" in proc.stdout and "name '127.0.0.1' matches" in proc.stdout
    assert len(list(results.glob("*-result.json"))) == 4  # MLLP, EHR FHIR, NLL, client certificate
    # certificates alone are not the go-live scope: the gate says so (INCOMPLETE), unless the
    # caller waives both parts, and then it says PARTIAL GO, never a plain GO
    gate = subprocess.run([sys.executable, "-m", "genrep.cli", "gate", "--results", str(results)],
                          capture_output=True, text=True, timeout=120)
    assert gate.returncode == 4 and "VERDICT: INCOMPLETE" in gate.stdout, gate.stdout[-2000:]
    gate = subprocess.run([sys.executable, "-m", "genrep.cli", "gate", "--results", str(results),
                           "--accept-partial", "functional", "--accept-partial", "performance"],
                          capture_output=True, text=True, timeout=120)
    assert gate.returncode == 0 and "VERDICT: PARTIAL GO" in gate.stdout, gate.stdout[-2000:]
    assert "SEC-CERT-001" in gate.stdout

    proc = certs_check("--env", "virtual-tls", "--warn-days", "400", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["min_days_valid"] == 400 and not report["ok"]
    assert all(c["problems"] == ["expiring (under 400 days)"] for c in report["certificates"])


def test_external_profile_with_expiring_and_expired_certificates(tmp_path):
    certs = make_certs(tmp_path / "pki")
    with RecordingServer(good_server_context(certs)) as good, \
            RecordingServer(good_server_context(certs, certs.five_days)) as soon, \
            RecordingServer(good_server_context(certs, certs.expired)) as old:
        profile = tmp_path / "ext-certs.yaml"
        profile.write_text(textwrap.dedent(f"""\
            name: ext-certs
            kind: external
            endpoints:
              radiology_mllp:
                protocol: mllp
                host: 127.0.0.1
                port: {good.port}
                tls: {{ca_file: pki/ca.pem}}
              ehr_fhir:
                protocol: http
                base_url: https://127.0.0.1:{soon.port}/fhir
                tls: {{ca_file: pki/ca.pem, client_cert: pki/client.pem, client_key: pki/client.key}}
              nll_fhir:
                protocol: http
                base_url: https://127.0.0.1:{old.port}/fhir
                tls: {{ca_file: pki/ca.pem}}
            certificates:
              min_days_valid: 14
            timeouts:
              connect: 2
              read: 5
            """), encoding="utf-8")
        proc = certs_check("--env", str(profile), "--json")
        text = certs_check("--env", str(profile), "--warn-days", "3")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    by_label = {c["label"]: c for c in json.loads(proc.stdout)["certificates"]}
    assert by_label["radiology_mllp"]["ok"] and by_label["radiology_mllp"]["chain_valid"]
    assert by_label["ehr_fhir"]["problems"] == ["expiring (under 14 days)"]
    assert 4.9 < by_label["ehr_fhir"]["days_left"] <= 5
    assert by_label["nll_fhir"]["problems"] == ["expired"] and by_label["nll_fhir"]["chain_valid"] is False
    client = next(c for c in by_label.values() if c["kind"] == "client")
    assert client["ok"] and "endpoints.ehr_fhir.tls.client_cert" in client["label"]
    # a lower threshold accepts the 5-day certificate; the expired one still fails the run
    assert text.returncode == 1 and "FAIL server certificate of nll_fhir" in text.stdout
    assert "ok   server certificate of ehr_fhir" in text.stdout


def test_bad_profile_is_a_configuration_error(tmp_path):
    profile = tmp_path / "bad.yaml"
    profile.write_text("name: bad\nkind: external\nendpoints:\n  x:\n    protocol: mllp\n    host: h\n"
                       "    port: 1\n    tls: {ca_file: nowhere.pem}\n", encoding="utf-8")
    proc = certs_check("--env", str(profile))
    assert proc.returncode == 2
    assert "key 'endpoints.x.tls.ca_file'" in proc.stderr and "nowhere.pem does not exist" in proc.stderr
