"""Mutation analysis of a feature suite (``genrep mutate``): a suite is measured by the corruptions it kills.

Proxies on loopback (``proxy``) sit between the harness and the EHR's inbound MLLP and FHIR
endpoints and pass every message through the active corruption operator (``operators``); ``run``
runs the chosen scenarios once per operator against one environment and classifies each operator as
caught, survived or never triggered; the mutation score per integration is caught / (caught +
survived).
"""
