"""Fixtures for the virtual EHR tests: real child processes on loopback ports.

``ehr`` starts the clean virtual EHR once per session (per xdist worker) through
``start_virtual_environment`` and yields ``(profile, info)``. Tests never depend on each other's
data: each one registers its own patient and uses fresh accessions and control ids.
``start_ehr(*args)`` starts an extra EHR (a defect, a small ``--max-message-bytes``) that is
stopped when the test ends.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import pytest
import requests

from genrep import hl7
from genrep.config.profile import Endpoint, load_profile
from genrep.config.contracts import load_radiology
from genrep.text.identities import Allowlist, IdentityGuard
from genrep.transport.mllp import MLLPClient
from genrep.integrations.radiology import RadiologyClient, new_accession, new_control_id
from genrep.sim.process import SimProcess, start_virtual_environment
from genrep.text.testdata import patient_for

HTTP_TIMEOUT = (2.0, 5.0)
MLLP_TIMEOUT = 5.0


@pytest.fixture(scope="session")
def allowlist() -> Allowlist:
    return Allowlist.load()


@pytest.fixture(scope="session")
def patient(allowlist) -> hl7.Patient:
    return patient_for(allowlist.pick(0))


@pytest.fixture(scope="session")
def contract():
    return load_radiology()


@pytest.fixture(scope="session")
def ehr():
    """The shared clean virtual EHR: (profile, info)."""
    venv = start_virtual_environment(load_profile("virtual", defects=()))
    try:
        yield venv.profile, venv.endpoints_info["ehr"]
    finally:
        venv.stop()


def profile_for(info: dict):
    """A virtual profile pointing at an EHR started by hand (same endpoints as
    ``start_virtual_environment`` fills in)."""
    host = info["host"]
    return load_profile("virtual", defects=()).with_endpoints({
        "radiology_mllp": Endpoint("radiology_mllp", "mllp", host, info["mllp_port"]),
        "ehr_fhir": Endpoint("ehr_fhir", "http", host, info["fhir_port"], base_url=info["fhir_base"]),
        "ehr_admin": Endpoint("ehr_admin", "http", host, info["fhir_port"],
                              base_url=f"http://{host}:{info['fhir_port']}/admin"),
    })


@pytest.fixture
def start_ehr():
    """Factory: ``start_ehr("--defect", "radiology-linebreaks")`` -> (profile, info, SimProcess)."""
    started: list[SimProcess] = []

    def _start(*args: str, ready_timeout: float = 20.0):
        sim = SimProcess("genrep.sim.ehr", ["--mllp-port", "0", "--fhir-port", "0", *args],
                         ready_timeout=ready_timeout)
        started.append(sim)
        info = sim.start()
        return profile_for(info), info, sim

    yield _start
    for sim in started:
        sim.stop()


@pytest.fixture
def rad(ehr, contract, allowlist):
    """A RadiologyClient on the shared EHR."""
    profile, _info = ehr
    client = RadiologyClient(profile, contract, IdentityGuard(allowlist))
    yield client
    client.close()


def mllp_client(info: dict, read_timeout: float = MLLP_TIMEOUT) -> MLLPClient:
    return MLLPClient(info["host"], info["mllp_port"], connect_timeout=2.0, read_timeout=read_timeout)


def admin_url(info: dict, path: str) -> str:
    return f"http://{info['host']}:{info['fhir_port']}/admin/{path}"


def fhir_get(info: dict, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", HTTP_TIMEOUT)
    return requests.get(f"{info['fhir_base']}/{path}", **kwargs)


def health(info: dict) -> dict:
    r = requests.get(admin_url(info, "health"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def reset(info: dict) -> None:
    r = requests.post(admin_url(info, "reset"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text


def adt(patient: hl7.Patient, event: str = "A04", *, charset: str = "UNICODE UTF-8",
        control_id: str | None = None) -> bytes:
    return hl7.encode(hl7.build_adt(event, patient, control_id=control_id or new_control_id(),
                                    charset=charset))


def oru(patient: hl7.Patient, text: str, *, accession: str | None = None, status: str = "F",
        control_id: str | None = None, **kwargs) -> tuple[str, bytes]:
    """(accession, encoded ORU^R01)."""
    accession = accession or new_accession()
    message = hl7.build_oru(patient, hl7.Report(accession=accession, text=text, status=status),
                            control_id=control_id or new_control_id(), **kwargs)
    return accession, hl7.encode(message)


def ack_code(raw: bytes) -> str:
    return hl7.parse_ack(raw).code


def register(info: dict, patient: hl7.Patient) -> None:
    with mllp_client(info) as c:
        assert ack_code(c.send(adt(patient))) == "AA"


def reports_for(info: dict, accession: str) -> list[dict]:
    r = fhir_get(info, "DiagnosticReport", params={"identifier": accession})
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", [])]


def stored_text(info: dict, accession: str) -> str | None:
    """The stored text of the only report for ``accession``; None when nothing is stored."""
    reports = reports_for(info, accession)
    if not reports:
        return None
    assert len(reports) == 1, f"{len(reports)} reports for one accession"
    url = reports[0]["presentedForm"][0]["url"]
    r = fhir_get(info, url, headers={"Accept": "text/plain"})
    assert r.status_code == 200, r.text
    return r.content.decode("utf-8")


def assert_alive(info: dict) -> None:
    """The EHR still answers over HTTP and accepts a normal ADT over a new MLLP connection."""
    assert health(info)["status"] == "ok"
    with mllp_client(info) as c:
        assert ack_code(c.send(adt(_any_patient()))) == "AA"


def _any_patient() -> hl7.Patient:
    return patient_for(Allowlist.load().pick(0))


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@contextmanager
def silent_server():
    """A TCP server on loopback that accepts connections and never answers. Yields its port."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.1)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            conns.append(conn)  # keep it open, read nothing, answer nothing

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2.0)
        for c in conns:
            c.close()
        srv.close()


def closed_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
