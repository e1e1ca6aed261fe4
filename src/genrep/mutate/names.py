"""What the command line needs to know of mutation analysis before it runs any: the integrations
that have operators and the target score. A module of its own so that building genrep's argument
parser (every ``genrep`` command, also ``--help``) does not import the operators and the runner
(~0.17 s of every CLI process). ``genrep.mutate.operators`` checks at import that its operators
belong to exactly these integrations, in this order."""

from __future__ import annotations

#: the integrations that have corruption operators, in the operators' order
INTEGRATIONS = ("radiology", "medication_list", "registration", "multum")
#: the mutation score each integration must reach (the issue's goal)
TARGET_SCORE = 0.95
