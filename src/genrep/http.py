"""HTTP transport: a requests session with bounded waits, host checks and secret redaction.

Every request has a (connect, read) timeout, goes only to a host the environment profile names,
and maps requests' many exception types onto genrep's few (``ConnectionRefused``,
``ConnectTimeout``, ``ReadTimeout``, ``ProtocolError``) with messages that say which endpoint
failed, without the Authorization header or token ever appearing in them.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import requests
import urllib3

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
                 token: str | None = None, check_host=None, user_agent: str = "genrep",
                 max_body_bytes: int = 32 * 1024 * 1024):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.max_body_bytes = max_body_bytes
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
        # The read timeout of requests bounds each socket read, not the response: a server that
        # drips one byte per second would never time out. So the body is streamed under one
        # overall deadline, and under the size cap, before anyone sees the response.
        deadline = time.monotonic() + self.timeout[0] + self.timeout[1]
        try:
            resp = self.session.request(method, url, stream=True, **kwargs)
            body = bytearray()
            raw = resp.raw
            while True:
                # read1: whatever one socket read gives (read(n) would wait for all n bytes)
                chunk = raw.read1(65536, decode_content=True)
                if not chunk:
                    break
                body += chunk
                if len(body) > self.max_body_bytes:
                    resp.close()
                    raise ProtocolError(f"{where}: response larger than {self.max_body_bytes} bytes")
                if time.monotonic() > deadline:
                    resp.close()
                    raise ReadTimeout(f"{where}: the response did not complete within "
                                      f"{self.timeout[0] + self.timeout[1]:.1f} s")
            resp._content = bytes(body)
            resp._content_consumed = True
            return resp
        except urllib3.exceptions.ReadTimeoutError:  # raised by raw.read1, not wrapped by requests
            raise ReadTimeout(f"{where}: the response stalled for more than {self.timeout[1]} s") from None
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError):
            raise ConnectionClosed(f"{where}: the server closed the connection mid-response") from None
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
