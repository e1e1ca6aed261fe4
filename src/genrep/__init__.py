"""genrep: a go-live dress-rehearsal harness for EHR integrations.

Public API is kept small; modules below are organised by layer (see docs/architecture.md):
config/contracts -> domain (hl7, fhir, fidelity, identities) -> transport (mllp, http) -> sim -> report/gate -> cli.
"""

__version__ = "0.1.0"
