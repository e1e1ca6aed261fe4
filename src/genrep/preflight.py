"""Pre-flight: before any scenario or load user runs, everything a run needs from its environment.

``rehearse`` and ``load`` call ``run_preflight`` on an external profile (a virtual one is started by
the run itself and has no credentials to find):

1. every credential the profile names is resolved (environment variable or file, and each client
   key's password): a missing one is a configuration problem (exit 2);
2. every endpoint the selected scenarios need (``endpoints_needed``: by their integration tags) is
   probed, all at once and each bounded: a TCP connect, the TLS handshake with the profile's own
   context (``genrep.certs.probe_connect``, what ``certs check`` connects with), and for a FHIR
   endpoint a ``metadata`` read with its token (an MLLP endpoint: the connect, nothing is sent). An
   endpoint that does not resolve, refuses, times out or fails its handshake is unreachable (exit 3);
   a FHIR server refusing the token (401/403) is a credentials problem (exit 2).

``raise_for`` turns the findings into one ``ConfigError`` or ``TransportError`` whose text has one
line per problem, so the CLI prints them and exits 2 or 3 within seconds, instead of every scenario
failing on its own (and being counted as a product defect).

The linting of the selected feature files (fixture names included) is the CLI's: it runs
``steps.lint`` as a subprocess, since the library never imports the step layer.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Iterable

from genrep.certs import probe_connect
from genrep.config.profile import Endpoint, Profile, Timeouts
from genrep.errors import ConfigError, GenrepError, TransportError

#: the endpoints (profile names) each integration's scenarios talk to; a scenario with none of these
#: tags is taken to need every endpoint of the profile
INTEGRATION_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "radiology": ("radiology_mllp", "ehr_fhir"),
    "registration": ("radiology_mllp", "ehr_fhir"),
    "nll": ("nll_fhir", "ehr_fhir", "radiology_mllp"),
    "multum": ("ehr_api",),
    "access": ("ehr_fhir", "ehr_api", "radiology_mllp", "nll_fhir"),
    "journey": ("radiology_mllp", "ehr_fhir", "nll_fhir", "ehr_api"),
    "referrals": ("radiology_mllp", "ehr_fhir", "ehr_referrals"),
    "erx": ("radiology_mllp", "ehr_fhir", "ehr_erx"),
    "parity": ("radiology_mllp", "ehr_fhir", "ehr_api"),
}
OUTAGE_LATCH_ENV = "GENREP_OUTAGE_LATCH"     # a file in the run's results folder (genrep.rehearsal sets it)
OUTAGE_LATCH_FILE = "genrep-outages.jsonl"
BLOCK_AFTER_ENV = "GENREP_BLOCK_AFTER"       # consecutive unavailable scenarios on one endpoint that block it
BLOCK_AFTER = 3
UNAVAILABLE_KIND = "environment_unavailable"
#: the longest any one probe may take (a profile's own shorter timeouts are kept)
CONNECT_BOUND_S = 3.0
READ_BOUND_S = 5.0


class EnvironmentUnavailableError(TransportError):
    """A scenario was not attempted, or could not finish, because its endpoint cannot be reached:
    the environment, not the product (failure kind ``environment_unavailable``)."""


@dataclass
class Problem:
    kind: str   # credentials | unreachable | tls
    text: str

    @property
    def config(self) -> bool:
        return self.kind == "credentials"


@dataclass
class PreflightReport:
    checked: list[str] = field(default_factory=list)     # what was checked and passed, one line each
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        if any(p.config for p in self.problems):
            return 2
        return 3 if self.problems else 0


def endpoints_needed(profile: Profile, scenario_tags: Iterable[Iterable[str]] | None = None) -> list[Endpoint]:
    """The profile's endpoints the scenarios with these tag sets talk to (None: every scenario, so
    every endpoint). An endpoint an integration uses that the profile does not name is left out: the
    scenarios say so themselves."""
    if scenario_tags is None:
        return list(profile.endpoints.values())
    names: dict[str, None] = {}
    for tags in scenario_tags:
        tags = set(tags)
        hit = [INTEGRATION_ENDPOINTS[t] for t in sorted(tags) if t in INTEGRATION_ENDPOINTS]
        if not hit:
            return list(profile.endpoints.values())
        for group in hit:
            names.update(dict.fromkeys(group))
    return [profile.endpoints[n] for n in names if n in profile.endpoints]


def check_credentials(profile: Profile, endpoints: Iterable[Endpoint] | None = None) -> list[Problem]:
    """Every credential the profile names (each endpoint's token and client key password), read now:
    one problem per one that is missing, empty or unreadable. Values are never shown."""
    problems: list[Problem] = []
    failed: dict[str, tuple[int, list[str]]] = {}  # credential source -> (its problem, the other endpoints)
    for ep in (profile.endpoints.values() if endpoints is None else endpoints):
        o = ep.tls_options
        for source, read in ((ep.credential_env or ep.credential_file, profile.token),
                             ((o.client_key_password_env or o.client_key_password_file) if ep.tls else None,
                              profile.key_password)):
            if not source:
                continue
            if source in failed:  # one problem per missing variable or file, naming every endpoint needing it
                failed[source][1].append(ep.name)
                continue
            try:
                read(ep)
            except ConfigError as exc:
                failed[source] = (len(problems), [])
                problems.append(Problem("credentials", str(exc)))
    for index, others in failed.values():
        if others:
            p = problems[index]
            problems[index] = Problem(p.kind, f"{p.text} (also needed by {', '.join(others)})")
    return problems


def _is_fhir(ep: Endpoint) -> bool:
    return ep.protocol == "http" and "fhir" in ep.name.lower()


def probe_endpoint(profile: Profile, ep: Endpoint, *, connect: float, read: float) -> Problem | str:
    """One endpoint: connect (TCP, TLS with the profile's context), then for FHIR a ``metadata``
    read with its token. The problem, or one line saying what answered."""
    start = time.monotonic()
    try:
        found = probe_connect(profile, ep, timeout=connect)
    except ConfigError as exc:
        return Problem("credentials", str(exc))
    if found is not None:
        return Problem("unreachable" if found[0] == "unreachable" else "tls", found[1])
    what = f"{ep.name} ({ep.address}): {'TLS ' if ep.tls else ''}connect ok"
    if not _is_fhir(ep):
        return f"{what}, {(time.monotonic() - start) * 1000:.0f} ms"
    from genrep.transport.endpoints import http_transport_for
    bounded = replace(profile, timeouts=Timeouts(connect=connect, read=read))
    try:
        transport = http_transport_for(bounded, ep)
    except ConfigError as exc:
        return Problem("credentials", str(exc))
    try:
        resp = transport.request("GET", "metadata", headers={"Accept": "application/fhir+json"})
    except TransportError as exc:
        return Problem("unreachable", f"{ep.name} ({ep.address}): the FHIR metadata read failed: {exc}")
    except GenrepError as exc:
        return Problem("credentials" if isinstance(exc, ConfigError) else "unreachable", str(exc))
    finally:
        transport.close()
    if resp.status_code in (401, 403):
        source = f"${ep.credential_env}" if ep.credential_env else (ep.credential_file or "no token configured")
        return Problem("credentials", f"{ep.name} ({ep.address}): the FHIR server refused our credentials "
                                      f"(HTTP {resp.status_code} on metadata; token from {source})")
    if resp.status_code >= 400:
        return Problem("unreachable", f"{ep.name} ({ep.address}): the FHIR metadata read answered "
                                      f"HTTP {resp.status_code}: not a FHIR server at this base_url, or not available")
    return f"{what}, FHIR metadata HTTP {resp.status_code}, {(time.monotonic() - start) * 1000:.0f} ms"


def probe_endpoints(profile: Profile, endpoints: Iterable[Endpoint], *, connect: float | None = None,
                    read: float | None = None) -> tuple[list[str], list[Problem]]:
    """Every endpoint probed in parallel (a host that never resolves holds only its own thread),
    the whole within connect + read + 1 s."""
    connect = min(profile.timeouts.connect, CONNECT_BOUND_S) if connect is None else connect
    read = min(profile.timeouts.read, READ_BOUND_S) if read is None else read
    eps = list(endpoints)
    found: dict[str, Problem | str] = {}

    def one(ep: Endpoint) -> None:
        try:
            found[ep.name] = probe_endpoint(profile, ep, connect=connect, read=read)
        except Exception as exc:  # noqa: BLE001 - one clean line per endpoint, whatever went wrong
            found[ep.name] = Problem("unreachable", f"{ep.name} ({ep.address}): probe failed ({exc})")

    threads = [threading.Thread(target=one, args=(ep,), name=f"genrep-preflight-{ep.name}", daemon=True)
               for ep in eps]
    for t in threads:
        t.start()
    deadline = time.monotonic() + connect + read + 1.0
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    ok: list[str] = []
    problems: list[Problem] = []
    for ep in eps:
        r = found.get(ep.name)
        if r is None:  # still resolving the name or connecting: as good as unreachable
            problems.append(Problem("unreachable", f"{ep.name} ({ep.address}): no answer within "
                                                   f"{connect + read + 1.0:g} s (name lookup or connect)"))
        elif isinstance(r, Problem):
            problems.append(r)
        else:
            ok.append(r)
    return ok, problems


def run_preflight(profile: Profile, scenario_tags: Iterable[Iterable[str]] | None = None) -> PreflightReport:
    """Credentials first (the whole profile's), then the endpoints the scenarios need. A virtual
    profile has nothing to check before its simulators start."""
    start = time.monotonic()
    report = PreflightReport()
    if profile.kind == "virtual":
        return report
    report.problems += check_credentials(profile)
    needed = endpoints_needed(profile, scenario_tags)
    if not report.problems:  # a token missing: say that at once, without waiting for the network
        ok, problems = probe_endpoints(profile, needed)
        report.checked += ok
        report.problems += problems
    report.seconds = time.monotonic() - start
    return report


def raise_for(report: PreflightReport, command: str) -> None:
    """Nothing when the pre-flight passed; else one ``ConfigError`` (exit 2: credentials, the
    profile) or ``TransportError`` (exit 3: unreachable) naming every problem, one line each."""
    if report.ok:
        return
    config = [p for p in report.problems if p.config]
    shown = config or report.problems
    what = ("credentials or configuration the run needs are missing" if config else
            "endpoints the selected scenarios need cannot be reached")
    text = (f"{command} pre-flight: {what}; no scenario was started and no results were cleared.\n"
            + "\n".join(f"  - {p.text}" for p in shown))
    if config:
        raise ConfigError(text)
    raise TransportError(text)


# -- during the run: outages are not defects ----------------------------------------------------------


def is_unavailability(exc: BaseException) -> bool:
    """Whether a scenario's exception means its endpoint could not be reached (refused, timed out,
    host not found) rather than that the product misbehaved: a genrep transport error of the
    connection family that carries no failure kind of its own (``no_ack:``, ``ack_mismatch:`` are
    the product's). Protocol errors, TLS, FHIR error statuses and a closed connection are not."""
    from genrep.errors import ConnectionClosed, FHIRError, ProtocolError
    from genrep.results.failure_kinds import kinds_in
    if not isinstance(exc, TransportError) or isinstance(exc, (ProtocolError, FHIRError, ConnectionClosed)):
        return False
    return not kinds_in(str(exc))


def mark_unavailable(exc: BaseException, endpoints: list[str]) -> None:
    """Add the ``environment_unavailable`` classification to the exception's text (on a line of its
    own, after the transport's message), so Allure, the summary and the gate read it."""
    where = ", ".join(endpoints) or "its endpoint"
    note = (f"{UNAVAILABLE_KIND}: {where} could not be reached: the environment, not the product; "
            "this scenario verified nothing")
    exc.args = (f"{exc}\n{note}",)


def endpoints_in(profile: Profile, text: str) -> list[str]:
    """The profile's endpoints a transport error's text names (by name, address or host:port)."""
    out = []
    for ep in profile.endpoints.values():
        if ep.name in text or (ep.base_url and ep.base_url in text) or f"{ep.host}:{ep.port}" in text:
            out.append(ep.name)
    return out


class OutageLatch:
    """The run's record of unavailable endpoints, shared by the suite's processes through one file
    (``GENREP_OUTAGE_LATCH``, in the run's results folder): one JSON line per scenario outcome per
    endpoint (``down`` or ``ok``). An endpoint whose last ``block_after`` outcomes are all ``down`` is
    blocked: the remaining scenarios needing it fail at once as environment unavailable instead of
    each waiting out its timeout."""

    def __init__(self, path: str | os.PathLike | None = None, block_after: int | None = None):
        self.path = path if path is not None else os.environ.get(OUTAGE_LATCH_ENV) or None
        if block_after is None:
            try:
                block_after = int(os.environ.get(BLOCK_AFTER_ENV, "") or BLOCK_AFTER)
            except ValueError:
                block_after = BLOCK_AFTER
        self.block_after = max(1, block_after)
        self._local: list[dict] = []  # without a file (a bare pytest run): this process only

    def record(self, endpoints: Iterable[str], *, down: bool, text: str = "") -> None:
        lines = [{"endpoint": e, "down": down, "text": text[:300]} for e in endpoints]
        if not lines:
            return
        if not self.path:
            self._local += lines
            return
        try:
            with open(self.path, "a", encoding="utf-8") as fh:  # one write per call: lines stay whole
                fh.write("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
        except OSError:
            self._local += lines

    def _events(self) -> list[dict]:
        events: list[dict] = []
        if self.path:
            try:
                with open(self.path, encoding="utf-8") as fh:
                    for line in fh:
                        try:
                            events.append(json.loads(line))
                        except ValueError:
                            continue
            except OSError:
                pass
        return events + self._local

    def blocked(self, endpoints: Iterable[str]) -> tuple[str, str] | None:
        """The first of ``endpoints`` that is blocked, with the last failure's text; else None."""
        wanted = list(endpoints)
        if not wanted:
            return None
        by_endpoint: dict[str, list[dict]] = {}
        for e in self._events():
            by_endpoint.setdefault(e.get("endpoint", ""), []).append(e)
        for name in wanted:
            last = by_endpoint.get(name, [])[-self.block_after:]
            if len(last) >= self.block_after and all(e.get("down") for e in last):
                return name, last[-1].get("text", "")
        return None

    def blocked_error(self, endpoints: Iterable[str]) -> EnvironmentUnavailableError | None:
        found = self.blocked(endpoints)
        if found is None:
            return None
        name, text = found
        return EnvironmentUnavailableError(
            f"{UNAVAILABLE_KIND}: blocked, not attempted: endpoint {name} failed {self.block_after} scenarios "
            f"in a row as unreachable (last: {text.splitlines()[0] if text else 'unknown'}); the environment, "
            "not the product")
