"""Lines longer than 80 characters re-wrapped at 80."""

from __future__ import annotations

import textwrap

from genrep.mutate.operators.base import TextOperator

WIDTH = 80


class RewrappedAt80(TextOperator):
    name = "rewrapped-at-80"
    changes = (f"every report line longer than {WIDTH} characters is re-wrapped at word boundaries into lines "
               f"of at most {WIDTH}: line breaks appear where the radiologist wrote none")

    def change(self, lines, rng):
        out = []
        for line in lines:
            if len(line) > WIDTH and " " in line.strip():
                out.extend(textwrap.wrap(line, WIDTH, break_long_words=False, break_on_hyphens=False)
                           or [line])
            else:
                out.append(line)
        return out
