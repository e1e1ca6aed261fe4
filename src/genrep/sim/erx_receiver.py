"""The e-prescription receiver simulator: the national prescription receiver's side of an e-prescription
sent from the EHR, which verifies the prescriber's signature before it takes the prescription.

How the real receiver takes a signed prescription is not public here [U]; this simulator speaks a small
HTTP JSON API of our own [A] (``contracts/erx.yaml``; the EHR's adapter for it is ``genrep.sim.ehr_erx``;
the harness never calls the service port itself):

- ``POST /prescriptions`` ``{"prescription", "prescriber", "body", "signature", "certificate"}``
  (``body`` and ``signature`` base64, ``certificate`` PEM): the signature is verified with the
  ``cryptography`` library: the certificate chains to the trusted CA (``--ca-file``, the throw-away
  SITHS-like CA of ``genrep.sim.erx_cards``), is valid now, has the signing key usage (nonRepudiation,
  X.509 contentCommitment), is the prescriber's own (subject serialNumber = the prescriber's HSA-id),
  and the ECDSA-SHA256 signature verifies over the body with its public key. 200
  ``{"outcome": "accepted", "receipt"}``, or 422 ``{"outcome": "rejected", "reason", "text"}`` with the
  reason code of the contract (untrusted-issuer, certificate-expired, certificate-not-yet-valid,
  wrong-key-usage, identity-mismatch, bad-signature); 400 for a body that is not that shape.
- ``GET /health``.

Admin port (as the referral receiver, whose fault modes and two ports it shares): ``POST /admin/fault``
``{"mode": none|stopped|hang|error503}``, ``POST /admin/reset``, ``GET /admin/received``
(``?prescription=ID``: every prescription that arrived, verified or not, with the verdict and the
signer: what the harness checks "sent" against), ``GET /admin/health``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import sys
import time

from aiohttp import web

from genrep.sim.referral_receiver import RECEIVED_MAX, ReferralReceiver, serve as _serve
from genrep.sim.two_port import address_problem, fail, run_serving, two_port_parser


def verify(ca_cert, body: bytes, signature: bytes, cert_pem: bytes, prescriber: str,
           now: _dt.datetime | None = None) -> tuple[str, str, object | None]:
    """("", "", cert) when the signature is good; else (reason code, text, cert or None)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        return "untrusted-issuer", f"the certificate cannot be read: {exc}", None
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return "untrusted-issuer", f"the certificate is not issued by the trusted CA ({cert.issuer.rfc4514_string()})", cert
    now = now or _dt.datetime.now(_dt.timezone.utc)
    if now > cert.not_valid_after_utc:
        return "certificate-expired", f"the certificate expired {cert.not_valid_after_utc:%Y-%m-%d}", cert
    if now < cert.not_valid_before_utc:
        return "certificate-not-yet-valid", f"the certificate is valid from {cert.not_valid_before_utc:%Y-%m-%d}", cert
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        signing = ku.content_commitment
    except x509.ExtensionNotFound:
        signing = False
    if not signing:
        return "wrong-key-usage", "the certificate has no nonRepudiation key usage: not a signing certificate", cert
    holders = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)]
    if prescriber not in holders:
        return "identity-mismatch", (f"the certificate is {', '.join(map(str, holders)) or 'no one'}'s, the "
                                     f"prescription is {prescriber}'s"), cert
    key = cert.public_key()
    try:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        key.verify(signature, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "bad-signature", "the signature does not verify over the prescription with the certificate's key", cert
    return "", "", cert


def signer_of(cert) -> dict:
    from cryptography.x509.oid import NameOID
    holders = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)]
    return {"serial": format(cert.serial_number, "x"), "subject": cert.subject.rfc4514_string(),
            "holder": holders[0] if holders else ""}


class ErxReceiver(ReferralReceiver):
    RECEIVED_KEY = "prescription"

    def __init__(self, ca_cert):
        super().__init__({})
        self.ca_cert = ca_cert

    def service_app(self) -> web.Application:
        app = web.Application(client_max_size=2 ** 20, middlewares=[self.middleware])
        app.router.add_post("/prescriptions", self.take)
        app.router.add_get("/health", self.health)
        return app

    async def take(self, request: web.Request) -> web.Response:
        try:
            body = json.loads((await request.read()).decode("utf-8"))
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large (limit 1 MiB)"}, status=413)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
        keys = ("prescription", "prescriber", "body", "signature", "certificate")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body.get(k) for k in keys):
            return web.json_response({"error": f"body must have {', '.join(keys)} (strings)"}, status=400)
        try:
            data = base64.b64decode(body["body"], validate=True)
            signature = base64.b64decode(body["signature"], validate=True)
        except (binascii.Error, ValueError):
            return web.json_response({"error": "body and signature are base64"}, status=400)
        reason, text, cert = verify(self.ca_cert, data, signature, body["certificate"].encode("ascii", "replace"),
                                    body["prescriber"])
        record = {"prescription": body["prescription"], "prescriber": body["prescriber"], "verified": not reason,
                  "reason": reason, "text": text, "signer": signer_of(cert) if cert is not None else {},
                  "at": time.time()}
        if len(self.received) >= RECEIVED_MAX:
            self.received.pop(0)
        if reason:
            self.received.append(record)
            return web.json_response({"outcome": "rejected", "reason": reason, "text": text}, status=422)
        record["receipt"] = f"erx-rcpt-{len(self.received) + 1}"
        self.received.append(record)
        return web.json_response({"outcome": "accepted", "receipt": record["receipt"]})


def main(argv: list[str] | None = None) -> int:
    ap = two_port_parser("python -m genrep.sim.erx_receiver", __doc__.splitlines()[0])
    ap.add_argument("--ca-file", required=True, help="PEM CA the prescribers' certificates must chain to")
    args = ap.parse_args(argv)
    problem = address_problem(args, "the e-prescription receiver")
    if problem:
        return fail(problem)
    from cryptography import x509
    try:
        with open(args.ca_file, "rb") as f:
            ca_cert = x509.load_pem_x509_certificate(f.read())
    except (OSError, ValueError) as exc:
        return fail(f"cannot read --ca-file {args.ca_file}: {exc}")
    receiver = ErxReceiver(ca_cert)

    def ready(info: dict) -> None:
        info = {**info, "service": "erx-receiver"}
        info.pop("units", None)
        print(json.dumps(info), flush=True)

    return run_serving(_serve(args.host, args.port, args.admin_port, receiver, ready), args)


if __name__ == "__main__":
    sys.exit(main())
