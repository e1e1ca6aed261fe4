"""Integration contracts, the requirement catalogue and the gate rules, loaded from ``contracts/`` (data,
not code): the one place to import every loader from.

Each loader validates what it reads and fails with the file, key and line of the first problem:
a tester who mistypes ``stored_within_second`` must learn it at load time, not from a green run
that silently used a default.

Each contract has its own module, re-exported here: the requirement catalogue (``catalogue``), the
gate rules (``gate_rules``), radiology, NLL, Multum, referrals and e-prescription signing (``erx``);
the parts their loaders share are in ``contract_parts``. Callers that look a loader up here at call
time (``genrep.config.contracts.load_multum``) see what a test puts in its place.
"""

from __future__ import annotations

from genrep.config.catalogue import MANUAL_TEST_TYPES, SEVERITIES, TEST_TYPES, Requirement, load_catalogue
from genrep.config.erx import ErxContract, load_erx
from genrep.config.gate_rules import (COUNTS, GateRules, LoadProfileScope, Scope, ScopePart, known_load_profiles,
                                      load_gate, parse_duration)
from genrep.config.multum import MultumContract, load_multum
from genrep.config.nll import LINE_BREAK_NAMES, NLLContract, NLLElement, load_nll
from genrep.config.radiology import RadiologyContract, load_radiology
from genrep.config.referrals import ReferralContract, load_referrals

__all__ = [
    "COUNTS", "LINE_BREAK_NAMES", "MANUAL_TEST_TYPES", "SEVERITIES", "TEST_TYPES",
    "ErxContract", "GateRules", "LoadProfileScope", "MultumContract", "NLLContract", "NLLElement",
    "RadiologyContract", "ReferralContract", "Requirement", "Scope", "ScopePart",
    "known_load_profiles", "load_catalogue", "load_erx", "load_gate", "load_multum", "load_nll",
    "load_radiology", "load_referrals", "parse_duration",
]
