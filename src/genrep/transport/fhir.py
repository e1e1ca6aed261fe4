"""FHIR R4 read client for the EHR's API (and, later, NLL).

Payloads are validated with ``fhir.resources.R4B`` (the package has no R4 module; R4-shaped JSON
parses with R4B, see toolchain notes). Every failure becomes one specific error: an HTTP error with
the OperationOutcome's diagnostics, malformed JSON, a wrong content type, or the wrong resource type.
Text in ``Binary`` is returned as the exact decoded characters: the fidelity check needs what the
EHR stored, not a re-rendering.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from genrep.errors import FHIRError, ProtocolError
from genrep.transport.http import HttpTransport

FHIR_JSON = "application/fhir+json"
MAX_BODY_BYTES = 32 * 1024 * 1024


def _outcome_text(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        parts = []
        issues = body.get("issue", []) or []
        for issue in issues if isinstance(issues, list) else []:
            if not isinstance(issue, dict):
                continue
            details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
            txt = issue.get("diagnostics") or details.get("text") or issue.get("code")
            if txt:
                parts.append(f"{issue.get('severity', 'error')}: {txt}")
        return "; ".join(parts) or "OperationOutcome without diagnostics"
    return None


class FHIRClient:
    def __init__(self, transport: HttpTransport):
        self.transport = transport

    def __repr__(self) -> str:
        return f"FHIRClient({self.transport.base_url})"

    # -- low level ---------------------------------------------------------------------------
    def get_json(self, path: str, params: dict | None = None, *, headers: dict | None = None) -> dict:
        """GET a FHIR JSON body (any resource type; errors mapped as for ``read``)."""
        return self._json(path, params, headers=headers)

    def _json(self, path: str, params: dict | None = None, *, headers: dict | None = None) -> dict:
        resp = self.transport.request("GET", path, params=params,
                                      headers={"Accept": FHIR_JSON, **(headers or {})})
        where = f"GET {resp.url}"
        if len(resp.content) > MAX_BODY_BYTES:
            raise ProtocolError(f"{where}: response of {len(resp.content)} bytes exceeds {MAX_BODY_BYTES}")
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body: Any = None
        if ctype in (FHIR_JSON, "application/json"):
            try:
                body = resp.json()
            except ValueError as exc:
                if resp.status_code < 400:  # on an error status, the status is the news
                    raise ProtocolError(f"{where}: malformed JSON from the FHIR server ({exc})") from None
        if resp.status_code >= 400:
            outcome = _outcome_text(body)
            raise FHIRError(f"{where}: HTTP {resp.status_code}" + (f" - {outcome}" if outcome else ""),
                            status=resp.status_code, outcome=outcome)
        if body is None:
            raise ProtocolError(f"{where}: expected {FHIR_JSON}, got content type {ctype or 'none'!r}")
        if not isinstance(body, dict) or "resourceType" not in body:
            raise ProtocolError(f"{where}: JSON is not a FHIR resource (no resourceType)")
        return body

    def read(self, resource_type: str, rid: str) -> dict:
        body = self._json(f"{resource_type}/{rid}")
        if body["resourceType"] != resource_type:
            raise ProtocolError(f"expected {resource_type}, got {body['resourceType']}")
        validate(body)
        return body

    def search(self, resource_type: str, params: dict) -> list[dict]:
        """All matching resources (follows ``next`` links, bounded to 50 pages)."""
        out: list[dict] = []
        body = self._json(resource_type, params)
        for _page in range(50):
            if body.get("resourceType") != "Bundle":
                raise ProtocolError(f"search {resource_type}: expected a Bundle, got {body.get('resourceType')}")
            entries, links = body.get("entry", []) or [], body.get("link", []) or []
            if not isinstance(entries, list) or not isinstance(links, list) \
                    or not all(isinstance(x, dict) for x in entries + links):
                raise ProtocolError(f"search {resource_type}: malformed Bundle (entry/link must be lists of objects)")
            for entry in entries:
                res = entry.get("resource")
                if isinstance(res, dict) and res.get("resourceType") == resource_type:
                    validate(res)
                    out.append(res)
            nxt = next((l.get("url") for l in links if l.get("relation") == "next"), None)
            if nxt is not None and not isinstance(nxt, str):
                raise ProtocolError(f"search {resource_type}: Bundle next link is not a URL: {nxt!r}")
            if not nxt:
                return out
            body = self._json(nxt)
        raise ProtocolError(f"search {resource_type}: more than 50 pages")

    def binary_text(self, ref: str, content_type: str) -> str:
        """Read a Binary as text: Accept = its contentType (raw bytes), per the Oracle Health rule."""
        path = ref if "/" in ref else f"Binary/{ref}"
        resp = self.transport.request("GET", path, headers={"Accept": content_type})
        where = f"GET {resp.url}"
        if len(resp.content) > MAX_BODY_BYTES:
            raise ProtocolError(f"{where}: response of {len(resp.content)} bytes exceeds {MAX_BODY_BYTES}")
        if resp.status_code >= 400:
            outcome = None
            try:
                outcome = _outcome_text(resp.json())
            except ValueError:
                pass
            raise FHIRError(f"{where}: HTTP {resp.status_code}" + (f" - {outcome}" if outcome else ""),
                            status=resp.status_code, outcome=outcome)
        got = resp.headers.get("Content-Type", "")
        mime = got.split(";")[0].strip().lower()
        if mime == FHIR_JSON:  # server wrapped it: base64 in Binary.data
            try:
                body = resp.json()
            except ValueError as exc:
                raise ProtocolError(f"{where}: malformed JSON from the FHIR server ({exc})") from None
            if not isinstance(body, dict) or body.get("resourceType") != "Binary":
                rtype = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
                raise ProtocolError(f"{where}: expected a Binary resource, got {rtype}")
            raw = body.get("data")
            if not isinstance(raw, str):
                raise ProtocolError(f"{where}: Binary resource has no data")
            try:  # base64Binary may carry whitespace (line-wrapped encoders)
                data = base64.b64decode("".join(raw.split()), validate=True)
            except ValueError as exc:
                raise ProtocolError(f"{where}: Binary resource is not valid base64 ({exc})") from None
            inner = body.get("contentType")
            charset = _charset_of(inner if isinstance(inner, str) else "") or "utf-8"
            return _decode(data, charset, where)
        if mime != content_type.split(";")[0].strip().lower():
            raise ProtocolError(f"{where}: asked for {content_type}, got {got or 'no content type'}")
        return _decode(resp.content, _charset_of(got) or "utf-8", where)


def _charset_of(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k.lower() == "charset" and v:
            return v.strip('"')
    return None


def _decode(data: bytes, charset: str, where: str) -> str:
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ProtocolError(f"{where}: text is not valid {charset} ({exc})") from None


_MODELS: dict[str, Any] = {}


def validate(resource: dict) -> None:
    """Validate a resource against the R4(B) model; raises ProtocolError naming the problem."""
    rtype = resource.get("resourceType", "")
    model = _MODELS.get(rtype)
    if model is None:
        import importlib
        try:
            mod = importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}")
            model = getattr(mod, rtype)
        except (ImportError, AttributeError):
            raise ProtocolError(f"unknown FHIR resource type {rtype!r}") from None
        _MODELS[rtype] = model
    try:
        model.model_validate(resource)
    except Exception as exc:  # pydantic ValidationError: keep its first line, it names the element
        first = str(exc).splitlines()
        raise ProtocolError(f"invalid FHIR R4 {rtype}: {' '.join(first[:3])[:300]}") from None


def parse_json(text: str | bytes) -> dict:
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"malformed FHIR JSON: {exc}") from None
    if not isinstance(body, dict) or "resourceType" not in body:
        raise ProtocolError("JSON is not a FHIR resource (no resourceType)")
    return body
