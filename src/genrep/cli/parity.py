"""``genrep parity``: the smoke journey through every entry point of a system and their configuration
fingerprints compared (genrep.parity); exit 0 alike, 1 differ, 2 configuration, 3 unreachable."""

from __future__ import annotations

import json


def _cmd_parity(args) -> int:
    from genrep.config.contracts import load_catalogue
    from genrep.config.parity import load_parity
    from genrep.config.profile import load_profile
    from genrep.parity import entry_points, run_parity, write_results
    from genrep.sim.process import start_virtual_environment

    contract = load_parity()
    if args.system not in contract.systems:
        from genrep.errors import ConfigError
        raise ConfigError(f"contracts/parity.yaml compares the entry points of {', '.join(contract.systems)}, "
                          f"not {args.system!r}")
    profile = load_profile(args.env, defects=tuple(args.defect) if args.defect else None)
    entry_points(profile, args.system)  # none named: exit 2 before anything starts
    if args.results:
        from genrep.outputs import check
        check(args.results, what="Allure results folder (--results)")
    venv = start_virtual_environment(profile) if profile.kind == "virtual" else None
    try:
        report = run_parity(venv.profile if venv else profile, args.system, contract=contract,
                            smoke=not args.no_smoke)
    finally:
        if venv is not None:
            venv.stop()
    if args.results:
        write_results(report, args.results, load_catalogue(), f"{profile.name} ({profile.kind})")
    if args.json:
        print(json.dumps({"environment": profile.name, "system": report.system, "reference": report.reference,
                          "exit": report.exit_code,
                          "entry_points": [{"name": e.name, "kind": e.kind, "alike": e.alike,
                                            "unreachable": e.unreachable, "problems": e.problems,
                                            "differences": e.differences,
                                            "smoke": None if e.smoke is None else e.smoke.failures()}
                                           for e in report.entries]}, ensure_ascii=False, indent=2))
    else:
        print("\n".join(report.lines()))
    return report.exit_code


def register(sub) -> None:
    p = sub.add_parser("parity", help="the smoke journey through every entry point of a system (nodes, desktop "
                                      "pools, load-balancer members) and their configuration fingerprints compared")
    p.add_argument("--env", default=None, help="environment profile (default GENREP_ENV or virtual)")
    p.add_argument("--system", default="ehr", help="the system whose entry points are compared (default ehr)")
    p.add_argument("--defect", action="append", default=None,
                   help="virtual only: switch on a defect (repeatable), e.g. parity-node-b-no-multum")
    p.add_argument("--no-smoke", action="store_true", help="compare the fingerprints only")
    p.add_argument("--results", default=None, help="also write Allure results (PAR-001, PAR-002, PAR-003)")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(func=_cmd_parity)
