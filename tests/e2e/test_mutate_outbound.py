"""``genrep mutate`` on the EHR's outbound paths, end to end over real sockets: the virtual EHR calls
NLL and Multum through mutate's proxies while the real scenarios run against the derived profile
(its faults going through mutate's fault relay). An operator on what NLL answers the EHR is caught,
a failed Multum check turned into "no interactions" is caught by a scenario that injects its fault
through the relay, a harmless change (NLL's line breaks as CRLF, which the EHR reads the same) is
reported honestly as survived, with what it changed and why surviving does not prove a gap, and an
operator whose message never comes is never triggered. Nothing is left running."""

from __future__ import annotations

import json
import os
import socket
import threading

import psutil
import pytest

from genrep.mutate.fault_relay import TOKEN_ENV
from genrep.mutate.message import NLL_RESPONSE
from genrep.mutate.operators.base import LINE_BREAK, NLLTextOperator
from genrep.mutate.run import CAUGHT, NEVER, SURVIVED, run_mutation, write_allure
from genrep.results.allure import safe_text
from support import descendants


class NLLLineBreaksAsCRLF(NLLTextOperator):
    """A change a correct EHR tolerates: NLL release N+1 writes its line breaks so, and the EHR
    reads CRLF, CR and LF as the same break. Not in the catalogue: it cannot be caught, by design."""

    name = "test-nll-line-breaks-as-crlf"
    changes = "what NLL answers the EHR: every line break written as CRLF (as NLL release N+1 does)"

    def change(self, text, rng):
        return LINE_BREAK.sub("\r\n", text)


def _children() -> set[psutil.Process]:
    return descendants()


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.name.startswith(("mllp-proxy", "http-proxy", "mutate-fault-relay"))]


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_outbound_operators_are_caught_a_harmless_one_survives_honestly_and_all_stops(tmp_path):
    before = _children()
    lines: list[str] = []
    report = run_mutation(operator_names=("nll-negation-dropped", "multum-failure-as-no-interactions",
                                          "nll-version-rolled-back"),
                          extra_operators=(NLLLineBreaksAsCRLF(),),
                          select="multiline_dosage_instruction_is_shown_exactly or both_servers_down",
                          out_dir=tmp_path / "m", budget=360, progress=lines.append)
    status = {o.name: o for o in report.operators}
    assert report.control["scenarios"] == 2 and not report.control["failed"] and report.complete, lines
    # what NLL answers the EHR, corrupted: the scenario compares the EHR's list with NLL itself
    negation = status["nll-negation-dropped"]
    assert negation.status == CAUGHT and negation.channel == NLL_RESPONSE and "lost_negation" in negation.kinds
    # a failed check shown as "no interactions": the both-servers-down scenario (its faults through the relay)
    failure = status["multum-failure-as-no-interactions"]
    assert failure.status == CAUGHT and failure.kinds == ["false_no_interactions"], lines
    assert "HTTP status 503 -> 200" in failure.example
    # a version that never comes in these scenarios: never triggered, known from the control run
    assert status["nll-version-rolled-back"].status == NEVER and status["nll-version-rolled-back"].prescreened
    # harmless: it changed what the EHR read, every scenario passed; reported so, with its note
    harmless = status["test-nll-line-breaks-as-crlf"]
    assert harmless.status == SURVIVED and harmless.applied >= 1 and not harmless.failed, lines
    assert "\\r\\n" in harmless.example and safe_text(harmless.example) == harmless.example
    assert "what NLL answered the EHR" in harmless.note and "tolerates" in harmless.note
    saved = json.loads((tmp_path / "m" / "mutation.json").read_text(encoding="utf-8"))
    assert [s["operator"] for s in saved["survivors"]] == ["test-nll-line-breaks-as-crlf"]
    assert saved["survivors"][0]["note"] == harmless.note
    scores = report.by_integration()
    assert (scores["medication_list"]["caught"], scores["medication_list"]["survived"]) == (1, 1)
    assert (scores["multum"]["caught"], scores["multum"]["score"]) == (1, 1.0)
    # one Allure result per integration: medication_list (50 %) fails naming its survivor and why
    written = write_allure(report, tmp_path / "allure")
    results = {r["name"]: r for r in (json.loads(w.read_text(encoding="utf-8")) for w in written
                                      if w.name.endswith("-result.json"))}
    assert results["Mutation score, multum"]["status"] == "passed"
    med = results["Mutation score, medication_list"]
    assert med["status"] == "failed" and "test-nll-line-breaks-as-crlf" in med["statusDetails"]["message"]
    # the derived profile injects faults through the relay's commands; the token is not in it
    profile = (tmp_path / "m" / "profile.yaml").read_text(encoding="utf-8")
    assert "genrep.mutate.fault_relay" in profile and "driver: command" in profile
    # everything stopped: simulators, suites, proxies (inbound and outbound), the relay, its token
    gone, alive = psutil.wait_procs(list(_children() - before), timeout=10)
    assert not alive and not _threads()
    assert TOKEN_ENV not in os.environ
    relay_url = profile.split("genrep.mutate.fault_relay ", 1)[1].split()[0]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(relay_url.rsplit(":", 1)[1])), timeout=2)
