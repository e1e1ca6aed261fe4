"""HTTP transport: a requests session with bounded waits, host checks and secret redaction.

Every request has a (connect, read) timeout, goes only to a host the environment profile names,
and maps requests' many exception types onto genrep's few (``ConnectionRefused``,
``ConnectTimeout``, ``ReadTimeout``, ``ProtocolError``) with messages that say which endpoint
failed, without the Authorization header or token ever appearing in them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

from .errors import ConnectionClosed, ConnectionRefused, ConnectTimeout, ProtocolError, ReadTimeout

_SECRET_PATTERNS = [
    # Authorization: Bearer x / {'Authorization': 'Bearer x'} / authorization="Basic x"
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic)\s+)?[^\s,;'\"]+"),
    # a bare "Bearer x" anywhere (e.g. a header value printed on its own)
    re.compile(r"(?i)\b(bearer)(\s+)(?!\[REDACTED\])[A-Za-z0-9\-._~+/]{6,}=*"),
    # token=x, password: x, "api_key": "x", client_secret=x
    re.compile(r"(?i)((?:access_|refresh_|id_)?token|password|passwd|(?:client_)?secret|api[_-]?key)"
               r"(['\"]?\s*[:=]\s*['\"]?)[^\s,;'\"&]+"),
]


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secret values and anything shaped like a credential from text meant for logs."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    text = _SECRET_PATTERNS[0].sub(lambda m: m.group(1) + "[REDACTED]", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: m.group(1) + m.group(2) + "[REDACTED]", text)
    text = _SECRET_PATTERNS[2].sub(lambda m: m.group(1) + m.group(2) + "[REDACTED]", text)
    return text


class HttpTransport:
    """A requests.Session bound to one base URL, a host allowlist and timeouts."""

    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float,
                 token: str | None = None, check_host=None, user_agent: str = "genrep"):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self._token = token
        self._check_host = check_host
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies from the environment: traffic goes where the profile says
        self.session.headers["User-Agent"] = user_agent
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:  # never shows the token
        return f"HttpTransport({self.base_url})"

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = self.url(path)
        host = urlsplit(url).hostname or ""
        if self._check_host:
            self._check_host(host)
        kwargs.setdefault("timeout", self.timeout)
        where = redact(f"{method} {url}", (self._token or "",))
        try:
            return self.session.request(method, url, **kwargs)
        except requests.exceptions.ConnectTimeout:
            raise ConnectTimeout(f"{where}: no connection within {self.timeout[0]} s") from None
        except requests.exceptions.ReadTimeout:
            raise ReadTimeout(f"{where}: no answer within {self.timeout[1]} s") from None
        except requests.exceptions.ConnectionError as exc:
            text = str(exc)
            if "Connection refused" in text or "Errno 111" in text:
                raise ConnectionRefused(f"{where}: connection refused (nothing listening)") from None
            if "RemoteDisconnected" in text or "Connection aborted" in text or "IncompleteRead" in text:
                raise ConnectionClosed(f"{where}: the server closed the connection mid-response") from None
            raise ConnectionRefused(f"{where}: cannot connect ({redact(text, (self._token or '',))[:200]})") from None
        except requests.exceptions.ChunkedEncodingError:
            raise ConnectionClosed(f"{where}: the response ended early (broken chunked body)") from None
        except requests.exceptions.RequestException as exc:
            raise ProtocolError(f"{where}: {type(exc).__name__}: {redact(str(exc), (self._token or '',))[:200]}") from None

    def close(self) -> None:
        self.session.close()
