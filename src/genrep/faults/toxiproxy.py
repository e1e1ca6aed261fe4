"""Faults through Toxiproxy (https://github.com/Shopify/toxiproxy): a TCP proxy in front of each server.

Uses Toxiproxy's HTTP API (v2): ``POST /proxies/{proxy}`` with ``{"enabled": false}`` takes a
proxy down; ``POST /proxies/{proxy}/toxics`` adds a toxic, ``DELETE /proxies/{proxy}/toxics/{name}``
removes it; ``POST /reset`` enables every proxy and removes every toxic.

- ``stopped``: proxy disabled (its listener closes: connection refused);
- ``hang``: a ``timeout`` toxic with timeout 0 on the downstream (answers are held, the connection
  stays open, nothing arrives);
- ``slow``: a ``latency`` toxic of ``delay`` seconds on the downstream;
- ``restarted``: proxy disabled for ``delay`` seconds (default 2), then enabled again (the listener
  behind it restarted, as its senders see it).

The other faults (``killed``, ``error503``, ``version``, ``partial``, ``malformed``, ...) need the
server itself (an HTTP status, content, a process): a TCP proxy cannot produce them, so they are
``UnsupportedFault``. Targets are whatever ``proxies`` names: ``multum-a``, ``multum-b``, ``nll``,
``radiology-listener``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from genrep.errors import ConfigError, GenrepError
from genrep.transport.http import HttpTransport
from genrep.secrets import redact
from genrep.faults.base import DEFAULT_RESTART_DOWN, DEFAULT_SLOW_DELAY, FaultDriver, check_params

_TOXICS = {  # fault -> toxic type
    "hang": "timeout",
    "slow": "latency",
}


class ToxiproxyDriver(FaultDriver):
    supported = frozenset({"stopped", "hang", "slow", "restarted"})

    def __init__(self, api_url: str, proxies: Mapping[str, str], timeout: float = 5.0, *,
                 check_host: Callable[[str], None] | None = None):
        if not isinstance(api_url, str) or not api_url.startswith(("http://", "https://")):
            raise ConfigError(f"the Toxiproxy API must be an http(s) URL, got {api_url!r}")
        for target, proxy in proxies.items():
            if not isinstance(proxy, str) or not proxy.strip() or "/" in proxy:
                raise ConfigError(f"target {target!r}: expected a Toxiproxy proxy name, got {proxy!r}")
        if not 0 < timeout <= 600:
            raise ConfigError(f"Toxiproxy timeout must be more than 0 and at most 600 seconds, got {timeout}")
        self.api_url = api_url.rstrip("/")
        self.proxies = dict(proxies)
        self.timeout = timeout
        self._check_host = check_host
        self._toxics: dict[str, list[str]] = {}  # target -> names of the toxics this driver added
        self._disabled: set[str] = set()

    def __repr__(self) -> str:
        return f"ToxiproxyDriver({self.api_url})"

    def _proxy(self, target: str) -> str:
        try:
            return self.proxies[target]
        except KeyError:
            raise GenrepError(f"no fault target {target!r} configured for Toxiproxy "
                              f"(known: {', '.join(self.proxies) or 'none'})") from None

    def proxies_state(self) -> dict:
        """``GET /proxies``: every proxy with its toxics (for diagnostics and checks)."""
        return self._call("GET", "/proxies").json()

    def check(self, target: str, fault: str) -> None:
        self._proxy(target)
        self._require_supported(fault)

    def inject(self, target: str, fault: str, **params) -> None:
        self.check(target, fault)
        proxy = self._proxy(target)
        params = check_params(fault, params)
        if fault == "stopped":
            self._disabled.add(target)
            self._call("POST", f"/proxies/{proxy}", {"enabled": False})
            return
        if fault == "restarted":
            import time
            self._disabled.add(target)
            self._call("POST", f"/proxies/{proxy}", {"enabled": False})
            try:
                time.sleep(float(params.get("delay", DEFAULT_RESTART_DOWN)))
            finally:
                self._call("POST", f"/proxies/{proxy}", {"enabled": True})
                self._disabled.discard(target)
            return
        if fault == "hang":
            attributes = {"timeout": 0}
        else:
            delay = params.get("delay", DEFAULT_SLOW_DELAY)
            attributes = {"latency": round(delay * 1000), "jitter": 0}
        name = f"genrep_{fault}"
        if name in self._toxics.get(target, []):  # the same fault again: replace it
            self._delete_toxic(target, proxy, name)
        self._call("POST", f"/proxies/{proxy}/toxics", {
            "name": name, "type": _TOXICS[fault], "stream": "downstream", "toxicity": 1.0,
            "attributes": attributes})
        self._toxics.setdefault(target, []).append(name)

    def clear(self, target: str | None = None) -> None:
        if target is None:
            self._call("POST", "/reset")
            self._toxics.clear()
            self._disabled.clear()
            return
        proxy = self._proxy(target)
        for name in list(self._toxics.get(target, [])):
            self._delete_toxic(target, proxy, name)
        self._toxics.pop(target, None)
        self._call("POST", f"/proxies/{proxy}", {"enabled": True})
        self._disabled.discard(target)

    def _delete_toxic(self, target: str, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}", ok_statuses=(404,))  # 404: already gone
        self._toxics[target].remove(name)

    def _call(self, method: str, path: str, body: dict | None = None, *, ok_statuses: tuple[int, ...] = ()):
        transport = HttpTransport(self.api_url, connect_timeout=min(self.timeout, 3.0), read_timeout=self.timeout,
                                  check_host=self._check_host, user_agent="genrep-faults")
        try:
            kwargs = {"json": body} if body is not None else {}
            resp = transport.request(method, path, **kwargs)
        finally:
            transport.close()
        if resp.status_code >= 400 and resp.status_code not in ok_statuses:
            raise GenrepError(f"Toxiproxy {method} {self.api_url}{path} answered HTTP {resp.status_code}: "
                              f"{redact(resp.text.strip())[:300] or '(empty body)'}")
        return resp
