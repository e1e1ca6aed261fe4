"""Percentiles and SLA outcomes from Locust 2.47 JSON statistics (--json-file), without Locust.

The entries below have the shape Locust 2.47 writes (taken from a real run of load/steady_day.py):
a list, one entry per (name, method), ``response_times`` a histogram of bucketed ms as string keys,
failed requests counted in ``num_requests`` as well as in ``num_failures``; no aggregated entry.
"""

from __future__ import annotations

import json

import pytest

from genrep.errors import ConfigError
from genrep.load.contract import load_load_contract
from genrep.load.runner import LoadResult, evaluate, write_allure_results, write_sla_json
from genrep.load.stats import operation_stats, percentile, read_stats
from genrep.results.reader import read_results
from genrep.results.gate import decide
from genrep.config.contracts import load_catalogue

T0 = 1795410167.8


def entry(name, method, hist, failures=0, span=10.0):
    n = sum(hist.values())
    total = sum(float(k) * v for k, v in hist.items())
    return {"name": name, "method": method, "last_request_timestamp": T0 + span, "start_time": T0,
            "num_requests": n, "num_none_requests": 0, "num_failures": failures,
            "total_response_time": total, "max_response_time": max(float(k) for k in hist) if hist else 0,
            "min_response_time": min(float(k) for k in hist) if hist else 0, "total_content_length": 100 * n,
            "response_times": {str(k): v for k, v in hist.items()},
            "num_reqs_per_sec": {str(int(T0)): n}, "num_fail_per_sec": {}}


# 100 reads: 90 at 10 ms, 5 at 200 ms, 4 at 900 ms, 1 at 3000 ms
READS = {"10": 90, "200": 5, "900": 4, "3000": 1}
STATS = [
    entry("read_report", "GET", READS),
    entry("read_medications", "GET", {"20": 50}),
    entry("send_oru", "MLLP", {"2": 998, "5": 2}, failures=1),   # 0.1 %: exactly at the threshold
    entry("register_adt", "MLLP", {"1": 99, "2": 1}, failures=1),  # 1 %: over 0.1 %
    # prescribe made no request at all: Locust writes no entry for it
]


def test_percentile_follows_locust_rule():
    # Locust's rule (calculate_response_time_percentile), checked against Locust 2.47 itself:
    # walking down from the slowest bucket, the first bucket after which no more than
    # int(n * percent) requests remain. It leans high: with exactly 5 % slower than 200 ms, p95 is
    # the next bucket up (900), the same number Locust's CSV and web UI show.
    assert percentile(READS, 0.50) == 10
    assert percentile(READS, 0.90) == 200
    assert percentile(READS, 0.95) == 900
    assert percentile(READS, 0.99) == 3000
    assert percentile(READS, 1.0) == 3000
    assert percentile({}, 0.95) is None
    assert percentile({7: 1}, 0.99) == 7  # int keys (StatsEntry.serialize in-process) work too


def test_entries_of_one_name_are_merged_and_silent_operations_listed():
    entries = STATS + [entry("read_report", "POST", {"10": 10})]
    ops = operation_stats(entries, ["read_report", "prescribe"])
    assert ops["read_report"].requests == 110 and ops["read_report"].p95_ms == 200  # 100 at 10 ms
    assert ops["prescribe"].requests == 0 and ops["prescribe"].p95_ms is None
    assert ops["prescribe"].failure_ratio is None
    assert ops["read_report"].rps == pytest.approx(11.0)


def test_sla_outcomes(tmp_path):
    contract = load_load_contract()
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(STATS), encoding="utf-8")
    ops = operation_stats(read_stats(path), contract.operations)
    result = LoadResult(profile="steady_day", environment="virtual", users=5, duration_s=8, workers=0,
                        operations=ops, exit_code=1, wall_s=9.0, out_dir=tmp_path, stats_path=path,
                        log_path=tmp_path / "locust.log", started=T0)
    outcomes = {(o.operation, o.metric): o for o in evaluate(result, contract)}
    assert len(outcomes) == 15
    rr95, rr99 = outcomes["read_report", "p95_ms"], outcomes["read_report", "p99_ms"]
    assert (rr95.measured, rr95.ok) == (900, True)
    assert (rr99.measured, rr99.ok) == (3000, False) and "3000 ms > 2000 ms" in rr99.describe()
    assert outcomes["send_oru", "max_failure_ratio"].ok            # 0.001 <= 0.001
    adt = outcomes["register_adt", "max_failure_ratio"]
    assert not adt.ok and adt.measured == pytest.approx(0.01) and "1.00% > 0.10%" in adt.describe()
    for metric in ("p95_ms", "p99_ms", "max_failure_ratio"):       # no requests: not met
        o = outcomes["prescribe", metric]
        assert o.measured is None and not o.ok and "no requests" in o.describe()

    sla = json.loads(write_sla_json(result, list(outcomes.values()), contract).read_text(encoding="utf-8"))
    assert sla["verdict"] == "MISSED" and len(sla["outcomes"]) == 15
    assert sla["run"]["operations"]["read_report"]["p95_ms"] == 900

    # one Allure result per threshold, labelled with the requirement: the gate counts them
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "keep-result.json").write_text(json.dumps({"name": "x", "status": "passed", "labels": []}))
    write_allure_results(results, result, list(outcomes.values()), contract)
    write_allure_results(results, result, list(outcomes.values()), contract)  # a rerun replaces
    assert len(list(results.glob("*-result.json"))) == 16
    scenario_results = [r for r in read_results(results) if r.requirements]
    assert len(scenario_results) == 15
    failed = {r.name for r in scenario_results if r.failed}
    assert any("register_adt" in n and "failure ratio" in n for n in failed)
    msgs = [r.message for r in scenario_results if r.failed]
    assert any(m.startswith("no_requests: prescribe") for m in msgs)
    assert any(m.startswith("sla_missed: register_adt") for m in msgs)
    verdict = decide(scenario_results, load_catalogue())
    assert not verdict.go
    # 3 prescribe thresholds + register_adt failure ratio + read_report p99
    assert verdict.defects["performance"]["high"] == 5
    assert any("PERF-PRESCRIBE" in r for r in verdict.reasons)


def test_not_locust_stats(tmp_path):
    bad = tmp_path / "stats.json"
    bad.write_text('{"name": "x"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="not Locust JSON statistics"):
        read_stats(bad)
    with pytest.raises(ConfigError, match="Locust wrote no JSON statistics"):
        read_stats(tmp_path / "missing.json")
