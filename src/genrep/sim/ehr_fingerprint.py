"""The virtual EHR node's configuration fingerprint (contracts/parity.yaml).

One EHR system can be reached through several entry points (application nodes, desktop pools,
load-balancer members); in 2024 one of them was set up unlike the others. Each node of the virtual EHR
answers ``GET /fhir/$fingerprint`` ([A]: the place a real EHR publishes this is not public) with:
- ``node`` (its name, never compared) and ``software_version``;
- ``integrations``: for NLL, Multum and the referral receiver, whether *this node* reaches it, checked
  live when asked (one bounded request through the module's own session, so TLS and the URL are the
  ones the node really uses): any HTTP answer is reachable, a refused or timed-out connection is not;
- ``schedule_templates`` loaded and ``booking_types`` with their resources (the node's deployed
  configuration: ``CONFIGURATION``).

Clean behaviour: every node answers the same configuration and reaches every integration. Defects
(``genrep.sim.defects``, target ``ehr-b``: the second node only): ``parity-node-b-no-multum`` (a firewall
rule missing: the node cannot reach Multum, so prescribing fails there only) and
``parity-node-b-no-schedule-templates`` (no schedule templates loaded, and the portal's booking type has
no resources).
"""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from genrep import __version__

SOFTWARE_VERSION = f"genrep virtual EHR {__version__}"
#: the configuration every node is deployed with (synthetic: a primary-care and a radiology unit)
CONFIGURATION = {
    "schedule_templates": ["Vårdcentral dagmottagning v1", "Röntgen SÄS slinga v2"],
    "booking_types": {
        "Nybesök läkare": ["Läkare mottagning 1", "Rum 12"],
        "Återbesök sjuksköterska": ["Sjuksköterska mottagning 1"],
        "Webbokning provtagning": ["Provtagning rum 3"],   # the one the patient portal books
        "Lungröntgen": ["Röntgenlab 2"],
    },
}
PORTAL_BOOKING_TYPE = "Webbokning provtagning"
NO_MULTUM = "parity-node-b-no-multum"
NO_TEMPLATES = "parity-node-b-no-schedule-templates"
CHECK_TIMEOUT = 1.5  # seconds for one live reachability check


def closed_port_url(host: str = "127.0.0.1") -> str:
    """A URL on a port nothing listens on (bound and released now): connecting is refused, as a
    firewall rule that rejects would."""
    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    return f"http://{host}:{port}"


def multum_url_for(url: str | None, defects: dict) -> str | None:
    """The Multum URL this node uses: ``url``, or an unreachable one with ``parity-node-b-no-multum``."""
    return closed_port_url() if (NO_MULTUM in defects and url) else url


class NodeFingerprint:
    """``GET /fhir/$fingerprint`` of one node (``ehr``: the VirtualEHR whose modules it checks)."""

    def __init__(self, ehr, defects: dict, node: str = "node-a"):
        self.ehr, self.node = ehr, node
        config = {"schedule_templates": list(CONFIGURATION["schedule_templates"]),
                  "booking_types": {k: list(v) for k, v in CONFIGURATION["booking_types"].items()}}
        if NO_TEMPLATES in defects:
            config["schedule_templates"] = []
            config["booking_types"][PORTAL_BOOKING_TYPE] = []
        self.config = config

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/fhir/$fingerprint", self.handle)

    def _targets(self) -> dict[str, tuple[object, str | None]]:
        e = self.ehr
        return {"nll": (e.medications.session, f"{e.medications.nll_url}/metadata" if e.medications.nll_url else None),
                "multum": (e.prescribing.session,
                           f"{e.prescribing.multum_url}/lb/health" if e.prescribing.multum_url else None),
                "referrals": (e.referrals.session,
                              f"{e.referrals.receiver_url}/health" if e.referrals.receiver_url else None)}

    @staticmethod
    async def _reach(session, url: str | None) -> dict:
        if session is None or not url:
            return {"reachable": False, "detail": "not configured on this node"}
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                async with session.get(url) as resp:
                    await resp.read()
                    return {"reachable": True, "detail": f"HTTP {resp.status}"}
        except (TimeoutError, asyncio.TimeoutError):
            return {"reachable": False, "detail": f"no answer within {CHECK_TIMEOUT} s"}
        except Exception as exc:  # refused, reset, TLS: not reachable, with the reason
            return {"reachable": False, "detail": f"{type(exc).__name__}: {str(exc)[:160]}"}

    async def handle(self, request: web.Request) -> web.Response:
        targets = self._targets()
        checked = await asyncio.gather(*(self._reach(s, u) for s, u in targets.values()))
        return web.json_response({"node": self.node, "software_version": SOFTWARE_VERSION,
                                  "integrations": dict(zip(targets, checked)), **self.config})
