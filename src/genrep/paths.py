"""Where genrep's own files are: one home for every project path (no genrep imports).

The package lives in ``src/genrep`` of a checkout (an editable install, as both README commands make
it); contracts, environment profiles, fixtures and the default report folder sit at the checkout's
top level, next to ``src``.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
ENVIRONMENTS_DIR = PROJECT_ROOT / "environments"
FIXTURES_DIR = PROJECT_ROOT / "fixtures"
FEATURES_DIR = PROJECT_ROOT / "features"
REPORTS_DIR = PROJECT_ROOT / "reports"  # the default output folder of rehearse, report, load, selftest
REPORT_TEXTS_DIR = FIXTURES_DIR / "reports"  # the radiology report texts a feature names
