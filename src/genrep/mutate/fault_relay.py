"""Fault injection for the suite ``genrep mutate`` runs against its derived profile.

The derived profile (``OUT/profile.yaml``) is kind external: the suite it runs must not start
simulators of its own, it must use the ones ``genrep mutate`` started behind its proxies. An
external profile injects faults through its ``faults`` section, and the virtual environment's faults
(``genrep.faults.sim``: the simulators' admin API, SIGKILL and a restart on the same ports for
``killed``) need the process that owns the simulators. So ``genrep mutate`` runs a ``FaultRelay``: a
small HTTP server on loopback, in its own process, that hands each request to the
``SimFaultDriver`` of the running virtual environment; the derived profile's section is the
``command`` driver, one command per target and fault, each running this module as a client::

    python -m genrep.mutate.fault_relay http://127.0.0.1:PORT multum-a version --version {version}
    python -m genrep.mutate.fault_relay http://127.0.0.1:PORT multum-a clear

A request must carry the relay's token (``Authorization: Bearer``), which the client reads from
``GENREP_MUTATE_FAULT_TOKEN`` in its environment (``genrep mutate`` sets it for the suite it starts,
registered as a secret so it is redacted wherever it is shown): another local process cannot make
the environment fail. Requests are handled one at a time, bodies are capped, every wait is bounded;
``stop`` closes the server and its connections.

The client imports nothing but the standard library, so each command starts quickly (the failover
scenarios time from the moment a fault is asked for).
"""

from __future__ import annotations

import argparse
import hmac
import json
import shlex
import socket
import sys
import threading
import urllib.error
import urllib.request

TOKEN_ENV = "GENREP_MUTATE_FAULT_TOKEN"
MAX_REQUEST = 64 * 1024
CLIENT_TIMEOUT = 55.0   # a SIGKILLed simulator restarted on its ports takes a few seconds
COMMAND_TIMEOUT = 60    # the command driver's bound for one command (faults.timeout)
#: the parameter a fault takes, as the command line passes it (genrep.faults.base.PARAMS)
FAULT_PARAMS = {"slow": "delay", "version": "version", "partial": "check"}
CLEAR = "clear"


# -- the server, in genrep mutate's process --------------------------------------------------------

class FaultRelay:
    """An HTTP server on loopback handing ``POST /fault`` to ``driver`` (a ``FaultDriver``)."""

    def __init__(self, driver, token: str, *, host: str = "127.0.0.1", socket_timeout: float = 30.0):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the fault relay listens on loopback only, not on {host!r}")
        if len(token) < 16:
            raise ValueError("the fault relay needs a token of at least 16 characters")
        self.driver, self.token, self.host = driver, token, host
        self.socket_timeout = socket_timeout
        self._lock = threading.Lock()  # one fault at a time: the driver is not thread-safe
        self._server = None
        self._thread: threading.Thread | None = None
        self.requests = 0

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "FaultRelay":
        import http.server

        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = relay.socket_timeout

            def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
                pass

            def _answer(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            def do_POST(self) -> None:  # noqa: N802 - the base class's name
                got = self.headers.get("Authorization", "").encode("utf-8")
                if not hmac.compare_digest(got, f"Bearer {relay.token}".encode("utf-8")):
                    self._answer(401, {"error": "the fault relay wants its token"})
                    return
                if self.path != "/fault":
                    self._answer(404, {"error": f"no {self.path} here (POST /fault)"})
                    return
                size = self.headers.get("Content-Length", "")
                if not size.isdigit() or int(size) > MAX_REQUEST:
                    self._answer(400, {"error": f"send a JSON body of at most {MAX_REQUEST} bytes"})
                    return
                try:
                    body = json.loads(self.rfile.read(int(size)).decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    self._answer(400, {"error": "the body is not JSON"})
                    return
                code, answer = relay.handle(body)
                self._answer(code, answer)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(405, {"error": "POST /fault"})

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            address_family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        self._server = Server((self.host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="mutate-fault-relay", daemon=True)
        self._thread.start()
        return self

    def handle(self, body) -> tuple[int, dict]:
        """One request: ``{"target", "action": "inject" | "clear", "fault", "params"}``."""
        from genrep.errors import GenrepError
        from genrep.faults import UnsupportedFault
        from genrep.secrets import redact
        if not isinstance(body, dict) or body.get("action") not in ("inject", CLEAR):
            return 400, {"error": 'expected {"target": ..., "action": "inject" | "clear", "fault": ..., "params": {}}'}
        target, params = body.get("target"), body.get("params") or {}
        if not isinstance(target, str) or not target or not isinstance(params, dict):
            return 400, {"error": "target must be a name and params a mapping"}
        self.requests += 1
        try:
            with self._lock:
                if body["action"] == CLEAR:
                    self.driver.clear(target)
                else:
                    fault = body.get("fault")
                    if not isinstance(fault, str) or not fault:
                        return 400, {"error": "inject needs a fault"}
                    self.driver.inject(target, fault, **params)
        except UnsupportedFault as exc:
            return 400, {"error": redact(str(exc))}
        except (GenrepError, OSError, TypeError) as exc:
            return 500, {"error": redact(f"{type(exc).__name__}: {exc}")}
        return 200, {"status": "ok"}

    def clear_all(self) -> None:
        """Undo every fault still injected through the relay (between runs, and on stop)."""
        with self._lock:
            self.driver.clear()

    def stop(self, timeout: float = 5.0) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)

    def profile_section(self, targets: dict[str, frozenset[str]], python: str = sys.executable) -> dict:
        """The derived profile's ``faults`` section: the command driver, one command per target
        and fault this relay's driver supports (``targets``: target -> faults), and ``clear``."""
        commands: dict[str, dict[str, str]] = {}
        for target, faults in targets.items():
            base = [python, "-m", "genrep.mutate.fault_relay", self.url, target]
            cmds = {}
            for fault in sorted(faults):
                argv = base + [fault]
                if fault in FAULT_PARAMS:
                    name = FAULT_PARAMS[fault]
                    argv += [f"--{name}", "{" + name + "}"]
                cmds[fault] = shlex.join(argv)
            cmds[CLEAR] = shlex.join(base + [CLEAR])
            commands[target] = cmds
        return {"driver": "command", "timeout": COMMAND_TIMEOUT, "commands": commands}

    def __enter__(self) -> "FaultRelay":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- the client: one command of the derived profile ---------------------------------------------

def request(url: str, token: str, body: dict, timeout: float = CLIENT_TIMEOUT) -> tuple[int, dict]:
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url.rstrip("/") + "/fault", data=data, method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback, our own server
            return resp.status, json.loads(resp.read(MAX_REQUEST) or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read(MAX_REQUEST) or b"{}")
        except ValueError:
            return exc.code, {"error": f"HTTP {exc.code}"}


def main(argv: list[str] | None = None) -> int:
    import os
    from urllib.parse import urlsplit
    ap = argparse.ArgumentParser(prog="python -m genrep.mutate.fault_relay",
                                 description="inject or clear a fault through genrep mutate's fault relay")
    ap.add_argument("url", help="the relay's URL (loopback)")
    ap.add_argument("target", help="multum-a, multum-b, nll")
    ap.add_argument("fault", help="a fault name (genrep.faults), or 'clear'")
    ap.add_argument("--delay", type=float, default=None)
    ap.add_argument("--version", default=None)
    ap.add_argument("--check", default=None)
    args = ap.parse_args(argv)
    if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        print("the fault relay is on loopback only", file=sys.stderr)
        return 2
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"{TOKEN_ENV} is not set: only the suite genrep mutate starts can use its fault relay",
              file=sys.stderr)
        return 2
    params = {k: v for k, v in (("delay", args.delay), ("version", args.version), ("check", args.check))
              if v is not None}
    body = ({"target": args.target, "action": CLEAR} if args.fault == CLEAR
            else {"target": args.target, "action": "inject", "fault": args.fault, "params": params})
    try:
        status, answer = request(args.url, token, body)
    except (OSError, ValueError) as exc:
        print(f"the fault relay at {args.url} did not answer: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(answer.get("error") or f"HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
