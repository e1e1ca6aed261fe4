"""Load-harness overhead benchmark (issue 7): the Locust users of ``load/users.py`` against bare
baselines, side by side in one run (ratios, not absolute numbers: on 2 shared cores load generator
and server compete for CPU, so only same-run comparisons mean anything).

FHIR reads, ``users`` concurrent Locust users on both sides (default 4), against the same trivial
endpoint (``bench/trivial_fhir.py``, its own process: every GET answered with a small searchset
Bundle, ``total`` 1):
  (a) baseline: a bare ``FastHttpUser`` doing ``self.client.get(path)`` (``bench/locust_fhir_bare.py``);
  (b) harness: ``ClinicianUser`` itself (``bench/locust_fhir_user.py``), thinking ``constant(0)``:
      identity-guard check of the URL, GET with the FHIR Accept header, JSON parse, ``total`` check.
  Floor: (b) at least 70 % of (a)'s requests per second.

MLLP, one sequential connection on both sides, against the same responder (``bench/mllp_ack.py``,
its own process: a canned AA ACK quoting each message's MSH-10, so the harness's ACK check passes):
  (c) baseline: the raw-socket MLLP loop as a bare Locust user (``bench/locust_mllp_bare.py``):
      write a pre-built frame, read until ``FS CR``, fire a request event; nothing else. It is to
      MLLP what the bare ``FastHttpUser`` is to FHIR: the same Locust and gevent underneath, so the
      ratio is the harness's own overhead;
  (d) harness: ``RisUser`` itself (``bench/locust_mllp_user.py``), one user, ``constant(0)``:
      a new ORU per message, ``MLLPClient.send``, ``ack_problem``, a Locust request event.
  Floor: (d) at least 50 % of (c)'s messages per second.
  (c') reported, no floor: the same raw loop as a plain blocking-socket loop in this process, with
      no Locust and no gevent (frame, ``sendall``, ``recv`` until ``FS CR``), cycling through ORU^R01
      messages built by the same library builder (``Payloads.oru``). (c) vs (c') is what gevent's
      cooperative sockets cost any Locust user: not harness overhead, but worth knowing.
  (e) diagnostic, no floor: ``_MLLPUser._send`` alone (``bench/locust_mllp_send.py``): the same
      user and ``_send`` (``MLLPClient``, ``ack_problem``, request event) with a builder cycling
      through a pool of ORUs built once at start, like the raw loop's. (d) vs (e) is the cost of
      building and guard-scanning a new 9.7 KB ORU per message; (e) vs (c) is the cost of the
      client, the check, the event and gevent.

How a rate is measured. Locust paths: ``locust --headless -u N --run-time S`` as a subprocess in
its own process group (hard timeout S + 60 s, the group killed on timeout or any error), its
``--json-file`` statistics are the source of truth: rate = sum of ``num_requests`` over the entries
/ (latest ``last_request_timestamp`` - earliest ``start_time``). An entry's ``start_time`` is set
when its first request is logged, so the span runs from the first completed request to the last
one: Locust's start-up, spawning and shutdown are not counted. Any failed request (or a Locust exit
code other than 0) aborts the benchmark: a failing path measures nothing. Raw loop: messages
answered / ``perf_counter`` time, for the same S seconds. S is ``seconds`` rounded up to whole
seconds (Locust's ``--run-time`` takes whole seconds).

Rounds are interleaved (every path once per round, the order within each group alternating
from round to round) so drift on a shared machine hits all paths alike; the verdict uses the medians over the
rounds. Written to ``reports/bench/load.json`` (per-round figures, medians, ratios, floors, pass
flags); each Locust run's JSON statistics and log stay in ``reports/bench/load/``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from genrep.benchmarks.mllp import start_server
from genrep.paths import PROJECT_ROOT, REPORTS_DIR
from genrep.errors import GenrepError
from genrep.load.locust_process import kill_group
from genrep.load.stats import read_stats

FHIR_FLOOR = 0.70
MLLP_FLOOR = 0.50
BENCH_DIR = PROJECT_ROOT / "bench"
LOCUSTFILES = {"fhir_bare": BENCH_DIR / "locust_fhir_bare.py", "fhir_harness": BENCH_DIR / "locust_fhir_user.py",
               "mllp_bare": BENCH_DIR / "locust_mllp_bare.py",
               "mllp_harness": BENCH_DIR / "locust_mllp_user.py", "mllp_send_only": BENCH_DIR / "locust_mllp_send.py"}
RAW_POOL = 64  # distinct ORUs the raw loop cycles through (built like the user's, once, up front)


def _run_locust(locustfile: Path, env: dict, out_dir: Path, *, users: int, run_s: int) -> dict:
    """One headless Locust run; its JSON statistics summed: requests, failures, span, rate."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stats_base = out_dir / "stats"
    stats_json = out_dir / "stats.json"     # --json-file X writes X.json
    stats_json.unlink(missing_ok=True)      # an old file must never pass for this run's numbers
    log_path = out_dir / "locust.log"
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users),
           "-r", str(max(users, 100)), "--run-time", f"{run_s}s", "--stop-timeout", "0",
           "--only-summary", "--json-file", str(stats_base)]
    timeout_s = run_s + 60
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise GenrepError(f"Locust ({locustfile.name}) did not finish within {timeout_s} s and was "
                              f"stopped (log: {log_path})") from None
        finally:
            kill_group(proc)  # timeout, Ctrl-C, any error, or leftovers of a finished run
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    if code != 0:
        raise GenrepError(f"Locust ({locustfile.name}) ended with exit code {code} (log: {log_path}):\n{tail}")
    entries = read_stats(stats_json)
    requests = sum(int(e.get("num_requests", 0)) for e in entries)
    failures = sum(int(e.get("num_failures", 0)) for e in entries)
    starts = [e["start_time"] for e in entries if e.get("start_time") and e.get("num_requests")]
    ends = [e["last_request_timestamp"] for e in entries if e.get("last_request_timestamp")]
    span = (max(ends) - min(starts)) if starts and ends else 0.0
    if failures or requests < 2 or span <= 0:
        raise GenrepError(f"Locust ({locustfile.name}): {requests} requests, {failures} failed, over "
                          f"{span:.3f} s: nothing to measure (stats: {stats_json}, log: {log_path}):\n{tail}")
    return {"requests": requests, "failures": failures, "span_s": round(span, 3), "rate": requests / span,
            "names": sorted({e["name"] for e in entries if e.get("num_requests")})}


def _raw_mllp_loop(port: int, payloads: list[bytes], run_s: float) -> dict:
    """Sequential raw-socket MLLP for ``run_s`` seconds over one connection (like bench._raw_loop)."""
    frames = [b"\x0b" + p + b"\x1c\x0d" for p in payloads]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n = 0
    try:
        start = time.perf_counter()
        deadline = start + run_s
        while True:
            sock.sendall(frames[n % len(frames)])
            buf = b""
            while not buf.endswith(b"\x1c\x0d"):
                chunk = sock.recv(65536)
                if not chunk:
                    raise GenrepError("the MLLP responder closed the connection")
                buf += chunk
            n += 1
            now = time.perf_counter()
            if now >= deadline:
                break
    finally:
        sock.close()
    span = now - start
    return {"requests": n, "failures": 0, "span_s": round(span, 3), "rate": n / span, "names": ["raw"]}


def bench_load(seconds: float = 8.0, rounds: int = 3, users: int = 4, echo=print) -> int:
    """Run the benchmark; 0 when both floors are met, else 1. Writes reports/bench/load.json."""
    if seconds <= 0 or rounds < 1 or users < 1:
        raise GenrepError(f"bench load: seconds > 0, rounds >= 1 and users >= 1 needed; got "
                          f"{seconds:g}, {rounds}, {users}")
    from genrep.integrations.radiology import new_accession
    from genrep.load.workload import Payloads

    run_s = max(1, math.ceil(seconds))
    out = REPORTS_DIR / "bench"
    runs_dir = out / "load"
    stops = []
    try:
        stop, fhir_port = start_server(BENCH_DIR / "trivial_fhir.py")
        stops.append(stop)
        stop, mllp_port = start_server(BENCH_DIR / "mllp_ack.py")
        stops.append(stop)
        fhir = f"http://127.0.0.1:{fhir_port}"
        env = dict(os.environ, PYTHONIOENCODING="utf-8",
                   GENREP_LOAD_FHIR=fhir, GENREP_LOAD_API=fhir,
                   GENREP_LOAD_MLLP_HOST="127.0.0.1", GENREP_LOAD_MLLP_PORT=str(mllp_port),
                   # a FHIR logical id and an accession: no personnummer in the URLs (the ORUs
                   # carry the allowlisted load identity, chosen by Payloads as in a real run)
                   GENREP_LOAD_PATIENT_ID="pat-bench1", GENREP_LOAD_ACCESSION=new_accession(),
                   GENREP_LOAD_ALLOWED_HOSTS="127.0.0.1", GENREP_LOAD_TIMEOUT="10",
                   GENREP_LOAD_USERS=str(users), GENREP_LOAD_DURATION=str(run_s))
        payloads = Payloads()
        pool = [payloads.oru(f"127.0.0.1:{mllp_port}")[0] for _ in range(RAW_POOL)]
        message_bytes = round(statistics.mean(len(p) for p in pool))

        def run(path: str, r: int) -> dict:
            if path == "mllp_raw":
                return _raw_mllp_loop(mllp_port, pool, run_s)
            return _run_locust(LOCUSTFILES[path], env, runs_dir / f"round{r + 1}-{path}",
                               users=users if path.startswith("fhir") else 1, run_s=run_s)

        results: dict[str, list[dict]] = {p: [] for p in ("fhir_bare", "fhir_harness", "mllp_raw", "mllp_bare",
                                                          "mllp_harness", "mllp_send_only")}
        for r in range(rounds):  # interleaved rounds, each group's order alternating
            for group in [("fhir_bare", "fhir_harness"),
                          ("mllp_raw", "mllp_bare", "mllp_harness", "mllp_send_only")]:
                for path in (group if r % 2 == 0 else group[::-1]):
                    res = run(path, r)
                    results[path].append(res)
                    echo(f"  round {r + 1}/{rounds} {path:<14} {res['rate']:8.0f}/s "
                         f"({res['requests']} in {res['span_s']:.2f} s)")
    finally:
        for stop in reversed(stops):
            stop()

    med = {p: statistics.median(x["rate"] for x in v) for p, v in results.items()}

    def comparison(base: str, harness: str, floor: float, n_users: int, unit: str) -> dict:
        ratio = med[harness] / med[base]
        return {"users": n_users, "unit": unit, "baseline": base, "harness": harness,
                "per_round": {p: [round(x["rate"], 1) for x in results[p]] for p in (base, harness)},
                "median": {base: round(med[base], 1), harness: round(med[harness], 1)},
                "ratio": round(ratio, 3), "floor": floor, "pass": ratio >= floor}

    fhir_cmp = comparison("fhir_bare", "fhir_harness", FHIR_FLOOR, users, "requests/s")
    mllp_cmp = comparison("mllp_bare", "mllp_harness", MLLP_FLOOR, 1, "messages/s")
    mllp_cmp["message_bytes"] = message_bytes
    mllp_cmp["outside_locust"] = {
        "path": "mllp_raw", "what": "the raw loop as a plain blocking-socket loop, no Locust, no gevent; no floor",
        "per_round": [round(x["rate"], 1) for x in results["mllp_raw"]],
        "median": round(med["mllp_raw"], 1),
        "harness_ratio": round(med["mllp_harness"] / med["mllp_raw"], 3),
        "bare_locust_ratio": round(med["mllp_bare"] / med["mllp_raw"], 3)}
    mllp_cmp["diagnostic"] = {
        "path": "mllp_send_only", "what": "_MLLPUser._send with a pre-built message pool (no per-message "
                                          "ORU build and guard scan); no floor",
        "per_round": [round(x["rate"], 1) for x in results["mllp_send_only"]],
        "median": round(med["mllp_send_only"], 1),
        "ratio_to_baseline": round(med["mllp_send_only"] / med["mllp_bare"], 3)}
    ok = fhir_cmp["pass"] and mllp_cmp["pass"]
    report = {"seconds_per_run": run_s, "rounds": rounds, "cpus": os.cpu_count(),
              "rate": "Locust: sum num_requests / (last last_request_timestamp - first start_time) "
                      "from --json-file; raw loop: messages / perf_counter seconds",
              "fhir": fhir_cmp, "mllp": mllp_cmp,
              "runs": results, "pass": ok}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "load.json"
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")

    def verdict(c: dict) -> str:
        return f"{c['ratio']:.2f} (floor {c['floor']:.2f}): {'PASS' if c['pass'] else 'FAIL'}"

    echo(f"Load-harness benchmark: {rounds} interleaved rounds of {run_s} s per path, medians, "
         f"{os.cpu_count()} CPUs")
    echo(f"  FHIR read, {users} users -> trivial endpoint")
    echo(f"    bare FastHttpUser GET:                     {med['fhir_bare']:8.0f} req/s")
    echo(f"    ClinicianUser (guard, GET, JSON, total):   {med['fhir_harness']:8.0f} req/s")
    echo(f"    harness / bare = {verdict(fhir_cmp)}")
    echo(f"  MLLP ORU^R01 of {message_bytes / 1000:.1f} KB, 1 sequential connection -> AA responder")
    echo(f"    bare Locust user, raw socket loop:         {med['mllp_bare']:8.0f} msg/s")
    echo(f"    RisUser (build, MLLPClient, ACK, event):   {med['mllp_harness']:8.0f} msg/s")
    echo(f"    harness / bare = {verdict(mllp_cmp)}")
    echo(f"    diagnostic, _send on pre-built messages:   {med['mllp_send_only']:8.0f} msg/s "
         f"= {mllp_cmp['diagnostic']['ratio_to_baseline']:.2f} of bare (no floor)")
    echo(f"    raw loop outside Locust (no gevent):       {med['mllp_raw']:8.0f} msg/s; RisUser "
         f"= {mllp_cmp['outside_locust']['harness_ratio']:.2f} of it, the bare Locust user "
         f"{mllp_cmp['outside_locust']['bare_locust_ratio']:.2f} (no floor)")
    echo(f"  written to {path}")
    return 0 if ok else 1
