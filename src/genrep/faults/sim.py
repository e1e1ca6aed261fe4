"""Faults in the virtual environment: the simulators' admin API, and SIGKILL for ``killed``.

Targets: ``multum-a``, ``multum-b`` (the Multum simulators), ``nll`` (the NLL simulator) and
``radiology-listener`` (the EHR's radiology MLLP listener) and ``referral-receiver`` (the receiving
units' side of referrals).
``POST {admin}/fault`` with ``{"mode": fault, ...params}`` switches a simulator's behaviour (its
admin port keeps answering whatever the service port does); clearing switches it back: a Multum
simulator gets ``POST {admin}/reset``, NLL gets mode ``none`` (its reset would also drop the
planted content and the release). ``killed`` is real: the process gets SIGKILL and is reaped;
clearing it restarts the simulator on the same ports (``VirtualEnvironment.restart``).

``radiology-listener`` ``restarted``: the virtual EHR cannot restart its MLLP listener alone, and
restarting its process would lose its (in-memory) store, which a real EHR's listener restart does
not. So ``route`` puts a ``ListenerFront`` in front of the EHR's MLLP port (the profile's
``radiology_mllp`` then points at it) and the restart is done there: connections dropped, new ones
refused for ``delay`` seconds (default 2), then listening again. What is tested is what the senders
see and that nothing answered AA goes missing; a restart inside the EHR itself needs the simulator
to offer one (see docs/performance.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field

from genrep.errors import GenrepError
from genrep.transport.http import HttpTransport
from genrep.secrets import redact
from genrep.transport.endpoints import http_transport_for
from genrep.faults.base import (DEFAULT_RESTART_DOWN, DEFAULT_SLOW_DELAY, FAULTS, FaultDriver, UnsupportedFault,
                                check_params)
from genrep.faults.listener_front import ListenerFront

KILL_WAIT = 5.0  # seconds to wait for a SIGKILLed simulator to be gone
# connect, read: the admin port answers at once whatever the fault; the read bound leaves a busy
# machine (a simulator held off the CPU for seconds, as beside other test runs) room, since a fault
# that could not be injected fails the scenario as an environment error, not as the product's
ADMIN_TIMEOUTS = (2.0, 10.0)


@dataclass(frozen=True)
class SimTarget:
    """What one simulator can do and how its admin API says it."""
    faults: frozenset[str]
    params: frozenset[str]                            # the fault parameters its admin API takes
    modes: dict[str, str] = field(default_factory=dict)  # fault -> the simulator's mode name, where it differs
    clear: tuple[str, dict | None] = ("reset", None)  # the admin call that undoes a fault


_MULTUM = SimTarget(frozenset({"stopped", "killed", "hang", "slow", "error503", "version", "partial", "malformed"}),
                    frozenset({"delay", "version", "check"}))
TARGETS: dict[str, SimTarget] = {
    "multum-a": _MULTUM,
    "multum-b": _MULTUM,
    # genrep.sim.nll's fault modes (its FHIR API only; admin always answers)
    "nll": SimTarget(frozenset({"hang", "slow", "error503", "malformed", "wrong-content-type", "oversized"}),
                     frozenset({"delay"}), modes={"error503": "unavailable"}, clear=("fault", {"mode": "none"})),
    # through a ListenerFront (``route``), not the EHR's admin API
    "radiology-listener": SimTarget(frozenset({"restarted"}), frozenset({"delay"})),
    # genrep.sim.referral_receiver's fault modes (its service port; admin always answers); clearing keeps
    # what it received
    "referral-receiver": SimTarget(frozenset({"stopped", "killed", "hang", "error503"}), frozenset(),
                                   clear=("fault", {"mode": "none"})),
    # genrep.sim.erx_receiver (the referral receiver's fault modes and admin API)
    "erx-receiver": SimTarget(frozenset({"stopped", "killed", "hang", "error503"}), frozenset(),
                              clear=("fault", {"mode": "none"})),
}
#: targets that are a part of another simulator's process
_PROCESS = {"radiology-listener": "ehr"}


class SimFaultDriver(FaultDriver):
    supported = frozenset().union(*(t.faults for t in TARGETS.values()))  # per target: supported_by

    def __init__(self, venv):
        self.venv = venv
        self._injected: dict[str, str] = {}  # target -> last fault injected (until cleared)
        self.front: ListenerFront | None = None  # in front of the EHR's MLLP port, once routed

    def __repr__(self) -> str:
        return f"SimFaultDriver({', '.join(self.targets)})"

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(t for t in TARGETS if _PROCESS.get(t, t) in self.venv.processes)

    def _process(self, target: str):
        if target not in self.targets:
            raise GenrepError(f"no fault target {target!r} in the virtual environment "
                              f"(known: {', '.join(self.targets) or 'none'})")
        return self.venv.process(_PROCESS.get(target, target))

    def route(self, profile, targets):
        """With ``radiology-listener`` among ``targets``: a ListenerFront in front of the EHR's
        radiology MLLP port, and the profile with ``radiology_mllp`` pointing at it."""
        if "radiology-listener" not in targets:
            return profile
        from dataclasses import replace
        self._process("radiology-listener")
        ep = profile.endpoint("radiology_mllp")
        if self.front is None:
            self.front = ListenerFront(ep.host, ep.port)
            self.front.start()
        return profile.with_endpoints({"radiology_mllp": replace(ep, port=self.front.port)})

    def close(self) -> None:
        if self.front is not None:
            self.front.stop()
            self.front = None

    def supported_by(self, target: str) -> frozenset[str]:
        """The faults this driver can inject into ``target``."""
        self._process(target)
        return TARGETS[target].faults

    def check(self, target: str, fault: str) -> None:
        supported = self.supported_by(target)
        if fault not in supported:
            what = "unknown fault" if fault not in FAULTS else "fault"
            raise UnsupportedFault(f"{what} {fault!r} is not supported by the virtual {target} "
                                   f"(supported: {', '.join(f for f in FAULTS if f in supported)})")

    def inject(self, target: str, fault: str, **params) -> None:
        sim = self._process(target)
        self.check(target, fault)
        params = check_params(fault, params)
        spec = TARGETS[target]
        extra = sorted(name for name, value in params.items() if name not in spec.params and value is not None)
        if extra:
            raise UnsupportedFault(f"the virtual {target} takes no {', '.join(extra)} for fault {fault!r} "
                                   f"(it takes: {', '.join(sorted(spec.params)) or 'nothing'})")
        if fault == "killed":
            self._kill(target, sim)
            self._injected[target] = fault
            return
        if target == "radiology-listener":
            if self.front is None:
                raise GenrepError("radiology-listener: no listener front in place (route the profile through "
                                  "the driver before the senders connect)")
            self._injected[target] = fault
            self.front.restart(params.get("delay", DEFAULT_RESTART_DOWN))
            return
        if not sim.alive:
            raise GenrepError(f"{target} is not running (killed or stopped?); clear it before "
                              f"injecting {fault!r}")
        if fault == "slow":
            params.setdefault("delay", DEFAULT_SLOW_DELAY)
        self._injected[target] = fault  # recorded first: a half-applied fault is still cleared
        self._admin(target, sim, "fault", {"mode": spec.modes.get(fault, fault), **params})

    def clear(self, target: str | None = None) -> None:
        if target is None:
            errors = []
            for name in list(self._injected):
                try:
                    self.clear(name)
                except GenrepError as exc:  # clear the others anyway, then report
                    errors.append(str(exc))
            if errors:
                raise GenrepError("clearing faults failed: " + "; ".join(errors))
            return
        sim = self._process(target)
        if target == "radiology-listener":
            if self.front is not None:
                self.front.up()
        elif self._injected.get(target) == "killed" or not sim.alive:
            self.venv.restart(target)
        else:
            self._admin(target, sim, *TARGETS[target].clear)
        self._injected.pop(target, None)

    def _kill(self, target: str, sim) -> None:
        proc = sim.proc
        if proc is None or proc.poll() is not None:
            return  # already gone
        pid = sim.info.get("pid", proc.pid)
        if pid != proc.pid:  # never signal a process we did not start
            raise GenrepError(f"{target}: reported pid {pid} is not the simulator's process {proc.pid}; "
                              "refusing to kill it")
        os.kill(pid, signal.SIGKILL)
        try:
            proc.wait(KILL_WAIT)
        except subprocess.TimeoutExpired:
            raise GenrepError(f"{target} (pid {pid}) was sent SIGKILL but still runs after "
                              f"{KILL_WAIT} s") from None

    def _admin(self, target: str, sim, action: str, body: dict | None) -> None:
        admin = sim.info.get("admin")
        key = target.replace("-", "_") + "_admin"
        ep = self.venv.profile.endpoints.get(key)
        if ep is not None and (not admin or ep.base_url == admin.rstrip("/")):
            # the profile's endpoint: its TLS settings come with it (genrep.transport.tls)
            transport = http_transport_for(self.venv.profile, ep, with_token=False, user_agent="genrep-faults",
                                           connect_timeout=ADMIN_TIMEOUTS[0], read_timeout=ADMIN_TIMEOUTS[1])
        elif admin:
            transport = HttpTransport(admin, connect_timeout=ADMIN_TIMEOUTS[0], read_timeout=ADMIN_TIMEOUTS[1],
                                      check_host=self.venv.profile.check_host, user_agent="genrep-faults")
        else:
            raise GenrepError(f"{target}: no admin URL (neither in its start-up info nor as "
                              f"endpoint {key})")
        try:
            resp = transport.request("POST", action, json=body) if body is not None \
                else transport.request("POST", action)
        finally:
            transport.close()
        if resp.status_code >= 400:
            what = f"mode {body['mode']!r}" if body else action
            raise GenrepError(f"{target}: admin {action} ({what}) answered HTTP {resp.status_code}: "
                              f"{redact(resp.text)[:300]}")
