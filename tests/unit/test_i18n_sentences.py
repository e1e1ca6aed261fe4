"""Swedish sentences built from data (``--lang sv``): the defect count line, the trend sentence, the
deviation lines, the reasons and the gap descriptions go through genrep.results.i18n, and no English
template text is left in a Swedish summary or scorecard."""

from __future__ import annotations

import datetime as dt
import re
import textwrap

import pytest

from genrep.config.contracts import load_gate
from genrep.results import failure_kinds, i18n, trend
from genrep.results.gate import decide, summary_markdown
from genrep.results.manual import load_manual, write as write_manual
from genrep.results.readiness import scorecard_html
from genrep.results.reader import read_results
from genrep.results.register import load_register
from test_register_deviations import CATALOGUE, HIGH, PERF, TRUNCATED, deviation, write_run

TODAY = dt.date.today()
RULES = load_gate()
MEDIUM = next(r for r in CATALOGUE.values() if r.severity == "medium" and r.integration == "radiology")
UNTESTED = next(r for r in CATALOGUE.values() if r.integration == "nll" and r.severity == "high")


@pytest.fixture(scope="module")
def verdict(tmp_path_factory):
    """One verdict with every kind of sentence: threshold reasons, failed requirements, a defect with a
    register note, a valid, an expired and an unsigned deviation, register flags, an assessed severity,
    missing and waived parts, manual results (failed, blocked, stale), a stale failure and a trend."""
    tmp = tmp_path_factory.mktemp("sv")
    folder = write_run(tmp / "run" / "allure-results", {HIGH.id: TRUNCATED, MEDIUM.id: TRUNCATED.replace(
        "4000", "4100")})
    for f in folder.glob("*-result.json"):  # an untested requirement, and the performance part missing
        text = f.read_text()
        if f'"scenario of {UNTESTED.id}"' in text or '"genrep_load"' in text:
            f.unlink()
    old = (TODAY - dt.timedelta(days=40)).isoformat()
    recent = (TODAY - dt.timedelta(days=2)).isoformat()
    (tmp / "manual.csv").write_text(
        "requirement,test_type,result,tester,date,evidence,comment\n"
        f"RAD-001,user acceptance test,failed,Åsa Lindqvist,{recent},https://t.example.se/UAT/1,tabellen kapad\n"
        f"MUL-001,workstream verification,blocked,Jonas Åberg,{recent},,väntar på behörighet\n"
        f"NLL-001,usability test,passed,Per Öberg,{old},https://t.example.se/ANV/1,\n"
        f"REG-001,peripherals test,failed,Karin Ek,{old},https://t.example.se/KR/1,\n", encoding="utf-8")
    write_manual(folder, load_manual(tmp / "manual.csv", CATALOGUE), CATALOGUE)
    reg = tmp / "defects.yaml"
    reg.write_text("register: 1\ndefects:\n" + textwrap.indent(textwrap.dedent(f"""\
        - id: EHR-4711
          title: Radiology text cut at about 4,000 bytes
          severity: medium
          status: open
          match: {{requirement: [{HIGH.id}], kind: [truncated]}}
        - id: EHR-4000
          title: An old cut, closed
          status: closed
          match: {{requirement: [{MEDIUM.id}]}}
        - id: EHR-5000
          title: Label printer
          status: open
          match: {{requirement: [REG-001]}}
        - id: EHR-5001
          title: Label printer again
          status: open
          match: {{scenario: ["*karin ek*"]}}
        """), "  ") + "deviations:\n" + deviation() + "\n"
        + deviation(date=TODAY - dt.timedelta(days=60), expires=TODAY - dt.timedelta(days=1)) + "\n"
        + deviation(signed=False) + "\n", encoding="utf-8")
    v = decide(read_results(folder), CATALOGUE, RULES.thresholds, scope=RULES.scope, count=RULES.count,
               accept_partial=["performance"], register=load_register(reg))
    before = {"genrep_trend": 1, "time": "2026-11-01T08:00:00", "verdict": "NO-GO", "full": True,
              "defects": {"nll:gone": {"title": "gone", "severity": "high", "scenarios": ["x"]}},
              "scenarios": {"x": {"name": "x", "status": "failed"}}}
    now = trend.record(v)
    now["scenarios"]["x"] = {"name": "x", "status": "passed"}
    v.trend = trend.compare(before, now)
    v.trend.unrun_defects.append({"key": "k", "title": "t", "severity": "low"})
    v.trend.not_run.append("y")
    v.trend.current_full = False
    return v


def _fragments() -> set[str]:
    """The English text of every sentence template: its fixed parts, two words or more, that the
    Swedish template does not share (file names, flags and keys such as gate.yaml stay as they are)."""
    keys = list(i18n.SENTENCES) + [(k, i18n.SV[k]) for k in (
        "{n} defect candidate(s) ({by}) behind {failing} failing scenario(s)", "; {n} new (in no register entry)",
        ", {n} under a recorded deviation",
        "since the full rehearsal of {since} ({verdict}): defects {new} new, {fixed} fixed, {still} still open",
        "; scenarios {new} newly failing, {fixed} fixed, {still} still failing",
        " (this run is not full: it is compared, but is not the next baseline)",
        "{n} scenario(s); requirements {reqs}; kinds {kinds}; key `{key}`")]
    out = set()
    for en, sv in keys:
        for part in re.split(r"\{[=~_]?\w*\}", en):
            for piece in re.split(r"[():;,\[\]]", part):
                piece = piece.strip(" .-")
                if len(piece.split()) >= 2 and piece not in sv:
                    out.add(piece)
    return out


FRAGMENTS = _fragments()


def _data_texts(v) -> str:
    """What is shown as it is: requirement titles, failure messages, the registry's meanings."""
    return "\n".join([r.title for r in CATALOGUE.values()] + [r.message for r in v.results]
                     + [k.meaning for k in failure_kinds.KINDS.values()])


def test_the_template_texts_are_there_in_english(verdict):
    en = summary_markdown(verdict) + scorecard_html(verdict, title="genrep go-live readiness", environment="e")
    used = {f for f in FRAGMENTS if f in en}
    # the English rendering shows each kind of sentence, so the Swedish check below is not vacuous
    for expected in ("defect candidates", "failing scenarios", "since the full rehearsal of", "still open",
                     "newly failing", "decided by", "COUNTS FOR NOTHING", "expired on", "is matched by",
                     "assessed", "never ran", "requirement(s) are untested", "untested", "defect(s), allowed",
                     "verifies nothing", "recorded by", "is stale", "Waived: accepted as partial"):
        assert expected in en, expected
    assert len(used) >= 25, sorted(used)


@pytest.mark.parametrize("render", ["summary", "scorecard"])
def test_no_english_template_text_in_the_swedish_rendering(verdict, render):
    sv = (summary_markdown(verdict, lang="sv") if render == "summary" else
          scorecard_html(verdict, title="genrep go-live readiness", environment="e", lang="sv"))
    data = _data_texts(verdict)
    left = sorted(f for f in FRAGMENTS if f in sv and f not in data)
    assert not left, f"English template text in the Swedish {render}: {left}"
    for swedish in ("defektkandidat(er)", "bakom", "sedan den fullständiga generalrepetitionen", "fortfarande öppna",
                    "avvikelse EHR-4711: beslutad av", "RÄKNAS INTE", "upphörde att gälla", "osignerad",
                    "registerposten EHR-4000 är stängd", "matchas av 2 poster i bristregistret", "bedömd som medel, lägre än kravens", "kördes aldrig",
                    "krav är ej testade", "manuellt resultat", "Blockerad (verifiering i verksamhetsflöde)",
                    "registrerat av Åsa Lindqvist", "är inaktuellt", "Undantaget: accepterat som delvis",
                    "brist(er) med allvarlighetsgrad"):
        assert swedish in sv, swedish


def test_english_stays_as_it_was_for_pipelines(verdict):
    d = verdict.to_dict()
    assert all("avvikelse" not in r and "krav " not in r for r in d["reasons"])
    assert verdict.trend.sentence().startswith("since the full rehearsal of 2026-11-01T08:00:00 (NO-GO)")


def test_an_unknown_sentence_is_shown_as_it_is():
    assert i18n.tr("sv", "something nobody templated: 42") == "something nobody templated: 42"
    assert i18n.tr("en", "requirement RAD-001 (critical) failed: x") == "requirement RAD-001 (critical) failed: x"
    assert i18n.tr("sv", "requirement RAD-001 (critical) failed: x") == "krav RAD-001 (kritisk) ej uppfyllt: x"


def test_a_load_run_with_inconclusive_figures_is_said_in_swedish_too():
    """The gap a load run leaves when its figures cannot be judged (a saturated host) was shown in
    English in the Swedish summary and scorecard."""
    from genrep.results.gate_verdict import Gap
    gap = Gap("scenario", "golive_morning: SLA", "verified nothing, load figures inconclusive (INCONCLUSIVE: "
              "host saturated)").describe()
    sv = i18n.tr("sv", gap)
    assert sv == ("scenario golive_morning: SLA verifierade ingenting, lastmätningens siffror går inte att bedöma "
                  "(INCONCLUSIVE: host saturated)"), sv
    assert i18n.tr("en", gap) == gap
