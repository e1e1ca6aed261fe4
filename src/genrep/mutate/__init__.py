"""Mutation analysis of a feature suite (``genrep mutate``): a suite is measured by the corruptions it kills.

Proxies on loopback (``proxy``) sit between the harness and the EHR's inbound MLLP and FHIR
endpoints and, in the virtual environment, on the EHR's own outbound paths to NLL and Multum; they
pass every message through the active corruption operator (``operators``). ``run`` runs each
integration's scenarios once per operator against one environment (faults reach the simulators
through ``fault_relay``) and classifies each operator as caught, survived, never triggered or not
applicable; the mutation score per integration is caught / (caught + survived).
"""
