"""A FHIR server that answers from files: a ``ThreadingHTTPServer`` on loopback serving fixed answers
the way other FHIR servers shape them (pages with ``next`` links, Binary as JSON, OperationOutcome
entries...), for the tests that read real HTTP over real sockets (``test_fhir_as_servers_answer``,
``test_interop_matrix``). Deliberately no genrep import: what is served is the file's, not ours.

A route is ``"PATH[?QUERY]"`` (relative to the base ``/fhir``, the query as the client sends it,
parameters in any order) -> an answer: ``{"json": {...}}`` (``application/fhir+json`` unless
``content_type`` says otherwise), ``{"text": "...", "charset": "ISO-8859-1", "content_type":
"text/plain"}`` (the text encoded in that charset) or ``{"base64": "...", "content_type": ...}``;
``status`` optional. ``{base}`` anywhere in an answer is the server's base URL (for ``next`` links and
absolute references). Every request is recorded (``requests``: method, path with query, headers).
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

PREFIX = "/fhir"


def _key(path: str, query: str) -> tuple[str, tuple]:
    return path.strip("/"), tuple(sorted(parse_qsl(query, keep_blank_values=True)))


class FHIRFilesServer:
    def __init__(self, routes: dict[str, dict], host: str = "127.0.0.1"):
        self.requests: list[tuple[str, str, dict]] = []
        self._routes: dict[tuple, dict] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                server.requests.append(("GET", self.path, dict(self.headers)))
                rel = parts.path[len(PREFIX):] if parts.path.startswith(PREFIX) else parts.path
                answer = server._routes.get(_key(rel, parts.query))
                if answer is None:
                    answer = {"status": 404, "json": {"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "not-found", "diagnostics": f"no route for {self.path}"}]}}
                status, ctype, body = server.render(answer)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}{PREFIX}"
        self.set_routes(routes)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def set_routes(self, routes: dict[str, dict]) -> None:
        self._routes = {}
        for route, answer in routes.items():
            path, _, query = route.partition("?")
            self._routes[_key(path, query)] = answer

    def render(self, answer: dict) -> tuple[int, str, bytes]:
        status = answer.get("status", 200)
        if "json" in answer:
            text = json.dumps(answer["json"], ensure_ascii=False).replace("{base}", self.base)
            return status, answer.get("content_type", "application/fhir+json; charset=utf-8"), text.encode("utf-8")
        if "text" in answer:
            charset = answer.get("charset", "utf-8")
            ctype = answer.get("content_type", "text/plain")
            return status, f"{ctype}; charset={charset}", answer["text"].encode(charset)
        return status, answer.get("content_type", "application/octet-stream"), base64.b64decode(answer["base64"])

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
