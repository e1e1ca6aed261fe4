"""No data lost: the virtual EHR under 10,000 messages over concurrent MLLP connections.

One fresh EHR (own process, own store) takes 10,000 messages from 8 threads, each on its own
persistent MLLP connection. A deterministic tenth of them must be refused (unknown patient, raw CR
inside OBX-5, MSH without MSH-10, over-long accession, UTF-8 bytes declared 8859/1, not HL7 at
all) and one in a hundred is an exact resend of an earlier message (same MSH-10, a "lost ACK"
retry). Every message's control id, accession and ACK code are recorded; afterwards every
accession is read back over FHIR and the ledger must balance:

- every message got exactly one ACK, for its own control id (nothing cross-wired, nothing extra);
- AA + AE + AR = 10,000; every message the EHR had to refuse got AE/AR, every other one AA;
- every AA'd report is readable by accession (exactly one, version 1, even after its resend) and
  a sample's text equals the text sent; every refused report is absent (also under the shortened
  accession for the over-long ones).

Rates are printed (``pytest -s``) and carried in assertion messages.

A different message that reuses a control id is a separate test: it must be refused (AE), never
answered from the resend cache with an AA that stores nothing (a RIS counter reset after a restart
or failover does this). A refusal the EHR could not parse still names the message in MSA-2.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from genrep import hl7
from genrep.text import fidelity
from genrep.errors import TransportError
from genrep.integrations.radiology import new_accession, new_control_id
from genrep.text.testdata import patient_for

from .conftest import HTTP_TIMEOUT, adt, mllp_client, register, reports_for

N_MESSAGES = 10_000
N_THREADS = 8
REFUSE_EVERY = 10        # message i with i % 10 == 9 must be refused: 10 %
RESEND_EVERY = 100       # message i with i % 100 == 50 is an exact resend of an earlier one: 1 %
RESEND_LAG = 5           # ... of the message sent 5 places earlier on the same connection
TEXT_SAMPLE = 400        # AA'd reports whose text is read back and compared
READERS = 4
# Hang guards, not speed floors (idle: ~2 s to send, ~10 s to read back; a CPU-bound CI host is
# many times slower and can starve a process for seconds):
SEND_BOUND = 300.0       # seconds for one sender thread to finish (its every wait is bounded too)
READ_BOUND = 300.0       # seconds for the whole read-back
MLLP_READ_TIMEOUT = 30.0 # one ACK
ACCESSION_MAX = 20       # contracts/radiology: accession VARCHAR(20)

REFUSALS = ("unknown-patient", "raw-cr-in-obx5", "missing-msh10", "accession-too-long",
            "charset-mismatch", "not-hl7")

LINES = ("Slätröntgen thorax, frontal och sida.",
         "Ingen pneumothorax. Inga pleuravätskor.",
         "  Indraget: hjärtat ej förstorat, åäö ÅÄÖ é.",
         "",
         "Sammanfattning: ingen fraktur, utan anmärkning.",
         "Tecken: | ^ ~ \\ & ska komma fram oförändrade.")


@dataclass
class Planned:
    index: int
    kind: str                # "report", "resend" or one of REFUSALS
    control_id: str | None   # the MSH-10 sent (None when the message has none)
    accession: str | None    # the accession sent (None when there is none)
    text: str | None
    payload: bytes
    resend_of: int | None = None
    code: str | None = None
    ack_control_id: str | None = None
    ack_raw: bytes | None = None
    acks: int = 0
    error: str | None = None

    @property
    def must_refuse(self) -> bool:
        return self.kind in REFUSALS


def _text(i: int) -> str:
    rng = random.Random(i)
    lines = [f"Undersökning {i}: {LINES[0]}"]
    lines += [rng.choice(LINES) for _ in range(rng.randint(0, 5))]
    return "\n".join(lines)


def _expected_stored(text: str) -> str:
    return "\n".join(hl7.split_lines(text))


def _oru(patient, text: str, accession: str, control_id: str, **kw) -> str:
    return hl7.build_oru(patient, hl7.Report(accession=accession, text=text), control_id=control_id,
                         **kw)


def _refused(kind: str, i: int, patient, stranger) -> Planned:
    text = _text(i)
    accession, control_id = new_accession(), new_control_id()
    if kind == "unknown-patient":
        payload = hl7.encode(_oru(stranger, text, accession, control_id))
    elif kind == "raw-cr-in-obx5":  # a faulty sender: a CR inside the value starts a non-segment
        text = f"Första raden {i}\rIngen fraktur."
        payload = hl7.encode(_oru(patient, text, accession, control_id, escape_cr=False))
    elif kind == "missing-msh10":
        msg = _oru(patient, text, accession, "TOBEREMOVED")
        assert msg.count("|TOBEREMOVED|") == 1
        payload = hl7.encode(msg.replace("|TOBEREMOVED|", "||", 1))
        control_id = None
    elif kind == "accession-too-long":
        accession = (accession + f"L{i}" + "X" * 30)[:ACCESSION_MAX + 1 + i % 5]
        payload = hl7.encode(_oru(patient, text, accession, control_id))
    elif kind == "charset-mismatch":  # UTF-8 bytes, MSH-18 says 8859/1
        payload = _oru(patient, text, accession, control_id, charset="8859/1").encode("utf-8")
    elif kind == "not-hl7":
        payload = f"PID|1||nothing-here-{i}\rOBX|1|TX|||{text}\r".encode()
        accession = control_id = None
    else:
        raise AssertionError(kind)
    return Planned(i, kind, control_id, accession, text, payload)


def _plan(patient, stranger) -> list[Planned]:
    plan: list[Planned] = []
    refusals = 0
    for i in range(N_MESSAGES):
        if i % REFUSE_EVERY == REFUSE_EVERY - 1:
            plan.append(_refused(REFUSALS[refusals % len(REFUSALS)], i, patient, stranger))
            refusals += 1
            continue
        if i % RESEND_EVERY == RESEND_EVERY // 2:
            # the original is the message RESEND_LAG * N_THREADS earlier: same thread, sent before
            orig = plan[i - RESEND_LAG * N_THREADS]
            assert orig.kind == "report"
            plan.append(Planned(i, "resend", orig.control_id, orig.accession, orig.text,
                                orig.payload, resend_of=orig.index))
            continue
        text, accession, control_id = _text(i), new_accession(), new_control_id()
        convention = hl7.CONVENTIONS[i % len(hl7.CONVENTIONS)]
        payload = hl7.encode(_oru(patient, text, accession, control_id, convention=convention))
        plan.append(Planned(i, "report", control_id, accession, text, payload))
    return plan


def _sender(info: dict, items: list[Planned], patient, failures: list[str]) -> None:
    """Send ``items`` in order on one persistent connection, record each ACK, then a probe."""
    try:
        with mllp_client(info, read_timeout=MLLP_READ_TIMEOUT) as client:
            for p in items:
                try:
                    raw = client.send(p.payload)
                except TransportError as exc:  # recorded, asserted on below
                    p.error = f"{type(exc).__name__}: {exc}"
                    continue
                ack = hl7.parse_ack(raw)
                p.acks += 1
                p.code, p.ack_control_id, p.ack_raw = ack.code, ack.control_id, raw
            # nothing may be left over: an extra ACK for any message would come before the
            # probe's own (the ACKs of one connection come in order)
            probe = new_control_id()
            ack = hl7.parse_ack(client.send(adt(patient, "A08", control_id=probe)))
            if (ack.code, ack.control_id) != ("AA", probe):
                failures.append(f"the closing probe got {ack!r}, not its own AA: an extra ACK?")
            connections = client.connections
            if connections != 1:
                failures.append(f"a sender needed {connections} connections (one expected)")
    except Exception as exc:  # noqa: BLE001 - a thread must report, not vanish
        failures.append(f"sender crashed: {type(exc).__name__}: {exc}")


def _read_back(info: dict, accessions: list[str], text_ids: set[str]):
    """accession -> (total, [resource], text or None), read by READERS threads."""
    local = threading.local()
    base = info["fhir_base"]

    def session() -> requests.Session:
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.trust_env = False  # loopback: no proxy lookup per request (a quarter of its cost)
        return local.s

    def one(accession: str):
        s = session()
        r = s.get(f"{base}/DiagnosticReport", params={"identifier": accession}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, (accession, r.status_code, r.text[:300])
        body = r.json()
        resources = [e["resource"] for e in body.get("entry", [])]
        text = None
        if accession in text_ids and len(resources) == 1:
            url = resources[0]["presentedForm"][0]["url"]
            t = s.get(f"{base}/{url}", headers={"Accept": "text/plain"}, timeout=HTTP_TIMEOUT)
            assert t.status_code == 200, (accession, t.status_code, t.text[:300])
            text = t.content.decode("utf-8")
        return accession, (body.get("total"), resources, text)

    with ThreadPoolExecutor(READERS) as pool:
        return dict(pool.map(one, accessions, timeout=READ_BOUND))


@pytest.mark.heavy  # ~14 s of CPU here and as much in the EHR: make test runs it, make test-fast does not
@pytest.mark.timeout(int(SEND_BOUND + READ_BOUND) + 120)  # the bounds above fail it, not the default 120 s
def test_no_data_lost_under_10000_concurrent_messages(start_ehr, allowlist):
    _profile, info, _sim = start_ehr()
    patient = patient_for(allowlist.pick(0), seed="no-data-lost")
    stranger = patient_for(allowlist.pick(1), seed="never-registered")  # never sent an ADT
    assert patient.identifier != stranger.identifier
    with mllp_client(info) as c:
        assert hl7.parse_ack(c.send(adt(patient, "A04"))).code == "AA"

    plan = _plan(patient, stranger)
    assert len(plan) == N_MESSAGES
    per_thread = [plan[k::N_THREADS] for k in range(N_THREADS)]
    failures: list[str] = []
    threads = [threading.Thread(target=_sender, args=(info, items, patient, failures), daemon=True,
                                name=f"mllp-sender-{k}") for k, items in enumerate(per_thread)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, t0 + SEND_BOUND - time.monotonic()))
    send_s = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads), f"senders still running after {SEND_BOUND} s"
    assert not failures, failures
    rate = N_MESSAGES / send_s

    # -- every message: exactly one ACK, for itself -----------------------------------------
    errors = [(p.index, p.kind, p.error) for p in plan if p.error]
    assert not errors, f"{len(errors)} messages without an ACK: {errors[:5]}"
    assert all(p.acks == 1 for p in plan)
    codes = {c: sum(p.code == c for p in plan) for c in ("AA", "AE", "AR")}
    assert sum(codes.values()) == N_MESSAGES, codes
    # an ACK never names another message; an AA always names its own; a refusal names the
    # message too whenever its MSH-10 is readable (even when the body does not parse or the
    # bytes contradict MSH-18), so a sender can tie every AE to what it sent
    wrong_id = [(p.index, p.kind, p.control_id, p.ack_control_id) for p in plan
                if p.ack_control_id and p.ack_control_id != p.control_id]
    assert not wrong_id, f"ACKs for another message's control id: {wrong_id[:5]}"
    unnamed_aa = [(p.index, p.kind) for p in plan if p.code == "AA" and p.ack_control_id != p.control_id]
    assert not unnamed_aa, f"AA without the message's control id: {unnamed_aa[:5]}"
    unnamed = {}
    for p in plan:
        if p.control_id and not p.ack_control_id:
            unnamed[p.kind] = unnamed.get(p.kind, 0) + 1
    assert not unnamed, f"refusals with an empty MSA-2 although MSH-10 was readable: {unnamed}"

    # -- what had to be refused was refused, and only that ----------------------------------
    refused_wrongly = [(p.index, p.kind, p.code) for p in plan if not p.must_refuse and p.code != "AA"]
    accepted_wrongly = [(p.index, p.kind, p.code) for p in plan if p.must_refuse and p.code not in ("AE", "AR")]
    assert not refused_wrongly, f"valid messages refused: {refused_wrongly[:5]}"
    assert not accepted_wrongly, f"messages that had to be refused were not: {accepted_wrongly[:5]}"
    for p in plan:
        if p.kind == "resend":  # the resend of a "lost" ACK gets the very same ACK
            assert p.ack_raw == plan[p.resend_of].ack_raw, p.index
    by_kind = {k: sum(p.kind == k for p in plan) for k in ("report", "resend", *REFUSALS)}

    # -- read back every accession over FHIR ------------------------------------------------
    stored_ok = [p for p in plan if p.kind == "report"]
    refused_acc = [p.accession for p in plan if p.must_refuse and p.accession]
    shortened = [p.accession[:ACCESSION_MAX] for p in plan if p.kind == "accession-too-long"]
    sample = random.Random(8).sample(stored_ok, TEXT_SAMPLE)
    text_ids = {p.accession for p in sample}
    lookups = [p.accession for p in stored_ok] + refused_acc + shortened
    assert len(set(lookups)) == len(lookups)
    t1 = time.monotonic()
    found = _read_back(info, lookups, text_ids)
    read_s = time.monotonic() - t1
    read_rate = (len(lookups) + len(text_ids)) / read_s
    numbers = (f"{N_MESSAGES} messages over {N_THREADS} connections in {send_s:.1f} s "
               f"({rate:.0f} msg/s); {len(lookups)} searches + {len(text_ids)} text reads in "
               f"{read_s:.1f} s ({read_rate:.0f} req/s); ACKs {codes}; kinds {by_kind}")
    print("\n" + numbers)

    missing = [(p.index, p.accession, found[p.accession][0]) for p in stored_ok
               if found[p.accession][0] != 1 or len(found[p.accession][1]) != 1]
    assert not missing, f"AA'd but not readable exactly once: {missing[:5]} ({numbers})"
    for p in stored_ok:
        [res] = found[p.accession][1]
        assert res["identifier"][0]["value"] == p.accession
        assert res["meta"]["versionId"] == "1", (p.index, "a resend stored a second version")
        assert res["status"] == "final"
    leaked = [(a, found[a][0]) for a in refused_acc + shortened if found[a][0] != 0 or found[a][1]]
    assert not leaked, f"refused but stored: {leaked[:5]} ({numbers})"

    # -- the sample's text is what was sent -------------------------------------------------
    for p in sample:
        stored = found[p.accession][2]
        expected = _expected_stored(p.text)
        if stored != expected:
            result = fidelity.compare(p.text, stored or "")
            raise AssertionError(f"text of message {p.index} ({p.accession}) differs: "
                                 f"{result.summary()}\n{result.diff()}")

    # -- the EHR's own counters agree -------------------------------------------------------
    health = requests.get(f"http://{info['host']}:{info['fhir_port']}/admin/health",
                          timeout=HTTP_TIMEOUT).json()
    counters = health["counters"]
    extra = 1 + N_THREADS  # the A04 before, one A08 probe per connection after
    assert counters["messages"] == N_MESSAGES + extra, (counters, numbers)
    assert counters["AA"] == codes["AA"] - by_kind["resend"] + extra, counters  # resends: from the cache
    assert (counters["AE"], counters["AR"]) == (codes["AE"], codes["AR"]), counters


def test_reused_control_id_with_other_content_is_never_aa_and_lost(ehr, patient):
    _profile, info = ehr
    register(info, patient)
    control_id = new_control_id()
    first, second = new_accession(), new_accession()
    with mllp_client(info) as c:
        ack1 = hl7.parse_ack(c.send(hl7.encode(_oru(patient, "Första: ingen fraktur.", first, control_id))))
        ack2 = hl7.parse_ack(c.send(hl7.encode(_oru(patient, "Andra: inga fynd.", second, control_id))))
    assert ack1.code == "AA"
    assert reports_for(info, first)
    # the safe outcomes: refused, or accepted and stored; never AA with nothing stored
    assert ack2.code in ("AE", "AR") or reports_for(info, second), (ack2, "AA but not stored")
    assert ack2.code == "AE" and "already used" in ack2.text, ack2
    assert ack2.control_id == control_id
