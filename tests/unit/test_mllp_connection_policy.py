"""Connection policies and the resend rule (``MLLPClient``, profile ``connection:`` / ``resend:``),
over real loopback sockets.

The peer that matters: one that closes the connection after each ACK (hl7apy's MLLPServer, many
engines' one-message-per-connection mode). Here it waits 200 ms after its ACK before closing, so
the race the old client lost about every other time is lost every time: the next message is
written into a connection the peer is about to close unread (the close then resets it).
(Measured with the old client: 100 of 200 sends failed against such a peer closing 5 ms after.)
"""

from __future__ import annotations

import textwrap

import pytest

from genrep import hl7
from genrep.config.profile import MLLP_CONNECTIONS, MLLP_RESENDS, load_profile
from genrep.errors import ConfigError, ConnectionClosed
from genrep.transport import mllp
from genrep.transport.endpoints import mllp_client_for
from genrep.transport.mllp import MLLPClient, frame

from test_mllp_ack_matching import Peer, ack, message, msh10


def close_after_ack(state, payload):
    return [frame(ack(msh10(payload))), 0.2, None]


def run(peer: Peer, n: int, **kw) -> tuple[int, MLLPClient]:
    failures = 0
    c = MLLPClient("127.0.0.1", peer.port, read_timeout=2, **kw)
    for i in range(n):
        try:
            got = hl7.parse_ack(c.send(message(f"K{i}")))
            assert got.control_id == f"K{i}"
        except ConnectionClosed:
            failures += 1
    c.close()
    return failures, c


def test_per_message_never_races_a_peer_that_closes_after_each_ack():
    with Peer(close_after_ack) as peer:
        failures, c = run(peer, 40, connection="per_message")
    assert failures == 0 and c.connections == 40 and c.resends == 0
    assert peer.received == [f"K{i}" for i in range(40)]          # each message once


def test_persistent_adapts_after_the_first_close_at_most_one_send_fails():
    with Peer(close_after_ack) as peer:
        failures, c = run(peer, 40)
    assert failures == 1 and c.adapted                              # the one that raced the close
    assert peer.received == [f"K{i}" for i in range(40) if i != 1]  # K1 was never read: reset unread


def test_the_raced_send_says_what_happened_and_is_not_resent():
    with Peer(close_after_ack) as peer:
        c = MLLPClient("127.0.0.1", peer.port, read_timeout=2)
        c.send(message("A0"))
        with pytest.raises(ConnectionClosed, match="right after we wrote on a connection it had answered on: a "
                                                   "peer that closes after each ACK; .* not resent"):
            c.send(message("A1"))
        assert c.resends == 0
        c.close()


def test_resend_unacknowledged_resends_the_raced_message_once_with_the_same_control_id():
    with Peer(close_after_ack) as peer:
        failures, c = run(peer, 40, resend="unacknowledged")
    assert failures == 0 and c.resends == 1
    assert peer.received == [f"K{i}" for i in range(40)]           # K1 read once: its first copy never was


def test_nothing_is_resent_once_an_answer_byte_came_back():
    def half_answer_then_close(state, payload):
        return [frame(ack(msh10(payload)))[:20], None]

    with Peer(half_answer_then_close) as peer:
        c = MLLPClient("127.0.0.1", peer.port, read_timeout=2, resend="unacknowledged")
        with pytest.raises(ConnectionClosed, match="in the middle of a frame"):
            c.send(message("H1"))
        assert c.resends == 0 and peer.received == ["H1"]


def test_a_peer_that_closes_without_answering_is_resent_only_under_the_policy():
    def swallow(state, payload):
        return [None]

    with Peer(swallow) as peer:
        with pytest.raises(ConnectionClosed, match="without answering"):
            MLLPClient("127.0.0.1", peer.port, read_timeout=2).send(message("S1"))
        assert peer.received == ["S1"]
        c = MLLPClient("127.0.0.1", peer.port, read_timeout=2, resend="unacknowledged")
        with pytest.raises(ConnectionClosed, match="without answering"):
            c.send(message("S2"))
        assert c.resends == 1 and peer.received == ["S1", "S2", "S2"]   # once more, bounded


class BreaksWhileWriting(MLLPClient):
    """The first write breaks after half the frame left this host (a reset while sending)."""

    breaks = 1

    def _write(self, sock, data):
        if self.breaks:
            self.breaks -= 1
            sock.sendall(data[:len(data) // 2])
            self.close()
            raise mllp._NotWritten(ConnectionClosed("closed the connection while we were sending"))
        super()._write(sock, data)


def test_a_frame_whose_end_never_left_is_always_resent_it_cannot_have_been_read():
    with Peer(lambda state, payload: [frame(ack(msh10(payload)))]) as peer:
        c = BreaksWhileWriting("127.0.0.1", peer.port, read_timeout=2)
        assert hl7.parse_ack(c.send(message("W1"))).control_id == "W1"
        assert c.resends == 1 and c.last_resent and c.connections == 2
        c.close()
    assert peer.received == ["W1"]                                   # the half frame is no message


def test_policies_are_validated():
    with pytest.raises(ValueError, match="connection must be one of"):
        MLLPClient("127.0.0.1", 1, connection="pooled")
    with pytest.raises(ValueError, match="resend must be one of"):
        MLLPClient("127.0.0.1", 1, resend="always")
    assert MLLP_CONNECTIONS == mllp.CONNECTION_POLICIES and MLLP_RESENDS == mllp.RESEND_POLICIES


# ---------------------------------------------------------------- the profile setting
def _profile(tmp_path, endpoint: str):
    path = tmp_path / "peer.yaml"
    path.write_text(textwrap.dedent("""\
        name: peer
        kind: external
        endpoints:
          radiology_mllp:
            protocol: mllp
            host: ris-test.example
            port: 2575
        """) + textwrap.indent(textwrap.dedent(endpoint), "    "), encoding="utf-8")
    return load_profile(str(path))


def test_profile_sets_the_policy_on_the_client(tmp_path):
    profile = _profile(tmp_path, "connection: per_message\nresend: unacknowledged\n")
    ep = profile.endpoint("radiology_mllp")
    assert (ep.connection, ep.resend) == ("per_message", "unacknowledged")
    c = mllp_client_for(profile, "radiology_mllp")
    assert (c.connection, c.resend) == ("per_message", "unacknowledged")
    # what genrep writes for its own subprocesses (load users, mutate) carries it too
    assert ep.as_profile_data() == {"protocol": "mllp", "host": "ris-test.example", "port": 2575,
                                    "connection": "per_message", "resend": "unacknowledged"}


def test_profile_default_is_persistent_never_resent(tmp_path):
    ep = _profile(tmp_path, "").endpoint("radiology_mllp")
    assert (ep.connection, ep.resend) == ("persistent", "never")
    assert "connection" not in ep.as_profile_data()


def test_profile_refuses_an_unknown_policy_naming_key_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"peer\.yaml:8, key 'endpoints\.radiology_mllp\.connection': must be "
                                          r"one of persistent, per_message; got 'pooled'"):
        _profile(tmp_path, "connection: pooled\n")


def test_profile_refuses_the_setting_on_an_http_endpoint(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nkind: external\nendpoints:\n  ehr_fhir:\n    protocol: http\n"
                    "    base_url: https://ehr-test.example/fhir\n    connection: per_message\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="connection is an MLLP connection setting"):
        load_profile(str(path))
