"""The result types callers get back: :class:`Finding` (one way the stored text differs) and
:class:`FidelityResult` (all of them, with the summary and diff that go into Allure and failure
messages).

Separate from the detectors so that callers' types do not depend on how differences are found.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from genrep.text.fidelity._kinds import SEVERITIES
from genrep.text.fidelity._rules import TextRules, normalise
from genrep.text.fidelity._text import _count_lines


@dataclass(frozen=True)
class Finding:
    """One way in which the stored text differs from the sent text."""

    kind: str
    severity: str
    message: str
    details: dict = field(default_factory=dict)


@dataclass
class FidelityResult:
    """Outcome of :func:`compare`. ``ok`` is True iff the normalised texts are equal."""

    ok: bool
    findings: list[Finding]
    sent: str
    stored: str
    rules: TextRules = field(default_factory=TextRules, repr=False)

    @property
    def severity(self) -> str | None:
        if self.ok or not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: SEVERITIES.get(s, -1))

    @property
    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    def summary(self) -> str:
        if self.ok:
            text = normalise(self.sent, self.rules)
            return (f"Report text stored intact ({_count_lines(text)} lines, "
                    f"{len(text)} characters)")
        lines = [f"Report text differs: {', '.join(self.kinds)}"]
        lines += [f"- [{f.kind}/{f.severity}] {f.message}" for f in self.findings]
        return "\n".join(lines)

    def diff(self) -> str:
        a = normalise(self.sent, self.rules).split("\n")
        b = normalise(self.stored, self.rules).split("\n")
        return "\n".join(difflib.unified_diff(a, b, fromfile="sent", tofile="stored",
                                              lineterm=""))
