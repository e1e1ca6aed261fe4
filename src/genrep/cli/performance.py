"""The performance commands: ``load`` (a Locust profile against an environment), ``bench mllp``,
``bench load``."""

from __future__ import annotations

import sys
from pathlib import Path

from genrep.errors import ConfigError


def _cmd_bench(args) -> int:
    from genrep.benchmarks.mllp import bench_mllp
    return bench_mllp(messages=args.messages, rounds=args.rounds)


def _cmd_bench_load(args) -> int:
    from genrep.benchmarks.load import bench_load
    return bench_load(seconds=args.seconds, rounds=args.rounds, users=args.users)


def _parse_duration(text: str) -> float:
    """'60s', '5m', '1h' or plain seconds."""
    import re
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smh]?)\s*", text or "")
    if not m:
        raise ConfigError(f"--duration {text!r}: expected seconds such as 60s, 5m or 1h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _cmd_load(args) -> int:
    """Run a Locust load profile (subprocess) and judge it against contracts/load.yaml."""
    from genrep.load.contract import load_load_contract
    from genrep.load.runner import evaluate, profile_file, run_load, write_allure_results, write_sla_json

    contract = load_load_contract()
    duration = _parse_duration(args.duration)
    profile_file(args.profile)  # an unknown profile fails before anything starts
    if args.results:  # written after the run, and earlier load results in it replaced: refuse now
        from genrep.outputs import check
        check(args.results, what="Allure results folder (--results)")
    from genrep.config.profile import load_profile
    from genrep.rehearsal import preflight  # credentials and every endpoint, before Locust starts (exit 2 / 3)
    code = preflight(load_profile(args.env, defects=()), "genrep load")
    if code:
        return code
    users = args.users if args.users is not None else contract.default_users(args.profile)
    print(f"genrep load: profile {args.profile}, {users} users, {duration:g} s"
          + (f", defects: {', '.join(args.defect)}" if args.defect else "")
          + (f", {args.workers} workers" if args.workers else ""), flush=True)
    result = run_load(args.profile, users=users, duration_s=duration, workers=args.workers,
                      expect_workers=args.expect_workers, master_bind_host=args.master_bind_host,
                      master_port=args.master_port,
                      env_name=args.env, contract=contract, defects=tuple(args.defect),
                      progress=None if args.quiet else (lambda line: print(line, flush=True)),
                      **({"out_dir": Path(args.out)} if args.out else {}))
    outcomes = evaluate(result, contract)
    sla_path = write_sla_json(result, outcomes, contract)
    # the figures the SLAs judged: the steady phase (fault windows left out); the whole run without them
    shown = result.judged if result.judged is not None else result.operations
    print("\n" + (f"steady phase, judged ({result.ramp_s:g} s to {result.duration_s:g} s; the ramp apart in "
                  "sla.json)" if result.judged is not None else "whole run"))
    print(f"{'operation':18s} {'requests':>8s} {'failures':>8s} {'req/s':>7s} {'p50 ms':>7s} "
          f"{'p95 ms':>7s} {'p99 ms':>7s} {'max ms':>7s}")
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    for s in shown.values():
        print(f"{s.name:18s} {s.requests:8d} {s.failures:8d} {s.rps:7.1f} {fmt(s.p50_ms):>7s} "
              f"{fmt(s.p95_ms):>7s} {fmt(s.p99_ms):>7s} {fmt(s.max_ms):>7s}")
    print()
    if result.fault:
        unseen = any(f.counts.get("recovery_unobserved") for f in result.faults)
        rec = (f"{result.recovery_s:.1f} s" if result.recovery_s is not None
               else "not seen (no request answered in time after the fault)" if unseen
               else "not recovered before the run ended")
        print(f"Fault: {result.fault} at {result.fault_at_s:.1f} s; recovery {rec}")
    if result.stored is not None:
        st = result.stored
        print(f"Stored: {st.accepted} ORU answered AA, stored reports {st.stored_before} -> {st.stored_after}; "
              f"{st.sampled} read back, {len(st.sample_missing)} missing")
    if result.generator is not None:
        print(f"Generator: {result.generator.verdict()}")
    print()
    for o in outcomes:
        print(f"  {'ok  ' if o.ok else 'FAIL'} {o.requirement:22s} {o.describe()}")
    if args.results:
        written = write_allure_results(args.results, result, outcomes, contract)
        print(f"Allure results: {len(written)} SLA result(s) in {args.results}")
    print(f"Statistics: {result.stats_path}   SLA: {sla_path}   Plot: {result.plot_path}")
    from genrep.load.runner import sla_verdict
    verdict = sla_verdict(outcomes)  # MET | MISSED | INCONCLUSIVE (a real miss stays a miss)
    met = verdict == "MET"
    if gate_disagrees(result.exit_code, verdict, result.excluded):
        print(f"genrep: WARNING: Locust's own SLA gate exited {result.exit_code}, the JSON statistics "
              f"say {'met' if met else 'missed'}; the JSON statistics decide", file=sys.stderr)
    if verdict == "INCONCLUSIVE":  # neither met nor a product defect: not verified (exit 4, like INCOMPLETE)
        print(f"SLA: INCONCLUSIVE ({result.inconclusive or 'see sla.json'})")
        return 4
    print(f"SLA: {verdict}")
    return 0 if met else 1


def gate_disagrees(locust_exit: int, verdict: str, excluded) -> bool:
    """Whether Locust's own SLA gate (``load/users.py``, for a Locust started by hand) and the
    runner's verdict disagree in a way worth a warning. Not the gate missing what the runner met
    after leaving fault windows out (``excluded``): the gate cannot know them and judges the
    planned fault's failures too, so it missed on every clean fault profile run (a warning nobody
    should learn to ignore). The other way round (the gate met, the runner missed) still warns,
    and nothing does when the verdict is INCONCLUSIVE."""
    if verdict == "INCONCLUSIVE":
        return False
    if excluded and locust_exit != 0 and verdict == "MET":
        return False
    return (locust_exit == 0) != (verdict == "MET")
