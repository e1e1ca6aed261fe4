"""The access features, generated from the matrix: ``features/access/`` from ``contracts/access.yaml``.

pytest-bdd reads Examples only from feature files, so the matrix's cells become Examples rows of a
committed, generated feature (English and Swedish), one scenario per cell: each cell then has its own
result, its own requirement ids (a cell's ``requirements``, ``ACC-R01`` on denied reads) and its own
line in Allure, the selftest and the gate, and a tester reads the whole matrix in Gherkin. (A step
iterating the matrix inside one scenario would hide every cell after the first failure, and could
not tag single cells with their requirements.) ``tests/unit/test_access_features.py`` fails while
the committed files and the matrix disagree, and names the command that regenerates them:

    .venv/bin/python -m steps.access_features          # write features/access/*.feature
    .venv/bin/python -m steps.access_features --check  # exit 1 if they are out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from genrep.config.access import AccessContract, Cell, load_access
from steps.feature_files import PROJECT_ROOT

FEATURE_DIR = PROJECT_ROOT / "features" / "access"
FILES = {"en": FEATURE_DIR / "access_matrix.feature", "sv": FEATURE_DIR / "behorighetsmatris.sv.feature"}
COMMAND = ".venv/bin/python -m steps.access_features"
DENIED_READ_REQUIREMENT = "ACC-R01"  # a denied read must show no patient data

TEXT = {
    "en": {
        "header": "",
        "feature": "Feature: Access rights as a matrix: each role may do what the matrix allows and is refused the rest explicitly",
        "description": [
            "Access rights and their configuration made up much of the 2024 go-live's day-one incident load.",
            "One scenario per cell of contracts/access.yaml, performed as the environment profile's test user",
            "of the role (test_users, never a real directory). A denial is 403 with an OperationOutcome naming",
            "the missing right, never an empty answer: the patient has a radiology report and a medication",
            "list, so an empty answer can never mean \"nothing there\".",
        ],
        "background": "Background:",
        "given": "Given a registered test patient with a radiology report and a prescription in NLL",
        "outline": "Scenario Outline:",
        "scenario": "Scenario:",
        "examples": "Examples:",
        "columns": ("role", "action"),
        "allowed_title": "A <role> may <action>",
        "denied_title": "A <role> is refused to <action>, explicitly",
        "when": "When a test user with the role <role> tries to <action> for the patient",
        "then_allowed": "Then the EHR allows it",
        "then_denied": "Then the EHR refuses it explicitly, naming the missing right",
        "block": {"ACC-003": "Non-physicians create referrals (a legal requirement)",
                  DENIED_READ_REQUIREMENT: "Patient data the role must not see",
                  "allowed": "Other actions the matrix allows", "denied": "Actions the role must not perform"},
        "unknown_title": "A user the EHR does not know is refused explicitly, never served as another account",
        "unknown_when": "When a user the EHR does not know tries to read a radiology report for the patient",
        "unknown_then": "Then the EHR refuses it explicitly",
    },
    "sv": {
        "header": "# language: sv",
        "feature": "Egenskap: Behörigheter som matris: varje roll får göra det matrisen tillåter och nekas resten uttryckligen",
        "description": [
            "Behörigheter och deras konfiguration stod för en stor del av incidenterna första dagen 2024.",
            "Ett scenario per cell i contracts/access.yaml, utfört som miljöprofilens testanvändare med rollen",
            "(test_users, aldrig en riktig katalog). Ett nekande är 403 med en OperationOutcome som anger",
            "behörigheten som saknas, aldrig ett tomt svar: patienten har ett röntgensvar och en läkemedelslista,",
            "så ett tomt svar kan aldrig betyda \"ingenting finns\".",
        ],
        "background": "Bakgrund:",
        "given": "Givet en registrerad testpatient med ett röntgensvar och en förskrivning i NLL",
        "outline": "Scenariomall:",
        "scenario": "Scenario:",
        "examples": "Exempel:",
        "columns": ("roll", "handling"),
        "allowed_title": "En <roll> får <handling>",
        "denied_title": "En <roll> nekas att <handling>, uttryckligen",
        "when": "När en testanvändare med rollen <roll> försöker <handling> för patienten",
        "then_allowed": "Så tillåter journalen det",
        "then_denied": "Så nekar journalen det uttryckligen och anger behörigheten som saknas",
        "block": {"ACC-003": "Andra yrkesgrupper än läkare skapar remisser (ett lagkrav)",
                  DENIED_READ_REQUIREMENT: "Patientuppgifter som rollen inte får se",
                  "allowed": "Övriga handlingar som matrisen tillåter", "denied": "Handlingar som rollen inte får utföra"},
        "unknown_title": "En användare som journalen inte känner nekas uttryckligen, och betjänas aldrig som ett annat konto",
        "unknown_when": "När en användare som journalen inte känner försöker läsa ett röntgensvar för patienten",
        "unknown_then": "Så nekar journalen det uttryckligen",
    },
}


def _cell_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(rows: list[list[str]], notes: list[str], indent: str) -> list[str]:
    """The Examples table; a row's note (the matrix's reason) as a comment line above it, so the
    scenarios' ids stay short and the reason is still read next to its row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row, note in zip(rows, notes):
        if note:
            out.append(f"{indent}# {note}")
        out.append(indent + "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    return out


def _blocks(contract: AccessContract, allowed: bool) -> list[tuple[str, str, list[Cell]]]:
    """(requirement tag or "", block key, cells): cells with requirements of their own first, one block
    per requirement; denied reads under ACC-R01; the rest in one block."""
    cells = [c for c in contract.cells if c.allowed == allowed]
    blocks: dict[str, list[Cell]] = {}
    for c in cells:
        if c.requirements:
            key = c.requirements[0]
        elif not allowed and contract.actions[c.action].method == "GET":
            key = DENIED_READ_REQUIREMENT
        else:
            key = ""
        blocks.setdefault(key, []).append(c)
    rest = blocks.pop("", [])
    out = [(k, k, v) for k, v in blocks.items()]
    if rest:
        out.append(("", "allowed" if allowed else "denied", rest))
    return out


def render(contract: AccessContract, lang: str) -> str:
    t = TEXT[lang]
    role = (lambda c: contract.roles[c.role].title) if lang == "en" else (lambda c: contract.roles[c.role].sv)
    action = (lambda c: contract.actions[c.action].title) if lang == "en" else (lambda c: contract.actions[c.action].sv)
    lines = [t["header"]] if t["header"] else []
    lines += [f"# GENERATED from contracts/access.yaml by `{COMMAND}`: do not edit by hand. Change the matrix",
              "# and regenerate; tests/unit/test_access_features.py fails while this file and the matrix disagree.",
              "@access", t["feature"], *("  " + d for d in t["description"]), "",
              f"  {t['background']}", f"    {t['given']}", ""]
    for allowed, tags, title, then in ((True, "@ACC-001 @happy", t["allowed_title"], t["then_allowed"]),
                                       (False, "@ACC-002 @negative", t["denied_title"], t["then_denied"])):
        lines += [f"  {tags}", f"  {t['outline']} {title}", f"    {t['when']}", f"    {then}"]
        for tag, key, cells in _blocks(contract, allowed):
            lines.append("")
            if tag:
                lines.append(f"    @{tag}")
            lines.append(f"    {t['examples']} {t['block'][key]}")
            rows = [list(t["columns"])] + [[_cell_text(role(c)), _cell_text(action(c))] for c in cells]
            lines += _table(rows, [""] + [" ".join(c.reason.split()) for c in cells], "      ")
        lines.append("")
    lines += ["  @ACC-R02 @negative", f"  {t['scenario']} {t['unknown_title']}", f"    {t['unknown_when']}",
              f"    {t['unknown_then']}"]
    return "\n".join(lines) + "\n"


def out_of_date(contract: AccessContract | None = None) -> list[Path]:
    contract = contract or load_access()
    return [p for lang, p in FILES.items()
            if not p.is_file() or p.read_text(encoding="utf-8") != render(contract, lang)]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    contract = load_access()
    stale = out_of_date(contract)
    if "--check" in argv:
        for p in stale:
            print(f"{p.relative_to(PROJECT_ROOT)} disagrees with contracts/access.yaml: run {COMMAND}")
        return 1 if stale else 0
    FEATURE_DIR.mkdir(parents=True, exist_ok=True)
    for lang, p in FILES.items():
        if p in stale:
            p.write_text(render(contract, lang), encoding="utf-8")
            print(f"wrote {p.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
