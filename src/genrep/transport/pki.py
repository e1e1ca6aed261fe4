"""Throw-away test certificates (``cryptography``): ``ThrowawayCA`` and ``make_pki`` make a CA, server
and client certificates at start-up of the virtual TLS environment, and for tests also expired,
not-yet-valid, wrongly signed and wrong-host ones. Keys are written 0600 in a 0700 folder."""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path


# -- throw-away certificates (cryptography) ----------------------------------------------------------


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


@dataclass
class Issued:
    """A certificate and its private key (``cryptography`` objects)."""

    cert: object
    key: object

    def cert_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: str | None = None) -> bytes:
        from cryptography.hazmat.primitives import serialization
        enc = (serialization.BestAvailableEncryption(password.encode("utf-8")) if password
               else serialization.NoEncryption())
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)

    def write(self, cert_path: str | os.PathLike, key_path: str | os.PathLike | None = None, *,
              password: str | None = None, chain: bytes = b"") -> None:
        _write_private(Path(cert_path), self.cert_pem() + chain)
        if key_path is not None:
            _write_private(Path(key_path), self.key_pem(password))


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by this user only (0600), also when the file already existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)


class ThrowawayCA:
    """A certificate authority made on the spot (EC P-256), for the virtual environment and tests.

    ``issue("127.0.0.1", "localhost")`` gives a server certificate for those names;
    ``issue(client_name="genrep")`` a client certificate. ``not_before``/``not_after`` (or ``days``)
    make expired or not-yet-valid certificates; another ``ThrowawayCA`` gives a wrongly signed one."""

    def __init__(self, name: str = "genrep throw-away test CA", *, days: float = 3650):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "genrep (not for production)"),
                               x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _utcnow()
        ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - _dt.timedelta(hours=1)).not_valid_after(now + _dt.timedelta(days=days))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(ski, critical=False)
                     .sign(self.key, hashes.SHA256()))

    def cert_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: str | os.PathLike) -> None:
        _write_private(Path(path), self.cert_pem())

    def issue(self, *hosts: str, client_name: str | None = None, days: float = 365,
              not_before: _dt.datetime | None = None, not_after: _dt.datetime | None = None) -> Issued:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        if not hosts and not client_name:
            raise ValueError("give host names/addresses (server) or client_name (client)")
        key = ec.generate_private_key(ec.SECP256R1())
        now = _utcnow()
        start = not_before or (now - _dt.timedelta(hours=1))
        end = not_after or (now + _dt.timedelta(days=days))
        cn = client_name or hosts[0]
        names = []
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "genrep (not for production)"),
                                            x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                   .issuer_name(self.name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client_name
                                                         else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)

    def issue_person(self, hsa_id: str, name: str, *, usage: str, not_before: _dt.datetime | None = None,
                     not_after: _dt.datetime | None = None, days: float = 365) -> Issued:
        """A SITHS-like personal certificate: subject CN ``name`` and serialNumber ``hsa_id`` (the
        holder's HSA-id). ``usage="authentication"``: key usage digitalSignature, EKU clientAuth;
        ``usage="signing"``: key usage nonRepudiation (contentCommitment) only, as a card's signing
        certificate has. ``not_before``/``not_after`` make expired or not-yet-valid ones."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        if usage not in ("authentication", "signing"):
            raise ValueError(f"usage is authentication or signing, got {usage!r}")
        key = ec.generate_private_key(ec.SECP256R1())
        now = _utcnow()
        start = not_before or (now - _dt.timedelta(hours=1))
        end = not_after or (now + _dt.timedelta(days=days))
        signing = usage == "signing"
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, "genrep (not for production)"),
                       x509.NameAttribute(NameOID.SERIAL_NUMBER, hsa_id),
                       x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(self.name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=not signing, content_commitment=signing,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if not signing:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)


@dataclass
class ThrowawayPKI:
    """Files of a throw-away PKI in ``directory`` (see ``make_pki``)."""

    directory: Path
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path          # the harness's client certificate (key encrypted if a password was given)
    client_key: Path
    peer_client_cert: Path     # a second client identity (the virtual EHR calling the NLL simulator)
    peer_client_key: Path


def make_pki(directory: str | os.PathLike, *, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
             client_key_password: str | None = None, days: float = 365) -> ThrowawayPKI:
    """A CA, a server certificate for ``hosts`` and two client certificates, as PEM files (0600) in
    ``directory``, which is made private (0700): the server and peer keys are not encrypted. The
    caller owns the folder and removes it (``genrep.sim.process`` does, on every exit path)."""
    d = Path(directory)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    ca = ThrowawayCA()
    pki = ThrowawayPKI(d, d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem",
                       d / "client.key", d / "peer-client.pem", d / "peer-client.key")
    ca.write(pki.ca_file)
    ca.issue(*hosts, days=days).write(pki.server_cert, pki.server_key)
    ca.issue(client_name="genrep harness", days=days).write(pki.client_cert, pki.client_key,
                                                             password=client_key_password)
    ca.issue(client_name="genrep virtual EHR", days=days).write(pki.peer_client_cert, pki.peer_client_key)
    return pki


