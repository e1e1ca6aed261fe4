"""The loss-kind registry: every kind of difference ``compare`` can report, its severity, and the
order findings are listed in.

One table, because the kinds are an interface: failure messages carry ``[kind/severity]``, the
defect table (``sim/defects.py``) names the kinds each defect must show, and ``genrep selftest`` and
the results reader classify from them. Adding a kind means adding it here, in its report place.
"""

from __future__ import annotations

#: Every finding kind with its severity, in report order (most specific / most severe first).
KINDS: dict[str, str] = {
    "lost_negation": "critical",
    "empty": "high",
    "truncated": "high",
    "mojibake": "high",
    "combining_marks_lost": "high",
    "line_breaks_lost": "high",
    "merged_words": "high",
    "line_breaks_added": "medium",
    "split_words": "high",
    "reordered_lines": "high",
    "missing_lines": "high",
    "extra_lines": "medium",
    "lost_words": "high",
    "added_words": "medium",
    "changed_text": "high",
    "whitespace_changed": "low",
    "unicode_normalisation": "low",
}

#: Severity rank, higher is worse.
SEVERITIES: dict[str, int] = {"critical": 3, "high": 2, "medium": 1, "low": 0}

_KIND_ORDER = {kind: n for n, kind in enumerate(KINDS)}
