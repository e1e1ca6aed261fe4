"""The parts contract loaders share: opening a contract file (``contracts/NAME.yaml``, a mapping whose
``contract:`` names its kind), a section with a fixed set of keys, an error naming the file, the key
and the line, and the failure reasons (code, meaning, Swedish name) the e-prescription and referral
contracts both carry.

Its own module so that each contract's module (``access``, ``erx``, ``referrals``, ``nll``, ...) holds
only what is particular to that contract, and every loader opens and checks a file the same way.
The messages each loader gives are passed in, word for word: they stay greppable where they belong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol, TypeVar

from genrep.errors import ConfigError
from genrep.paths import CONTRACTS_DIR
from genrep.yamlfile import Located, load_yaml, reject_unknown, require

#: a failure reason's code: lower-case letters, digits and '-'
REASON_CODE = re.compile(r"[a-z][a-z0-9-]{0,63}")


def error_at(path: Path, key: str, line: int | None, message: str) -> ConfigError:
    """The error for ``key`` of the contract at ``path`` (line ``line``)."""
    return ConfigError(message, file=str(path), key=key, line=line)


def load_contract(path: str | Path | None, default_file: str, *, contract: str, keys: set[str],
                  not_a_mapping: str, not_this_contract: str) -> tuple[Path, Located]:
    """The contract at ``path`` (``contracts/<default_file>`` when none is given) and its path: a
    mapping with no key outside ``keys`` whose ``contract:`` is ``contract``; otherwise a ConfigError
    saying ``not_a_mapping`` or ``not_this_contract``."""
    path = Path(path) if path else CONTRACTS_DIR / default_file
    data = load_yaml(path)
    if not isinstance(data, Located):
        raise ConfigError(not_a_mapping, file=str(path))
    reject_unknown(data, keys)
    if require(data, "contract", str) != contract:
        raise error_at(path, "contract", data.line_of("contract"), not_this_contract)
    return path, data


def section(data: Located, key: str, allowed: set[str]) -> Located:
    """The mapping ``data[key]``, holding no key outside ``allowed``."""
    sec = require(data, key, dict)
    reject_unknown(sec, allowed, where=key)
    return sec


def reason_entries(reasons: Located, path: Path, keys: tuple[str, ...]) -> Iterator[tuple[str, str, Located]]:
    """``(code, where, body)`` of each failure reason in the ``reasons:`` mapping, in the file's order:
    a code is lower-case letters, digits and '-', a body a mapping of ``keys`` (nothing else)."""
    for code, body in reasons.items():
        where = f"reasons.{code}"
        if not isinstance(code, str) or not REASON_CODE.fullmatch(code):
            raise error_at(path, where, reasons.line_of(code), "a reason code is lower-case letters, digits and '-'")
        if not isinstance(body, dict):
            raise error_at(path, where, reasons.line_of(code), f"a reason is a mapping ({', '.join(keys)})")
        reject_unknown(body, set(keys), where=where)
        yield code, where, body


class _Reason(Protocol):
    code: str
    sv: str


R = TypeVar("R", bound=_Reason)


def reason_by_word(reasons: Mapping[str, R], want: str, *, unknown: str, file: str) -> R:
    """The reason whose code or Swedish name (folded) is ``want`` (folded by the caller); otherwise a
    ConfigError saying ``unknown`` and listing the known reasons, "code (Swedish name)"."""
    for r in reasons.values():
        if want in (r.code, r.sv.casefold()):
            return r
    raise ConfigError(unknown + " (known: "
                      + ", ".join(f"{r.code} ({r.sv})" if r.sv else r.code for r in reasons.values())
                      + ")", file=file, key="reasons")
