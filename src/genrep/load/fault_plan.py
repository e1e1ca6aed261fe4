"""A load profile's planned faults (``profiles.NAME.faults`` in ``contracts/load.yaml``), injected
mid-run from this process through ``genrep.faults``: the same drivers the steps use (the virtual
simulators' admin API and SIGKILL; an external profile's command or Toxiproxy driver).

Every plan is checked before the load starts (its second within the run and, for a judged fault,
within the steady phase after the ramp; its end, with ``for``, within the run; the driver able to
inject that fault into that target), so a run is refused up front rather than losing its fault
half-way. The seconds count from Locust's test start (the shape's t = 0): ``start`` is given that
epoch. A fault that fails to inject, or never was, is reported after the run (never a silent
"survived"); a fault with ``for`` is cleared mid-run, whatever is left is cleared when the load ends.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from genrep.errors import ConfigError, GenrepError
from genrep.faults.base import FaultDriver
from genrep.load.contract import PlannedFault


def check_timing(plans: tuple[PlannedFault, ...], duration_s: float, ramp_s: float = 0.0) -> None:
    """ConfigError (file, key, line) for a fault planned at or after the end of the run, ending
    after it, or, when it is judged under a requirement, during the ramp (a fault judged "at the
    peak" must come once the peak is reached)."""
    for plan in plans:
        at = plan.at(duration_s)
        if plan.requirement and at < ramp_s:
            raise ConfigError(f"the fault {plan.describe()} is judged under {plan.requirement} at the peak, but it "
                              f"is planned at second {at:g}, during the ramp (the first {ramp_s:g} s of the "
                              f"{duration_s:g} s run): plan it in the steady phase", file=plan.file or None,
                              key=f"{plan.key}.at", line=plan.line)


@dataclass
class FaultEvent:
    """When one planned fault happened, in epoch seconds."""
    plan: PlannedFault
    injected: float             # when injection began
    returned: float | None = None  # when ``inject`` returned (a restart: when the listener was back)
    cleared: float | None = None   # when it was cleared mid-run (``for``)

    def back(self) -> float:
        """When the service was expected back: cleared mid-run, or the end of a restart, or at once
        (a server killed behind a load balancer: failing over is the service's own job)."""
        if self.cleared is not None:
            return self.cleared
        if self.plan.fault == "restarted" and self.returned is not None:
            return self.returned
        return self.injected


class FaultSchedule:
    """Inject each planned fault at its second of the run; ``stop`` cancels what is still to come and
    clears everything injected."""

    def __init__(self, plans: tuple[PlannedFault, ...], driver: FaultDriver, duration_s: float, ramp_s: float = 0.0):
        check_timing(plans, duration_s, ramp_s)
        self.driver = driver
        self.duration_s = duration_s
        self.plans = [(plan, plan.at(duration_s)) for plan in plans]
        for plan, _ in self.plans:
            try:
                driver.check(plan.target, plan.fault)
            except GenrepError as exc:
                raise ConfigError(f"{plan.describe()}: {exc}", file=plan.file or None, key=plan.key,
                                  line=plan.line) from None
        self.injected: list[tuple[float, PlannedFault]] = []  # (epoch when injected, plan), in order
        self.events: list[FaultEvent] = []
        self.errors: list[str] = []
        self.origin: float | None = None  # the epoch the plans' seconds count from
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()
        self._stopped = False

    def __repr__(self) -> str:
        return f"FaultSchedule({', '.join(p.describe() for p, _ in self.plans)}; {self.driver!r})"

    def route(self, profile):
        """The profile the harness uses, with whatever the driver must stand in front of (before any
        client is built: seeding, the Locust users)."""
        return self.driver.route(profile, {plan.target for plan, _ in self.plans})

    def start(self, origin: float | None = None) -> "FaultSchedule":
        """Start the timers: each fault at its second after ``origin`` (epoch; now when None)."""
        with self._lock:
            if self._stopped:
                return self
            self.origin = time.time() if origin is None else origin
            elapsed = time.time() - self.origin
            for plan, at in self.plans:
                timer = threading.Timer(max(0.0, at - elapsed), self._inject, (plan,))
                timer.daemon = True
                self._timers.append(timer)
                timer.start()
        return self

    def _inject(self, plan: PlannedFault) -> None:
        event = FaultEvent(plan, time.time())
        with self._lock:
            if self._stopped:
                return
            self.injected.append((event.injected, plan))
            self.events.append(event)
        try:
            self.driver.inject(plan.target, plan.fault, **plan.params)
        except Exception as exc:  # a thread's error would be lost: reported by the run instead
            with self._lock:
                self.errors.append(f"injecting {plan.describe()} failed: {exc}")
            return
        event.returned = time.time()
        lasts = plan.lasts(self.duration_s)
        if lasts is None:
            return
        wait = max(0.0, event.injected + lasts - time.time())
        timer = threading.Timer(wait, self._clear, (event,))
        timer.daemon = True
        with self._lock:
            if self._stopped:
                return
            self._timers.append(timer)
        timer.start()

    def _clear(self, event: FaultEvent) -> None:
        with self._lock:
            if self._stopped:
                return
        try:
            self.driver.clear(event.plan.target)
            event.cleared = time.time()
        except Exception as exc:  # noqa: BLE001
            with self._lock:
                self.errors.append(f"clearing {event.plan.describe()} mid-run failed: {exc}")

    def stop(self) -> None:
        """Cancel what is still to come and clear everything injected (an injection under way
        finishes first)."""
        with self._lock:
            self._stopped = True
            timers = list(self._timers)
        for timer in timers:
            timer.cancel()
        for timer in timers:
            if timer is not threading.current_thread():
                timer.join(timeout=30.0)
        self.driver.clear()

    def close(self) -> None:
        """Release what the driver put in front of a target (``route``)."""
        self.driver.close()

    def missing(self) -> list[PlannedFault]:
        """Planned faults that were never injected."""
        done = {id(e.plan) for e in self.events}
        return [plan for plan, _ in self.plans if id(plan) not in done]

    def raise_errors(self, *, completed: bool = False) -> None:
        """GenrepError when a fault failed to inject or clear, or (``completed``: the run ended as
        planned) when a planned fault never happened: a fault that never happened must not pass
        for one survived."""
        errors = list(self.errors)
        if completed:
            errors += [f"{plan.describe()} was never injected (the run ended, or Locust's test never "
                       "started, before its second)" for plan in self.missing()]
        if errors:
            raise GenrepError("the load's fault plan did not run as planned: " + "; ".join(errors))
