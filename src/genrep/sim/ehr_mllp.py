"""The virtual EHR's MLLP side: framing, inbound validation, resend detection and ACKs.

``MLLPInbound`` turns one framed payload into its ACK (and, for an accepted report, the commit that
stores it); ``MLLPProtocol`` is one connection on the asyncio loop. What a valid message means
(patients, encounters, orders, reports) is ``ehr_store``'s. This is the hot path that
``genrep bench mllp`` measures.

Clean behaviour (what a correct receiver does on the wire):
- frames reassembled however bytes arrive; a frame over ``max_message_bytes`` gets AR, never cut;
- MSH-18 honoured (``8859/1``, ``UNICODE UTF-8``); bytes contradicting it get AE, never mojibake;
- a malformed message gets AE (or AR when it is not HL7 at all), the connection stays usable;
- a resent MSH-10 gets the same ACK and stores nothing twice; a different message under a used
  control id gets AE.
- enhanced mode when the message asks for it (MSH-15 or MSH-16 valued, HL7 table 0155): a commit
  ACK first, CA, once the message is safely received (its frame complete and its MSH readable; this
  receiver never refuses at commit level), when MSH-15 is AL or SU; then the application ACK
  (AA/AE/AR, the same one original mode sends) per MSH-16: AL always, ER only on error, SU only on
  success, NE (or empty) never. A resend gets its CA and the remembered answer again. Original-mode
  messages (both empty) and frames whose MSH cannot be read get one ACK, as before.
Defect ``radiology-charset-ignored`` decodes everything as UTF-8 whatever MSH-18 says.
Defect ``radiology-ack-misaligned`` answers one message behind on each connection, as node-hl7-server
was seen to (docs/interop.md): each message gets the ACK of the message before it on that connection,
the first an AA naming no message (MSA-2 empty); every message is still processed and stored as usual.
"""

from __future__ import annotations

import asyncio

from genrep import hl7
from genrep.errors import HL7Error
from genrep.hl7.ack import ack_request
from genrep.transport.mllp import FrameDecoder, FrameTooLarge, frame
from genrep.sim.ehr_store import Store


class MLLPInbound:
    """One inbound message -> its ACK. ``apply(message) -> (code, note, commit)`` is what the
    message means to the EHR (``ehr_store.ClinicalMessages.apply``)."""

    def __init__(self, store: Store, apply, *, defects: dict[str, int | None], max_message_bytes: int):
        self.store = store
        self.apply = apply
        self.defects = defects
        self.max_message_bytes = max_message_bytes

    def protocol(self) -> asyncio.Protocol:
        return MLLPProtocol(self)

    @property
    def misaligned(self) -> bool:
        """Defect ``radiology-ack-misaligned``: each connection answers one message behind."""
        return "radiology-ack-misaligned" in self.defects

    def unnamed_ack(self) -> bytes:
        """The answer a one-behind connection gives its first message: an AA naming no message."""
        return hl7.build_ack(None, "AA").encode("ascii")

    def too_large_ack(self) -> bytes:
        self.store.counters["frames_too_large"] += 1
        self.store.counters["AR"] += 1
        ack = hl7.build_ack(None, "AR", f"message exceeds the maximum of {self.max_message_bytes} "
                            "bytes; nothing stored", error_code="207")
        return ack.encode("ascii", errors="replace")

    def process(self, payload: bytes) -> tuple[bytes, ...]:
        """One inbound message -> its answer frames' payloads (encoded in the message's own charset):
        one ACK in original mode; in enhanced mode the commit ACK and/or the application ACK."""
        acks, commit = self.receive(payload)
        if commit is not None:
            commit()
        return acks

    def receive(self, payload: bytes):
        """Validate one message and build its answers; return (answer payloads, commit or None):
        original mode one ACK, enhanced mode what MSH-15/16 ask for (``_enhanced``).

        Everything that can refuse a message is checked before the ACK is built; the commit
        (extracting the report text and storing it) cannot fail and runs right after the ACK is
        written, before the event loop serves any other request, so a read-back can never see
        the state between ACK and store. This takes the text extraction off the ACK's critical
        path (see ``genrep bench mllp``)."""
        commit = None
        counters = self.store.counters
        counters["messages"] += 1
        message = header = key = None
        charset = "ascii"
        try:
            if "radiology-charset-ignored" in self.defects:
                text = payload.decode("utf-8", errors="replace")
            else:
                text = hl7.decode(payload)
            message = header = hl7.parse(text)
            charset = hl7.CHARSETS.get(message.charset, "utf-8")
            msh = message.msh
            key = (msh.field(3), msh.field(4), message.control_id)
            seen = self.store.acks.get(key)
            if seen is not None and seen[0] == text:  # a resend (the sender lost our ACK)
                counters["duplicates"] += 1
                return self._enhanced(payload, header, "AA", seen[1].encode(charset, errors="replace"), charset), None
            if seen is not None:
                code, note = "AE", (f"control id {message.control_id!r} was already used by this sender "
                                    "for a different message: refused, nothing stored")
            else:
                code, note, commit = self.apply(message)
        except hl7.CharsetMismatch as exc:
            code, note = "AE", str(exc)
        except HL7Error as exc:
            code, note = ("AE" if message is not None or payload.startswith(b"MSH") else "AR"), str(exc)
        except Exception as exc:  # never crash on input; say what happened
            code, note = "AE", f"internal error processing message: {type(exc).__name__}: {exc}"
        if header is None:  # refused before parsing: still name the message in MSA-2 if MSH is readable
            header = hl7.parse_header(payload)
            if header is not None:
                charset = hl7.CHARSETS.get(header.charset, "utf-8")
        counters[code] += 1
        ack = hl7.build_ack(header, code, note[:200], error_code=None if code == "AA" else "207")
        if code == "AA":
            self.store.remember_ack(key, text, ack)
        else:
            commit = None
        try:
            data = ack.encode(charset)
        except UnicodeEncodeError:
            data = ack.encode(charset, errors="replace")
        return self._enhanced(payload, header, code, data, charset), commit

    @staticmethod
    def _enhanced(payload: bytes, header, code: str, ack: bytes, charset: str) -> tuple[bytes, ...]:
        """The answers to one message: ``(ack,)`` in original mode (MSH-15 and MSH-16 empty, or no
        readable MSH); in enhanced mode the commit ACK (CA: the message is safely received) when
        MSH-15 is AL or SU, then ``ack``, the application ACK, as MSH-16 asks (AL always, ER on
        error only, SU on success only, NE or empty never)."""
        if header is None:
            return (ack,)
        fields = header.msh.fields  # MSH-n at index n: the common case, MSH-15/16 empty, without a scan
        if not any(fields[15:17]):
            return (ack,)
        request = ack_request(payload)
        if request is None or not request.enhanced:
            return (ack,)
        out = []
        if request.accept_ack in ("AL", "SU"):
            out.append(hl7.build_ack(header, "CA").encode(charset, errors="replace"))
        wanted = request.application_ack
        if wanted == "AL" or (wanted == "ER" and code != "AA") or (wanted == "SU" and code == "AA"):
            out.append(ack)
        return tuple(out)


class MLLPProtocol(asyncio.BufferedProtocol):
    """One MLLP connection. A protocol rather than streams: no per-read task switching, which
    matters at thousands of messages per second (see ``genrep bench mllp``). Buffered: reads go
    into one reusable buffer. A plain Protocol gets a fresh 256 KiB ``recv`` buffer per read,
    which glibc maps and unmaps each time (mmap + mremap + munmap and page faults per message:
    a third of the server's CPU in the benchmark)."""

    READ_BUFFER = 256 * 1024

    def __init__(self, inbound: MLLPInbound):
        self.inbound = inbound
        self.decoder = FrameDecoder(max_size=inbound.max_message_bytes)
        self.transport: asyncio.Transport | None = None
        self._buffer = memoryview(bytearray(self.READ_BUFFER))
        # defect radiology-ack-misaligned: the ACK held back for the next message on this connection
        self._behind: bytes | None = inbound.unnamed_ack() if inbound.misaligned else None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        while True:
            try:
                payloads = self.decoder.feed(data)
            except FrameTooLarge as exc:  # answer the frames before it, AR it, go on after it
                for payload in exc.payloads:
                    self.answer(payload)
                self.write(self.inbound.too_large_ack())
                data = b""
                continue
            for payload in payloads:
                self.answer(payload)
            return

    def answer(self, payload: bytes) -> None:
        acks, commit = self.inbound.receive(payload)
        for ack in acks:
            self.write(ack)  # the ACK (enhanced mode: the CA, then the application ACK) goes out first ...
        if commit is not None:
            commit()  # ... then the store, before this event loop serves anything else

    def write(self, ack: bytes) -> None:
        if self._behind is not None:  # defect radiology-ack-misaligned: send the one held, hold this one
            ack, self._behind = self._behind, ack
        if self.transport is not None:
            self.transport.write(frame(ack))

    def connection_lost(self, exc) -> None:
        if self.decoder.in_frame:  # a frame that never ended: nothing stored, no ACK
            self.inbound.store.counters["incomplete_frames"] += 1
        self.transport = None
