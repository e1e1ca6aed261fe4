"""Report texts for scenarios: named fixtures from ``fixtures/reports`` and generated long reports.

Generated texts are deterministic (same arguments, same text) and made of Swedish radiology
phrases that include negation words and åäö, so a loss anywhere shows up as a lost word, a lost
negation or mojibake rather than as an anonymous byte difference.
"""

from __future__ import annotations


from genrep.paths import REPORT_TEXTS_DIR
from genrep.errors import ConfigError


PHRASES = (
    "Ingen fraktur eller luxation.",
    "Inga tecken till blödning.",
    "Hjärtat är normalstort och utan perikardvätska.",
    "Lätt förtjockad slemhinna i vänster käkhåla.",
    "Ej tecken till pneumoni.",
    "Oförändrat utseende jämfört med föregående undersökning.",
    "Inte påvisbar expansivitet.",
    "Levern är homogen utan fokala förändringar.",
    "Njurarna är normalstora, utan avflödeshinder.",
    "Ingen fri vätska i buken.",
)


def load_report(name: str) -> str:
    """Read ``fixtures/reports/NAME.txt`` exactly (bytes decoded as UTF-8, line endings kept)."""
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"report name {name!r} must be letters, digits, '_' or '-'")
    path = REPORT_TEXTS_DIR / f"{name}.txt"
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in REPORT_TEXTS_DIR.glob("*.txt")))
        raise ConfigError(f"no report fixture '{name}' (known: {known})", file=str(path)) from None


def generated_lines(count: int) -> str:
    """``count`` numbered lines, each a distinct sentence: order and completeness are checkable."""
    return "\n".join(f"{i:04d} {PHRASES[i % len(PHRASES)]}" for i in range(1, count + 1))


def generated_paragraph(kib: int) -> str:
    """One paragraph (no line breaks) of at least ``kib`` KiB of UTF-8 text, ending in a marker."""
    target = kib * 1024
    parts: list[str] = []
    size = 0
    i = 0
    while size < target:
        p = f"[{i:05d}] {PHRASES[i % len(PHRASES)]}"
        parts.append(p)
        size += len(p.encode("utf-8")) + 1
        i += 1
    parts.append("SLUT PÅ SVARET: ingen ytterligare text.")
    return " ".join(parts)
