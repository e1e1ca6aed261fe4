"""`genrep bench load`'s figures, without running anything: paired per-round ratios, the verdict on
the judged figure, the CPU placement and pinning, and reading bench/cpu_meter.py's file."""

import json
import os

import pytest

from genrep.benchmarks import load
from genrep.benchmarks.load import (compare, cpu_placement, paired_ratios, pinned, ratio_of_medians,
                                    read_cpu_file)
from genrep.errors import GenrepError


def _run(rate, cpu):
    return {"rate": rate, "cpu_per_request_us": cpu}


def test_paired_ratios_are_per_round_not_of_medians():
    # round 2's baseline was slow and so was its harness: paired, that round is as good as the others
    harness, bare = [60.0, 30.0, 66.0], [100.0, 50.0, 100.0]
    fig = paired_ratios(harness, bare)
    assert fig["per_round"] == [0.6, 0.6, 0.66]
    assert fig["median"] == 0.6 and fig["min"] == 0.6 and fig["max"] == 0.66
    # the ratio of the medians mixes rounds: 60 / 100
    assert ratio_of_medians(harness, bare) == 0.6
    assert ratio_of_medians([10.0, 90.0, 50.0], [100.0, 50.0, 60.0]) == pytest.approx(50 / 60, abs=1e-3)
    assert paired_ratios([10.0, 90.0, 50.0], [100.0, 50.0, 60.0])["median"] == pytest.approx(50 / 60, abs=1e-3)
    assert paired_ratios([10.0, 90.0, 50.0], [100.0, 50.0, 60.0])["min"] == 0.1


def test_paired_ratios_median_of_an_even_count_and_refusals():
    assert paired_ratios([1.0, 3.0], [2.0, 2.0])["median"] == 1.0
    with pytest.raises(ValueError):
        paired_ratios([1.0, 2.0], [1.0])            # a round without its pair
    with pytest.raises(ValueError):
        paired_ratios([], [])
    with pytest.raises(ValueError):
        paired_ratios([1.0], [0.0])                  # no division by a zero rate


def test_compare_judges_cpu_efficiency_bare_over_harness_and_reports_throughput():
    bare = [_run(5000, 100.0), _run(3000, 110.0), _run(4000, 90.0)]
    harness = [_run(3000, 150.0), _run(2900, 220.0), _run(2000, 120.0)]
    c = compare(bare, harness, floor=0.6, judged_on="cpu_efficiency")
    eff = c["cpu_efficiency"]["paired"]
    assert eff["per_round"] == [round(100 / 150, 3), 0.5, 0.75]
    assert c["ratio"] == eff["median"] == round(100 / 150, 3) and c["pass"] is True
    assert c["cpu_efficiency"]["ratio_of_medians"] == round(100 / 150, 3)
    thr = c["throughput"]["paired"]
    assert thr["per_round"] == [0.6, round(2900 / 3000, 3), 0.5] and thr["median"] == 0.6 and thr["min"] == 0.5
    assert c["throughput"]["ratio_of_medians"] == round(2900 / 4000, 3)
    assert c["cpu_per_request_us"] == {"baseline": [100.0, 110.0, 90.0], "harness": [150.0, 220.0, 120.0]}
    assert compare(bare, harness, floor=0.67, judged_on="cpu_efficiency")["pass"] is False
    # the CPU figure alone never passes: a harness as cheap in CPU but waiting longer fails on its rate
    slow = [_run(1000, 150.0), _run(900, 220.0), _run(1000, 120.0)]
    c = compare(bare, slow, floor=0.6, judged_on="cpu_efficiency")
    assert c["ratio"] == round(100 / 150, 3) and c["throughput_pass"] is False and c["pass"] is False


def test_compare_on_throughput_and_a_missing_cpu_figure():
    bare = [_run(100, None)]
    harness = [_run(70, None)]
    c = compare(bare, harness, floor=0.7, judged_on="throughput")
    assert c["ratio"] == 0.7 and c["pass"] is True and c["cpu_efficiency"] is None
    with pytest.raises(GenrepError, match="missing"):
        compare(bare, harness, floor=0.7, judged_on="cpu_efficiency")


def test_cpu_placement():
    assert cpu_placement({0, 1}) == {"servers": [1], "generator": [1]}   # one CPU for both sides
    assert cpu_placement({3, 1, 7}) == {"servers": [7], "generator": [7]}
    assert cpu_placement({0}) is None
    assert cpu_placement(set()) is None and cpu_placement(None) is None


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_pinned_restores_the_affinity_and_falls_back():
    before = os.sched_getaffinity(0)
    target = {min(before)}
    with pinned(target) as ok:
        assert ok is True and os.sched_getaffinity(0) == target
    assert os.sched_getaffinity(0) == before
    with pinned(None) as ok:
        assert ok is False and os.sched_getaffinity(0) == before
    with pinned({10_000}) as ok:                     # a CPU this machine does not have: no pinning
        assert ok is False and os.sched_getaffinity(0) == before
    assert os.sched_getaffinity(0) == before


def test_pinned_without_affinity_support(monkeypatch):
    monkeypatch.delattr(os, "sched_setaffinity", raising=False)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert load._available_cpus() is None
    with pinned([0]) as ok:
        assert ok is False


def test_read_cpu_file(tmp_path):
    path = tmp_path / "cpu.json"
    with pytest.raises(GenrepError, match="no CPU figures"):
        read_cpu_file(path)
    path.write_text(json.dumps({"period_s": 0.1, "samples": 1}), encoding="utf-8")
    with pytest.raises(GenrepError, match="measured nothing"):
        read_cpu_file(path)
    path.write_text(json.dumps({"requests": 1000, "cpu_s": 0.15, "wall_s": 0.5, "cpu_per_request_us": 150.0}),
                    encoding="utf-8")
    assert read_cpu_file(path)["cpu_per_request_us"] == 150.0
