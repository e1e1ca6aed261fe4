"""Connection policies against an independent peer that closes after each ACK: hl7apy's MLLPServer
(a process of its own, ACKs built with hl7apy's ``Message("ACK")``). The old client lost the race
with its close on about every other send (measured 87 of 200 failed, ECONNRESET); under
``connection: per_message`` none fails, and the default persistent policy adapts after the first."""

from __future__ import annotations

import pytest

from genrep import hl7
from genrep.config.contracts import load_radiology
from genrep.config.profile import Endpoint, load_profile
from genrep.errors import ConnectionClosed
from genrep.integrations.radiology import RadiologyClient, new_control_id
from genrep.text.identities import IdentityGuard
from genrep.transport.mllp import MLLPClient

from .test_peer_ack_matching import PeerProcess

SENDS = 40


@pytest.fixture(scope="module")
def hl7apy_peer():
    p = PeerProcess("hl7apy")
    yield p
    p.stop()


def sends(client: MLLPClient, patient, n: int = SENDS) -> int:
    failures = 0
    for _ in range(n):
        cid = new_control_id()
        try:
            ack = hl7.parse_ack(client.send(hl7.encode(hl7.build_adt("A08", patient, control_id=cid))))
        except ConnectionClosed:
            failures += 1
            continue
        assert (ack.code, ack.control_id) == ("AA", cid)
    return failures


def test_per_message_all_sends_to_a_close_after_ack_server_succeed(hl7apy_peer, patient):
    with MLLPClient("127.0.0.1", hl7apy_peer.port, read_timeout=5, connection="per_message") as c:
        assert sends(c, patient) == 0
        assert c.connections == SENDS and c.resends == 0


def test_persistent_default_adapts_at_most_one_send_lost_to_the_race(hl7apy_peer, patient):
    with MLLPClient("127.0.0.1", hl7apy_peer.port, read_timeout=5) as c:
        assert sends(c, patient) <= 1
        assert c.adapted and c.resends == 0


def test_persistent_with_resend_unacknowledged_loses_none(hl7apy_peer, patient):
    with MLLPClient("127.0.0.1", hl7apy_peer.port, read_timeout=5, resend="unacknowledged") as c:
        assert sends(c, patient) == 0
        assert c.resends <= 1


def test_the_profile_setting_reaches_the_scenario_client(hl7apy_peer, patient, allowlist):
    profile = load_profile("virtual", defects=()).with_endpoints({
        "radiology_mllp": Endpoint("radiology_mllp", "mllp", "127.0.0.1", hl7apy_peer.port, connection="per_message"),
        "ehr_fhir": Endpoint("ehr_fhir", "http", "127.0.0.1", 9, base_url="http://127.0.0.1:9/fhir")})
    client = RadiologyClient(profile, load_radiology(), IdentityGuard(allowlist))
    try:
        for _ in range(SENDS):
            ex = client.register(patient)
            assert ex.ack.code == "AA" and ex.ack.control_id == hl7.parse(ex.message).control_id
        assert client.mllp.connection == "per_message" and client.mllp.connections == SENDS
    finally:
        client.close()
