"""What ``python -m steps.catalogue`` and ``python -m steps.lint`` share: exit code 2 with a readable
message when the catalogue, the step modules or the feature files cannot be loaded."""

from __future__ import annotations

import sys


def guarded(main) -> int:
    from genrep.errors import GenrepError
    try:
        return main()
    except GenrepError as exc:
        print(f"genrep: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception:  # a step module that does not import: show where, as bad input
        import traceback
        traceback.print_exc()
        print("genrep: could not load the step definitions or feature files (see above)", file=sys.stderr)
        return 2
