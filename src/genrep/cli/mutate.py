"""``genrep mutate``: mutation analysis of the feature suite against an environment (``genrep.mutate``).

Exit codes: 0 every judged integration's mutation score meets the target and the run is complete;
1 a score below the target, an incomplete run (budget) or a control run that is not green;
2 bad input or configuration; 3 the environment could not be reached; 130/143 interrupted (every
proxy, the suite and the simulators are stopped first).
"""

from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    from genrep.mutate.names import INTEGRATIONS, TARGET_SCORE  # not the operators: every command builds this parser
    mu = subparsers.add_parser(
        "mutate", help="mutation analysis: corrupt the EHR's traffic through proxies, one operator at a time, "
                       "and score the scenarios by the corruptions they catch")
    mu.add_argument("--env", default=None, help="environment profile (default GENREP_ENV or virtual)")
    mu.add_argument("-k", default=None, help="only scenarios matching this pytest -k expression")
    mu.add_argument("-m", default=None, help="only scenarios with these tags, for every operator (default, when "
                                             "no -k: each integration's own features, e.g. 'nll and not journey' "
                                             "for medication_list)")
    mu.add_argument("--operator", action="append", default=[], metavar="NAME",
                    help="only this operator (repeatable; --list shows them)")
    mu.add_argument("--integration", action="append", default=[], metavar="NAME",
                    help=f"operators of this integration ({', '.join(INTEGRATIONS)}, or all; default radiology)")
    mu.add_argument("--budget", type=float, default=1800.0, metavar="SECONDS",
                    help="bound for the whole run (default 1800)")
    mu.add_argument("--seed", type=int, default=0, help="seed of the operators' choices (default 0)")
    mu.add_argument("--target", type=float, default=TARGET_SCORE,
                    help=f"mutation score each integration must reach (default {TARGET_SCORE})")
    mu.add_argument("--out", default=None, help="output folder (default reports/mutate)")
    mu.add_argument("--results", default=None,
                    help="Allure results folder for one result per integration (default OUT/allure-results)")
    mu.add_argument("--all-scenarios", action="store_true",
                    help="run every chosen scenario per operator (default: stop at the first failure)")
    mu.add_argument("--no-prescreen", action="store_true",
                    help="run the suite even for operators that change none of the control run's messages")
    mu.add_argument("--list", action="store_true", help="list the operators and exit")
    mu.add_argument("--json", action="store_true", help="print the report as JSON")
    mu.set_defaults(func=_cmd_mutate)


def _cmd_mutate(args) -> int:
    from genrep.errors import ConfigError
    from genrep.mutate.operators import catalogue, select
    if args.list:
        for op in catalogue():
            print(f"{op.name:38s} {op.integration:16s} {op.channel:15s} {op.effect:8s} {op.changes}")
        return 0
    if args.budget <= 0:
        raise ConfigError("--budget must be a positive number of seconds")
    if not 0 < args.target <= 1:
        raise ConfigError("--target must be a fraction between 0 and 1 (0.95 = 95 %)")
    from genrep import outputs
    from genrep.cli.verdict import _check_selection, _lint_feature_files
    from genrep.mutate.run import DEFAULT_OUT, run_mutation, write_allure
    select(args.operator, args.integration or ["radiology"])  # unknown names fail before anything starts
    _check_selection(args.k, args.m)
    out_dir = Path(args.out) if args.out else DEFAULT_OUT
    results_dir = Path(args.results) if args.results else out_dir / "allure-results"
    outputs.check(out_dir, what="mutation output folder (--out)")
    outputs.check(results_dir, what="Allure results folder (--results)")
    _lint_feature_files("genrep mutate")
    report = run_mutation(env=args.env, operator_names=tuple(args.operator),
                          integrations=tuple(args.integration or ["radiology"]), select=args.k, marks=args.m,
                          budget=args.budget, seed=args.seed, out_dir=out_dir, prescreen=not args.no_prescreen,
                          all_scenarios=args.all_scenarios, target=args.target,
                          progress=lambda line: print(line, flush=True))
    write_allure(report, results_dir)
    if args.json:
        import json
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_summary(report, out_dir, results_dir)
    return 0 if report.ok else 1


def _print_summary(report, out_dir: Path, results_dir: Path) -> None:
    print()
    if report.control.get("note"):
        print(f"NOTE: {report.control['note']}", file=sys.stderr)
    for integration, s in report.by_integration().items():
        score = "n/a" if s["score"] is None else f"{s['score']:.1%}"
        print(f"{integration}: mutation score {score} (target {report.target:.0%}): {s['caught']} caught, "
              f"{s['survived']} survived, {s['never_triggered']} never triggered"
              + (f", {s['not_run']} not run" if s["not_run"] else "")
              + (f", {s['not_applicable']} not applicable here" if s["not_applicable"] else ""))
        for o in report.survivors(integration):
            print(f"  survived: {o.name} ({o.applied} message(s) changed): {o.changes}")
            print(f"      why: {o.note}")
            for line in o.example.splitlines()[:12]:
                print(f"      {line}")
    print(f"wall time {report.wall_seconds:.0f} s; report {out_dir / 'mutation.json'}; Allure results {results_dir}")
