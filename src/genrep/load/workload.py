"""What the Locust users in ``load/`` send, as library code (the Locust files stay thin).

Nothing here imports Locust or gevent: payloads, the per-user operation schedule, the settings the
runner passes through environment variables, and the pass/fail rule of the ``quitting`` listener.
Every payload is built for an allowlisted test identity and passes ``IdentityGuard.check`` before
it is returned; URLs are checked against the hosts the runner allowed. ``HttpRoute`` is what an HTTP
load user may send and where: every request passes it before a byte is written, and a redirect is
never followed (Locust's client would otherwise resend the request, body and all, to wherever the
``Location`` points: another host, or plain http).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from genrep import hl7
from genrep.errors import ConfigError
from genrep.hl7.ack import AckRequest, ack_request, is_plain_aa
from genrep.text.identities import Allowlist, IdentityGuard, RunIds, TestIdentity
from genrep.text.identity_template import VettedTemplate
from genrep.text.testdata import patient_for

# The ORU sent under load: 55 lines with å/ä/ö, 9.7 KB encoded (the size of the 2024 reports [A4]).
ORU_TEXT = "\n".join(f"{i:02d} Ingen fraktur. Inga tecken till blödning i höger lårben; ej luxation, "
                     f"oförändrat sedan {2000 + i}. Normalstort hjärta utan anmärkning." for i in range(55))
_IDS = RunIds()  # letters only in the tag: ids never hold a personnummer-shaped digit run

# open slots of the ORU template (control characters: never in a built message otherwise;
# MSH-18 is UTF-8, so the filled-in text is encoded as UTF-8)
_CONTROL_SLOT, _ACCESSION_SLOT = "\x01CID\x01", "\x01ACC\x01"

# Locust's exit code after an identity refusal: not 0 or 1 (SLAs met or missed), because the run did
# not finish; the runner reports any other code as a failed run, with the log's tail.
IDENTITY_STOP_EXIT = 3

ENV_VARS = ("GENREP_LOAD_FHIR", "GENREP_LOAD_MLLP_HOST", "GENREP_LOAD_MLLP_PORT", "GENREP_LOAD_API",
            "GENREP_LOAD_PATIENT_ID", "GENREP_LOAD_ACCESSION")


def load_identity(allowlist: Allowlist) -> TestIdentity:
    """The test patient the runner registers and the load reads (same choice on both sides)."""
    return allowlist.pick(0, kind="personnummer")


def smooth_schedule(weights: dict[str, int]) -> list[str]:
    """One cycle of a smooth weighted round robin: every name once before any repeats
    ({a: 2, b: 1} -> [a, b, a]), so even a short run exercises every operation."""
    current = {k: 0 for k in weights}
    total = sum(weights.values())
    out = []
    for _ in range(total):
        for k, w in weights.items():
            current[k] += w
        best = max(current, key=lambda k: current[k])
        current[best] -= total
        out.append(best)
    return out


def operation_cycle(weights: dict[str, int], rng: random.Random | None = None):
    """An endless schedule for one user, starting at a random point of the cycle."""
    cycle = smooth_schedule(weights)
    start = (rng or random).randrange(len(cycle))
    return itertools.cycle(cycle[start:] + cycle[:start])


def new_id(prefix: str = "LD") -> str:
    """Unique per process and run, 14 characters (fits a VARCHAR(20) accession)."""
    return f"{prefix}{_IDS.tag}{_IDS.next() % 1_000_000:06d}P{_IDS.pid % 100:02d}"[:20]  # at most 6 digits in a row


@dataclass(frozen=True)
class LoadSettings:
    fhir: str
    api: str
    mllp_host: str
    mllp_port: int
    patient_id: str
    accession: str
    allowed_hosts: frozenset[str]
    timeout: float
    users: int
    duration_s: float
    profile: str = ""      # load/NAME.py: selects the contract's per-profile users
    out_dir: str = ""      # where the users record what the runner checks afterwards (AA'd accessions)
    profile_file: str = ""  # the environment profile as the runner uses it (TLS, tokens): see write_effective_profile
    ramp_s: float = 0.0    # the profile's ramp (contracts/load.yaml profiles.NAME.ramp): the steady phase after it
    window_s: float = 1.0  # the window of the per-window figures (genrep.load.windows)

    @classmethod
    def from_env(cls, env=None) -> "LoadSettings":
        env = os.environ if env is None else env
        missing = [k for k in ENV_VARS if not env.get(k)]
        if missing:
            raise ConfigError(f"load settings missing: {', '.join(missing)} (run through `genrep load`, "
                              "which starts the environment and sets them)")
        allowed = frozenset(h for h in env.get("GENREP_LOAD_ALLOWED_HOSTS", "127.0.0.1,localhost,::1").split(",") if h)
        s = cls(fhir=env["GENREP_LOAD_FHIR"].rstrip("/"), api=env["GENREP_LOAD_API"].rstrip("/"),
                mllp_host=env["GENREP_LOAD_MLLP_HOST"], mllp_port=int(env["GENREP_LOAD_MLLP_PORT"]),
                patient_id=env["GENREP_LOAD_PATIENT_ID"], accession=env["GENREP_LOAD_ACCESSION"],
                allowed_hosts=allowed, timeout=float(env.get("GENREP_LOAD_TIMEOUT", "10")),
                users=int(env.get("GENREP_LOAD_USERS", "1")),
                duration_s=float(env.get("GENREP_LOAD_DURATION", "60")),
                profile=env.get("GENREP_LOAD_PROFILE", ""), out_dir=env.get("GENREP_LOAD_OUT", ""),
                profile_file=env.get("GENREP_LOAD_PROFILE_FILE", ""),
                ramp_s=float(env.get("GENREP_LOAD_RAMP", "0")),
                window_s=float(env.get("GENREP_LOAD_WINDOW_S", "1")))
        for what, host in (("GENREP_LOAD_FHIR", urlsplit(s.fhir).hostname),
                           ("GENREP_LOAD_API", urlsplit(s.api).hostname),
                           ("GENREP_LOAD_MLLP_HOST", s.mllp_host)):
            if host not in allowed:
                raise ConfigError(f"{what} points at {host!r}, not an allowed host "
                                  f"({', '.join(sorted(allowed))}); refusing to send")
        return s


class LoadEndpoints:
    """TLS and tokens for the Locust users, from the environment profile the runner wrote
    (``runner.write_effective_profile``): the users' clients are made by the same factories as the
    steps' (``genrep.transport.tls``). Without a profile file (the overhead benchmark), clients are plain."""

    def __init__(self, profile_file: str = ""):
        from genrep.config.profile import load_profile
        self.profile = load_profile(profile_file) if profile_file else None

    def _endpoint(self, name: str):
        if self.profile is None:
            return None
        if name not in self.profile.endpoints:
            raise ConfigError(f"the load profile has no endpoint {name!r}", file=self.profile.file or None,
                              key="endpoints")
        return self.profile.endpoints[name]

    def ssl_context_factory(self, name: str):
        """For ``FastHttpUser.ssl_context_factory``: the endpoint's client context (built once and
        shared), or None for plain HTTP. It takes and ignores geventhttpclient's ``cafile``: the
        trust is the profile's, never a public bundle added to it."""
        ep = self._endpoint(name)
        if ep is None or not ep.tls:
            return None
        from genrep.transport.tls import client_context
        profile = self.profile
        context = client_context(profile, ep)

        def factory(**_ignored):
            return context
        return factory

    def tls(self, name: str) -> bool:
        """Whether the profile says the endpoint speaks TLS (then no request goes to an http URL)."""
        ep = self._endpoint(name)
        return bool(ep is not None and ep.tls)

    def headers(self, name: str) -> dict[str, str]:
        """The Authorization header when the profile names a token for the endpoint."""
        ep = self._endpoint(name)
        token = self.profile.token(ep) if ep is not None else None
        return {"Authorization": f"Bearer {token}"} if token else {}

    def ack_mode(self, name: str = "radiology_mllp") -> str:
        """The MLLP endpoint's ``ack_mode`` (``Payloads(ack_mode=...)``); original without a profile
        or without that endpoint (a profile of HTTP endpoints only: no MLLP user can run on it)."""
        if self.profile is None or name not in self.profile.endpoints:
            return "original"
        return self.profile.endpoints[name].ack_mode

    def mllp_client(self, settings: "LoadSettings"):
        from genrep.transport.mllp import MLLPClient
        if self.profile is None:
            return MLLPClient(settings.mllp_host, settings.mllp_port, connect_timeout=settings.timeout,
                              read_timeout=settings.timeout)
        from genrep.transport.endpoints import mllp_client_for
        return mllp_client_for(self.profile, "radiology_mllp", connect_timeout=settings.timeout,
                               read_timeout=settings.timeout)


def _load_ids() -> tuple[str, str]:
    """A new control id and accession for a load ORU, letters and digits only (HL7 escaping would
    change anything else, and the template's fast vetting and ACK request rely on it): exactly
    what ``new_id("LO")`` then ``new_id("LA")`` give (numbers drawn from the same counter as
    ``new_id``'s, so never the same as its ids).

    Made ``_LOAD_ID_BLOCK`` pairs at a time for the whole process (every load user of it takes the
    next pair), their fixed parts made and checked once a block. Ids carry no time,
    so a pair made a while before it is used is as good; a block made before a fork (a new run tag
    and pid in the child) or for another id source is never used. One pair per message cost ~2.5 us
    inside a Locust run; in a block ~0.3 us a pair (genrep bench load, session 13)."""
    ids = _IDS
    block = _LOAD_ID_BLOCK
    while True:
        if _LOAD_ID_OWNER[0] is ids and _LOAD_ID_OWNER[1] is ids.tag and _LOAD_ID_OWNER[2] == ids.pid:
            try:
                return block.pop()  # atomic: two threads never take the same pair
            except IndexError:      # used up (maybe by another thread since): a new block
                pass
        _new_load_id_block(ids)


def _new_load_id_block(ids) -> None:
    control, accession, tail = _load_id_parts(ids)
    nxt = ids.next
    pairs = [(f"{control}{nxt() % 1_000_000:06d}{tail}", f"{accession}{nxt() % 1_000_000:06d}{tail}")
             for _ in range(LOAD_ID_BLOCK)]
    pairs.reverse()  # pop() takes them in the order they were made
    _LOAD_ID_BLOCK[:] = pairs
    _LOAD_ID_OWNER[:] = [ids, ids.tag, ids.pid]


def _load_id_parts(ids) -> tuple[str, str, str]:
    """(control id head, accession head, tail) for ``ids``' run tag and process: checked letters
    and digits, and ``new_id``'s 20-character cut not reached (both heads are as long)."""
    tag, pid = ids.tag, ids.pid
    control, accession, tail = f"LO{tag}", f"LA{tag}", f"P{pid % 100:02d}"
    if not (control.isalnum() and accession.isalnum() and tail.isalnum()):
        raise ConfigError(f"load ids must be letters and digits: {control!r}, {accession!r}, {tail!r}")
    if len(control) + 6 + len(tail) > 20:
        raise ConfigError(f"load ids must fit 20 characters: run tag {tag!r} is too long")
    return control, accession, tail


LOAD_ID_BLOCK = 64
_LOAD_ID_BLOCK: list[tuple[str, str]] = []   # the next pairs, last one first
_LOAD_ID_OWNER: list = [None, None, None]     # the id source, run tag and pid they were made from


class Payloads:
    """Builds the outbound messages for the load users; each passes the identity guard.
    ``ack_mode``: the MLLP endpoint's (``LoadEndpoints.ack_mode``), MSH-15/16 of every message."""

    def __init__(self, allowlist: Allowlist | None = None, *, ack_mode: str = "original"):
        self.ack_mode = ack_mode
        self.allowlist = allowlist or Allowlist.load()
        self.guard = IdentityGuard(self.allowlist)
        self.patient = patient_for(load_identity(self.allowlist), seed="load")
        self._adt_index = itertools.count()
        # framed or not -> (second, (vetted template, slot names, MSH-15, MSH-16))
        self._templates: dict[bool, tuple[int, tuple]] = {}

    def check(self, payload: str | bytes, destination: str, kind: str = "") -> None:
        """The load users' one way to the identity guard (URLs, bodies, headers, HL7 messages).
        ``kind`` ("url") only helps the guard name where a refused number sat."""
        if kind:
            self.guard.check(payload, destination=destination, kind=kind)
        else:
            self.guard.check(payload, destination=destination)

    def oru(self, destination: str) -> tuple[bytes, str]:
        """A 9.7 KB ORU^R01 with a new accession and control id: (payload, control id)."""
        payload, control_id, _accession = self.oru_with_accession(destination)
        return payload, control_id

    def oru_with_accession(self, destination: str) -> tuple[bytes, str, str]:
        """As ``oru``, with the accession: (payload, control id, accession).

        The message is ``hl7.build_oru``'s, built once per second as a template with the control
        id and accession left open and filled in per message (building 55 OBX segments each time
        cost 90 us, most of a load user's time per message). Every message, filled in, is vetted
        by the identity guard before it is returned: the template once, then each message by its
        values (``identity_template.VettedTemplate``, which proves that equal to scanning the whole
        message, and scans it whole when its preconditions do not hold)."""
        payload, request, accession = self._fill_oru(destination, framed=False)
        return payload, request.control_id, accession

    def oru_framed(self, destination: str) -> tuple[bytes, AckRequest, str]:
        """As ``oru_with_accession``, ready for ``MLLPClient.send_framed``: (the whole MLLP frame,
        its ACK request, the accession). The frame is the template's own fill (VT and FS CR are
        the template's first and last bytes), vetted as a whole like any fill; the ACK request is
        the template's MSH-15/16 with this control id, which is what ``ack_request`` reads from the
        payload (a letters-and-digits MSH-10 is read as it is). The RisUser's path: framing and
        reading MSH back cost ~4 us a message (docs/performance.md, session 12)."""
        return self._fill_oru(destination, framed=True)

    def _fill_oru(self, destination: str, *, framed: bool) -> tuple[bytes, AckRequest, str]:
        """The second's template filled with new ids: (bytes, ACK request, accession). Vetted by
        the guard (by its values, or scanned whole): ``Payloads.check`` again would only find this
        very object in the vetted memo; the transport's ``guard_outbound`` does that anyway."""
        control_id, accession = _load_ids()
        cached = self._templates.get(framed)
        if cached is None or cached[0] != int(time.time()):  # a new second: its template (once)
            self._oru_template(framed=framed)
            cached = self._templates[framed]
        template, _slots, accept, application, order = cached[1]
        ids = (control_id.encode("ascii"), accession.encode("ascii"))
        data = template.fill([ids[k] for k in order], destination=destination)
        return data, AckRequest(control_id, accept, application), accession

    def _oru_template(self, *, framed: bool) -> tuple[VettedTemplate, list[str], str, str, tuple[int, ...]]:
        """The second's ORU, encoded (MSH-18 is UTF-8) and cut at its slots (with ``framed``, VT
        before it and FS CR after it): the vetted template, its slot names in order, the MSH-15
        and MSH-16 it asks for, and each slot's value as an index into (control id, accession)."""
        second = int(time.time())
        cached = self._templates.get(framed)
        if cached is None or cached[0] != second:
            ts = time.strftime("%Y%m%d%H%M%S", time.localtime(second))
            report = hl7.Report(accession=_ACCESSION_SLOT, text=ORU_TEXT)
            text = hl7.build_oru(self.patient, report, control_id=_CONTROL_SLOT, timestamp=ts, ack_mode=self.ack_mode)
            if text.count(_CONTROL_SLOT) != 1 or _ACCESSION_SLOT not in text:
                raise ConfigError("the ORU template lost its control id or accession slot")
            pieces = re.split(f"({re.escape(_CONTROL_SLOT)}|{re.escape(_ACCESSION_SLOT)})", text)
            parts = [hl7.encode(piece) if i == 0 else piece.encode("utf-8") for i, piece in enumerate(pieces[::2])]
            slots = pieces[1::2]
            sample = b"".join(part + (b"X1" if k < len(slots) else b"") for k, part in enumerate(parts))
            request = ack_request(sample)
            if request is None or request.control_id != "X1":
                raise ConfigError("the ORU template's MSH-10 cannot be read back")
            if framed:
                # the frame's only VT and FS are its ends (what MLLPClient.send_framed takes): none
                # in the text, none in a letters-and-digits value
                if any(b"\x0b" in part or b"\x1c" in part for part in parts):
                    raise ConfigError("the ORU template holds a VT or FS byte: it cannot be framed")
                parts = [b"\x0b" + parts[0], *parts[1:-1], parts[-1] + b"\x1c\r"]  # slots checked above: 3 parts or more
            # each slot's value as an index into (control id, accession): no dict per message
            order = tuple(0 if slot == _CONTROL_SLOT else 1 for slot in slots)
            cached = (second, (VettedTemplate(self.guard, parts), slots, request.accept_ack,
                               request.application_ack, order))
            self._templates[framed] = cached
        return cached[1]

    def adt(self, destination: str) -> tuple[bytes, str]:
        """ADT^A04 for the next allowlisted personnummer identity (rotating)."""
        identity = self.allowlist.pick(next(self._adt_index), kind="personnummer")
        control_id = new_id("LR")
        payload = hl7.encode(hl7.build_adt("A04", patient_for(identity, seed="load"), control_id=control_id,
                                           ack_mode=self.ack_mode))
        self.check(payload, destination=destination)
        return payload, control_id


class AcceptedLog:
    """The ORUs sent (``S <accession>``, written before sending) and answered AA (``A <accession>``),
    one per line in ``<out_dir>/accepted-<pid>.txt`` (one file per Locust process), for the runner's
    "AA is stored" check after the run. Both are needed: a user stopped at the end of a run may have
    sent a report whose ACK it never read, so the store may hold more than was answered AA, but
    never more than was sent.

    Lines are buffered: they are written through to the kernel with the first line added
    ``FLUSH_S`` or more after the last write-through (checked as lines are added: no timer) and at
    ``close``, which the Locust process's ``quitting`` listener calls. A write per message cost a
    load user ~4 us inside a Locust run (genrep bench load, session 13), and what it protected is
    never judged: the runner reads this log only after a Locust that ended by itself
    (``load.runner.store_is_judged``), whose log is closed. A process killed outright loses the lines added since the last write-through: those
    of its last ``FLUSH_S``, or, when no line came for longer (users blocked on a silent peer),
    what the buffer holds (at most its 8 KB: a full buffer writes itself through). What is left
    still says what was sent until then."""

    SENT, ACCEPTED = "S", "A"
    JOURNEY = "J"  # answered AA inside a journey (load/users.py JourneyUser): not a send_oru request

    PREFIX = "accepted-"
    FLUSH_S = 0.5

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self._file = None
        self._flush_due = 0.0

    def add(self, accession: str, kind: str = "A") -> None:
        if kind not in (self.SENT, self.ACCEPTED, self.JOURNEY):
            raise ValueError(f"unknown ORU log kind {kind!r}")
        if not self.out_dir:
            return
        if self._file is None:  # opened on first use: a process that accepts nothing writes nothing
            os.makedirs(self.out_dir, exist_ok=True)
            self._file = open(os.path.join(self.out_dir, f"{self.PREFIX}{os.getpid()}.txt"), "a",  # noqa: SIM115
                              encoding="ascii")
        self._file.write(f"{kind} {accession}\n")
        now = time.monotonic()
        if now >= self._flush_due:
            self._file.flush()
            self._flush_due = now + self.FLUSH_S

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @classmethod
    def read(cls, out_dir, kind: str = "A") -> list[str]:
        """Every accession of ``kind`` (answered AA by default, or sent) logged under ``out_dir``."""
        from pathlib import Path
        out: list[str] = []
        for path in sorted(Path(out_dir).glob(f"{cls.PREFIX}*.txt")):
            for line in path.read_text(encoding="ascii").splitlines():
                k, _, accession = line.strip().partition(" ")
                if k == kind and accession:
                    out.append(accession)
        return out

    @classmethod
    def clear(cls, out_dir) -> None:
        from pathlib import Path
        for path in Path(out_dir).glob(f"{cls.PREFIX}*.txt"):
            path.unlink()


def ack_problem(raw: bytes, control_id: str) -> str | None:
    """None when the answer is an AA for ``control_id``; otherwise what is wrong with it."""
    if is_plain_aa(raw, control_id):  # the usual answer, without a full parse
        return None
    try:
        ack = hl7.parse_ack(raw)
    except Exception as exc:  # noqa: BLE001 - any unparsable answer is a failed request
        return f"not an ACK: {exc}"
    if ack.code != "AA":
        return f"ACK {ack.code}: {ack.text or ack.error or ''}".strip()
    if ack.control_id != control_id:
        return f"ACK for control id {ack.control_id!r}, sent {control_id!r}"
    return None


def unanswered_in_time(status: int, error: BaseException | None, timeouts: tuple[type, ...] = (TimeoutError,)) -> bool:
    """True when a request got no answer within the client's own timeout (status 0 and one of
    ``timeouts``, the client's timeout errors), False for an answer or any other failure (a refused or
    reset connection is the system's). Locust's FastHttpUser never retries (``max_retries`` 0), so
    geventhttpclient hands back its ``RetriesExceeded`` with the timeout as ``original``: that is
    looked at too (the Locust side passes gevent's ``Timeout`` among ``timeouts``; the library never
    imports gevent). On a quiet machine such a request is the system's failure like any other; on a
    saturated one the starved generator may have made it: a miss that rests on those is inconclusive
    there (``evaluation``)."""
    if status != 0 or error is None:
        return False
    return isinstance(error, timeouts) or isinstance(getattr(error, "original", None), timeouts)


#: what the EHR answers when it cannot read NLL (``integrations.medication_list``: 502, 503, 504)
UNAVAILABLE_STATUSES = (502, 503, 504)
LIST, EMPTY, UNAVAILABLE, OTHER = "list", "empty", "unavailable", "other"


def medication_answer(status: int, body: bytes) -> tuple[str, str]:
    """What a medication-list read showed a clinician: (``list`` | ``empty`` | ``unavailable`` |
    ``other``, why). Fail-safe rule: a list NLL could not give is "unavailable" (an HTTP 502, 503 or
    504 answer, as ``integrations.medication_list`` reads it), never an empty list; the load
    patient's list is planted, so an empty one is always wrong."""
    import json
    if status in UNAVAILABLE_STATUSES:
        return UNAVAILABLE, f"NLL unavailable (the EHR said so: HTTP {status})"
    if status != 200:
        return OTHER, f"HTTP {status}"
    try:
        doc = json.loads(body)
    except ValueError:
        return OTHER, "not JSON"
    if not isinstance(doc, dict):
        return OTHER, "not a JSON object"
    if doc.get("resourceType", "Bundle") != "Bundle":
        return OTHER, f"a {str(doc.get('resourceType'))[:40]}, not a FHIR Bundle"
    if not doc.get("total"):  # the search's own count (what the read path has always checked)
        return EMPTY, "empty medication list"
    return LIST, ""


def exit_code(entries: list[dict], contract, steady=None) -> int:
    """The ``quitting`` listener's gate: 0 when every SLA threshold is met, else 1. ``steady``:
    (WindowFigures, from_s, to_s) to judge the steady phase only, as the runner does."""
    from genrep.load.stats import evaluate_stats, operation_stats
    if steady is not None:
        figures, lo, hi = steady
        stats = {name: figures.stats(name, lambda t: lo <= t < hi, span_s=hi - lo) for name in contract.operations}
    else:
        stats = operation_stats(entries, contract.operations)
    outcomes = evaluate_stats(stats, contract)
    return 0 if all(o.ok for o in outcomes) else 1
