"""What the command line needs of ``genrep explore`` to build its options: the integrations, their
generators and the defaults. A module of its own so that building genrep's argument parser (every
command, also ``--help``) imports neither Hypothesis nor the generators and targets."""

from __future__ import annotations

INTEGRATIONS = ("radiology", "nll")
#: generators per integration (the first is the default)
GENERATORS = {"radiology": ("hl7", "clinical"), "nll": ("nll",)}
DEFAULT_EXAMPLES = 50
DEFAULT_BUDGET = 300.0
