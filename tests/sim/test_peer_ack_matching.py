"""ACKs matched to their messages against independent peers: python-hl7's asyncio MLLP server (a
process of its own, its ACKs from python-hl7's ``create_ack``) in step, one message late (what
node-hl7-server did on one connection) and in enhanced mode; and the radiology client a scenario
uses, pointed at the late peer. Before matching, every one of these "passed": the late peer's
messages 2-5 each got the previous message's AA, and a CA was taken for the answer."""

from __future__ import annotations

import selectors
import subprocess
import sys
from pathlib import Path

import pytest

from genrep import hl7
from genrep.config.contracts import load_radiology
from genrep.config.profile import Endpoint, load_profile
from genrep.integrations.radiology import RadiologyClient, new_control_id
from genrep.text.identities import IdentityGuard
from genrep.transport.mllp import AckMismatch, MLLPClient

PEERS = Path(__file__).with_name("peer_servers.py")
#: the read timeout where the peer's answer must arrive (its own ACK, or the stray one first): generous,
#: since a busy CI host starves processes for seconds. Where the own ACK never comes, the client waits
#: only its grace after the stray one (``mllp_answers.STRAY_GRACE_S``), not this whole timeout.
READ_TIMEOUT = 5.0


class PeerProcess:
    """A peer server from ``peer_servers.py`` as a process of its own on a free loopback port."""

    def __init__(self, kind: str, mode: str = "in_step"):
        self.proc = subprocess.Popen([sys.executable, str(PEERS), kind, mode], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = self.proc.stdout.readline().decode() if sel.select(20) else ""
        sel.close()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"peer {kind} {mode} did not start: {line!r}")
        self.port = int(line.strip().rsplit(":", 1)[1])

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture
def peer(request):
    started = []

    def start(kind: str, mode: str = "in_step") -> PeerProcess:
        p = PeerProcess(kind, mode)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def adt(patient, control_id: str, **msh) -> bytes:
    text = hl7.build_adt("A08", patient, control_id=control_id)
    if msh:  # MSH-15/16 for enhanced mode: MSH is the first segment, 12 fields so far
        head, rest = text.split("\r", 1)
        fields = head.split("|")
        fields += [""] * (17 - len(fields))
        fields[14], fields[15] = msh.get("accept", ""), msh.get("application", "")
        text = "|".join(fields) + "\r" + rest
    return hl7.encode(text)


def test_python_hl7_server_in_step_every_answer_is_its_own(peer, patient):
    p = peer("python-hl7", "in_step")
    with MLLPClient("127.0.0.1", p.port, read_timeout=2 * READ_TIMEOUT) as c:  # every answer comes
        for _ in range(20):
            cid = new_control_id()
            ack = hl7.parse_ack(c.send(adt(patient, cid)))
            assert (ack.code, ack.control_id) == ("AA", cid)
        assert c.skipped_total == 0 and c.connections == 1


def test_python_hl7_server_answering_the_previous_message_is_flagged(peer, patient):
    p = peer("python-hl7", "previous")
    outcomes = []
    with MLLPClient("127.0.0.1", p.port, read_timeout=READ_TIMEOUT) as c:
        for _ in range(5):
            cid = new_control_id()
            try:
                ack = hl7.parse_ack(c.send(adt(patient, cid)))
            except AckMismatch as e:
                assert str(e).startswith(f"ack_mismatch: no ACK for control id {cid!r}")
                assert "a second ACK for" in str(e) and "already answered" in str(e)
                outcomes.append("ack_mismatch")
            else:
                assert ack.control_id == cid
                outcomes.append("own")
    # a mismatch closes the connection; on a new one this peer answers its first message in step
    assert outcomes == ["own", "ack_mismatch", "own", "ack_mismatch", "own"]


@pytest.mark.parametrize("mode", ["commit", "commit_one_write"])
def test_python_hl7_server_enhanced_mode_the_application_ack_answers(peer, patient, mode):
    p = peer("python-hl7", mode)
    with MLLPClient("127.0.0.1", p.port, read_timeout=2 * READ_TIMEOUT) as c:  # every answer comes
        for _ in range(5):
            cid = new_control_id()
            ack = hl7.parse_ack(c.send(adt(patient, cid, accept="AL", application="AL")))
            assert (ack.code, ack.control_id) == ("AA", cid)
            assert hl7.parse_ack(c.last_commit).code == "CA"
        assert c.skipped_total == 0


def test_a_scenario_against_the_late_peer_fails_as_ack_mismatch(peer, patient, allowlist):
    """The radiology client a scenario uses (RadiologyClient.register -> MLLPClient.send): the first
    registration gets its own AA, the second fails with the classified ack_mismatch the step shows."""
    p = peer("python-hl7", "previous")
    profile = load_profile("virtual", defects=()).with_endpoints({
        "radiology_mllp": Endpoint("radiology_mllp", "mllp", "127.0.0.1", p.port),
        "ehr_fhir": Endpoint("ehr_fhir", "http", "127.0.0.1", 9, base_url="http://127.0.0.1:9/fhir")})
    client = RadiologyClient(profile, load_radiology(), IdentityGuard(allowlist))
    client.mllp.read_timeout = READ_TIMEOUT
    try:
        first = client.register(patient)
        assert first.ack.code == "AA" and first.ack.control_id == hl7.parse(first.message).control_id
        with pytest.raises(AckMismatch, match=r"^ack_mismatch: no ACK for control id 'GR"):
            client.register(patient)
    finally:
        client.close()
