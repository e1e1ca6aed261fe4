"""``genrep mutate``: run the chosen scenarios once per corruption operator and classify each one.

One environment serves every operator. For a virtual profile the simulators are started here (an
external profile's endpoints are used as they are); an MLLP proxy is put in front of the EHR's
inbound MLLP endpoint (``radiology_mllp``) and an HTTP proxy in front of its FHIR endpoint
(``ehr_fhir``); a derived profile (``OUT/profile.yaml``, kind external, every other endpoint as it
was) points the suite at the proxies. In the virtual environment two more HTTP proxies sit on the
EHR's own outbound paths (``genrep.sim.process``'s ``outbound`` option: the EHR is given their URLs
for NLL and the Multum load balancer, the harness still reads NLL itself), so operators on what NLL
and Multum answer the EHR can run; against an external environment those operators are *not
applicable* (the EHR's outbound calls cannot be rerouted from here) and say so. The virtual
environment's faults reach the suite through the derived profile's ``faults`` section: the command
driver, each command asking ``mutate.fault_relay`` in this process to inject through the running
simulators (the journeys and the NLL and Multum failure scenarios need them).

Each integration's operators run against scenarios that exercise it (``INTEGRATION_MARKS``:
radiology and registration against the radiology and registration features, whose every scenario
registers its patient and reads the registration back; medication_list against the NLL features;
multum against the Multum features); ``-k``/``-m`` chooses one selection for all. Per selection:

1. a clean control run (no operator): every chosen scenario must pass, else nothing can be called
   caught and the run stops there; the proxies record its traffic;
2. pre-screening: an operator that changes none of the control run's messages is *never triggered*
   without a suite run (the harness sends the same messages every run; ``prescreen=False`` runs it);
3. per operator: the virtual EHR's store is reset, the operator is switched on in the proxies, the
   scenarios run (``genrep.rehearsal.run_features``; stopping at the first failure unless
   ``all_scenarios``), and the operator is **caught** (a scenario failed), **survived** (it changed at
   least one message, counted by the proxies, and every scenario passed; its ``note`` says what that
   means) or **never triggered** (it changed no message);
4. a second control run at the end: if it fails, the environment drifted and the report says so.

The mutation score of an integration is caught / (caught + survived) over its operators. The JSON
report (``OUT/mutation.json``) lists every operator and each survivor with one example of what it
changed (identities masked, secrets redacted) and a note; ``write_allure`` writes one Allure result
per integration through ``results.writer``, with no requirement label (see ``write_allure``).

Everything is bounded by ``budget`` seconds, and every proxy, the fault relay and every process are
stopped on every exit path (an error, Ctrl-C, SIGTERM through the CLI).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from genrep import outputs
from genrep.config.profile import Profile, load_profile
from genrep.errors import ConfigError, GenrepError
from genrep.mutate.fault_relay import TOKEN_ENV, FaultRelay
from genrep.mutate.message import OUTBOUND
from genrep.mutate.operators import select as select_operators
from genrep.mutate.operators.base import Operator
from genrep.mutate.proxy import HTTPProxy, MLLPProxy, Switch
from genrep.paths import REPORTS_DIR
from genrep.rehearsal import run_features
from genrep.results.allure import safe_text

DEFAULT_MARKS = "radiology and not journey"  # features/radiology
#: the scenarios each integration's operators run against when no -k / -m is given (journeys are
#: left out for time: each crosses every integration and is covered by the integrations' own features)
INTEGRATION_MARKS = {
    "radiology": DEFAULT_MARKS,
    "registration": "(registration or radiology) and not journey",  # each registers and reads it back
    "medication_list": "nll and not journey",
    "multum": "multum and not journey",
}
DEFAULT_OUT = REPORTS_DIR / "mutate"
TARGET_SCORE = 0.95  # the goal per integration
MLLP_ENDPOINT, FHIR_ENDPOINT = "radiology_mllp", "ehr_fhir"
CAUGHT, SURVIVED, NEVER, NOT_RUN, ERROR = "caught", "survived", "never_triggered", "not_run", "error"
NOT_APPLICABLE = "not_applicable"
STATUSES = (CAUGHT, SURVIVED, NEVER, NOT_RUN, ERROR, NOT_APPLICABLE)
#: what travels on each channel, for a survivor's note
CHANNEL_WORDS = {
    "mllp-inbound": "HL7 the harness sent the EHR",
    "mllp-outbound": "the EHR's ACKs to the harness",
    "http-request": "requests the harness sent the EHR's FHIR API",
    "http-response": "what the EHR's FHIR API answered the harness",
    "nll-request": "the EHR's requests to NLL",
    "nll-response": "what NLL answered the EHR",
    "multum-request": "the EHR's interaction checks sent to Multum",
    "multum-response": "what Multum answered the EHR",
}


@dataclass
class Outcome:
    name: str
    changes: str
    channel: str
    integration: str
    effect: str
    status: str = NOT_RUN
    applied: int = 0            # messages the operator changed (counted by the proxies)
    seen: int = 0               # messages on its channel while it was active
    failed: list[str] = field(default_factory=list)   # scenarios that failed with it active
    kinds: list[str] = field(default_factory=list)    # their failure classification
    example: str = ""           # one change it made (masked)
    seconds: float = 0.0
    prescreened: bool = False   # classified from the control run's traffic, without a suite run
    note: str = ""


@dataclass
class Report:
    environment: str
    selection: dict
    seed: int
    operators: list[Outcome]
    control: dict = field(default_factory=dict)
    wall_seconds: float = 0.0
    complete: bool = False
    interrupted: bool = False
    target: float = TARGET_SCORE

    def by_integration(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for o in self.operators:
            s = out.setdefault(o.integration, {**{status: 0 for status in STATUSES},
                                               "refusal_caught": 0, "refusal_survived": 0})
            s[o.status] += 1
            if o.effect == "refusal" and o.status in (CAUGHT, SURVIVED):
                s[f"refusal_{o.status}"] += 1
        for s in out.values():
            judged = s[CAUGHT] + s[SURVIVED]
            s["score"] = round(s[CAUGHT] / judged, 4) if judged else None
            silent = judged - s["refusal_caught"] - s["refusal_survived"]
            s["score_silent"] = (round((s[CAUGHT] - s["refusal_caught"]) / silent, 4) if silent else None)
            s["meets_target"] = s["score"] is not None and s["score"] >= self.target
        return out

    def survivors(self, integration: str | None = None) -> list[Outcome]:
        return [o for o in self.operators if o.status == SURVIVED and integration in (None, o.integration)]

    @property
    def ok(self) -> bool:
        scores = self.by_integration()
        return self.complete and bool(scores) and all(
            s["meets_target"] for s in scores.values() if s[CAUGHT] + s[SURVIVED])

    def to_dict(self) -> dict:
        return {"environment": self.environment, "selection": self.selection, "seed": self.seed,
                "target": self.target, "complete": self.complete, "interrupted": self.interrupted,
                "wall_seconds": round(self.wall_seconds, 1), "control": self.control,
                "integrations": self.by_integration(),
                "survivors": [{"operator": o.name, "integration": o.integration, "channel": o.channel,
                               "changes": o.changes, "messages_changed": o.applied, "example": o.example,
                               "note": o.note}
                              for o in self.survivors()],
                "operators": [asdict(o) for o in self.operators]}


# -- the derived profile -------------------------------------------------------------------------

def _plain(value):
    """A YAML-safe copy of a profile section (Located mappings are dict subclasses)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def derived_profile(live: Profile, mllp_port: int, fhir_port: int, *, host: str = "127.0.0.1",
                    faults: dict | None = None) -> dict:
    """The profile the suite runs against: the EHR's inbound MLLP and FHIR endpoints replaced by the
    proxies (plain, on loopback), every other endpoint as ``live`` has it; ``faults``: the section
    that injects faults (the fault relay's, for a virtual environment), else ``live``'s own."""
    endpoints = {name: ep.as_profile_data() for name, ep in live.endpoints.items()}
    fhir = live.endpoint(FHIR_ENDPOINT)
    endpoints[MLLP_ENDPOINT] = {"protocol": "mllp", "host": host, "port": mllp_port}
    proxied = {"protocol": "http", "base_url": f"http://{host}:{fhir_port}{urlsplit(fhir.base_url).path}"}
    for key in ("credentials_env", "credentials_file"):
        if key in endpoints[FHIR_ENDPOINT]:
            proxied[key] = endpoints[FHIR_ENDPOINT][key]
    endpoints[FHIR_ENDPOINT] = proxied
    data = {"name": f"{live.name}-mutate", "kind": "external", "production": False,
            "description": f"{live.name} behind genrep mutate's proxies (written by genrep mutate)",
            "endpoints": endpoints,
            "timeouts": {"connect": live.timeouts.connect, "read": live.timeouts.read},
            "certificates": {"min_days_valid": live.min_days_valid}}
    if live.extra_hosts:
        data["allowed_hosts"] = list(live.extra_hosts)
    if live.test_patients:
        data["test_patients"] = {k: list(v) for k, v in live.test_patients.items()}
    if faults:
        data["faults"] = faults
    elif live.faults:
        data["faults"] = _plain(live.faults)
    return data


# -- running -------------------------------------------------------------------------------------

@contextmanager
def _pytest_addopts(extra: str):
    """``PYTEST_ADDOPTS`` with ``extra`` for the suite runs started inside (restored after)."""
    old = os.environ.get("PYTEST_ADDOPTS")
    if extra:
        os.environ["PYTEST_ADDOPTS"] = f"{old} {extra}" if old else extra
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTEST_ADDOPTS", None)
        else:
            os.environ["PYTEST_ADDOPTS"] = old


def _failures(results_dir: Path) -> tuple[int, list[tuple[str, list[str]]]]:
    """(scenarios run, [(failed scenario, its failure kinds)]) from a run's Allure results."""
    from genrep.results.reader import read_results
    try:
        results = read_results(results_dir)
    except ConfigError:
        return 0, []
    return len(results), [(r.name, r.kinds) for r in results if r.failed]


@contextmanager
def _environ(name: str, value: str):
    """``os.environ[name] = value`` for the suite runs started inside (restored after)."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


class _Env:
    """The environment under test with the proxies in front of it (and, in the virtual environment,
    on the EHR's outbound paths, with the fault relay); ``stop`` undoes everything."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.venv = None
        self.live = profile
        self.switch = Switch()
        self.mllp: MLLPProxy | None = None
        self.http: HTTPProxy | None = None
        self.outbound: dict[str, HTTPProxy] = {}  # "nll", "multum" -> the proxy the EHR calls
        self.relay: FaultRelay | None = None
        self._token_env = None

    def _outbound_proxy(self, name: str, url: str) -> str:
        """``genrep.sim.process``'s ``outbound`` hook: a proxy in front of ``url``, its URL back."""
        parts = urlsplit(url)
        channels = OUTBOUND[name]
        t = self.profile.timeouts
        # read bound above the EHR's own (3 s NLL, 4 s Multum): the EHR gives up first, as without us
        proxy = HTTPProxy(parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80),
                          self.switch, tls=parts.scheme == "https", connect_timeout=t.connect,
                          read_timeout=max(t.read, 10.0), channels=channels, name=f"http-proxy-{name}")
        self.outbound[name] = proxy.start()
        return f"http://127.0.0.1:{proxy.port}{parts.path}"

    def start(self) -> None:
        from genrep.transport.tls import client_context
        if self.profile.kind == "virtual":
            from genrep.sim.process import start_virtual_environment
            self.venv = start_virtual_environment(self.profile, outbound=self._outbound_proxy)
            self.live = self.venv.profile
            nll = self.outbound.get("nll")
            if nll is not None and nll.tls and "nll_fhir" in self.live.endpoints:
                ep = self.live.endpoint("nll_fhir")  # the EHR's TLS to NLL: the harness's client side
                nll.use_tls(client_context(self.live, ep), ep.server_name)
            self._start_relay()
        mllp_ep, fhir_ep = self.live.endpoint(MLLP_ENDPOINT), self.live.endpoint(FHIR_ENDPOINT)
        t = self.live.timeouts
        self.mllp = MLLPProxy(mllp_ep.host, mllp_ep.port, self.switch, ssl_context=client_context(self.live, mllp_ep),
                              server_hostname=mllp_ep.server_name, connect_timeout=t.connect).start()
        self.http = HTTPProxy(fhir_ep.host, fhir_ep.port, self.switch, tls=fhir_ep.tls,
                              ssl_context=client_context(self.live, fhir_ep), server_hostname=fhir_ep.server_name,
                              connect_timeout=t.connect, read_timeout=t.read).start()

    def _start_relay(self) -> None:
        from genrep.faults.sim import SimFaultDriver
        from genrep.secrets import register_secret
        token = secrets.token_urlsafe(24)
        register_secret(token)
        self.relay = FaultRelay(SimFaultDriver(self.venv), token).start()
        self._token_env = _environ(TOKEN_ENV, token)  # the suite's fault commands read it
        self._token_env.__enter__()

    def faults_section(self) -> dict | None:
        """The derived profile's ``faults``: the relay's commands for every target it can fail."""
        if self.relay is None:
            return None
        from genrep.faults.sim import TARGETS
        return self.relay.profile_section({name: spec.faults for name, spec in TARGETS.items()
                                           if name in self.venv.processes})

    def can_run(self, op: Operator) -> bool:
        """Can ``op``'s channel be reached here? (outbound channels: only with an outbound proxy)"""
        paths = [name for name, pair in OUTBOUND.items() if op.channel in pair]
        return all(name in self.outbound for name in paths)

    def clear_faults(self) -> None:
        """Undo any fault a suite run left injected (its scenarios clear their own; a stopped run may not)."""
        if self.relay is not None:
            self.relay.clear_all()

    def reset_store(self) -> bool:
        """Empty the virtual EHR's store (no-op against an external environment)."""
        if self.venv is None or "ehr_admin" not in self.live.endpoints:
            return False
        from genrep.transport.endpoints import http_transport_for
        transport = http_transport_for(self.live, "ehr_admin")
        try:
            transport.request("POST", "reset")
        finally:
            transport.session.close()
        return True

    def stop(self) -> None:
        try:
            self.switch.set(None)
            for proxy in (self.mllp, self.http, *self.outbound.values()):
                if proxy is not None:
                    proxy.stop()
            if self.relay is not None:
                self.relay.stop()
        finally:
            try:
                if self._token_env is not None:
                    self._token_env.__exit__(None, None, None)
                    self._token_env = None
            finally:
                if self.venv is not None:
                    self.venv.stop()


def _groups(ops: list[Operator], select: str | None, marks: str | None) -> list[tuple[str | None, str | None,
                                                                                       list[int]]]:
    """(``-k``, ``-m``, indices of the operators run against that selection), in operator order: one
    selection for all when the caller chose one, else each integration's (``INTEGRATION_MARKS``)."""
    if select or marks:
        return [(select, marks, list(range(len(ops))))]
    groups: dict[str, list[int]] = {}
    for i, op in enumerate(ops):
        groups.setdefault(INTEGRATION_MARKS.get(op.integration, DEFAULT_MARKS), []).append(i)
    return [(None, m, idx) for m, idx in groups.items()]


def _label(select: str | None, marks: str | None) -> str:
    return " ".join(p for p in ((f"-k {select!r}" if select else ""), (f"-m {marks!r}" if marks else "")) if p)


def run_mutation(*, env: str | None = None, operator_names: tuple[str, ...] = (),
                 integrations: tuple[str, ...] = ("radiology",), select: str | None = None,
                 marks: str | None = None, budget: float = 1800.0, seed: int = 0, out_dir: Path = DEFAULT_OUT,
                 prescreen: bool = True, all_scenarios: bool = False, target: float = TARGET_SCORE,
                 extra_operators: tuple[Operator, ...] = (), progress=print) -> Report:
    """Run the mutation analysis (see the module docstring) and write ``OUT/mutation.json``.

    ``extra_operators``: operator instances run after the chosen ones (a test's own operator)."""
    started = time.monotonic()
    deadline = started + budget
    ops = (select_operators(operator_names, integrations, seed=seed) if operator_names or not extra_operators
           else []) + list(extra_operators)
    profile = load_profile(env, defects=())
    out_dir = Path(out_dir)
    outputs.check(out_dir, what="mutation output folder (--out)")
    groups = _groups(ops, select, marks)
    report = Report(environment=f"{profile.name} ({profile.kind})",
                    selection={"k": select, "m": marks, "operators": [o.name for o in ops],
                               "runs": [{"k": k, "m": m, "integrations": sorted({ops[i].integration for i in idx})}
                                        for k, m, idx in groups]},
                    seed=seed,
                    operators=[Outcome(o.name, o.changes, o.channel, o.integration, o.effect) for o in ops],
                    target=target)
    report.control = {"scenarios": 0, "failed": [], "seconds": 0.0, "messages_recorded": 0, "runs": []}
    outputs.claim(out_dir, what="mutation output folder (--out)")
    environment = _Env(profile)
    try:
        progress(f"genrep mutate: environment '{profile.name}' ({profile.kind}), {len(ops)} operator(s), "
                 f"{len(groups)} scenario selection(s), budget {budget:.0f} s")
        environment.start()
        assert environment.mllp is not None and environment.http is not None
        if environment.outbound:
            progress("  outbound proxies: " + ", ".join(f"{name} (the EHR calls it instead of {name})"
                                                        for name in environment.outbound))
        profile_path = out_dir / "profile.yaml"
        profile_path.write_text("# written by genrep mutate: the environment behind its proxies\n"
                                + yaml.safe_dump(derived_profile(environment.live, environment.mllp.port,
                                                                 environment.http.port,
                                                                 faults=environment.faults_section()),
                                                 sort_keys=False, allow_unicode=True), encoding="utf-8")

        def suite(results: Path, k: str | None, m: str | None, *, exitfirst: bool) -> tuple[int, list, float, int]:
            remaining = deadline - time.monotonic()
            if remaining <= 5:
                raise _BudgetSpent()
            t0 = time.monotonic()
            with _pytest_addopts("-x" if exitfirst else ""):
                try:
                    outcome = run_features(env=str(profile_path), results_dir=results, select=k,
                                           marks=m, timeout=remaining, quiet=True)
                except GenrepError as exc:
                    if "exceeded" in str(exc):
                        raise _BudgetSpent() from None
                    raise
                finally:
                    environment.clear_faults()
            if outcome.identity_refusal:
                raise GenrepError(f"IDENTITY REFUSED, the run was stopped: {outcome.identity_refusal}")
            if outcome.returncode not in (0, 1):
                tail = "\n".join(outcome.output.strip().splitlines()[-15:])
                raise GenrepError(f"the feature run ended with pytest exit code {outcome.returncode} "
                                  f"(collection or configuration error):\n{tail}")
            count, failed = _failures(results)
            return count, failed, time.monotonic() - t0, outcome.returncode

        for n, (k, m, indices) in enumerate(groups):
            _run_group(n, k, m, [(ops[i], report.operators[i]) for i in indices], report, environment, suite,
                       out_dir, deadline=deadline, prescreen=prescreen, all_scenarios=all_scenarios,
                       progress=progress)
        report.complete = all(o.status != NOT_RUN for o in report.operators) and not report.control.get("note")
    except _BudgetSpent:
        report.control.setdefault("note", f"the budget of {budget:.0f} s ran out")
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    finally:
        try:
            environment.stop()
        finally:
            report.wall_seconds = time.monotonic() - started
            write_json(report, out_dir / "mutation.json")
    return report


def _run_group(n: int, k: str | None, m: str | None, pairs: list[tuple[Operator, Outcome]], report: Report,
               environment: _Env, suite, out_dir: Path, *, deadline: float, prescreen: bool, all_scenarios: bool,
               progress) -> None:
    """One selection of scenarios: its control run, its operators, the control again."""
    label = _label(k, m)
    runs = out_dir / "runs" / f"{n + 1}"
    applicable = []
    for op, result in pairs:
        if environment.can_run(op):
            applicable.append((op, result))
            continue
        result.status = NOT_APPLICABLE
        result.note = (f"its channel ({op.channel}: {CHANNEL_WORDS.get(op.channel, op.channel)}) is one of the EHR's "
                       "outbound paths, which only the virtual environment lets a proxy sit on")
        progress(f"  {op.name:38s} not applicable here ({op.channel})")
    if not applicable:
        return
    run = {"selection": label, "integrations": sorted({op.integration for op, _ in applicable})}
    report.control["runs"].append(run)
    # 1. the clean control run, recording the traffic
    environment.reset_store()
    environment.switch.set(None, record=True)
    try:
        count, failed, seconds, _ = suite(runs / "control", k, m, exitfirst=False)
    finally:
        recorded = list(environment.switch.recorded)
        environment.switch.set(None)
    run.update(scenarios=count, failed=[x for x, _ in failed], seconds=round(seconds, 1),
               messages_recorded=len(recorded))
    for key in ("scenarios", "seconds", "messages_recorded"):
        report.control[key] = round(report.control[key] + run[key], 1)
    report.control["failed"] += run["failed"]
    progress(f"  control run: {count} scenario(s) ({label}), {len(failed)} failed, {seconds:.1f} s, "
             f"{len(recorded)} messages seen by the proxies")
    if count == 0:
        raise ConfigError(f"the selection {label} runs no scenario (check -k / -m)")
    if failed:
        run["note"] = report.control["note"] = (
            "the suite is not green on the clean environment: no operator can be classified "
            "(caught needs a clean control run)")
        for _, result in applicable:
            result.note = f"not run: the control run {label} failed"
        progress(f"  control run FAILED: {', '.join(x for x, _ in failed[:5])}; its operators are not classified")
        return
    per_run = seconds

    # 2. and 3. each operator
    for op, result in applicable:
        if prescreen and not _applies_to_any(op, recorded):
            result.status, result.prescreened = NEVER, True
            result.note = f"changes none of the {len(recorded)} messages of the control run"
            progress(f"  {op.name:38s} never triggered (pre-screened)")
            continue
        if deadline - time.monotonic() < per_run * 1.5 + 5:
            result.note = "not run: the budget would run out"
            progress(f"  {op.name:38s} not run (budget)")
            continue
        _run_one(op, result, environment, lambda results, exitfirst: suite(results, k, m, exitfirst=exitfirst),
                 runs / "operator", all_scenarios)
        progress(f"  {op.name:38s} {result.status:16s} changed {result.applied:3d} message(s), "
                 f"{len(result.failed)} failed, {result.seconds:.1f} s"
                 + (f" [{result.note}]" if result.note and result.status != SURVIVED else ""))

    # 4. the control again: the environment must still be clean
    environment.switch.set(None)
    if deadline - time.monotonic() >= per_run * 1.5 + 5:
        environment.reset_store()
        count2, failed2, seconds2, _ = suite(runs / "control", k, m, exitfirst=False)
        run["after"] = {"scenarios": count2, "failed": [x for x, _ in failed2], "seconds": round(seconds2, 1)}
        after = report.control.setdefault("after", {"scenarios": 0, "failed": [], "seconds": 0.0})
        after["scenarios"] += count2
        after["failed"] += run["after"]["failed"]
        after["seconds"] = round(after["seconds"] + seconds2, 1)
        if failed2:
            run["note"] = report.control["note"] = ("the control run after the operators FAILED: results may be "
                                                    "unreliable")


class _BudgetSpent(Exception):
    pass


def _applies_to_any(op: Operator, messages) -> bool:
    for m in messages:
        if m.channel != op.channel:
            continue
        try:
            if op.applies(m) and op.apply(m).data != m.data:
                return True
        except Exception:  # noqa: BLE001 - it would raise in the proxy too: run it and see
            return True
    return False


def _run_one(op: Operator, result: Outcome, environment: _Env, suite, results: Path, all_scenarios: bool) -> None:
    t0 = time.monotonic()
    environment.reset_store()
    environment.switch.set(op)
    try:
        count, failed, _, _ = suite(results, exitfirst=not all_scenarios)
    finally:
        counts = environment.switch.counts
        environment.switch.set(None)
        result.seconds = round(time.monotonic() - t0, 1)
    result.applied, result.seen = counts.applied, counts.seen
    result.failed = [safe_text(n) for n, _ in failed]
    result.kinds = sorted({k for _, kinds in failed for k in kinds})
    result.example = safe_text(counts.example)
    if counts.errors:
        result.note = f"the operator raised on {counts.errors} message(s): {counts.error}"
    if counts.applied == 0:
        result.status = NEVER
        if failed:
            result.note = (f"{len(failed)} scenario(s) failed though the operator changed nothing: "
                           "a flaky scenario or environment")
    elif failed:
        result.status = CAUGHT
    else:
        result.status = SURVIVED
        result.note = survivor_note(op, counts.applied, count)


def survivor_note(op: Operator, applied: int, scenarios: int) -> str:
    """Why an operator survived, in the terms the run can vouch for."""
    where = CHANNEL_WORDS.get(op.channel, op.channel)
    return (f"changed {applied} message(s) of {where} and all {scenarios} scenario(s) passed: no scenario "
            "compares what it changed, or the receiver tolerates the change (it reads the same either way)")


def write_json(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def write_allure(report: Report, results_dir: Path) -> list[Path]:
    """One Allure result per integration through ``results.writer``: passed when the score meets
    the target, failed (survivors listed) when it does not, broken when nothing could be judged.

    No requirement label: adding a requirement for the mutation score to the catalogue would make
    every rehearsal without a mutation run NO-GO (the gate calls a requirement no result verifies
    "untested"). A result without one is an "untagged scenario" to the gate, so these go to their
    own folder (``reports/mutate/allure-results`` by default), not into a rehearsal's results."""
    from genrep.results import writer
    results = []
    for integration, s in report.by_integration().items():
        survivors = report.survivors(integration)
        if s["score"] is None:
            status = "broken"
            message = ("no operator was judged (none triggered, none run, or none applicable in this "
                       "environment): no mutation score")
        else:
            status = "passed" if s["meets_target"] and report.complete else "failed"
            message = (f"mutation score {s['score']:.1%} (target {report.target:.0%}): {s[CAUGHT]} caught, "
                       f"{s[SURVIVED]} survived, {s[NEVER]} never triggered"
                       + (f", {s[NOT_APPLICABLE]} not applicable here" if s[NOT_APPLICABLE] else "")
                       + ("" if report.complete else "; the run is INCOMPLETE")
                       + "".join(f"\nsurvived: {o.name}: {o.changes}" for o in survivors))
        ops = [o for o in report.operators if o.integration == integration]
        attachments = [writer.Attachment("mutation.json", json.dumps(
            {**report.to_dict(), "operators": [asdict(o) for o in ops],
             "survivors": [d for d in report.to_dict()["survivors"] if d["integration"] == integration]},
            indent=2, ensure_ascii=False), "application/json")]
        if survivors:
            attachments.append(writer.Attachment("survivors", "\n\n".join(
                f"== {o.name} ({o.applied} message(s) changed)\n{o.changes}\n{o.note}\n{o.example}"
                for o in survivors)))
        results.append(writer.Result(
            key=f"mutate-{integration}", name=f"Mutation score, {integration}",
            full_name=f"genrep.mutate.{integration}", status=status, message=safe_text(message),
            description=f"Corruption operators on the {integration} integration against the scenarios "
                        f"{report.selection}; caught / (caught + survived).",
            labels=[("epic", integration), ("feature", "mutation analysis"), ("severity", "normal")],
            parameters=[("environment", report.environment), ("score", s["score"]), (CAUGHT, s[CAUGHT]),
                        (SURVIVED, s[SURVIVED]), (NEVER, s[NEVER]), ("seed", report.seed)],
            attachments=attachments))
    return writer.write(results_dir, results, writer.Producer("genrep_mutate", "mutation", every_value=True))
