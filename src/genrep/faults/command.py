"""Faults in a real environment by running the commands its operators gave us.

The profile's ``faults`` section maps target -> fault -> command line, plus target -> ``clear``::

    faults:
      driver: command
      commands:
        multum-a:
          stopped: ssh ops@multum-a.test.example sudo systemctl stop multum
          slow: ssh ops@multum-a.test.example sudo tc-delay {delay}
          clear: ssh ops@multum-a.test.example sudo multum-restore
        nll:
          error503: ssh ops@gw.test.example sudo nll-maintenance on
          clear: ssh ops@gw.test.example sudo nll-maintenance off

A command line is split with ``shlex`` and run without a shell, so nothing in it (or in a
parameter) is interpreted as shell syntax. ``{delay}``, ``{version}`` and ``{check}`` inside an
argument are replaced by the fault's parameters after splitting. Every run is bounded by
``timeout``; a non-zero exit or a timeout is a ``GenrepError`` with the (redacted) stderr tail.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping

from genrep.errors import ConfigError, GenrepError
from genrep.secrets import redact
from genrep.faults.base import FAULTS, PARAMS, FaultDriver, UnsupportedFault, check_params

CLEAR = "clear"
_TAIL = 500


class CommandFaultDriver(FaultDriver):
    def __init__(self, commands: Mapping[str, Mapping[str, str]], timeout: float = 30.0):
        if not 0 < timeout <= 600:
            raise ConfigError(f"command timeout must be more than 0 and at most 600 seconds, got {timeout}")
        self.timeout = timeout
        self.commands: dict[str, dict[str, list[str]]] = {}
        for target, by_fault in commands.items():
            if not isinstance(by_fault, Mapping):
                raise ConfigError(f"commands for target {target!r} must map fault -> command line")
            parsed: dict[str, list[str]] = {}
            for fault, line in by_fault.items():
                if fault not in FAULTS and fault != CLEAR:
                    raise ConfigError(f"target {target!r}: unknown fault {fault!r} "
                                      f"(known: {', '.join(FAULTS)}, {CLEAR})")
                if not isinstance(line, str):
                    raise ConfigError(f"target {target!r}, fault {fault!r}: expected a command line, "
                                      f"got {type(line).__name__}")
                try:
                    argv = shlex.split(line)
                except ValueError as exc:
                    raise ConfigError(f"target {target!r}, fault {fault!r}: cannot parse the command "
                                      f"line ({exc})") from None
                if not argv:
                    raise ConfigError(f"target {target!r}, fault {fault!r}: empty command line")
                parsed[fault] = argv
            self.commands[str(target)] = parsed
        self.supported = frozenset(f for by_fault in self.commands.values() for f in by_fault if f in FAULTS)
        self._injected: set[str] = set()

    def __repr__(self) -> str:
        return f"CommandFaultDriver({', '.join(self.commands)})"

    def _argv(self, target: str, action: str) -> list[str]:
        if target not in self.commands:
            raise GenrepError(f"no fault target {target!r} configured "
                              f"(known: {', '.join(self.commands) or 'none'})")
        argv = self.commands[target].get(action)
        if argv is None:
            configured = ", ".join(self.commands[target]) or "nothing"
            what = "no clear command" if action == CLEAR else f"fault {action!r} is not supported"
            raise UnsupportedFault(f"{target}: {what} (configured for {target}: {configured})")
        return argv

    def check(self, target: str, fault: str) -> None:
        if fault not in FAULTS:
            self._require_supported(fault)
        self._argv(target, fault)

    def inject(self, target: str, fault: str, **params) -> None:
        self.check(target, fault)
        argv = self._argv(target, fault)
        params = check_params(fault, params)
        self._injected.add(target)  # recorded first: a half-applied fault is still cleared
        self._run(target, fault, _substitute(argv, params, target, fault))

    def clear(self, target: str | None = None) -> None:
        if target is None:
            errors = []
            for name in sorted(self._injected):
                try:
                    self.clear(name)
                except GenrepError as exc:
                    errors.append(str(exc))
            if errors:
                raise GenrepError("clearing faults failed: " + "; ".join(errors))
            return
        argv = self._argv(target, CLEAR)
        self._run(target, CLEAR, argv)
        self._injected.discard(target)

    def _run(self, target: str, action: str, argv: list[str]) -> None:
        shown = redact(shlex.join(argv))
        try:
            done = subprocess.run(argv, timeout=self.timeout, capture_output=True, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise GenrepError(f"{target} {action}: `{shown}` did not finish within {self.timeout} s"
                              + _tail(exc.stderr)) from None
        except OSError as exc:  # not found, not executable
            raise GenrepError(f"{target} {action}: cannot run `{shown}`: {exc.strerror or exc}") from None
        if done.returncode != 0:
            raise GenrepError(f"{target} {action}: `{shown}` exited with code {done.returncode}"
                              + _tail(done.stderr))


def _tail(stderr: bytes | str | None) -> str:
    if not stderr:
        return ""
    text = stderr.decode("utf-8", errors="replace") if isinstance(stderr, bytes) else stderr
    text = redact(text.strip())
    return f"; stderr: {'…' if len(text) > _TAIL else ''}{text[-_TAIL:]}" if text else ""


def _substitute(argv: list[str], params: dict, target: str, fault: str) -> list[str]:
    out = []
    for arg in argv:
        for name in PARAMS:
            placeholder = "{" + name + "}"
            if placeholder in arg:
                if name not in params:
                    raise GenrepError(f"{target} {fault}: the configured command needs the {name!r} "
                                      f"parameter ({placeholder})")
                value = params[name]
                text = f"{value:g}" if isinstance(value, float) else str(value)
                arg = arg.replace(placeholder, text)
        out.append(arg)
    return out
