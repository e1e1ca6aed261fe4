"""The ``genrep`` command line: rehearse, report, sim, selftest, gate, bench, load, certs, defects, steps, lint.

Here: the argument parser and ``main`` (exceptions to exit codes); the signal handling is in
``interrupts`` (``Terminated``), the exit codes and examples every ``--help`` ends with in
``command_help`` (``COMMAND_HELP``), and the commands themselves in ``verdict`` (rehearse, gate,
report, selftest, steps, lint), ``environment`` (sim up, contract check, certs check, defects) and
``performance`` (load, bench).

Exit codes: 0 GO / success (also PARTIAL GO: nothing failed and the only parts missing are those
the caller waived with ``--accept-partial``), 1 NO-GO / checks failed, 2 bad input or configuration
(the message names the file and key; also a run stopped because it was about to send a personnummer
that is not on the allowlist: no verdict), 3 the system under test could not be reached, 4 INCOMPLETE
(nothing failed, but the run lacks parts of the scope a GO needs, contracts/gate.yaml: a test type,
an integration, a load profile, its minimum duration or users, an untested requirement), 5 GO WITH
RECORDED DEVIATIONS (open defects block a plain GO, each covered by a valid signed deviation in the
defect register: a release pipeline must accept 5 explicitly), 130
interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (what CI cancel and ``timeout`` send).

SIGTERM takes the Ctrl-C path: ``main`` turns it into ``Terminated`` (a KeyboardInterrupt), so every
``finally`` that stops simulators, the feature suite's process group or Locust runs for both, and
nothing is left behind. Nothing is started, and no output folder cleared, before the arguments, the
configuration, the output folders and (for ``rehearse`` and ``selftest``) the feature files (lint
errors) are valid.
"""

from __future__ import annotations

import argparse
import signal
import sys

from genrep.errors import ConfigError, GenrepError, RunIncomplete, TransportError
from genrep.cli.command_help import COMMAND_HELP, HelpFormatter, _finish
from genrep.cli.environment import _cmd_certs_check, _cmd_contract_check, _cmd_defects, _cmd_sim_up
from genrep.cli.explore import register as _register_explore
from genrep.cli.interrupts import Terminated, _interrupt_on_signals
from genrep.cli.mutate import register as _register_mutate
from genrep.cli.parity import register as _register_parity
from genrep.cli.performance import _cmd_bench, _cmd_bench_load, _cmd_load
from genrep.cli.verdict import _cmd_gate, _cmd_lint, _cmd_rehearse, _cmd_report, _cmd_selftest, _cmd_steps

#: what callers import from genrep.cli (COMMAND_HELP and Terminated live in command_help and interrupts)
__all__ = ["COMMAND_HELP", "HelpFormatter", "Terminated", "build_parser", "main"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("genrep")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked (importlib.metadata is ~30 ms
    of every command otherwise)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show program's version number and exit"):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser._print_message(f"genrep {_version()}\n", sys.stdout)
        parser.exit()


def _load_profiles() -> list[str]:
    """The profiles in load/ (one Locust file each; users.py is the users they share), for --help."""
    from genrep.paths import PROJECT_ROOT
    return sorted(p.stem for p in (PROJECT_ROOT / "load").glob("*.py") if p.stem != "users")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="genrep", description="Go-live dress-rehearsal harness for EHR integrations.",
                                 formatter_class=HelpFormatter)
    ap.add_argument("--version", action=_VersionAction)
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("rehearse", help="run the feature suite against an environment and give the verdict")
    r.add_argument("--env", default=None, help="environment profile name or path (default GENREP_ENV or virtual)")
    r.add_argument("--defect", action="append", default=[], metavar="NAME[:PARAM]",
                   help="switch on a virtual-environment defect (repeatable; 'genrep defects' says what each does "
                        "and which requirements must catch it)")
    r.add_argument("--replay-2024", action="store_true",
                   help="switch on the defects that replay the November 2024 go-live incidents")
    r.add_argument("--results", default=None,
                   help="Allure results folder (default reports/allure-results; a -k, -m or --name run: "
                        "reports/runs/<timestamp>/allure-results, so the last full rehearsal's summary, "
                        "verdict, scorecard and trend stay as they were)")
    r.add_argument("-k", default=None, help="only scenarios matching this pytest -k expression")
    r.add_argument("-m", default=None, help="only scenarios with these tags (pytest -m expression)")
    r.add_argument("--name", default=None, metavar="TEXT",
                   help="only scenarios whose title contains TEXT (case-insensitive; spaces and åäö as typed), "
                        "e.g. --name \"Ingen fraktur\"")
    r.add_argument("--list", action="store_true",
                   help="list the scenarios the selection (-k, -m, --name) would run, with feature file:line, "
                        "tags and requirement ids, and exit 0 (nothing runs)")
    r.add_argument("--workers", type=int, default=0, help="parallel pytest-xdist workers")
    r.add_argument("--timeout", type=float, default=1800.0, help="bound for the whole run, seconds")
    r.add_argument("-v", "--verbose", action="store_true")
    r.add_argument("--no-html", action="store_true", help="skip the HTML report (reports/html)")
    r.add_argument("--explore", type=float, default=None, metavar="SECONDS",
                   help="budget of the explore pass after the features: generated texts per integration, seeded, "
                        "read back in every representation (default 20; 0 skips it; a -k/-m selection and "
                        "--replay-2024 skip it unless given)")
    r.add_argument("--load", action="append", default=[], metavar="PROFILE[:DURATION[:USERS]]",
                   help="after the features, run a load profile too (repeatable), e.g. golive_morning:120s; "
                        "its SLA results join the verdict")
    accept = dict(action="append", default=[], metavar="PART",
                  help="accept a run without this part of the gate's scope (contracts/gate.yaml scope.parts: "
                       "functional, performance; repeatable): the verdict is then PARTIAL GO (exit 0), never GO, "
                       "and the waived part is listed in every output. For a pre-merge pipeline, never a release")
    r.add_argument("--accept-partial", **accept)
    register = dict(default=None, metavar="FILE", help="the defect register and deviations (default "
                    "contracts/defects.yaml if it exists): tracker ids, assessed severities, recorded deviations")
    lang = dict(default=None, choices=("en", "sv"), help="language of summary.md and scorecard.html "
                "(default GENREP_LANG, else gate.yaml report.lang, else en)")
    r.add_argument("--register", **register)
    r.add_argument("--lang", **lang)
    manual = dict(action="append", default=[], metavar="FILE",
                  help="manual test results (user acceptance, usability, peripherals, workstream verification) "
                       "judged by the same verdict (repeatable): a CSV with the columns requirement, test_type, "
                       "result, tester, date, evidence[, comment], or a YAML column mapping (manual: 1, import:) "
                       "for another tool's export; see genrep.results.manual")
    r.add_argument("--manual", **manual)
    r.set_defaults(func=_cmd_rehearse)

    rp = sub.add_parser("report", help="HTML report (single file, no outside calls) from Allure results")
    rp.add_argument("--results", default=None, help="Allure results folder (default reports/allure-results)")
    rp.add_argument("--out", default=None, help="report folder (default reports/html)")
    rp.set_defaults(func=_cmd_report)

    g = sub.add_parser("gate", help="verdict from existing Allure results")
    g.add_argument("--results", default=None)
    g.add_argument("--accept-partial", **accept)
    g.add_argument("--register", **register)
    g.add_argument("--lang", **lang)
    g.add_argument("--manual", **manual)
    g.set_defaults(func=_cmd_gate)

    s = sub.add_parser("sim", help="the virtual environment")
    ssub = s.add_subparsers(dest="sim_command", required=True)
    up = ssub.add_parser("up", help="start the virtual environment in the foreground")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--mllp-port", type=int, default=2575)
    up.add_argument("--fhir-port", type=int, default=8080)
    up.add_argument("--defect", action="append", default=[], metavar="NAME[:PARAM]",
                    help="switch on a defect (repeatable)")
    up.add_argument("--env", default="virtual", help="virtual environment profile: virtual (default) or virtual-tls")
    up.set_defaults(func=_cmd_sim_up)

    st = sub.add_parser("selftest", help="prove every check goes red on its defect and green when clean")
    st.add_argument("--defect", action="append", default=[], metavar="NAME",
                    help="only these defects (repeatable; default: every defect of the feature suite)")
    st.add_argument("--integration", default=None, help="only defects of this integration (e.g. radiology)")
    st.add_argument("--jobs", type=int, default=3,
                    help="suite runs in parallel (default 3: the rows mostly wait; the longest start first)")
    st.add_argument("--full", action="store_true",
                    help="run the whole suite per defect (slower; shows every scenario that catches it)")
    st.add_argument("--store-durations", action="store_true",
                    help="store the seconds of each row that passed in selftest_durations.json: the order the "
                         "next matrix starts its runs in (longest first; --full runs ignore it)")
    st.set_defaults(func=_cmd_selftest)

    c = sub.add_parser("contract", help="integration contracts")
    csub = c.add_subparsers(dest="contract_command", required=True)
    cc = csub.add_parser("check", help="check a provider against the consumer's contract (drift)")
    cc.add_argument("contract", help="contract name (nll)")
    cc.add_argument("--env", default=None, help="environment profile (default GENREP_ENV or virtual)")
    cc.add_argument("--release", default=None, choices=["N", "N+1"], help="virtual NLL release to check")
    cc.add_argument("--json", action="store_true", help="machine-readable report")
    cc.set_defaults(func=_cmd_contract_check)

    ce = sub.add_parser("certs", help="TLS certificates of an environment")
    cesub = ce.add_subparsers(dest="certs_command", required=True)
    cec = cesub.add_parser("check", help="days until expiry, chain and host name of every TLS endpoint's "
                                         "certificate and every client certificate; exit 1 under the threshold")
    cec.add_argument("--env", default=None, help="environment profile (default GENREP_ENV or virtual)")
    cec.add_argument("--warn-days", type=int, default=None,
                     help="fail when a certificate is valid for fewer days (default: the profile's "
                          "certificates.min_days_valid, or 30)")
    cec.add_argument("--results", default=None, help="also write one Allure result per certificate (SEC-CERT-001)")
    cec.add_argument("--json", action="store_true", help="machine-readable report")
    cec.set_defaults(func=_cmd_certs_check)

    _register_parity(sub)

    d = sub.add_parser("defects", help="list the switchable defects of the virtual environment")
    d.set_defaults(func=_cmd_defects)

    b = sub.add_parser("bench", help="benchmarks")
    bsub = b.add_subparsers(dest="bench_command", required=True)
    bm = bsub.add_parser("mllp", help="harness MLLP client -> virtual EHR vs a raw asyncio echo baseline")
    bm.add_argument("--messages", type=int, default=2000)
    bm.add_argument("--rounds", type=int, default=3)
    bm.set_defaults(func=_cmd_bench)
    bl = bsub.add_parser("load", help="load users' overhead: FHIR user vs bare FastHttpUser, MLLP user vs raw loop")
    bl.add_argument("--seconds", type=float, default=8.0, help="length of each measured run (default 8)")
    bl.add_argument("--rounds", type=int, default=3)
    bl.add_argument("--users", type=int, default=4, help="users on each FHIR side (default 4)")
    bl.set_defaults(func=_cmd_bench_load)

    lo = sub.add_parser("load", help="run a Locust load profile (load/PROFILE.py) and check the SLAs "
                                     "of contracts/load.yaml")
    lo.add_argument("profile", help="load profile: " + ", ".join(_load_profiles()))
    lo.add_argument("--users", type=int, default=None,
                    help="peak number of virtual users (default: the profile's, contracts/load.yaml)")
    lo.add_argument("--quiet", action="store_true", help="no progress lines while the profile runs")
    lo.add_argument("--duration", default="60s", help="run length: 60s, 5m, 1h (default 60s)")
    lo.add_argument("--workers", type=int, default=0,
                    help="Locust worker processes on this machine (0: one process)")
    lo.add_argument("--expect-workers", type=int, default=0,
                    help="multi-machine: wait for N Locust workers started on other machines "
                         "(settings for them in OUT/worker.env)")
    lo.add_argument("--master-bind-host", default="",
                    help="multi-machine (required with --expect-workers): interface the master listens on")
    lo.add_argument("--master-port", type=int, default=None,
                    help="the master's port: multi-machine (default 5557); with --workers a free port unless given")
    lo.add_argument("--defect", action="append", default=[], metavar="NAME[:PARAM]",
                    help="virtual-environment defect to replay under load (repeatable, e.g. multum-no-failover)")
    lo.add_argument("--env", default=None, help="environment profile (default GENREP_ENV or virtual)")
    lo.add_argument("--results", default=None,
                    help="also write one Allure result per SLA threshold into this folder (for genrep gate)")
    lo.add_argument("--out", default=None, help="statistics folder (default reports/load)")
    lo.set_defaults(func=_cmd_load)

    sc = sub.add_parser("steps", help="the step catalogue: every step, English and Swedish, with examples")
    sc.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    sc.add_argument("--write", nargs="?", const="-", default=None, metavar="PATH",
                    help="also write the Markdown page (default PATH: docs/steps.md)")
    sc.set_defaults(func=_cmd_steps)

    li = sub.add_parser("lint", help="check feature files without running them (steps, tags, names, syntax)")
    li.add_argument("paths", nargs="*", help="feature files or folders (default: features/)")
    li.set_defaults(func=_cmd_lint)

    _register_mutate(sub)
    _register_explore(sub)
    _finish(ap)  # descriptions, exit codes and examples, valid --defect names: every parser
    return ap


def main(argv: list[str] | None = None) -> int:
    previous = _interrupt_on_signals()
    try:
        return _main(argv)
    finally:
        for sig, handler in (previous or {}).items():  # main() called in-process (tests) leaves no trace
            signal.signal(sig, handler)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"genrep: configuration error: {exc}", file=sys.stderr)
        return 2
    except TransportError as exc:
        print(f"genrep: system under test unreachable: {exc}", file=sys.stderr)
        return 3
    except RunIncomplete as exc:
        print(f"genrep: incomplete: {exc}", file=sys.stderr)
        return 4
    except GenrepError as exc:
        print(f"genrep: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("genrep: stopped by SIGTERM", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("genrep: interrupted (Ctrl-C)", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
