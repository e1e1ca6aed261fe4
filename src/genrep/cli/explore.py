"""``genrep explore``: property-based rehearsal against the live environment (``genrep.explore``).

Exit codes: 0 no finding (``--replay``: the example passes now); 1 findings (``--replay``: it still
fails); 2 bad input or configuration (a generator or feature that cannot apply to the integration,
an unreadable finding file, a defect on a real profile, ``nll`` on a real profile); 3 the environment
could not be reached; 130/143 interrupted (the virtual environment is stopped first).
"""

from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    from genrep.explore.names import DEFAULT_BUDGET, DEFAULT_EXAMPLES, GENERATORS, INTEGRATIONS  # light: every command builds this
    ex = subparsers.add_parser(
        "explore", help="property-based rehearsal: generated texts through the live integration, "
                        "every failure shrunk against the live system to a minimal example")
    ex.add_argument("--env", default=None, help="environment profile (default GENREP_ENV or virtual)")
    ex.add_argument("--integration", default="radiology", choices=INTEGRATIONS,
                    help="radiology (default; any profile) or nll (the virtual environment only)")
    ex.add_argument("--generator", default=None,
                    choices=sorted({g for gs in GENERATORS.values() for g in gs}),
                    help="text generator (default: hl7 for radiology, nll for nll; clinical: radiology)")
    ex.add_argument("--require", action="append", default=[], metavar="FEATURE",
                    help="every example exercises this feature (repeatable), e.g. negation_wrap_column")
    ex.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, metavar="N",
                    help=f"examples to generate (default {DEFAULT_EXAMPLES})")
    ex.add_argument("--seed", type=int, default=0, help="the same seed gives the same examples (default 0)")
    ex.add_argument("--budget", type=float, default=DEFAULT_BUDGET, metavar="SECONDS",
                    help=f"bound for the whole run, shrinking included (default {DEFAULT_BUDGET:.0f}); when it "
                         "runs out, the smallest failure found so far is reported")
    ex.add_argument("--defect", action="append", default=[], metavar="NAME",
                    help="virtual environment only: switch on a defect (genrep defects); with --replay, "
                         "'none' replays on the clean environment (default: the finding's own defects)")
    ex.add_argument("--out", default=None, help="output folder (default reports/explore; findings in OUT/findings)")
    ex.add_argument("--results", default=None,
                    help="Allure results folder, one result per finding (default OUT/allure-results)")
    ex.add_argument("--replay", default=None, metavar="FILE",
                    help="run a saved finding (OUT/findings/*.json) again and say whether it still fails")
    ex.set_defaults(func=_cmd_explore)


def _cmd_explore(args) -> int:
    from genrep.errors import ConfigError
    if args.replay:
        return _replay(args)
    from genrep.explore import DEFAULT_OUT, explore
    if "none" in args.defect:
        raise ConfigError("--defect none is for --replay (replay on the clean environment)")
    out_dir = Path(args.out) if args.out else DEFAULT_OUT
    report = explore(env=args.env, integration=args.integration, generator=args.generator,
                     require=tuple(args.require), examples=args.examples, seed=args.seed, budget=args.budget,
                     defects=tuple(args.defect), out_dir=out_dir,
                     results_dir=Path(args.results) if args.results else None,
                     progress=lambda line: print(line, flush=True))
    print()
    ran = f"{report.examples_run} example(s) run" + (
        f" ({report.repeats} more generated again identically, not sent again)" if report.repeats else "")
    if report.budget_spent:
        print(f"NOTE: the budget ({report.budget:.0f} s) ran out: generation"
              + (" and shrinking" if report.findings else "") + " stopped", file=sys.stderr)
    if report.examples_run == 0 and not report.findings:
        raise ConfigError(f"--budget {report.budget:g}: it ran out before a single example was run; "
                          "nothing was explored")
    if not report.findings:
        print(f"no finding: {ran} on {report.environment}, every one read back as expected "
              f"(wall time {report.wall_seconds:.1f} s)")
        return 0
    print(f"{len(report.findings)} finding(s) on {report.environment}: {ran}, {report.failing_examples} failing "
          f"(wall time {report.wall_seconds:.1f} s)")
    for f in report.findings:
        _print_finding(f)
    return 1


def _print_finding(f) -> None:
    from genrep.results.allure import safe_text
    ex = f.example
    print(f"\n[{f.kind}/{f.severity}] {f.requirement}: minimal example {ex.describe()} (shrinking {f.shrinking})")
    lines = [safe_text(line) for line in ex.lines]
    shown = lines if len(lines) <= 8 else lines[:4] + [f"[... {len(lines) - 6} lines ...]"] + lines[-2:]
    for line in shown:
        print(f"    | {line if len(line) <= 100 else line[:100] + ' [...]'}")
    for line in safe_text(f.message).split("\n")[:4]:
        print(f"  {line}")
    print(f"  replay: genrep explore --replay {f.path}")
    print(f"  regression scenario: {Path(f.path).with_suffix('.feature')}")


def _replay(args) -> int:
    from genrep.errors import ConfigError
    from genrep.explore import replay
    if args.require or args.generator:
        raise ConfigError("--replay runs the saved example as it is: --require and --generator do not apply")
    defects = None
    if args.defect:
        defects = () if args.defect == ["none"] else tuple(args.defect)
        if "none" in defects:
            raise ConfigError("--defect none cannot be combined with other defects")
    result = replay(args.replay, env=args.env, defects=defects, progress=lambda line: print(line, flush=True))
    f, outcome = result.finding, result.outcome
    if outcome.failed:
        print(f"still fails: [{outcome.kind}/{outcome.severity}] (found as {f.kind}, {f.requirement})")
        from genrep.results.allure import safe_text
        for line in safe_text(outcome.message).split("\n")[:4]:
            print(f"  {line}")
        return 1
    print(f"passes now: the example read back as expected on {result.environment} "
          f"(found as {f.kind}, {f.requirement})")
    return 0
