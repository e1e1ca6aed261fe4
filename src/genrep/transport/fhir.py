"""FHIR R4 read client for the EHR's API and NLL, reading answers as FHIR servers really give them.

Payloads are validated with ``fhir.resources.R4B`` (the package has no R4 module; R4-shaped JSON
parses with R4B, see toolchain notes). Every failure becomes one specific error: an HTTP error with
the OperationOutcome's text, malformed JSON, a wrong content type, or the wrong resource type.

As servers answer (issue 16):

* a search answer is every page: ``search_bundle`` follows the Bundle's ``next`` links, bounded by
  a page limit and a total number of resources (``MAX_PAGES``, ``MAX_ENTRIES``); exceeding either
  is a ``ProtocolError`` naming the bound, never a silently shortened list;
* an OperationOutcome's text is ``details.text`` and ``diagnostics`` both (``issue_texts``: servers
  put the human text in either, some in both);
* a ``Binary`` is read with Accept = its contentType; the raw bytes, or a Binary resource (base64
  ``data``) answered as ``application/fhir+json`` or plain ``application/json``, are decoded with
  the charset of the contentType they carry (UTF-8 when none is named). Text is returned as the
  exact decoded characters: the fidelity check needs what the EHR stored, not a re-rendering.
"""

from __future__ import annotations

import json
from typing import Any

from genrep.errors import FHIRError, ProtocolError
from genrep.text.representations import decode_inline, media_type
from genrep.transport.http import HttpTransport

FHIR_JSON = "application/fhir+json"
JSON_TYPES = (FHIR_JSON, "application/json")
MAX_BODY_BYTES = 32 * 1024 * 1024
#: Bounds on one paged search: pages read (the first included) and resources read in all.
MAX_PAGES = 50
MAX_ENTRIES = 10_000


def issue_text(issue: Any) -> str:
    """What an OperationOutcome issue says to a reader: ``details.text`` and ``diagnostics`` (both
    when both are given and differ, details first), else a coding's display, else ""."""
    if not isinstance(issue, dict):
        return ""
    details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
    parts: list[str] = []
    for txt in (details.get("text"), issue.get("diagnostics")):
        if isinstance(txt, str) and txt.strip() and txt not in parts:
            parts.append(txt)
    if not parts:
        codings = details.get("coding") if isinstance(details.get("coding"), list) else []
        parts = [c["display"] for c in codings if isinstance(c, dict) and isinstance(c.get("display"), str)
                 and c["display"].strip()][:1]
    return " - ".join(parts)


def issue_texts(outcome: Any, severities: tuple[str, ...] = ()) -> list[str]:
    """The text of each issue of an OperationOutcome (see ``issue_text``), those of the given
    severities only when any are given; an issue with no text at all is named by its code."""
    issues = outcome.get("issue") if isinstance(outcome, dict) else None
    out = []
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, dict) or (severities and issue.get("severity") not in severities):
            continue
        out.append(issue_text(issue) or f"({issue.get('code') or 'no code'}, no text)")
    return out


def _outcome_text(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        parts = []
        issues = body.get("issue", []) or []
        for issue in issues if isinstance(issues, list) else []:
            if not isinstance(issue, dict):
                continue
            txt = issue_text(issue) or issue.get("code")
            if txt:
                parts.append(f"{issue.get('severity', 'error')}: {txt}")
        return "; ".join(parts) or "OperationOutcome without diagnostics"
    return None


def _entry_resources(body: dict, where: str) -> tuple[list[dict], str | None]:
    """One searchset page: its entries' resources and its ``next`` link (None on the last page).
    ProtocolError when entry or link is not a list of objects, an entry's resource is not an
    object, or the next link is not a URL (a malformed answer is never an empty list)."""
    entries, links = body.get("entry", []) or [], body.get("link", []) or []
    if not isinstance(entries, list) or not isinstance(links, list) \
            or not all(isinstance(x, dict) for x in entries + links):
        raise ProtocolError(f"{where}: malformed Bundle (entry/link must be lists of objects)")
    out = []
    for entry in entries:
        res = entry.get("resource")
        if res is None:
            continue
        if not isinstance(res, dict):
            raise ProtocolError(f"{where}: malformed Bundle (entry.resource must be an object)")
        out.append(res)
    nxt = next((l.get("url") for l in links if l.get("relation") == "next"), None)
    if nxt is not None and not isinstance(nxt, str):
        raise ProtocolError(f"{where}: Bundle next link is not a URL: {nxt!r}")
    return out, (nxt or None)


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
        """All matching resources of ``resource_type``, validated (every page: ``search_bundle``)."""
        out = []
        for res in self.search_bundle(resource_type, params):
            if res.get("resourceType") == resource_type:
                validate(res)
                out.append(res)
        return out

    def search_bundle(self, path: str, params: dict | None = None, *, headers=None, who: str | None = None,
                      max_pages: int = MAX_PAGES, max_entries: int = MAX_ENTRIES) -> list[dict]:
        """Every entry resource of a search answer, of any type (OperationOutcome entries
        included), over all its pages (``all_pages``). ``headers``: a dict, or a callable giving
        the headers for each request (a fresh request id per page). ``who`` names the server in
        errors (default ``search <path>``)."""
        who = who or f"search {path}"
        first = self._json(path, params, headers=headers() if callable(headers) else headers)
        return self.all_pages(first, who=who, headers=headers, max_pages=max_pages, max_entries=max_entries)

    def all_pages(self, first: dict, *, who: str, headers=None, max_pages: int = MAX_PAGES,
                  max_entries: int = MAX_ENTRIES) -> list[dict]:
        """The entry resources of ``first`` (a searchset Bundle already read) and of every page its
        ``next`` links lead to, in order. Bounded: more than ``max_pages`` pages (``first``
        included) or ``max_entries`` resources is a ProtocolError naming the bound and how much was
        read: a list is never silently shortened."""
        out: list[dict] = []
        body, pages = first, 1
        while True:
            if body.get("resourceType") != "Bundle":
                raise ProtocolError(f"{who}: expected a Bundle, got {body.get('resourceType')}"
                                    + (f" (page {pages})" if pages > 1 else ""))
            resources, nxt = _entry_resources(body, who)
            out += resources
            if len(out) > max_entries:
                raise ProtocolError(f"{who}: more than {max_entries} resources in the answer (the total "
                                    f"bound), {pages} page(s) read: the list is not read in full")
            if nxt is None:
                return out
            body = self._json(nxt, headers=headers() if callable(headers) else headers)
            pages += 1
            if pages > max_pages:
                raise ProtocolError(f"{who}: the answer has more than {max_pages} pages (the page limit); "
                                    f"{len(out)} resources read, the rest not: the list is incomplete")

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
        wanted = content_type.split(";")[0].strip().lower()
        if mime in JSON_TYPES and wanted not in JSON_TYPES:  # a Binary resource: base64 in Binary.data
            try:
                body = json.loads(resp.content)
            except ValueError as exc:
                raise ProtocolError(f"{where}: malformed JSON from the FHIR server ({exc})") from None
            if not isinstance(body, dict) or body.get("resourceType") != "Binary":
                rtype = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
                raise ProtocolError(f"{where}: expected a Binary resource, got {rtype}")
            inner = body.get("contentType") if isinstance(body.get("contentType"), str) else ""
            inner_mime = media_type(inner)[0]
            if inner_mime and inner_mime != wanted:
                raise ProtocolError(f"{where}: asked for {content_type}, got a Binary of {inner}")
            if not isinstance(body.get("data"), str):
                raise ProtocolError(f"{where}: Binary resource has no data")
            try:  # the one reader of attachment data (text.representations): base64, its charset
                return decode_inline(body["data"], inner)
            except ValueError as exc:
                raise ProtocolError(f"{where}: Binary resource {exc}") from None
        if mime != wanted:
            raise ProtocolError(f"{where}: asked for {content_type}, got {got or 'no content type'}")
        return _decode(resp.content, media_type(got)[1] or "utf-8", where)


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
