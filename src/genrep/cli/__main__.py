"""``python -m genrep.cli``: the same as the ``genrep`` command."""

import sys

from genrep.cli import main

sys.exit(main())
