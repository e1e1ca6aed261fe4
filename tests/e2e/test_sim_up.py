"""`genrep sim up`: prints its endpoints, serves them, and stops cleanly on Ctrl-C with no orphan."""

import os
import re
import signal
import subprocess
import sys
import time

import requests


def test_sim_up_serves_and_stops_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "genrep.cli", "sim", "up", "--mllp-port", "0",
                             "--fhir-port", "0", "--defect", "radiology-linebreaks"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.strip().startswith("defects:"):
                break
        text = "".join(lines)
        fhir = re.search(r"ehr_fhir\s+http\s+(http://127\.0\.0\.1:\d+/fhir)", text)
        assert fhir, text
        assert re.search(r"radiology_mllp\s+mllp\s+127\.0\.0\.1:\d+", text), text
        assert "radiology-linebreaks" in text
        health = requests.get(fhir.group(1).replace("/fhir", "/admin/health"), timeout=5).json()
        assert health["defects"] == ["radiology-linebreaks"]
        children = [health["pid"]]
        os.kill(children[0], 0)  # it is running now
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0
        assert "stopped." in rest
        for pid in children:  # no orphan simulator left behind
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"simulator {pid} still running after sim up stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_sim_up_with_tls_prints_how_to_connect_never_the_secrets(tmp_path):
    """`sim up --env virtual-tls`: the endpoints say TLS, the throw-away CA and client certificate
    are named (and removed on stop), the token and key password are named by their variables only."""
    token = "sim-up-fake-token-5b1d"
    env = dict(os.environ, GENREP_VIRTUAL_FHIR_TOKEN=token)
    proc = subprocess.Popen([sys.executable, "-m", "genrep.cli", "sim", "up", "--env", "virtual-tls",
                             "--mllp-port", "0", "--fhir-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.strip().startswith("defects:"):
                break
        text = "".join(lines)
        assert re.search(r"radiology_mllp\s+mllp\s+127\.0\.0\.1:\d+\s+\(TLS\)", text), text
        assert re.search(r"ehr_fhir\s+http\s+https://127\.0\.0\.1:\d+/fhir\s+\(TLS\)", text), text
        ca = re.search(r"trust (\S+ca\.pem)", text)
        assert ca and os.path.isfile(ca.group(1)), text
        assert "$GENREP_VIRTUAL_FHIR_TOKEN" in text and token not in text
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=15)
        assert proc.returncode == 0 and "stopped." in rest
        assert token not in rest + err
        assert not os.path.exists(ca.group(1)), "the throw-away certificates outlived the environment"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
