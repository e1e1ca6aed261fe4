"""Locust's JSON statistics -> per-operation numbers -> SLA outcomes.

``locust --json-file X`` writes ``X.json`` (Locust 2.47: ``save_stats_json`` appends ``.json``): a
list with one entry per (name, method), each with ``num_requests`` (failed requests included),
``num_failures``, ``response_times`` (a histogram: bucketed milliseconds as a string key -> count;
buckets are whole ms below 100 ms, 10 ms below 1 s, 100 ms below 10 s, 1 s above), ``start_time``
and ``last_request_timestamp``. There is no aggregated entry and no precomputed percentile, so the
percentiles are computed here from the histogram, the way Locust computes them for its own tables.
This module never imports Locust.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from genrep.errors import ConfigError
from genrep.load.contract import LoadContract


@dataclass(frozen=True)
class OperationStats:
    name: str
    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    avg_ms: float | None
    rps: float

    @property
    def failure_ratio(self) -> float | None:
        return self.failures / self.requests if self.requests else None


@dataclass(frozen=True)
class SlaOutcome:
    operation: str
    requirement: str
    metric: str            # p95_ms | p99_ms | max_failure_ratio | ... (METRIC_LABELS)
    measured: float | None  # None: no request was made, nothing was measured
    threshold: float
    ok: bool
    #: "generator saturated" / "host saturated": the figures measure the generator or the machine,
    #: not the system under test, so this outcome is neither met nor missed (``ok`` is False)
    inconclusive: str | None = None
    #: why nothing was measured, where the metric's own words would mislead (``describe``)
    unmeasured: str | None = None
    #: a miss that rests on requests the client gave up waiting for (what a starved generator makes):
    #: judged like a timing figure on a saturated machine; said in ``describe``
    timing_dependent: str | None = None

    @property
    def status(self) -> str:
        """met | missed | inconclusive"""
        return "inconclusive" if self.inconclusive else "met" if self.ok else "missed"

    def describe(self) -> str:
        text = self._describe()
        return f"inconclusive ({self.inconclusive}), {text}" if self.inconclusive else text

    def _describe(self) -> str:
        label = METRIC_LABELS[self.metric]
        if self.measured is None and self.metric == "max_p95_drift_ms":
            return f"{self.operation} {label}: not measured (the held load was too short to compare its thirds)"
        if self.measured is None and self.unmeasured:
            return f"{self.operation} {label}: not measured ({self.unmeasured}; threshold {self._fmt(self.threshold)})"
        if self.measured is None and self.metric == "max_recovery_s":
            return (f"{self.operation} {label}: not recovered before the run ended "
                    f"(threshold {self._fmt(self.threshold)})")
        if self.measured is None and self.metric in FAULT_METRICS:
            return (f"{self.operation} {label}: not measured (the fault never happened, or nothing was "
                    f"measured around it; threshold {self._fmt(self.threshold)})")
        if self.measured is None:
            return f"{self.operation} {label}: no requests were made (threshold {self._fmt(self.threshold)})"
        if self.metric in MIN_METRICS:
            op = ">=" if self.measured >= self.threshold else "<"
            return f"{self.operation} {label}: {self._fmt(self.measured)} {op} {self._fmt(self.threshold)}"
        op = "<=" if self.ok or self.measured <= self.threshold else ">"
        text = f"{self.operation} {label}: {self._fmt(self.measured)} {op} {self._fmt(self.threshold)}"
        return f"{text} ({self.timing_dependent})" if self.timing_dependent else text

    def _fmt(self, value: float) -> str:
        if self.metric == "max_failure_ratio":
            return f"{value:.2%}"
        if self.metric in COUNT_METRICS:
            return f"{value:g}"  # counts
        if self.metric == "max_recovery_s":
            return f"{value:.1f} s"
        return f"{value:g} ms"


#: Every SLA metric with the words reports use for it.
METRIC_LABELS = {"p95_ms": "p95", "p99_ms": "p99", "max_failure_ratio": "failure ratio",
                 "max_failed_checks": "failed checks", "max_false_no_interactions": "false 'no interactions'",
                 "max_recovery_s": "recovery time", "max_not_stored": "AA'd but not stored",
                 "max_sample_missing": "sampled AA'd reports not readable",
                 "max_p95_drift_ms": "p95 at the end of the held load",
                 "min_unavailable_answers": "reads that said 'NLL unavailable' during the outage",
                 "max_empty_lists": "medication lists shown empty"}
COUNT_METRICS = frozenset({"max_failed_checks", "max_false_no_interactions", "max_not_stored",
                           "max_sample_missing", "min_unavailable_answers", "max_empty_lists"})
#: met when the measured value is at least the threshold (every other metric: at most)
MIN_METRICS = frozenset({"min_unavailable_answers"})
#: measured around a planned fault (None: the fault never happened or nothing was measured)
FAULT_METRICS = frozenset({"max_failed_checks", "min_unavailable_answers", "max_empty_lists"})
#: figures that measure time or what timing causes (timeouts): inconclusive when the generator or the
#: machine was saturated. The others (checks answered "not performed" after a kill, false "no
#: interactions", empty lists, AA not stored, "NLL unavailable" said) are correctness: judged
#: whatever the load generator's state.
TIMING_METRICS = frozenset({"p95_ms", "p99_ms", "max_failure_ratio", "max_recovery_s", "max_p95_drift_ms"})


def percentile(histogram: dict, percent: float) -> float | None:
    """The response time that ``percent`` (0..1) of the requests finished within, from Locust's
    bucketed histogram (same rule as ``locust.stats.calculate_response_time_percentile``)."""
    counts: dict[float, int] = {}
    for key, n in histogram.items():
        counts[float(key)] = counts.get(float(key), 0) + int(n)
    total = sum(counts.values())
    if total == 0:
        return None
    within = int(total * percent)
    processed = 0
    for rt in sorted(counts, reverse=True):
        processed += counts[rt]
        if total - processed <= within:
            return rt
    return min(counts)


def read_stats(path: str | Path) -> list[dict]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("Locust wrote no JSON statistics", file=str(path)) from None
    except ValueError as exc:
        raise ConfigError(f"not valid JSON ({exc})", file=str(path)) from None
    if not isinstance(data, list) or not all(isinstance(e, dict) and "name" in e and "num_requests" in e
                                             and isinstance(e.get("response_times", {}), dict) for e in data):
        raise ConfigError("not Locust JSON statistics (a list of entries with name, num_requests, "
                          "response_times)", file=str(path))
    return data


def operation_stats(entries: list[dict], operations) -> dict[str, OperationStats]:
    """Per operation (entries of the same name merged, whatever the method); operations without
    any entry are listed with 0 requests, so a silent operation cannot pass unnoticed."""
    out: dict[str, OperationStats] = {}
    for name in operations:
        mine = [e for e in entries if e.get("name") == name]
        hist: dict[str, int] = {}
        requests = failures = 0
        total_rt = 0.0
        max_rt = None
        start = end = None
        for e in mine:
            requests += int(e.get("num_requests", 0))
            failures += int(e.get("num_failures", 0))
            total_rt += float(e.get("total_response_time", 0.0))
            if e.get("max_response_time") is not None and int(e.get("num_requests", 0)):
                max_rt = max(max_rt or 0.0, float(e["max_response_time"]))
            for k, v in (e.get("response_times") or {}).items():
                hist[k] = hist.get(k, 0) + int(v)
            if e.get("start_time"):
                start = min(start, e["start_time"]) if start else e["start_time"]
            if e.get("last_request_timestamp"):
                end = max(end, e["last_request_timestamp"]) if end else e["last_request_timestamp"]
        span = (end - start) if start and end and end > start else 0.0
        out[name] = OperationStats(
            name=name, requests=requests, failures=failures,
            p50_ms=percentile(hist, 0.50), p95_ms=percentile(hist, 0.95), p99_ms=percentile(hist, 0.99),
            max_ms=max_rt, avg_ms=(total_rt / requests) if requests else None,
            rps=(requests / max(span, 1.0)) if span else 0.0)  # one request is not thousands a second
    return out


def evaluate_stats(stats: dict[str, OperationStats], contract: LoadContract) -> list[SlaOutcome]:
    """One outcome per SLA threshold and operation. No requests means not met: an SLA that
    nothing measured verifies nothing."""
    out: list[SlaOutcome] = []
    for op in contract.operations.values():
        s = stats.get(op.name)
        measured = {"p95_ms": s.p95_ms if s else None, "p99_ms": s.p99_ms if s else None,
                    "max_failure_ratio": s.failure_ratio if s else None}
        for metric in ("p95_ms", "p99_ms", "max_failure_ratio"):
            value = measured[metric] if s and s.requests else None
            threshold = getattr(op.sla, metric)
            out.append(SlaOutcome(op.name, op.requirement, metric, value, threshold,
                                  ok=value is not None and value <= threshold))
    return out


def stats_to_dict(stats: dict[str, OperationStats]) -> dict:
    return {name: {**asdict(s), "failure_ratio": s.failure_ratio} for name, s in stats.items()}
