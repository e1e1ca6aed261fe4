"""The virtual EHR's prescribing module: interaction checks through the Multum load balancer.

Clean behaviour (fail-safe, as the CDS-malfunction literature asks):
- every prescription is checked against the patient's current drugs through the load balancer,
  bounded by a timeout; the answer names the server and the content version that answered;
- a check that fails (no server, timeout, malformed answer) is answered ``not-performed`` with
  the reason, never as "no interactions", and is recorded in the audit log;
- when one check type fails and others succeed the result is ``partial`` and says which ones
  were not performed.
Defect ``multum-silent-empty`` replays the dangerous variant: a failed check shown as "checked,
no interactions". The load balancer's own defects (no failover, no failback, no load balancing)
are its start-up flags (see ``sim.process``).
"""

from __future__ import annotations

import itertools
import json
import time

import aiohttp
from aiohttp import web

from genrep.sim.body import read_capped
from genrep.sim.ehr_outbound import OutboundSession, call_failures

MAX_BODY = 1024 * 1024
EXPECTED_CHECKS = {"drug-drug": "interactions", "duplication": "duplicates"}  # check -> its list


class PrescribingModule(OutboundSession):
    def __init__(self, multum_url: str | None, defects: dict, timeout: float = 4.0):
        self.multum_url = multum_url.rstrip("/") if multum_url else None
        self.defects = defects
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        self.audit: list[dict] = []
        self._ids = itertools.count(1)

    async def check(self, drugs: list[str]) -> tuple[dict, str]:
        """(Multum answer, answering server); raises RuntimeError(reason) when not performed."""
        if not self.multum_url or self.session is None:
            raise RuntimeError("no Multum endpoint is configured for this EHR")
        with call_failures("Multum", self.timeout, RuntimeError):
            async with self.session.post(f"{self.multum_url}/interactions", json={"drugs": drugs}) as resp:
                raw = await read_capped(resp, MAX_BODY)
                server = resp.headers.get("X-Multum-Server", "")
                differ = resp.headers.get("X-Content-Versions-Differ", "").lower() == "true"
                if resp.status != 200:
                    detail = ""
                    try:
                        detail = json.loads(raw).get("error", "")
                    except (ValueError, AttributeError):
                        pass
                    raise RuntimeError(f"Multum answered HTTP {resp.status}" + (f": {detail}" if detail else ""))
                if len(raw) > MAX_BODY:
                    raise RuntimeError("Multum answer too large")
                body = json.loads(raw)
        if not isinstance(body, dict) or not isinstance(body.get("checks"), dict):
            raise RuntimeError("Multum answered without check results")
        body["_versions_differ"] = differ
        return body, server

    async def prescribe(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            patient, current, new = body["patient"], body.get("current", []), body["new"]
            # strict types: a string for ``current`` would be checked letter by letter, and a
            # missing drug name would end as "not performed" instead of a bad request
            if not isinstance(patient, str) or not patient.strip() or not isinstance(current, list) \
                    or not all(isinstance(d, str) and d.strip() for d in [*current, new]):
                raise TypeError("bad types")
            drugs = [d.strip().lower() for d in [*current, new]]
        except (ValueError, KeyError, TypeError, AttributeError):
            return web.json_response({"error": "body must be {patient: string, current: [drug names], "
                                               "new: drug name}"}, status=400)
        started = time.monotonic()
        entry = {"id": f"ic-{next(self._ids)}", "t": time.time(), "patient": patient, "drugs": drugs}
        try:
            answer, server = await self.check(drugs)
            checks = answer["checks"]
            # every check the EHR relies on must be there, ok and with its list: a missing
            # drug-drug check is a check not performed, never "no interactions"
            ok = {name for name, c in checks.items() if isinstance(c, dict) and c.get("status") == "ok"
                  and (name not in EXPECTED_CHECKS or isinstance(c.get(EXPECTED_CHECKS[name]), list))}
            failed = sorted((set(checks) | set(EXPECTED_CHECKS)) - ok)
            if not ok & set(EXPECTED_CHECKS):  # nothing was checked: not a partial result
                raise RuntimeError(f"Multum ({server or answer.get('server') or 'unknown server'}) performed "
                                   f"none of the checks ({', '.join(failed)} failed)")
        except RuntimeError as exc:
            if "multum-silent-empty" in self.defects:  # the defect: failure shown as "no interactions"
                result = {"status": "checked", "interactions": [], "duplicates": [], "server": "",
                          "content_version": ""}
            else:
                result = {"status": "not-performed", "message": "Interaction check not performed",
                          "reason": str(exc)}
        else:
            result = {"status": "partial" if failed else "checked",
                      "interactions": checks["drug-drug"]["interactions"] if "drug-drug" in ok else [],
                      "duplicates": checks["duplication"]["duplicates"] if "duplication" in ok else [],
                      "performed": sorted(ok), "not_performed": failed,
                      "server": server or answer.get("server", ""),
                      "content_version": answer.get("content_version", ""),
                      "content_versions_differ": bool(answer.get("_versions_differ")),
                      "unknown_drugs": answer.get("unknown_drugs", [])}
        result["audit_id"] = entry["id"]
        result["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        entry.update(status=result["status"], reason=result.get("reason", ""), server=result.get("server", ""))
        self.audit.append(entry)
        del self.audit[:-10000]
        return web.json_response(result)

    async def audit_log(self, request: web.Request) -> web.Response:
        patient = request.query.get("patient")
        entries = [e for e in self.audit if patient is None or e["patient"] == patient]
        return web.json_response({"entries": entries[-1000:]})
