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
