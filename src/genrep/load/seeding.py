"""The environment around a load run: seeded before it (the load's test patient registered, one
report stored and read back, and in the virtual environment its NLL list planted), the profile
written out as the Locust users load it, and the load patient's store counted and sampled (before
and after: "AA is stored" under load).
"""

from __future__ import annotations

import json
from pathlib import Path

from genrep.paths import PROJECT_ROOT
from genrep.errors import GenrepError
from genrep.load.workload import ORU_TEXT, load_identity


def seed(profile, guard, allowlist) -> tuple[str, str]:
    """Register the load's test patient, store one report (and, virtual only, its NLL list) so the
    reads have data. Returns (FHIR patient id, accession)."""
    from genrep import hl7
    from genrep.config.contracts import load_radiology
    from genrep.integrations.radiology import RadiologyClient, new_accession
    from genrep.text.testdata import patient_for

    identity = load_identity(allowlist)
    patient = patient_for(identity, seed="load")
    client = RadiologyClient(profile, load_radiology(), guard)
    try:
        ex = client.register(patient)
        if ex.ack is None or ex.ack.code != "AA":
            raise GenrepError(f"seeding the load: registering the test patient was answered "
                              f"{ex.ack.code if ex.ack else 'nothing'}")
        accession = new_accession()
        ex = client.send_message(client.build_report(patient, hl7.Report(accession=accession, text=ORU_TEXT)))
        if ex.ack is None or ex.ack.code != "AA":
            raise GenrepError(f"seeding the load: the report was answered {ex.ack.code if ex.ack else 'nothing'}")
        reports, _ = client.read_back(accession)
        if not reports:
            raise GenrepError(f"seeding the load: report {accession} not readable over FHIR after AA")
        found = client.find_patient(identity.number)
        if not found:
            raise GenrepError("seeding the load: the registered test patient is not found over FHIR")
    finally:
        client.close()
    if profile.kind == "virtual":
        from genrep.integrations.nll import NLLAdmin
        golden = json.loads((PROJECT_ROOT / "fixtures" / "nll" / "golden.json").read_text(encoding="utf-8"))
        admin = NLLAdmin(profile, guard)
        try:
            admin.load(identity.number, golden["prescriptions"])
        finally:
            admin.close()
    return found["id"], accession


def write_effective_profile(profile, out_dir: Path) -> Path:
    """The profile as this run uses it (the virtual environment's ports and throw-away certificates
    filled in), as an external profile file the Locust users load: their clients come from the
    same factories as the steps' (``genrep.transport.tls``), with the same TLS and tokens. It holds paths and
    the names of variables, never a secret."""
    import yaml
    endpoints = {ep.name: ep.as_profile_data() for ep in profile.endpoints.values()}
    data = {"name": f"{profile.name}-load", "kind": "external", "production": False,
            "description": f"{profile.name} as genrep load runs it (written by the runner)",
            "endpoints": endpoints,
            "timeouts": {"connect": profile.timeouts.connect, "read": profile.timeouts.read}}
    path = out_dir / "load-profile.yaml"
    path.write_text("# written by genrep load for its Locust users; paths and variable names only\n"
                    + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def stored_count(transport, patient_id: str) -> int:
    """Reports stored for the load patient, by FHIR ``_summary=count``."""
    resp = transport.request("GET", "DiagnosticReport", params={"patient": patient_id, "_summary": "count"},
                             headers={"Accept": "application/fhir+json"})
    if resp.status_code != 200:
        raise GenrepError(f"counting stored reports: DiagnosticReport?_summary=count answered HTTP {resp.status_code}")
    try:
        total = resp.json()["total"]
    except (ValueError, KeyError, TypeError):
        raise GenrepError("counting stored reports: the answer has no total") from None
    if not isinstance(total, int) or total < 0:
        raise GenrepError(f"counting stored reports: total {total!r} is not a count")
    return total


def sample_missing(transport, accessions: list[str], sample: int, seed: int) -> tuple[int, list[str]]:
    """Read back a random sample of AA'd accessions; returns (how many were read, which were missing)."""
    import random
    chosen = random.Random(seed).sample(accessions, min(sample, len(accessions)))
    missing = []
    for acc in chosen:
        resp = transport.request("GET", "DiagnosticReport", params={"identifier": acc},
                                 headers={"Accept": "application/fhir+json"})
        try:
            found = resp.status_code == 200 and resp.json().get("total") == 1
        except ValueError:
            found = False
        if not found:
            missing.append(acc)
    return len(chosen), missing
