"""The virtual test environment: simulators that are real processes on loopback ports.

``genrep.sim.ehr`` is the virtual EHR (MLLP inbound, FHIR R4 read API); ``defects`` lists the
switchable defects that replay the 2024 incidents; ``process`` starts and stops simulators as
child processes with bounded waits and no orphans.
"""
