"""Exception hierarchy shared by every layer.

Every error the harness raises on bad input or a misbehaving system under test is a
``GenrepError`` with a message a tester can act on. Transport errors say which endpoint and what
timed out; configuration errors name the file, the key and (where known) the line.
"""

from __future__ import annotations


class GenrepError(Exception):
    """Base class: anything genrep reports as a clear, expected failure."""


class ConfigError(GenrepError):
    """An invalid profile, contract, catalogue or feature file."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None):
        self.file, self.key, self.line = file, key, line
        where = []
        if file:
            where.append(f"{file}" + (f":{line}" if line else ""))
        if key:
            where.append(f"key '{key}'")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class RunIncomplete(GenrepError):
    """A run ended without figures that can be judged (a load run whose statistics Locust left empty
    or unreadable): not a configuration error and never a verdict; the CLI exits 4 (INCOMPLETE)."""


class IdentityViolation(GenrepError):
    """A personnummer-shaped value that is not on the test-identity allowlist was about to leave
    the harness. The run must stop before anything is sent."""


class HL7Error(GenrepError):
    """Malformed or unsupported HL7 v2 content."""


class TransportError(GenrepError):
    """Base for network failures talking to a system under test."""


class ConnectTimeout(TransportError):
    """The endpoint did not accept a connection in time."""


class ConnectionRefused(TransportError):
    """The endpoint refused the connection (nothing listening)."""


class ReadTimeout(TransportError):
    """Connected, but no (complete) answer arrived in time: a hanging system under test."""


class ProtocolError(TransportError):
    """The peer answered with something that is not valid for the protocol (broken MLLP frame,
    oversized frame, malformed FHIR JSON, wrong content type)."""


class ConnectionClosed(TransportError):
    """The peer closed the connection before a complete answer arrived."""


class FHIRError(TransportError):
    """A FHIR server answered with an error status; carries the OperationOutcome text when given."""

    def __init__(self, message: str, *, status: int | None = None, outcome: str | None = None):
        self.status, self.outcome = status, outcome
        super().__init__(message)


class TLSError(ProtocolError):
    """A TLS session could not be set up or was ended by the peer: the handshake failed, the peer
    does not speak TLS (a plaintext server), or the server refused our client certificate. Never
    followed by a plaintext retry."""

    def __init__(self, message: str, *, endpoint: str | None = None, reason: str | None = None):
        self.endpoint, self.reason = endpoint, reason
        super().__init__(message)


class CertificateError(TLSError):
    """The server's certificate was refused. ``reason`` says why: ``expired``, ``not_yet_valid``,
    ``untrusted`` (not signed by a trusted CA), ``hostname_mismatch`` or ``invalid`` (anything
    else OpenSSL rejected)."""
