"""The virtual card store: the SITHS-like certificates each test prescriber's card (and the
workstation's certificate store) presents, made with the throw-away PKI (``genrep.transport.pki``).

``make_card_store(directory, contract)`` makes a throw-away "SITHS" CA and, for every prescriber of
``contracts/erx.yaml``, every certificate on their card: authentication (digitalSignature, EKU
clientAuth) and signing (nonRepudiation) certificates, valid, expired and not yet valid, the
prescriber's own and a colleague's. It writes ``ca.pem``, each certificate and key (0600, keys not
encrypted: throw-away) and ``cards.json``, the index, in ``directory`` (0700; the caller removes it:
``genrep.sim.process`` makes it in the environment's private folder). The virtual EHR reads the cards
with ``load_card_store``; the e-prescription receiver trusts ``ca.pem``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from genrep.config.erx import ErxContract

CA_FILE = "ca.pem"
INDEX_FILE = "cards.json"
COLLEAGUE_NAME = "Test Kollega"  # the holder's name when a certificate is not a test prescriber's


@dataclass
class Card:
    """One certificate on a prescriber's card: its label, ``cryptography`` certificate and key."""
    label: str
    cert: object
    key: object

    @property
    def serial(self) -> str:
        return format(self.cert.serial_number, "x")

    def cert_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _window(validity: str, now: _dt.datetime) -> tuple[_dt.datetime, _dt.datetime]:
    if validity == "expired":
        return now - _dt.timedelta(days=400), now - _dt.timedelta(days=1)
    if validity == "not-yet-valid":
        return now + _dt.timedelta(days=30), now + _dt.timedelta(days=395)
    return now - _dt.timedelta(hours=1), now + _dt.timedelta(days=365)


def make_card_store(directory: str | os.PathLike, contract: ErxContract) -> Path:
    from genrep.transport.pki import ThrowawayCA
    d = Path(directory)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    ca = ThrowawayCA("genrep throw-away SITHS-like CA")
    ca.write(d / CA_FILE)
    names = {p.id: p.name for p in contract.prescribers}
    now = _dt.datetime.now(_dt.timezone.utc)
    index: dict[str, list[dict]] = {}
    for n, p in enumerate(contract.prescribers):
        entries = []
        for c in p.card:
            start, end = _window(c.validity, now)
            issued = ca.issue_person(c.holder, names.get(c.holder, COLLEAGUE_NAME), usage=c.usage,
                                     not_before=start, not_after=end)
            stem = f"p{n}-{c.label}"
            issued.write(d / f"{stem}.pem", d / f"{stem}.key")
            entries.append({"label": c.label, "cert": f"{stem}.pem", "key": f"{stem}.key"})
        index[p.id] = entries
    fd = os.open(d / INDEX_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
    return d


def load_card_store(directory: str | os.PathLike) -> dict[str, list[Card]]:
    """prescriber HSA-id -> the certificates their card presents, in card order."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    d = Path(directory)
    index = json.loads((d / INDEX_FILE).read_text(encoding="utf-8"))
    cards: dict[str, list[Card]] = {}
    for prescriber, entries in index.items():
        cards[prescriber] = [
            Card(e["label"], x509.load_pem_x509_certificate((d / e["cert"]).read_bytes()),
                 serialization.load_pem_private_key((d / e["key"]).read_bytes(), password=None))
            for e in entries]
    return cards
