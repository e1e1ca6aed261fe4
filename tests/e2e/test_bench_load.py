"""`bench_load` end to end, short: every path (bare and harness FHIR users, raw and harness MLLP,
the `_send`-only diagnostic) measures a positive rate and a positive CPU per request (the Locust
process's, from bench/cpu_meter.py), the JSON's medians and paired ratios agree with its per-round
figures, the verdict is the judged figure against the floor, and nothing is left running. The floors are not asserted: they are a benchmark
on a shared 2-core machine, not a timed test (`genrep bench load` judges them)."""

import json
import os
import statistics
import subprocess

import pytest

import genrep.benchmarks.load
from genrep.benchmarks.load import FHIR_FLOOR, JUDGED_ON, MLLP_FLOOR, bench_load


def _leftovers(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], check=False, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line]


def test_bench_load_short_run(tmp_path, monkeypatch):
    monkeypatch.setattr(genrep.benchmarks.load, "REPORTS_DIR", tmp_path)  # never overwrite the real report
    lines: list[str] = []
    code = bench_load(seconds=2, rounds=1, users=2, echo=lines.append)
    assert code in (0, 1)
    data = json.loads((tmp_path / "bench" / "load.json").read_text(encoding="utf-8"))
    assert data["rounds"] == 1 and data["seconds_per_run"] == 2
    assert (FHIR_FLOOR, MLLP_FLOOR) == (0.80, 0.60)  # the floors (issue 18)
    if len(os.sched_getaffinity(0)) >= 2:          # servers and generators pinned, to one CPU
        placement = data["placement"]
        assert placement["servers"] == placement["generator"] == [max(os.sched_getaffinity(0))]

    for key, base, harness, floor, users in (("fhir", "fhir_bare", "fhir_harness", FHIR_FLOOR, 2),
                                             ("mllp", "mllp_bare", "mllp_harness", MLLP_FLOOR, 1)):
        c = data[key]
        assert (c["baseline"], c["harness"], c["floor"], c["users"]) == (base, harness, floor, users)
        for p in (base, harness):
            assert len(c["per_round"][p]) == 1 and c["per_round"][p][0] > 0, (key, p)
            assert c["median"][p] == pytest.approx(statistics.median(c["per_round"][p]), abs=0.1)
            run = data["runs"][p][0]
            assert run["requests"] > 0 and run["failures"] == 0 and run["span_s"] > 0, (p, run)
            assert c["per_round"][p][0] == pytest.approx(run["requests"] / run["span_s"], rel=0.01)
            assert run["cpu_per_request_us"] > 0 and run["cpu"]["requests"] > 0, (p, run)
            assert (tmp_path / "bench" / "load" / f"round1-{p}" / "cpu.json").is_file()
        b_run, h_run = data["runs"][base][0], data["runs"][harness][0]
        thr = c["throughput"]
        assert thr["paired"]["per_round"] == [pytest.approx(h_run["rate"] / b_run["rate"], abs=1e-3)]
        assert thr["ratio_of_medians"] == pytest.approx(c["median"][harness] / c["median"][base], rel=1e-3, abs=1e-3)
        eff = c["cpu_efficiency"]
        assert eff["paired"]["per_round"] == [pytest.approx(b_run["cpu_per_request_us"] / h_run["cpu_per_request_us"],
                                                            abs=1e-3)]
        assert c["judged_on"] == data["judged_on"] == JUDGED_ON
        assert c["ratio"] > 0 and c["ratio"] == c[JUDGED_ON]["paired"]["median"]
        assert c["pass"] is (c["ratio"] >= floor and c["throughput"]["paired"]["median"] >= floor)

    # each Locust run measured only its own path's requests
    names = {p: data["runs"][p][0]["names"] for p in data["runs"]}
    assert names["fhir_bare"] and all(n.startswith("/DiagnosticReport?identifier=") for n in names["fhir_bare"])
    assert set(names["fhir_harness"]) <= {"read_report", "read_medications"}
    assert names["mllp_harness"] == ["send_oru"] and names["mllp_send_only"] == ["send_oru_prebuilt"]
    assert names["mllp_bare"] == ["raw"] and names["mllp_raw"] == ["raw"]
    outside = data["mllp"]["outside_locust"]
    assert outside["median"] > 0 and outside["harness_ratio"] == pytest.approx(
        data["mllp"]["median"]["mllp_harness"] / outside["median"], rel=1e-3, abs=1e-3)
    diag = data["mllp"]["diagnostic"]
    assert diag["median"] > 0 and data["runs"]["mllp_send_only"][0]["failures"] == 0
    assert diag["ratio_to_baseline"] == pytest.approx(diag["median"] / data["mllp"]["median"]["mllp_bare"],
                                                      rel=1e-3, abs=1e-3)
    assert data["pass"] is (data["fhir"]["pass"] and data["mllp"]["pass"])
    assert code == (0 if data["pass"] else 1)
    assert any("written to" in line for line in lines)
    # every Locust run's own statistics are kept; no Locust outlived its run
    assert len(list((tmp_path / "bench" / "load").glob("round1-*/stats.json"))) == 5
    assert not _leftovers(str(tmp_path))
