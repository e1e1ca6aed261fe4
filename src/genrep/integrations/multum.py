"""Interaction checks through the EHR, and failover measured from the outside.

``PrescribingClient`` prescribes through the EHR's prescribing API and returns what the clinician
would see: interactions found, a partial result, or "interaction check not performed". A failed
check is never read as "no interactions": ``CheckResult.false_no_interactions`` flags a "checked"
answer with no interaction for a pair that is known to interact.

``FailoverProbe`` keeps prescribing a known interacting pair at a fixed rate in a background
thread while a fault is injected, and turns the samples into the measurements the contract's
objectives are about: failover time, failed checks, false "no interactions", requests per server
over time.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field

from genrep.config.profile import Profile
from genrep.errors import GenrepError, ProtocolError, TransportError
from genrep.transport.endpoints import http_transport_for


@dataclass
class CheckResult:
    status: str  # checked | partial | not-performed | error (transport failure talking to the EHR)
    interactions: list[dict]
    server: str
    content_version: str
    reason: str
    elapsed: float
    raw: dict = field(default_factory=dict, repr=False)

    def has_interaction(self, a: str, b: str) -> bool:
        want = {a.lower(), b.lower()}
        return any({d.lower() for d in i.get("drugs", [])} == want for i in self.interactions)

    @property
    def performed(self) -> bool:
        return self.status in ("checked", "partial")


class PrescribingClient:
    def __init__(self, profile: Profile):
        self.http = http_transport_for(profile, "ehr_api")

    def __repr__(self) -> str:
        return f"PrescribingClient({self.http.base_url})"

    def prescribe(self, patient_id: str, current: list[str], new: str) -> CheckResult:
        start = time.monotonic()
        try:
            resp = self.http.request("POST", "prescribe", json={"patient": patient_id, "current": current,
                                                                "new": new})
        except TransportError as exc:
            return CheckResult("error", [], "", "", f"EHR prescribing API: {exc}", time.monotonic() - start)
        try:  # the status decides first: a non-200 page that is not JSON is still a non-200
            body = resp.json() if resp.status_code == 200 else None
        except ValueError:
            body = None
        if resp.status_code != 200 or not isinstance(body, dict) or "status" not in body:
            raise ProtocolError(f"EHR prescribing API answered HTTP {resp.status_code}: {resp.text[:200]}")
        return CheckResult(body["status"], body.get("interactions", []) or [], body.get("server", ""),
                           body.get("content_version", ""), body.get("reason", ""),
                           time.monotonic() - start, body)

    def audit(self, patient_id: str) -> list[dict]:
        resp = self.http.request("GET", "interaction-audit", params={"patient": patient_id})
        if resp.status_code != 200:
            raise ProtocolError(f"EHR audit log answered HTTP {resp.status_code}")
        try:
            entries = resp.json().get("entries", [])
        except (ValueError, AttributeError):
            entries = None
        if not isinstance(entries, list):
            raise ProtocolError(f"EHR audit log answered without a list of entries: {resp.text[:200]}")
        return entries

    def close(self) -> None:
        self.http.close()


def await_load_balancer(profile: Profile, condition, within: float, *, poll: float = 0.05) -> bool:
    """Virtual environment only: wait until ``condition(backends)`` holds for the Multum load
    balancer's backends (``GET /lb/status`` of the virtual ``multum_lb``: name, healthy,
    consecutive_ok, content_version, ...), for at most ``within`` seconds.

    True once it does; False when that was not seen within the bound, or when there is no such status
    to read (an external profile): the caller then waits its bound out, as it would without this.
    """
    if profile is None or profile.kind != "virtual" or "multum_lb" not in profile.endpoints:
        return False
    deadline = time.monotonic() + within
    http = http_transport_for(profile, "multum_lb", with_token=False, user_agent="genrep-multum-status",
                              connect_timeout=1.0, read_timeout=1.0)
    try:
        while True:
            try:
                resp = http.request("GET", "lb/status")
                backends = resp.json().get("backends") if resp.status_code == 200 else None
            except (TransportError, ValueError, AttributeError):
                backends = None
            if (isinstance(backends, list) and backends and all(isinstance(b, dict) for b in backends)
                    and condition(backends)):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(poll, left))
    finally:
        http.close()


def await_good_probes(profile: Profile, probes: int, within: float) -> bool:
    """``await_load_balancer``: every backend has ``probes`` consecutive good canary probes (what the
    load balancer's failback needs)."""
    return await_load_balancer(profile, lambda backends: all(
        isinstance(b.get("consecutive_ok"), int) and b["consecutive_ok"] >= probes for b in backends), within)


def await_content_version(profile: Profile, server: str, version: str, within: float) -> bool:
    """``await_load_balancer``: the load balancer's probes have learned ``server``'s content version."""
    return await_load_balancer(profile, lambda backends: any(
        b.get("name") == server and b.get("content_version") == version for b in backends), within)


@dataclass
class Sample:
    started: float  # monotonic seconds
    ended: float
    result: CheckResult

    @property
    def ok(self) -> bool:
        return self.result.status == "checked"


@dataclass
class FailoverMeasurement:
    fault_at: float
    failover_seconds: float | None  # None: never recovered within the window
    failed_checks: int
    slow_checks: int
    false_no_interactions: int
    checks: int
    per_server: dict[str, int]
    recovered: bool
    #: slow answered checks after service was back, each between good ones, not counted in the
    #: failover time (at most ``FailoverProbe.MAX_BLIPS``; more are a pattern and count)
    blips: int = 0
    #: seconds from the fault to the end of the last failed check (None: none failed); a failed
    #: check always counts, so past the objective this decides a missed failover already
    last_failed_s: float | None = None

    def describe(self, objective: float | None = None) -> str:
        ft = "never (no recovery in the window)" if self.failover_seconds is None else f"{self.failover_seconds:.2f} s"
        obj = f" (objective <= {objective:.2f} s)" if objective is not None else ""
        blips = (f" ({self.blips} of them after service was back, between good checks: not counted in the "
                 "failover time)") if self.blips else ""
        return (f"failover time {ft}{obj}; {self.checks} checks, {self.failed_checks} failed, "
                f"{self.slow_checks} slow{blips}, {self.false_no_interactions} false 'no interactions'; "
                f"answered per server: {self.per_server}")


class FailoverProbe:
    """Prescribes a known interacting pair every ``interval`` s in a background thread (bounded)."""

    def __init__(self, client: PrescribingClient, patient_id: str, pair: tuple[str, str], *,
                 interval: float = 0.05, max_seconds: float = 60.0):
        self.client, self.patient_id, self.pair = client, patient_id, pair
        self.interval, self.max_seconds = interval, max_seconds
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = time.monotonic()

    def __enter__(self) -> "FailoverProbe":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="failover-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = self.t0 + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            began = time.monotonic()
            try:
                result = self.client.prescribe(self.patient_id, [self.pair[0]], self.pair[1])
            except GenrepError as exc:
                result = CheckResult("error", [], "", "", str(exc), time.monotonic() - began)
            self.samples.append(Sample(began, time.monotonic(), result))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def measure(self, fault_at: float, *, slow_factor: float = 4.0, min_slow: float = 0.25) -> FailoverMeasurement:
        before = [s for s in self.samples if s.ended < fault_at and s.ok]
        base = statistics.median([s.ended - s.started for s in before]) if before else 0.05
        slow_limit = max(min_slow, base * slow_factor)
        after = [s for s in self.samples if s.ended >= fault_at]

        def good(s: Sample) -> bool:  # answered "checked" and not slow
            return s.ok and (s.ended - s.started) <= slow_limit
        impacted = [s for s in after if not good(s)]
        false_neg = sum(1 for s in after if s.result.status == "checked" and not s.result.has_interaction(*self.pair))
        per_server: dict[str, int] = {}
        for s in after:
            if s.ok:
                per_server[s.result.server or "?"] = per_server.get(s.result.server or "?", 0) + 1
        blips = self._blips(after, good)
        blip_ids = {id(b) for b in blips}
        counted = [s for s in impacted if id(s) not in blip_ids]
        # recovered: the last part of the window is healthy (at least 3 good checks after the last impact)
        last_impact = max((s.ended for s in counted), default=None)
        good_after = [s for s in after if s.ok and (last_impact is None or s.started > last_impact)]
        recovered = len(good_after) >= self.SETTLED
        failover = None
        if recovered:
            failover = 0.0 if last_impact is None else last_impact - fault_at
        last_failed = max((s.ended for s in after if not s.ok), default=None)
        return FailoverMeasurement(fault_at - self.t0, failover, sum(1 for s in after if not s.ok),
                                   sum(1 for s in after if s.ok and not good(s)),
                                   false_neg, len(after), per_server, recovered, len(blips),
                                   None if last_failed is None else last_failed - fault_at)

    def settle(self, fault_at: float, objective_s: float, settle_s: float, *, poll_s: float = 0.05,
               clock=time.monotonic, sleep=time.sleep) -> FailoverMeasurement:
        """After the observation window, watch up to ``settle_s`` more while the checks have not
        settled (``SETTLED`` good in a row after the last one that counts): a busy machine can delay
        the good checks that show a failover which ended in time. Not while a failed check after
        ``objective_s`` has decided the failover missed already (a server never failed over: the
        extra wait told nothing and cost every such scenario ``settle_s``). The measurement then."""
        until = clock() + settle_s
        while True:
            m = self.measure(fault_at)
            if m.recovered or (m.last_failed_s is not None and m.last_failed_s > objective_s) or clock() >= until:
                return m
            sleep(poll_s)

    #: good checks in a row that say service is back
    SETTLED = 3
    #: slow checks after service was back that a busy machine alone can explain (one stall of the
    #: probe's process or the EHR's); a second is a pattern (a load balancer sending checks back to
    #: the dead server now and then) and counts in the failover time
    MAX_BLIPS = 1

    def _blips(self, after: list[Sample], good) -> list[Sample]:
        """The slow checks that do not extend the failover time: answered ("checked"), after at
        least ``SETTLED`` good checks in a row since the last check that counts, and followed by
        a good one; none when there are more than ``MAX_BLIPS`` such checks.

        Why: a check can be slow because the machine running the harness and the virtual
        environment was busy for a moment (CI runs them beside other tests), long after the
        failover was over; taking it as the failover's end turned a clean failover into a
        missed objective (seen: 3.83 s against 3.00 s, 2 slow checks, 0 failed). A failed check
        always counts, so does a slow one at the end of the window."""
        ordered = sorted(after, key=lambda s: s.started)
        found, good_run = [], 0
        for i, s in enumerate(ordered):
            if good(s):
                good_run += 1
                continue
            nxt = ordered[i + 1] if i + 1 < len(ordered) else None
            if s.ok and good_run >= self.SETTLED and nxt is not None and good(nxt):
                found.append(s)
                continue                   # the good run goes on around the blip
            good_run = 0
        return found if len(found) <= self.MAX_BLIPS else []

    def timeline(self, bucket: float = 0.5) -> str:
        """Requests per server per time bucket (seconds since the probe started), as CSV."""
        servers = sorted({s.result.server or "-" for s in self.samples if s.ok})
        rows: dict[int, dict[str, int]] = {}
        for s in self.samples:
            b = int((s.started - self.t0) / bucket)
            row = rows.setdefault(b, {})
            key = (s.result.server or "-") if s.ok else f"failed:{s.result.status}"
            row[key] = row.get(key, 0) + 1
        statuses = sorted({k for r in rows.values() for k in r if k.startswith("failed:")})
        cols = servers + statuses
        lines = ["t_seconds," + ",".join(cols)]
        for b in range(min(rows), max(rows) + 1) if rows else ():  # a bucket without checks is a row of 0s
            rows.setdefault(b, {})
            lines.append(f"{b * bucket:.1f}," + ",".join(str(rows[b].get(c, 0)) for c in cols))
        return "\n".join(lines)
