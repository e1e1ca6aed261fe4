"""What one HTTP load user may send, and where: ``HttpRoute`` (every request of an HTTP load user
passes here first) and ``RequestRefused``. A module of its own since session 12 (it was part of
``load.workload``, which had grown past 500 lines): the route is one concern, the payloads another.
Nothing here imports Locust or gevent."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from genrep.errors import GenrepError

if TYPE_CHECKING:
    from genrep.load.workload import Payloads

__all__ = ["HttpRoute", "RequestRefused"]


class RequestRefused(GenrepError):
    """A load user's request refused before a byte was sent: its URL is not on a host the profile
    names, or is plain http for a TLS endpoint."""


# Headers Locust's FastHttpSession adds to every request on its own (constants: scanned once).
_LOCUST_ADDED_HEADERS = {"Accept-Encoding": "gzip, deflate, br"}
_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def _shown(location: str) -> str:
    """A Location header as a failure message may show it: numbers masked, secrets redacted,
    bounded (it is the server's text, and it lands in Locust's statistics and logs)."""
    from genrep.secrets import redact
    from genrep.text.identities import mask
    text = redact(mask(location))
    return text if len(text) <= 200 else text[:200] + "..."


class HttpRoute:
    """What one HTTP load user may send, and where; every request of the user passes here first.

    Locust's FastHttpUser follows redirects on its own (up to 30, the body resent on 307/308): a
    POST with a patient id and drugs went to a host the profile does not name, and from https to
    plaintext http. The rehearsal's own HTTP client refuses both; the load users must too. So:

    * ``prepare`` checks the URL (host in the profile's allowlist; https when the endpoint is TLS)
      and passes the URL and the body bytes through the identity guard (``Payloads.check``)
      before anything is sent, and returns the exact bytes to send, so what was checked is what
      goes out;
    * the constant headers (all but the endpoint's token) are scanned once, here, not per request;
    * ``redirect_problem`` turns any 3xx answer into a failure reason: redirects are never
      followed (the users set ``max_redirects = 0``), not even to the same host, because a
      followed redirect is a request nobody checked. The reason names the target.
    """

    def __init__(self, base_url: str, *, allowed_hosts, payloads: "Payloads", tls: bool = False,
                 headers: dict[str, str] | None = None, secret_headers: dict[str, str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.tls = tls or urlsplit(self.base_url).scheme.lower() == "https"
        self.payloads = payloads
        self.destination = self.base_url
        self._scanned: set[tuple[str, str]] = set()
        self.check_url(self.base_url)
        constant = dict(headers or {})
        for group in (constant, _LOCUST_ADDED_HEADERS, _JSON_HEADERS):
            self.scan_headers(group)
        # the token is a registered secret: redacted everywhere, never scanned (nor shown)
        self.headers = {**constant, **(secret_headers or {})}
        self.json_headers = {**_JSON_HEADERS, **self.headers}

    def scan_headers(self, headers) -> None:
        """Pass constant header values through the identity guard, each (name, value) once per route."""
        for name, value in dict(headers).items():
            key = (str(name), str(value))
            if key not in self._scanned:
                self.payloads.check(f"{key[0]}: {key[1]}", destination=self.destination)
                self._scanned.add(key)

    def check_url(self, url: str) -> None:
        """Raise ``RequestRefused`` for a host the profile does not name, or plain http on a TLS endpoint."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host not in self.allowed_hosts:
            raise RequestRefused(f"refusing {_shown(url)}: host {host!r} is not in the profile "
                                 f"({', '.join(sorted(self.allowed_hosts))}); nothing was sent")
        if self.tls and parts.scheme.lower() != "https":
            raise RequestRefused(f"refusing {_shown(url)}: plain http on a TLS endpoint; nothing was sent")

    def prepare(self, path: str, *, json=None) -> tuple[bytes | None, dict[str, str]]:
        """Check one request before it is sent: (body bytes or None, headers to send).

        ``path`` is path and query under the base URL (an absolute URL is checked as a URL).
        Raises ``RequestRefused`` or ``IdentityViolation``; nothing may be sent then."""
        if path[:8].lower().startswith(("http://", "https://")):
            self.check_url(path)
        elif not path.startswith("/"):
            raise RequestRefused(f"refusing path {_shown(path)!r}: not under {self.base_url}; nothing was sent")
        self.payloads.check(path, destination=self.destination, kind="url")
        if json is None:
            return None, self.headers
        import json as _json
        body = _json.dumps(json).encode("utf-8")
        self.payloads.check(body, destination=self.destination)
        return body, self.json_headers

    def url(self, path: str) -> str:
        """The URL Locust's session requests for ``path`` (an absolute URL as is)."""
        return path if path[:8].lower().startswith(("http://", "https://")) else self.base_url + path

    def redirect_problem(self, path: str, status: int, location: str | None) -> str | None:
        """None unless ``status`` is a 3xx; then why the answer to ``path`` is a failed request
        (never followed), naming the target resolved against the request's URL."""
        if not 300 <= status < 400:
            return None
        if not location:
            return f"redirect not followed ({status}, no Location)"
        from urllib.parse import urljoin
        url = self.url(path)
        target = urljoin(url, location)
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
        if host not in self.allowed_hosts:
            return f"redirect to host {host or '?'} not in the profile ({status}, {_shown(target)}); not followed"
        if urlsplit(url).scheme.lower() == "https" and parts.scheme.lower() != "https":
            return f"redirect from https to plaintext http ({status}, {_shown(target)}); not followed"
        return f"redirect not followed ({status}, {_shown(target)})"
