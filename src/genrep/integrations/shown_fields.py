"""What the EHR shows beside the report text, compared with what was sent: the registration (the
Patient after an ADT: name, birth date, sex) and the examination a report is for (its
DiagnosticReport's ``code``, from OBR-4).

Why the examination: a report read back word for word under a cut or changed examination name
("Datortomografi thorax" shown as "Datortomogr", or another examination's name) still passed, and
a mutation run showed it (a display string cut to 5 characters survived until the conclusion was
compared too). The names shown are the code's ``text`` and its codings' ``display``s; one of them
must be the name sent, compared as text with the contract's fidelity rules, so a lost letter or a cut is classified like
any lost text. An EHR that names examinations from its own catalogue instead of OBR-4.2 says so
in the contract (``read_back.examination: not_compared``); a code with neither text nor display
is a note, never a pass by silence.

Its own module because these are checks of fields, not of the report text (``check_read_back`` in
``genrep.integrations.radiology``), and both clients of the radiology contract use them.
"""

from __future__ import annotations

from genrep import hl7
from genrep.text.fidelity import FidelityResult, TextRules, compare

SEXES = {"F": "female", "M": "male"}


def findings(result: FidelityResult) -> list[str]:
    """A fidelity result's findings, one line each, tagged with kind and severity."""
    return [f"- [{f.kind}/{f.severity}] {f.message}" for f in result.findings]


def check_registration(sent: hl7.Patient, shown: dict, rules: TextRules | None = None) -> list[str]:
    """What the EHR's Patient resource ``shown`` has that differs from the registration ``sent``
    (ADT PID): [] when it shows what was registered. Each name part (family, given) is compared as
    text with the fidelity rules, findings tagged with their classification; the birth date
    (``wrong_birth_date``) and sex (``wrong_sex``) only where the message carried them (a
    registration without them leaves the EHR to derive them from the identity: the registration
    features check that)."""
    rules = rules or TextRules()
    problems: list[str] = []
    name = next((n for n in shown.get("name") or [] if isinstance(n, dict)), {})
    given = name.get("given") or []
    got_parts = {"family name": name.get("family") or "",
                 "given name": " ".join(g for g in given if isinstance(g, str)) if isinstance(given, list) else ""}
    for label, want in (("family name", sent.family), ("given name", sent.given)):
        if not want:
            continue
        got = got_parts[label]
        result = compare(want, got, rules)
        if not result.ok:
            problems.append("\n".join([f"The {label} the EHR shows is not the one registered (PID-5): sent "
                                        f"{want!r}, shown {got!r}", *findings(result)]))
    if sent.birth_date and len(sent.birth_date) >= 8:
        bd = sent.birth_date
        want_birth, got_birth = f"{bd[:4]}-{bd[4:6]}-{bd[6:8]}", shown.get("birthDate")
        if got_birth != want_birth:
            problems.append(f"wrong_birth_date: the EHR shows birth date {got_birth or 'none'} for a patient "
                            f"registered with {want_birth} (PID-7)")
    if sent.sex in SEXES and shown.get("gender") != SEXES[sent.sex]:
        problems.append(f"wrong_sex: the EHR shows {shown.get('gender') or 'no sex'} for a patient registered "
                        f"as {SEXES[sent.sex]} (PID-8)")
    return problems


def shown_examinations(report: dict) -> list[str]:
    """The examination names a DiagnosticReport shows: ``code.text``, then each coding's ``display``
    (a code may carry a terminology's coding before the sender's own); [] when it has none."""
    code = report.get("code")
    if not isinstance(code, dict):
        return []
    names = [code.get("text")] + [c.get("display") for c in code.get("coding") or [] if isinstance(c, dict)]
    return [n for n in names if isinstance(n, str) and n.strip()]


def check_examination(sent: str, shown: list[str], rules: TextRules | None = None) -> tuple[str | None, str | None]:
    """(failure, note) for the examination name ``sent`` (OBR-4.2) against the names the EHR shows:
    none when one of them is the name sent; else a failure ``examination_changed`` against the first
    (its fidelity findings as words, so that the failure is filed as a changed examination, not as
    a changed report text); a note when the code shows no name at all (said, never a silent pass)."""
    if not sent:
        return None, None
    if not shown:
        return None, ("examination_not_compared: the report's code has no text and no coding display: the "
                      f"examination sent ({sent!r}) was not compared")
    rules = rules or TextRules()
    results = [compare(sent, name, rules) for name in shown]
    if any(r.ok for r in results):
        return None, None
    how = ", ".join(results[0].kinds) or "changed"
    return (f"examination_changed: the examination the EHR shows is not the one sent (OBR-4.2): sent {sent!r}, "
            f"shown {' / '.join(map(repr, shown))} ({how}; an EHR that names examinations from its own catalogue: "
            "contract read_back.examination: not_compared)"), None
