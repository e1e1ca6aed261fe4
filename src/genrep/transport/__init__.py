"""Transports: MLLP, HTTP, FHIR, TLS, and the one factory that builds clients from a profile endpoint."""
