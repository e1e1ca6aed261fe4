"""The fault model every driver implements: the targets, the fault names and their meanings, their
parameters, ``FaultDriver`` (check, inject, clear) and ``injected`` (a context manager that always
clears). No driver imports here: the drivers import this module, ``genrep.faults`` picks one per
profile."""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from genrep.errors import GenrepError

#: the services a fault can be injected into (a driver may know only some of them)
TARGETS: dict[str, str] = {
    "multum-a": "the first Multum (drug database) server",
    "multum-b": "the second Multum server",
    "nll": "NLL (Nationella läkemedelslistan), the national medication list",
    "radiology-listener": "the EHR's inbound radiology MLLP listener (ORU and ADT)",
    "referral-receiver": "the receiving units' system that takes referrals sent from the EHR",
    "erx-receiver": "the national e-prescription receiver that takes signed prescriptions from the EHR",
}

FAULTS: tuple[str, ...] = ("stopped", "killed", "hang", "slow", "error503", "version", "partial", "malformed",
                           "wrong-content-type", "oversized", "restarted")

MEANINGS: dict[str, str] = {
    "stopped": "the service port refuses connections (server stopped cleanly)",
    "killed": "the server process dies abruptly (SIGKILL): connections reset, nothing listening",
    "hang": "connections are accepted but never answered",
    "slow": "answers arrive, each after `delay` seconds",
    "error503": "every request is answered with HTTP 503 Service Unavailable",
    "version": "the server reports another content `version` than its peer",
    "partial": "one `check` type (e.g. duplication) fails; the rest answer normally",
    "malformed": "answers are cut short: status 200 with truncated JSON",
    "wrong-content-type": "answers come as text/html instead of the API's JSON",
    "oversized": "answers are padded to more than 10 MB",
    "restarted": "the listener restarts: open connections are dropped, new ones refused for `delay` seconds, "
                 "then it listens again (inject returns once it is back)",
}

DEFAULT_SLOW_DELAY = 2.0  # seconds, when ``slow`` is injected without a ``delay``
DEFAULT_RESTART_DOWN = 2.0  # seconds a ``restarted`` listener is down, when injected without a ``delay``

# parameters a fault may take, and their types
PARAMS: dict[str, type] = {"delay": float, "version": str, "check": str}


class UnsupportedFault(GenrepError):
    """The selected driver cannot produce this fault on this target."""


class FaultDriver(abc.ABC):
    """Inject named faults into named targets (``TARGETS``: ``multum-a``, ``nll``, ...) and clear them again."""

    #: the faults this driver can inject (a subset of ``FAULTS``), into some target
    supported: frozenset[str] = frozenset()

    def check(self, target: str, fault: str) -> None:
        """Raise (``UnsupportedFault``, ``GenrepError``) unless this driver can inject ``fault`` into
        ``target``; injects nothing. Lets a plan be refused before a run starts, not half-way."""
        self._require_supported(fault)

    def route(self, profile, targets):
        """The profile the harness should use so that faults into ``targets`` can be injected: the
        same one, unless the driver must stand in front of a target itself (the virtual radiology
        listener: see ``genrep.faults.sim``). Called once, before any client is built."""
        return profile

    def close(self) -> None:
        """Release what ``route`` put in place (after the last ``clear``)."""

    @abc.abstractmethod
    def inject(self, target: str, fault: str, **params) -> None:
        """Make ``target`` misbehave as ``fault`` says (see ``MEANINGS``); returns once it does."""

    @abc.abstractmethod
    def clear(self, target: str | None = None) -> None:
        """Undo what this driver injected into ``target``; ``None``: into every target."""

    def _require_supported(self, fault: str) -> None:
        if fault not in self.supported:
            what = "unknown fault" if fault not in FAULTS else "fault"
            raise UnsupportedFault(
                f"{what} {fault!r} is not supported by the {type(self).__name__} "
                f"(supported: {', '.join(f for f in FAULTS if f in self.supported) or 'none'})")


def check_params(fault: str, params: Mapping[str, object]) -> dict[str, object]:
    """The validated parameters for ``fault`` (unknown names and wrong types are refused)."""
    out: dict[str, object] = {}
    for name, value in params.items():
        if name not in PARAMS:
            raise GenrepError(f"fault {fault!r}: unknown parameter {name!r} "
                              f"(known: {', '.join(PARAMS)})")
        if value is None:
            continue
        if PARAMS[name] is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not 0 <= value <= 600:
                raise GenrepError(f"fault {fault!r}: {name} must be a number of seconds from 0 to 600, "
                                  f"got {value!r}")
            value = float(value)
        elif not isinstance(value, str) or not value.strip():
            raise GenrepError(f"fault {fault!r}: {name} must be a non-empty string, got {value!r}")
        out[name] = value
    return out


@contextmanager
def injected(driver: FaultDriver, target: str, fault: str, **params) -> Iterator[FaultDriver]:
    """Inject ``fault`` into ``target`` for the duration of the block; always clear it afterwards.

    An error in the block is re-raised as it was (a failing clear is added to it as a note); a
    failing clear after a clean block is raised."""
    try:
        driver.inject(target, fault, **params)
        yield driver
    except BaseException as exc:
        try:
            driver.clear(target)
        except Exception as clear_exc:  # the first error is the one to report
            exc.add_note(f"clearing {fault!r} on {target!r} also failed: {clear_exc}")
        raise
    driver.clear(target)
