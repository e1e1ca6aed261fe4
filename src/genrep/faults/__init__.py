"""Fault injection: one small interface, one driver per file, the one way to make a service fail at
run time (start-up defects are another thing: ``genrep.sim.defects``).

Steps and load plans say *what* should go wrong with *which* target (``TARGETS``: the Multum
servers ``multum-a`` and ``multum-b``, ``nll``, and the EHR's ``radiology-listener``); the driver
chosen for the environment profile knows *how*. In the style of Toxiproxy, each fault is one named
thing, and ``clear`` (with no target: everything this driver injected) puts the environment back so
the next test starts clean::

    driver = driver_for(profile, venv)
    with injected(driver, "multum-a", "hang"):
        ...  # the primary accepts connections and never answers: expect failover
    with injected(driver, "nll", "error503"):
        ...  # the EHR must say NLL is unavailable, never "no medications"

Drivers:

- ``sim`` (virtual environment): the simulators' admin API, and SIGKILL for ``killed``;
- ``command`` (real environment): the profile maps target -> fault -> a command line to run;
- ``toxiproxy`` (real environment behind Toxiproxy): TCP-level faults through its HTTP API.

``genrep.faults`` is the public interface (``driver_for``, ``injected``); the fault model is
``genrep.faults.base``, one driver per module.
"""

from __future__ import annotations

from collections.abc import Mapping

from genrep.errors import ConfigError
# the public interface
from genrep.faults.base import FAULTS, MEANINGS, TARGETS, FaultDriver, UnsupportedFault, injected
from genrep.faults.command import CommandFaultDriver
from genrep.faults.sim import SimFaultDriver
from genrep.faults.toxiproxy import ToxiproxyDriver


# the keys each external driver's profile section may hold
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
    try:
        return ToxiproxyDriver(api, dict(proxies), check_host=profile.check_host,
                               **({"timeout": float(timeout)} if timeout else {}))
    except ConfigError as exc:
        raise ConfigError(str(exc), file=file, key=exc.key or "faults") from None


__all__ = ["FAULTS", "MEANINGS", "TARGETS", "FaultDriver", "UnsupportedFault", "driver_for", "injected"]
