"""A load profile's planned faults (``profiles.NAME.faults`` in ``contracts/load.yaml``), injected
mid-run from this process through ``genrep.faults``: the same drivers the steps use (the virtual
simulators' admin API and SIGKILL; an external profile's command or Toxiproxy driver).

Every plan is checked before the load starts (its second within the run, the driver able to inject
that fault into that target), so a run is refused up front rather than losing its fault half-way.
A fault that fails to inject is reported after the run (never a silent "survived"); whatever was
injected is cleared when the load ends.
"""

from __future__ import annotations

import threading
import time

from genrep.errors import ConfigError, GenrepError
from genrep.faults.base import FaultDriver
from genrep.load.contract import PlannedFault


def check_timing(plans: tuple[PlannedFault, ...], duration_s: float) -> None:
    """ConfigError (file, key, line) for a fault planned at or after the end of the run."""
    for plan in plans:
        plan.at(duration_s)


class FaultSchedule:
    """Inject each planned fault at its second of the run; ``stop`` cancels what is still to come and
    clears everything injected."""

    def __init__(self, plans: tuple[PlannedFault, ...], driver: FaultDriver, duration_s: float):
        self.driver = driver
        self.plans = [(plan, plan.at(duration_s)) for plan in plans]
        for plan, _ in self.plans:
            try:
                driver.check(plan.target, plan.fault)
            except GenrepError as exc:
                raise ConfigError(f"{plan.describe()}: {exc}", file=plan.file or None, key=plan.key,
                                  line=plan.line) from None
        self.injected: list[tuple[float, PlannedFault]] = []  # (epoch when injected, plan), in order
        self.errors: list[str] = []
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FaultSchedule({', '.join(p.describe() for p, _ in self.plans)}; {self.driver!r})"

    def start(self) -> "FaultSchedule":
        for plan, at in self.plans:
            timer = threading.Timer(at, self._inject, (plan,))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
        return self

    def _inject(self, plan: PlannedFault) -> None:
        with self._lock:
            self.injected.append((time.time(), plan))
        try:
            self.driver.inject(plan.target, plan.fault, **plan.params)
        except Exception as exc:  # a thread's error would be lost: reported by the run instead
            with self._lock:
                self.errors.append(f"injecting {plan.describe()} failed: {exc}")

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for timer in self._timers:
            timer.join(timeout=30.0)  # an injection under way finishes before it is cleared
        self.driver.clear()

    def raise_errors(self) -> None:
        if self.errors:
            raise GenrepError("the load's fault plan did not run as planned: " + "; ".join(self.errors))
