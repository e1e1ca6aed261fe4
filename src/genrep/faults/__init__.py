"""Fault injection for the Multum (drug database) servers: one small interface, one driver per file.

Steps say *what* should go wrong with *which* server; the driver chosen for the environment profile
knows *how*. In the style of Toxiproxy, each fault is one named thing, and ``clear`` (with no target:
everything this driver injected) puts the environment back so the next test starts clean::

    driver = driver_for(profile, venv)
    with injected(driver, "multum-a", "hang"):
        ...  # the primary accepts connections and never answers: expect failover

Drivers:

- ``sim`` (virtual environment): the simulators' admin API, and SIGKILL for ``killed``;
- ``command`` (real environment): the profile maps target -> fault -> a command line to run;
- ``toxiproxy`` (real environment behind Toxiproxy): TCP-level faults through its HTTP API.

Only this module is the public interface; the driver modules are imported lazily by ``driver_for``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ..errors import ConfigError, GenrepError

FAULTS: tuple[str, ...] = ("stopped", "killed", "hang", "slow", "error503", "version", "partial")

MEANINGS: dict[str, str] = {
    "stopped": "the service port refuses connections (server stopped cleanly)",
    "killed": "the server process dies abruptly (SIGKILL): connections reset, nothing listening",
    "hang": "connections are accepted but never answered",
    "slow": "answers arrive, each after `delay` seconds",
    "error503": "every check is answered with HTTP 503 Service Unavailable",
    "version": "the server reports another content `version` than its peer",
    "partial": "one `check` type (e.g. duplication) fails; the rest answer normally",
}

DEFAULT_SLOW_DELAY = 2.0  # seconds, when ``slow`` is injected without a ``delay``

# parameters a fault may take, and their types
PARAMS: dict[str, type] = {"delay": float, "version": str, "check": str}


class UnsupportedFault(GenrepError):
    """The selected driver cannot produce this fault on this target."""


class FaultDriver(abc.ABC):
    """Inject named faults into named targets (``multum-a``, ``multum-b``) and clear them again."""

    #: the faults this driver can inject (a subset of ``FAULTS``)
    supported: frozenset[str] = frozenset()

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


_DRIVER_KEYS = {
    "command": {"driver", "commands", "timeout"},
    "toxiproxy": {"driver", "api", "proxies", "timeout"},
}


def driver_for(profile, venv=None, faults: Mapping | None = None) -> FaultDriver:
    """The fault driver for ``profile``.

    Virtual profiles use the running virtual environment ``venv``. External profiles need a
    ``faults`` section (a dict), either ``{"driver": "command", "commands": {target: {fault: cmd,
    "clear": cmd}}}`` or ``{"driver": "toxiproxy", "api": "http://host:8474", "proxies": {target:
    proxy}}``; the Toxiproxy API host must be one the profile allows."""
    file = getattr(profile, "file", "") or None
    if faults is None:
        faults = getattr(profile, "faults", None)
    if profile.kind == "virtual":
        if venv is None:
            raise ConfigError(f"profile '{profile.name}' is virtual but no virtual environment is "
                              "running: start it first and pass it to driver_for", file=file)
        from .sim import SimFaultDriver
        return SimFaultDriver(venv)
    if not faults:
        raise ConfigError(f"profile '{profile.name}' has no 'faults' section, so faults cannot be "
                          "injected; configure driver: command (with commands per target and fault) "
                          "or driver: toxiproxy (with api and proxies)", file=file, key="faults")
    if not isinstance(faults, Mapping):
        raise ConfigError("the faults section must be a mapping", file=file, key="faults")
    kind = faults.get("driver")
    if kind not in _DRIVER_KEYS:
        raise ConfigError(f"unknown fault driver {kind!r} (known: {', '.join(_DRIVER_KEYS)})",
                          file=file, key="faults.driver")
    unknown = sorted(set(faults) - _DRIVER_KEYS[kind])
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} for the {kind} fault driver "
                          f"(known: {', '.join(sorted(_DRIVER_KEYS[kind]))})", file=file, key="faults")
    timeout = faults.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout <= 600):
        raise ConfigError(f"must be more than 0 and at most 600 seconds, got {timeout!r}", file=file,
                          key="faults.timeout")
    if kind == "command":
        commands = faults.get("commands")
        if not isinstance(commands, Mapping) or not commands:
            raise ConfigError("the command fault driver needs 'commands': target -> fault -> command line",
                              file=file, key="faults.commands")
        from .command import CommandFaultDriver
        try:
            return CommandFaultDriver(commands, **({"timeout": float(timeout)} if timeout else {}))
        except ConfigError as exc:
            raise ConfigError(str(exc), file=file, key=exc.key or "faults.commands") from None
    api, proxies = faults.get("api"), faults.get("proxies")
    if not isinstance(api, str) or not api.strip():
        raise ConfigError("the toxiproxy fault driver needs 'api', the Toxiproxy HTTP API URL "
                          "(e.g. http://toxiproxy.test.example:8474)", file=file, key="faults.api")
    if not isinstance(proxies, Mapping) or not proxies:
        raise ConfigError("the toxiproxy fault driver needs 'proxies': target -> Toxiproxy proxy name",
                          file=file, key="faults.proxies")
    from .toxiproxy import ToxiproxyDriver
    try:
        return ToxiproxyDriver(api, dict(proxies), check_host=profile.check_host,
                               **({"timeout": float(timeout)} if timeout else {}))
    except ConfigError as exc:
        raise ConfigError(str(exc), file=file, key=exc.key or "faults") from None


__all__ = ["FAULTS", "MEANINGS", "FaultDriver", "UnsupportedFault", "driver_for", "injected"]
