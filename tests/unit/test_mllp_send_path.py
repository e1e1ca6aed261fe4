"""The cheaper MLLP send path (issue 18) keeps every check.

* Vetted payloads: the identity guard remembers the very *immutable* objects it passed (exactly
  ``bytes`` or ``str``), so a load user's ORU checked by ``Payloads`` is not scanned a second time
  at ``MLLPClient.send``. Nothing else gets through unscanned: an equal copy, a changed message, a
  ``bytearray`` changed after its check, a subclass, a message passed under another allowlist, and
  after a refusal nothing is sent at all (the latch comes first).
* The idle-connection probe before a write asks the kernel (TCP state, bytes waiting) instead of a
  peek that raises; a closed, reset or talking peer still goes down the reading path.
"""

from __future__ import annotations

import select
import socket
import threading
import time

import pytest

from genrep.errors import IdentityViolation
from genrep.load.workload import Payloads, load_identity
from genrep.text import identities
from genrep.text.identities import Allowlist, IdentityGuard, TestIdentity
from genrep.transport.mllp import MLLPClient, _idle_and_open, _idle_probe_of

# The personnummer package's documentation example: checksum-valid, NOT on the allowlist.
FOREIGN = "196408233234"


class AckServer:
    """A loopback MLLP server answering AA (MSA-2 = MSH-10) and recording every payload it got."""

    def __init__(self):
        self.received: list[bytes] = []
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.port = self._srv.getsockname()[1]
        self._srv.settimeout(0.2)
        self._stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self._srv.accept()
            except TimeoutError:
                continue
            except OSError:                 # closed
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\x1c\r" in buf:
                    frame, buf = buf.split(b"\x1c\r", 1)
                    payload = frame[frame.index(b"\x0b") + 1:]
                    self.received.append(payload)
                    cid = payload.split(b"\r", 1)[0].split(b"|")[9]
                    conn.sendall(b"\x0bMSH|^~\\&|T|T|G|G|20250101000000||ACK|A" + cid + b"|P|2.5\rMSA|AA|"
                                 + cid + b"\r\x1c\r")

    def close(self):
        self._stop = True
        self._srv.close()


@pytest.fixture
def server():
    s = AckServer()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _nothing_vetted():
    identities.forget_vetted()
    yield
    identities.forget_vetted()


@pytest.fixture
def transport_guard():
    """The transports' guard on the default allowlist, installed so its scans can be counted."""
    guard = IdentityGuard(Allowlist.load())
    identities.install_outbound_guard(guard)
    yield guard
    identities.install_outbound_guard(None)


@pytest.fixture(scope="module")
def payloads():
    return Payloads()


def _number(payloads) -> str:
    return load_identity(payloads.allowlist).number


def test_a_payloads_oru_is_scanned_once_not_again_at_the_transport(server, transport_guard, payloads):
    oru, cid, _acc = payloads.oru_with_accession("127.0.0.1")
    assert identities.is_vetted(oru)
    with MLLPClient("127.0.0.1", server.port, read_timeout=5) as client:
        assert b"MSA|AA|" + cid.encode() in client.send(oru)
    assert transport_guard.checked == 0           # the very object Payloads passed: not scanned again
    assert server.received == [oru]


def test_an_equal_copy_is_scanned_at_the_transport(server, transport_guard, payloads):
    oru, _cid, _acc = payloads.oru_with_accession("127.0.0.1")
    copy = bytes(bytearray(oru))
    assert copy == oru and copy is not oru and not identities.is_vetted(copy)
    with MLLPClient("127.0.0.1", server.port, read_timeout=5) as client:
        client.send(copy)
    assert transport_guard.checked == 1


def test_a_vetted_message_changed_afterwards_is_a_new_object_and_is_refused(server, transport_guard, payloads):
    oru, _cid, _acc = payloads.oru_with_accession("127.0.0.1")
    changed = oru.replace(_number(payloads).encode(), FOREIGN.encode())
    assert changed != oru
    with MLLPClient("127.0.0.1", server.port, read_timeout=5) as client:
        with pytest.raises(IdentityViolation, match="not on the test-identity allowlist"):
            client.send(changed)
    assert server.received == []


def test_a_bytearray_changed_after_its_check_is_scanned_again_and_refused(server, transport_guard, payloads):
    oru, _cid, _acc = payloads.oru_with_accession("127.0.0.1")
    mutable = bytearray(oru)
    payloads.check(mutable, destination="127.0.0.1")        # passes: the allowlisted patient
    assert not identities.is_vetted(mutable)
    at = mutable.index(_number(payloads).encode())
    mutable[at:at + 12] = FOREIGN.encode()                  # the same object, now a real person's number
    with MLLPClient("127.0.0.1", server.port, read_timeout=5) as client:
        with pytest.raises(IdentityViolation):
            client.send(mutable)
    assert server.received == []


def test_memoryviews_and_subclasses_are_never_remembered(payloads):
    oru, _cid, _acc = payloads.oru_with_accession("127.0.0.1")

    class Sneaky(bytes):
        pass

    for payload in (memoryview(oru), Sneaky(oru), bytearray(oru)):
        payloads.check(payload, destination="x")
        assert not identities.is_vetted(payload)
    short = "/DiagnosticReport?identifier=LA1"       # short payloads are simply scanned every time
    payloads.check(short, destination="x")
    assert not identities.is_vetted(short)


def test_a_message_passed_under_another_allowlist_is_scanned_again(server, transport_guard, payloads):
    wider = Allowlist(list(payloads.allowlist.identities) + [TestIdentity(FOREIGN, "personnummer")], "wider.csv")
    oru, _cid, _acc = payloads.oru_with_accession("127.0.0.1")
    message = oru.replace(_number(payloads).encode(), FOREIGN.encode())
    IdentityGuard(wider).check(message, destination="x")    # passes there: FOREIGN is on that list
    assert identities.is_vetted(message, wider) and not identities.is_vetted(message)
    with MLLPClient("127.0.0.1", server.port, read_timeout=5) as client:
        with pytest.raises(IdentityViolation):
            client.send(message)
    assert server.received == []


def test_after_a_refusal_even_a_vetted_message_is_not_sent(server, transport_guard, payloads):
    oru, _cid, _acc = payloads.oru_with_accession("127.0.0.1")
    assert identities.is_vetted(oru)
    with pytest.raises(IdentityViolation):
        payloads.check(f"PID|1||{FOREIGN}", destination="x")
    with MLLPClient("127.0.0.1", server.port, read_timeout=5) as client:
        with pytest.raises(IdentityViolation, match="nothing more is sent"):
            client.send(oru)
    assert server.received == []


def test_payloads_still_refuses_on_its_own():
    """The builder's own check is not skipped: a template holding a foreign number is refused by
    ``Payloads`` before any transport sees it."""
    p = Payloads()
    foreign = TestIdentity(FOREIGN, "personnummer")
    from genrep.text.testdata import patient_for
    p.patient = patient_for(foreign, seed="load")
    with pytest.raises(IdentityViolation):
        p.oru_with_accession("127.0.0.1")


def test_the_vetted_registry_is_bounded_and_forgets_the_oldest(transport_guard):
    first = b"MSH|^~\\&|A|B|C|D|20250101000000||ADT^A04|X1|P|2.5\rPID|1||nothing\r" + b"NTE|1||x\r" * 40
    guard = IdentityGuard(Allowlist.load())
    guard.check(first, destination="x")
    assert identities.is_vetted(first)
    for i in range(identities._VETTED_KEPT):
        guard.check(first + str(i).encode(), destination="x")
    assert not identities.is_vetted(first)
    before = transport_guard.checked
    identities.guard_outbound(first, destination="x")
    assert transport_guard.checked == before + 1          # forgotten: scanned again


# -- the idle-connection probe ----------------------------------------------------------------------

def _pair():
    srv = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(srv.getsockname())
    peer, _ = srv.accept()
    srv.close()
    return client, peer


def _idle(sock) -> bool:
    return _idle_and_open(_idle_probe_of(sock))


@pytest.mark.skipif(not hasattr(select, "poll"), reason="the kernel idle check is a zero-timeout poll, which Windows lacks; there the send path peeks as before (tested by the other MLLP tests)")
def test_idle_probe_says_open_only_for_an_open_connection_with_nothing_to_read():
    client, peer = _pair()
    try:
        assert _idle(client)
        peer.sendall(b"x")
        time.sleep(0.05)
        assert not _idle(client)                            # something to read: the caller reads it
        client.recv(1)
        assert _idle(client)
        peer.close()
        time.sleep(0.05)
        assert not _idle(client)                            # FIN from the peer
    finally:
        client.close()
    client, peer = _pair()
    try:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        peer.close()                                        # RST
        time.sleep(0.05)
        assert not _idle(client)
    finally:
        client.close()
    a, b = socket.socketpair()
    with a, b:
        assert _idle(a)                                     # any stream socket: the kernel tells
        b.close()
        assert not _idle(a)
    assert not _idle_and_open(None)                          # no probe (TLS, no poll): cannot tell, so read


def test_idle_probe_is_not_made_for_tls():
    import ssl
    client, peer = _pair()
    with client, peer:
        wrapped = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).wrap_socket(client, server_hostname="localhost", do_handshake_on_connect=False)
        assert _idle_probe_of(wrapped) is None              # its own buffer may hold what the descriptor does not show


@pytest.mark.skipif(not hasattr(select, "poll"), reason="the kernel idle check is a zero-timeout poll, which Windows lacks")
def test_idle_probe_uses_the_os_poll_under_gevent_monkey_patching(monkeypatch):
    """Under Locust, select.poll is gevent's cooperative poll (its hub: tens of us a call); the
    probe asks a gevent already loaded for the OS's own, and imports none itself."""
    import sys
    import types
    from genrep.transport import mllp
    calls = []
    fake = types.SimpleNamespace(get_original=lambda module, name: calls.append((module, name)) or select.poll)
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "gevent.monkey", fake)
        assert mllp._os_poll() is select.poll
    assert calls == [("select", "poll")]
    made = []
    real = mllp._os_poll

    def counted():
        made.append(1)
        return real()
    client, peer = _pair()
    with client, peer:
        monkeypatch.setattr(mllp, "_os_poll", counted)
        assert _idle(client) and made == [1]               # the probe is made from the OS's poll


def test_unasked_data_on_an_idle_connection_is_kept_and_a_close_is_seen():
    """A frame the peer sent between two messages is still decoded into the buffer, and a peer
    that closed is still seen as closed, as before the probe was made cheaper."""
    srv = socket.create_server(("127.0.0.1", 0))
    try:
        client = MLLPClient("127.0.0.1", srv.getsockname()[1], read_timeout=5)
        client.connect()
        peer, _ = srv.accept()
        assert not client._peer_closed()
        stray = b"MSH|^~\\&|T|T|G|G|20250101000000||ACK|AOLD|P|2.5\rMSA|AA|OLD\r"
        peer.sendall(b"\x0b" + stray + b"\x1c\r")
        time.sleep(0.05)
        assert not client._peer_closed()
        assert list(client._ready) == [stray]
        peer.close()
        time.sleep(0.05)
        assert client._peer_closed()
        client.close()
    finally:
        srv.close()


def test_a_vetted_payload_is_held_until_it_is_sent_and_no_longer(server, transport_guard, payloads):
    """The transport's choke point lets a vetted payload out unscanned and forgets it: the memo
    holds what was built and has not left, not the last 256 messages (~2.5 MB of ORUs cycling
    through the caches). Sent again, it is scanned again, and it is not remembered after that."""
    oru, _cid, _acc = payloads.oru_with_accession("127.0.0.1")
    held = identities._VETTED_HELD
    assert identities.is_vetted(oru) and held >= len(oru)
    before = transport_guard.checked
    with MLLPClient("127.0.0.1", server.port, read_timeout=5) as client:
        client.send(oru)
        assert transport_guard.checked == before                    # vetted: not scanned
        assert not identities.is_vetted(oru)
        assert identities._VETTED_HELD == held - len(oru)
        client.send(oru)
        assert transport_guard.checked == before + 1                # sent again: scanned
        assert not identities.is_vetted(oru)                        # and not remembered
    assert len(server.received) == 2
