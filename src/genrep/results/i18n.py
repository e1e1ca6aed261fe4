"""The fixed text of the summary and the scorecard in English and Swedish (``--lang sv``, issue 15 part 8).

Keys are the English templates themselves, so the English output reads as before and a missing
translation falls back to English (``tests/unit/test_verdict_trend_i18n.py`` checks every template
used has a Swedish text). The Swedish follows the vocabulary of a clinical IT programme in a Swedish
region: *Go-live-beslut*, *avvikelse* (a recorded decision to go live with a known defect),
*brist* (a defect; *defektkandidat* for a failure cluster not yet confirmed by a person), *krav*,
*ej testat*, *testtyp*, *allvarlighetsgrad* (kritisk, hög, medel, låg). What the harness measured
or read (failure messages, requirement titles, scenario names) is shown as it is.
The CI verdict line and JUnit stay in English: pipelines parse them.
"""

from __future__ import annotations

SV: dict[str, str] = {
    # verdicts, as shown to a reader (the machine-readable verdict stays as it is)
    "GO": "GO",
    "NO-GO": "NO-GO",
    "INCOMPLETE": "OFULLSTÄNDIG",
    "PARTIAL GO": "DELVIS GO",
    "GO WITH RECORDED DEVIATIONS": "GO MED REGISTRERADE AVVIKELSER",
    # headlines
    "every part of the scope ran and nothing blocks go-live":
        "hela omfattningen kördes och inget hindrar driftstart",
    "nothing failed in what ran, but parts of the scope were waived (--accept-partial): not a go-live verdict":
        "inget som kördes fallerade, men delar av omfattningen undantogs (--accept-partial): inget go-live-beslut",
    "something failed that blocks go-live": "något fallerade som hindrar driftstart",
    "nothing failed, but the run lacks parts a GO needs (contracts/gate.yaml scope): never GO":
        "inget fallerade, men körningen saknar delar som ett GO kräver (contracts/gate.yaml scope): aldrig GO",
    "open defects block a plain GO; each is covered by a recorded, signed, unexpired deviation (a decision to go "
    "live with it), listed here: not a plain GO":
        "öppna brister hindrar ett rent GO; var och en täcks av en registrerad, signerad och giltig avvikelse "
        "(ett beslut att gå live med bristen), listade här: inget rent GO",
    # titles and headings
    "genrep go-live readiness": "genrep: beredskap inför driftstart",
    "genrep dress rehearsal": "genrep generalrepetition",
    "Go-live decision": "Go-live-beslut",
    "Verdict": "Go-live-beslut",
    "Environment": "Miljö",
    "Generated": "Skapad",
    "Recorded deviations and the defect register": "Registrerade avvikelser och bristregistret",
    "Why NO-GO": "Varför NO-GO",
    "What blocks a plain GO ({status})": "Vad som hindrar ett rent GO ({status})",
    "Defects: {sentence}": "Brister: {sentence}",
    "Failed requirements": "Krav som inte uppfylls",
    "Missing from this run (a GO needs them)": "Saknas i denna körning (krävs för GO)",
    "Why INCOMPLETE: missing from this run (a GO needs them)":
        "Varför OFULLSTÄNDIG: saknas i denna körning (krävs för GO)",
    "Waived: accepted as partial (--accept-partial {parts}); not a go-live verdict":
        "Undantaget: accepterat som delvis (--accept-partial {parts}); inget go-live-beslut",
    "Notes (within the programme's allowance)": "Noteringar (inom programmets tillåtna gränser)",
    "Open {what} by test type and severity (allowed in brackets)":
        "Öppna {what} per testtyp och allvarlighetsgrad (tillåtet antal inom parentes)",
    "defects": "brister",
    "failing scenarios": "fallerande scenarier",
    "Requirements verified per integration": "Verifierade krav per integration",
    "Measured indicators": "Uppmätta indikatorer",
    "Requirements": "Krav",
    "Failed scenarios": "Fallerande scenarier",
    "Trend since the previous full rehearsal": "Trend sedan föregående fullständiga generalrepetition",
    "Full report": "Fullständig rapport",
    # sentences
    "Scenarios: {total} run, {passed} passed, {failed} failed, {skipped} skipped.":
        "Scenarier: {total} körda, {passed} godkända, {failed} fallerade, {skipped} överhoppade.",
    "Requirements untested: {n}.": "Krav ej testade: {n}.",
    "Requirements: {n} in scope, {passed} passed, {failed} failed, {untested} untested.":
        "Krav: {n} i omfattningen, {passed} uppfyllda, {failed} ej uppfyllda, {untested} ej testade.",
    "Defects: {sentence}.": "Brister: {sentence}.",
    "Failing scenarios clustered by integration, failure kind and signature; each defect has the highest severity "
    "of its requirements unless the defect register assesses it otherwise. The gate counts {counted}.":
        "Fallerande scenarier grupperade per integration, feltyp och signatur; varje brist har den högsta "
        "allvarlighetsgraden bland sina krav om inte bristregistret bedömer den annorlunda. Grinden räknar {counted}.",
    "failing scenarios, one by one": "fallerande scenarier, ett och ett",
    "{n} requirement(s) failed, under the defects below": "{n} krav ej uppfyllda, under bristerna nedan",
    "no earlier full rehearsal recorded: this run is the first baseline":
        "ingen tidigare fullständig generalrepetition finns: denna körning blir första jämförelsepunkt",
    # table headers and words
    "defect": "brist", "severity": "allvarlighetsgrad", "what": "vad", "scenarios": "scenarier",
    "requirements": "krav", "test type": "testtyp", "integration": "integration", "passed": "uppfyllda",
    "failed": "ej uppfyllda", "untested": "ej testade", "requirement": "krav", "status": "status",
    "scenarios passed": "godkända scenarier", "classification of failures": "klassificering av fel",
    "indicator": "indikator", "measured": "uppmätt", "objective": "mål", "result": "resultat",
    "critical": "kritisk", "high": "hög", "medium": "medel", "low": "låg",
    "PASSED": "UPPFYLLT", "FAILED": "EJ UPPFYLLT", "UNTESTED": "EJ TESTAT",
    "new": "ny", "fixed": "åtgärdad", "still failing": "fallerar fortfarande", "newly failing": "ny felkälla",
    "still open": "fortfarande öppen", "not run": "ej körd", "new defect": "ny brist",
    "fixed defect": "åtgärdad brist", "defect not run": "brist ej körd",
    "{n} scenario(s)": "{n} scenario(er)", "also seen in": "syns även i",
    "part": "del",
    "Failover time: {name}": "Failover-tid: {name}", "Check latency p95: {name}": "Svarstid p95: {name}",
    "not measured (the failover never completed)": "ej uppmätt (failover blev aldrig klar)",
}


def t(lang: str, text: str, **values) -> str:
    """``text`` (an English template) in ``lang``, with ``values`` filled in."""
    template = SV.get(text, text) if lang == "sv" else text
    return template.format(**values) if values else template


# -- sentences built from data ------------------------------------------------------------------------
#
# The gate words its reasons, gaps, deviations and flags in English when it decides (verdict.json, JUnit
# and the CI line stay English: pipelines parse them). ``tr`` renders such a sentence in Swedish for the
# summary and the scorecard: each English template below is matched against the whole sentence, and its
# Swedish template is filled with what the fields captured. A field ``{name}`` is itself translated
# (a nested sentence, or a word of ``SV``), ``{=name}`` is kept as it is (ids, names, dates, links,
# titles), ``{~name}`` has its words translated (severities, test types: "4 critical, 1 high"), and
# ``{_s}`` is an optional plural "s" of the English that Swedish does not need. A sentence no template
# matches is shown as it is. ``tests/unit/test_i18n_sentences.py`` renders a verdict with every kind of
# sentence in Swedish and fails on any English template text left in it.
SV.update({
    # words inside sentences
    "nobody": "ingen", "closed": "stängd", "open": "öppen",
    "interface test": "gränssnittstest", "functional test of requirements": "funktionstest av krav",
    "end-to-end patient journey": "patientflöde från början till slut", "performance": "prestanda", "environment parity": "miljölikhet",
    "regression": "regressionstest", "user acceptance test": "användaracceptanstest",
    "usability test": "användbarhetstest", "peripherals test": "test av kringutrustning",
    "workstream verification": "verifiering i verksamhetsflöde",
    "blocked": "blockerad", "stale": "inaktuell",
    "Passed": "Godkänd", "Failed": "Underkänd", "Blocked": "Blockerad", "Not run": "Ej körd", "Stale": "Inaktuell", "tester": "testare", "date": "datum", "evidence": "underlag",
    "Manual results": "Manuella testresultat",
    "Stale manual results (their failures still count)": "Inaktuella manuella resultat (deras fel räknas fortfarande)",
    "Trend: {sentence}.": "Trend: {sentence}.",
    "no executed scenario verifies it": "inget kört scenario verifierar det",
    "no scenario results: nothing was verified": "inga scenarioresultat: ingenting verifierades",
    "the signature does not match the entry: it was changed after it was signed (or signed wrongly)":
        "signaturen stämmer inte med posten: den ändrades efter att den signerades (eller signerades fel)",
    "matches no defect of this run (fixed, or the register entry's match is wrong)":
        "matchar ingen brist i denna körning (åtgärdad, eller så är registerpostens matchning fel)",
    # the defect count line and the trend sentence (built with t in gate.defects_sentence and trend.Trend.sentence)
    "{n} defect candidate(s) ({by}) behind {failing} failing scenario(s)":
        "{n} defektkandidat(er) ({by}) bakom {failing} fallerande scenario(er)",
    "; {n} new (in no register entry)": "; {n} nya (i ingen post i bristregistret)",
    ", {n} under a recorded deviation": ", {n} under en registrerad avvikelse",
    "since the full rehearsal of {since} ({verdict}): defects {new} new, {fixed} fixed, {still} still open":
        "sedan den fullständiga generalrepetitionen {since} ({verdict}): brister {new} nya, {fixed} åtgärdade, "
        "{still} fortfarande öppna",
    ", {n} not run": ", {n} ej körda",
    "; scenarios {new} newly failing, {fixed} fixed, {still} still failing":
        "; scenarier {new} nya fel, {fixed} åtgärdade, {still} fallerar fortfarande",
    " (this run is not full: it is compared, but is not the next baseline)":
        " (denna körning är inte fullständig: den jämförs, men blir inte nästa jämförelsepunkt)",
    # defects_markdown
    "Failing scenarios clustered by integration, failure kind and signature (genrep.results.defects); each defect "
    "has the highest severity of its requirements. The gate counts {counted} (contracts/gate.yaml count).":
        "Fallerande scenarier grupperade per integration, feltyp och signatur (genrep.results.defects); varje brist "
        "har den högsta allvarlighetsgraden bland sina krav. Grinden räknar {counted} (contracts/gate.yaml count).",
    "{n} scenario(s); requirements {reqs}; kinds {kinds}; key `{key}`":
        "{n} scenario(er); krav {reqs}; feltyper {kinds}; nyckel `{key}`",
    "symptom ({n} scenario(s))": "symtom ({n} scenario(er))", "scenario": "scenario",
    "filed under another defect": "förd under en annan brist", "... and {n} more": "... och {n} till",
    "none": "inga",
})

#: (English template, Swedish template) of the sentences the gate builds from data.
SENTENCES: list[tuple[str, str]] = [
    # what is missing (gate.Gap.describe) and what was waived
    ("requirement {=rid} untested: {why}", "krav {rid} ej testat: {why}"),
    ("integration {=name}: no negative-path scenario executed", "integration {name}: inget scenario för negativa fall kördes"),
    ("manual result {=name}: {why}", "manuellt resultat {name}: {why}"),
    # a requirement title may hold ": ", so the manual gaps are matched whole
    ("manual result {=name}: Blocked ({~tt}): verifies nothing; {desc}",
     "manuellt resultat {name}: Blockerad ({tt}): verifierar ingenting; {desc}"),
    ("manual result {=name}: Not run ({~tt}): verifies nothing; {desc}",
     "manuellt resultat {name}: Ej körd ({tt}): verifierar ingenting; {desc}"),
    ("manual result {=name}: Stale ({~tt}): passed, but {age}: verifies nothing until retested; tester {=x}, "
     "evidence {=y}",
     "manuellt resultat {name}: Inaktuell ({tt}): godkänd, men {age}: verifierar ingenting förrän den testats om; "
     "testare {x}, underlag {y}"),
    ("test type {~name} never ran: no executed scenario verifies a requirement of this test type",
     "testtyp {name} kördes aldrig: inget kört scenario verifierar ett krav av denna testtyp"),
    ("integration {=name} never ran: its {n} requirement(s) are untested ({c} critical): {=ids}",
     "integration {name} kördes aldrig: dess {n} krav är ej testade ({c} kritiska): {ids}"),
    ("integration {=name} never ran: its {n} requirement(s) are untested ({c} critical)",
     "integration {name} kördes aldrig: dess {n} krav är ej testade ({c} kritiska)"),
    ("integration {=name} never ran: its {n} requirement(s) are untested: {=ids}",
     "integration {name} kördes aldrig: dess {n} krav är ej testade: {ids}"),
    ("integration {=name} never ran: its {n} requirement(s) are untested",
     "integration {name} kördes aldrig: dess {n} krav är ej testade"),
    ("load profile {=name} never ran (the scope needs {needs})", "lastprofil {name} kördes aldrig (omfattningen kräver {needs})"),
    ("load profile {=name} did not complete (the scope needs {needs})",
     "lastprofil {name} kördes inte klart (omfattningen kräver {needs})"),
    ("load profile {=name} too small: {details}", "lastprofil {name} för liten: {details}"),
    ("{=name} (at least {x} s, at least {u} users)", "{name} (minst {x} s, minst {u} användare)"),
    ("{=name} (at least {x} s)", "{name} (minst {x} s)"),
    ("{=name} (at least {u} users)", "{name} (minst {u} användare)"),
    ("ran {x} s, needs at least {y} s; ran {u} users, needs at least {m}",
     "körde {x} s, kräver minst {y} s; körde {u} användare, kräver minst {m}"),
    ("ran {x} s, needs at least {y} s", "körde {x} s, kräver minst {y} s"),
    ("ran {u} users, needs at least {m}", "körde {u} användare, kräver minst {m}"),
    ("scenario {=name} verified nothing, environment unavailable ({=reason})",
     "scenario {name} verifierade ingenting, miljön var inte tillgänglig ({reason})"),
    ("scenario {=name} verified nothing, load figures inconclusive ({=reason})",
     "scenario {name} verifierade ingenting, lastmätningens siffror går inte att bedöma ({reason})"),
    ("scenario {=name} verified nothing, timing not confirmed ({=reason})",
     "scenario {name} verifierade ingenting, tidsgränsen kunde inte bekräftas ({reason})"),
    ("{gap} (waived by --accept-partial {=part})", "{gap} (undantaget med --accept-partial {part})"),
    ("{gap} (accepted as partial: --accept-partial {=part})", "{gap} (accepterat som delvis: --accept-partial {part})"),
    # manual results
    ("Blocked ({~tt}): verifies nothing; {desc}", "Blockerad ({tt}): verifierar ingenting; {desc}"),
    ("Not run ({~tt}): verifies nothing; {desc}", "Ej körd ({tt}): verifierar ingenting; {desc}"),
    ("Stale ({~tt}): passed, but {age}: verifies nothing until retested; tester {=x}, evidence {=y}",
     "Inaktuell ({tt}): godkänd, men {age}: verifierar ingenting förrän den testats om; testare {x}, underlag {y}"),
    ("dated {=d}, more than {n} days before {=t} (gate.yaml manual.max_age_days)",
     "daterad {d}, mer än {n} dagar före {t} (gate.yaml manual.max_age_days)"),
    ("manual result {=name} is stale ({age}): its failure still counts until retested",
     "manuellt resultat {name} är inaktuellt ({age}): dess fel räknas tills det testats om"),
    ("recorded by {=t} on {=d}; evidence {=e}; {=c}", "registrerat av {t} den {d}; underlag {e}; {c}"),
    ("recorded by {=t} on {=d}; evidence {=e}", "registrerat av {t} den {d}; underlag {e}"),
    ("recorded by {=t} on {=d}; {=c}", "registrerat av {t} den {d}; {c}"),
    ("recorded by {=t} on {=d}, evidence {=e}", "registrerat av {t} den {d}, underlag {e}"),
    ("{=integration}: {~tt} failed for {=ids}, {detail}", "{integration}: {tt} ej godkänt för {ids}, {detail}"),
    ("{first}; {rest}", "{first}; {rest}"),
    # reasons: thresholds, bad results, failed requirements
    ("{~tt}: {n} {~sev} defect(s), allowed {a} (failing scenarios counted one by one: gate.yaml count: scenarios)",
     "{tt}: {n} brist(er) med allvarlighetsgrad {sev}, tillåtet {a} (fallerande scenarier räknade ett och ett: "
     "gate.yaml count: scenarios)"),
    ("{~tt}: {n} {~sev} defect(s), allowed {a}", "{tt}: {n} brist(er) med allvarlighetsgrad {sev}, tillåtet {a}"),
    ("scenarios tagged with unknown requirement ids: {=ids}", "scenarier märkta med okända krav-id: {ids}"),
    ("{n} scenario(s) verify no requirement (untagged): {=names}", "{n} scenario(er) verifierar inget krav (omärkta): {names}"),
    ("scenario skipped: {=name} (a skipped scenario verifies nothing)",
     "scenario överhoppat: {name} (ett överhoppat scenario verifierar ingenting)"),
    ("scenario with status {=st}: {=name} (only a passed scenario verifies)",
     "scenario med status {st}: {name} (bara ett godkänt scenario verifierar)"),
    ("requirement {=rid} ({~sev}) failed: {=title} (within the allowance for {~tt})",
     "krav {rid} ({sev}) ej uppfyllt: {title} (inom det tillåtna för {tt})"),
    ("requirement {=rid} ({~sev}) failed: {=title}", "krav {rid} ({sev}) ej uppfyllt: {title}"),
    ("defect {=d}", "brist {d}"),
    # a defect's register note
    (" (assessed; requirements say {~sev}) [new]", " (bedömd; kraven säger {sev}) [ny]"),
    (" (assessed; requirements say {~sev}) [{=ids}]", " (bedömd; kraven säger {sev}) [{ids}]"),
    (" (assessed; requirements say {~sev})", " (bedömd; kraven säger {sev})"),
    (" [new]", " [ny]"),
    # recorded deviations and the register's flags (gate.deviation_lines)
    ("deviation {=defect}: decided by {=who} ({=role}) on {=date}, expires {=exp}, signed by {signer}; reason: {=reason} "
     "[covers {=ids}]",
     "avvikelse {defect}: beslutad av {who} ({role}) den {date}, gäller till {exp}, signerad av {signer}; skäl: {reason} "
     "[täcker {ids}]"),
    ("deviation {=defect}: decided by {=who} ({=role}) on {=date}, expires {=exp}, signed by {signer}; reason: {=reason} "
     "[COUNTS FOR NOTHING: {why}]",
     "avvikelse {defect}: beslutad av {who} ({role}) den {date}, gäller till {exp}, signerad av {signer}; skäl: {reason} "
     "[RÄKNAS INTE: {why}]"),
    ("unsigned (signed_by and signature are needed; the signature of this entry as written is {=h})",
     "osignerad (signed_by och signature krävs; signaturen för posten som den står är {h})"),
    ("dated {=d}, after today ({=t})", "daterad {d}, efter i dag ({t})"),
    ("expired on {=d}", "upphörde att gälla {d}"),
    ("its register entry is {~st}: a deviation covers an open defect only",
     "dess post i bristregistret är {st}: en avvikelse täcker bara en öppen brist"),
    ("the register is ambiguous for {=ids}", "bristregistret är tvetydigt för {ids}"),
    ("(defect register) {=id}: scenario {=name} is matched by {n} register entries ({=entries}): the register is ambiguous; no deviation "
     "covers it until one entry matches it",
     "(bristregistret) {id}: scenariot {name} matchas av {n} poster i bristregistret ({entries}): registret är tvetydigt; ingen "
     "avvikelse täcker det förrän en enda post matchar det"),
    ("(defect register) {=id}: register entry {=eid} is {~st}, but the failure is back ({=where}): reopen it or "
     "correct its match",
     "(bristregistret) {id}: registerposten {eid} är {st}, men felet är tillbaka ({where}): öppna den igen eller rätta dess matchning"),
    ("(defect register) {=cid} assessed {~a}, below its requirements' {~r}",
     "(bristregistret) {cid} bedömd som {a}, lägre än kravens {r}"),
    ("trend {sentence}", "trend {sentence}"),
]

import re as _re  # noqa: E402  (the sentences above are data; their matching below)

_FIELD = _re.compile(r"\{([=~_]?)(\w*)\}")
_SEVERITY_WORD = _re.compile(r"\b(critical|high|medium|low)\b")


def _compile(english: str):
    parts, kinds, pos = [], {}, 0
    for m in _FIELD.finditer(english):
        parts.append(_re.escape(english[pos:m.start()]))
        sigil, name = m.groups()
        if sigil == "_":
            parts.append("s?")
        else:
            parts.append(f"(?P<{name}>.*?)")
            kinds[name] = sigil
        pos = m.end()
    parts.append(_re.escape(english[pos:]))
    literal = len(_FIELD.sub("", english))
    return _re.compile("".join(parts) + r"\Z", _re.S), kinds, literal


#: most specific first (the most fixed text), so "failed: {title} (within the allowance for {tt})" wins
_COMPILED = sorted(((*_compile(en), sv) for en, sv in SENTENCES), key=lambda c: -c[2])


def _words(lang: str, text: str) -> str:
    if text in SV:
        return SV[text]
    return _SEVERITY_WORD.sub(lambda m: SV[m.group(1)], text)


def tr(lang: str, text: str, _depth: int = 0) -> str:
    """A sentence the gate built from data (a reason, a gap, a deviation line, a flag) in ``lang``;
    as it is in English, or when no template matches it."""
    if lang == "en" or not text or _depth > 8:
        return text
    if text in SV:
        return SV[text]
    for rx, kinds, _, sv in _COMPILED:
        m = rx.match(text)
        if m is None:
            continue
        values = {}
        for name, sigil in kinds.items():
            value = m.group(name)
            values[name] = value if sigil == "=" else _words(lang, value) if sigil == "~" else tr(lang, value, _depth + 1)
        return sv.format(**values)
    return text
