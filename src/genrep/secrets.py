"""Secrets: one registry of every secret value genrep read, and redaction of them from any text.

Tokens and key passwords come only from environment variables or files the profile names
(``genrep.config.profile``), which registers each value here as it reads it. ``redact`` removes registered
values, raw and in the encodings a server, a gateway or a library may echo them in (URL-encoded,
base64 as in ``Basic``/``Bearer``), and anything shaped like a credential, from text meant for logs
and reports; ``scrub_secrets`` does the same to bytes (error bodies from servers).

No genrep imports: configuration, transports and reports all sit above it.
"""

from __future__ import annotations

import base64
import re
import threading
from urllib.parse import quote, quote_plus

_SECRET_PATTERNS = [
    # Authorization: Bearer x / {'Authorization': 'Bearer x'} / authorization="Basic x"
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic)\s+)?[^\s,;'\"]+"),
    # a bare "Bearer x" anywhere (e.g. a header value printed on its own)
    re.compile(r"(?i)\b(bearer)(\s+)(?!\[REDACTED\])[A-Za-z0-9\-._~+/]{6,}=*"),
    # token=x, password: x, "api_key": "x", client_secret=x
    re.compile(r"(?i)((?:access_|refresh_|id_)?token|password|passwd|(?:client_)?secret|api[_-]?key)"
               r"(['\"]?\s*[:=]\s*['\"]?)[^\s,;'\"&]+"),
]


_REGISTRY: set[str] = set()
_REGISTRY_LOCK = threading.Lock()
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words; such a secret is no secret


def encoded_forms(secret: str) -> set[str]:
    """The spellings of ``secret`` a server or a tool may echo: raw, URL-encoded (``%XX``, ``+``
    for space) and base64 (standard and URL-safe alphabet) at each of the three byte alignments
    it can have inside a longer base64 text, such as ``Basic base64(user:password)``. For base64,
    only the characters that depend on the secret alone are kept (the ones its neighbours do not
    touch), so the form is found whatever stands before or after it."""
    forms = {secret}
    forms.add(quote(secret, safe=""))
    forms.add(quote_plus(secret, safe=""))
    forms.add(quote(secret))
    raw = secret.encode("utf-8")
    n = len(raw)
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + raw).decode("ascii")
        start, end = -(-8 * k // 6), (8 * k + 8 * n) // 6
        core = encoded[start:end]
        if len(core) >= MIN_SECRET_LENGTH:
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def register_secret(value: str | None) -> None:
    """Remember a secret value (token, password) so that ``redact`` removes it wherever it appears,
    raw, URL-encoded or base64-encoded (``encoded_forms``), in this process, from now on. Values
    shorter than ``MIN_SECRET_LENGTH`` are ignored."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _REGISTRY_LOCK:
            _REGISTRY.update(encoded_forms(value))


def registered_secrets() -> tuple[str, ...]:
    """The registered values and their encoded forms, longest first (a secret containing another is
    replaced whole)."""
    with _REGISTRY_LOCK:
        return tuple(sorted(_REGISTRY, key=len, reverse=True))


def forget_secrets() -> None:
    """Clear the registry (tests)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secret values and anything shaped like a credential from text meant for logs."""
    given = {f for s in secrets if s and len(s) >= MIN_SECRET_LENGTH for f in encoded_forms(s)}
    for secret in sorted({s for s in (*given, *registered_secrets()) if s}, key=len, reverse=True):
        text = text.replace(secret, "[REDACTED]")
    text = _SECRET_PATTERNS[0].sub(lambda m: m.group(1) + "[REDACTED]", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: m.group(1) + m.group(2) + "[REDACTED]", text)
    text = _SECRET_PATTERNS[2].sub(lambda m: m.group(1) + m.group(2) + "[REDACTED]", text)
    return text


def scrub_secrets(data: bytes) -> bytes:
    """``data`` with every registered secret (as UTF-8) replaced by ``[REDACTED]``."""
    for secret in registered_secrets():
        raw = secret.encode("utf-8")
        if raw in data:
            data = data.replace(raw, b"[REDACTED]")
    return data
